/**
 * One classifier of failures below HTTP for every caller: the retry strategies, the sources'
 * errors and the outputs' hints read the same codes. Before, the retry loop kept a list of its own
 * that lacked ENETDOWN and EHOSTDOWN (a host whose network went down was not retried), and each
 * output had its own TLS test.
 */
import { describe, expect, it } from 'vitest';

import { classifyTransport, isTransientError, outputTransportHint } from '../../src/http/network-error.js';

const coded = (code: string, cause?: unknown): Error =>
  Object.assign(new Error(code, cause === undefined ? {} : { cause }), { code });

describe('classifyTransport', () => {
  it.each([
    'ECONNRESET',
    'ECONNREFUSED',
    'ETIMEDOUT',
    'EAI_AGAIN',
    'ENETDOWN',
    'EHOSTDOWN',
    'UND_ERR_SOCKET',
  ])('%s is transient, for the retry loop too', (code) => {
    expect(classifyTransport(coded(code)).transient).toBe(true);
    expect(isTransientError(coded(code))).toBe(true);
  });

  it('a TLS trust failure anywhere in the chain says most, and is not retried', () => {
    const error = coded('ECONNRESET', coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE'));
    const failure = classifyTransport(error);
    expect(failure).toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      untrusted: true,
      transient: false,
    });
    expect(isTransientError(error)).toBe(false);
    expect(outputTransportHint(failure, { output: 'o', endpoint: 'h:1' })).toMatch(/caFile of output o/);
  });

  it('reads the members of an aggregate (a client that tried several addresses)', () => {
    const error = new AggregateError([coded('ECONNREFUSED')], 'several failed');
    expect(classifyTransport(error)).toMatchObject({ code: 'ECONNREFUSED', transient: true });
  });

  it('a bug is not a transport failure', () => {
    expect(classifyTransport(new TypeError('x'))).toMatchObject({ code: undefined, transient: false });
    expect(isTransientError(new TypeError('x'))).toBe(false);
  });
});
