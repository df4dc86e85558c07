/**
 * Review of issue 13: four walkers of an error chain disagreed (metrics' failureCode did not read
 * an aggregate's members, so a refused connection behind a wrapper counted as `Error` while the
 * classifier said ECONNREFUSED); a TLS host-name mismatch was called untrusted and told to set
 * the caFile, which cannot fix it.
 */
import { describe, expect, it } from 'vitest';

import { errorChain, failureCode } from '../../src/core/errors.js';
import {
  classifyTransport,
  outputTransportError,
  outputTransportHint,
} from '../../src/http/network-error.js';

const coded = (code: string, cause?: unknown): Error =>
  Object.assign(new Error(code, cause === undefined ? {} : { cause }), { code });

describe('one walk of an error chain', () => {
  it('metrics and the classifier name the same socket code behind an aggregate', () => {
    const error = new Error('send failed', {
      cause: new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], 'all addresses'),
    });
    expect(classifyTransport(error).code).toBe('ECONNREFUSED');
    expect(failureCode(error)).toBe('ECONNREFUSED');
  });
  it('visits each error once, members before the aggregate’s cause, and ends on a cycle', () => {
    const inner = coded('EHOSTUNREACH');
    const aggregate = new AggregateError([coded('ECONNRESET')], 'x', { cause: inner });
    const looped = new Error('top', { cause: aggregate });
    (inner as { cause?: unknown }).cause = looped;
    const codes = errorChain(looped).map((e) => (e as { code?: string }).code);
    expect(codes).toEqual([undefined, undefined, 'ECONNRESET', 'EHOSTUNREACH']);
  });
});

describe('a TLS host-name mismatch', () => {
  const mismatch = coded('ERR_TLS_CERT_ALTNAME_INVALID');
  it('is not an untrusted CA: no caFile advice, no caFile key', () => {
    const failure = classifyTransport(mismatch);
    expect(failure.untrusted).toBe(false);
    expect(failure.transient).toBe(false);
    const hint = outputTransportHint(failure, { output: 'es', endpoint: 'es.example:9200' });
    expect(hint).not.toMatch(/caFile/);
    expect(hint).toMatch(/does not name the host of es\.example:9200; set the url of output es/);
    expect(outputTransportError('x', failure, mismatch).configKey).toBeUndefined();
  });
  it('an untrusted certificate still is', () => {
    const failure = classifyTransport(coded('SELF_SIGNED_CERT_IN_CHAIN'));
    expect(failure.untrusted).toBe(true);
    expect(outputTransportHint(failure, { output: 'es', endpoint: 'h:1' })).toMatch(
      /set the caFile of output es/,
    );
  });
});
