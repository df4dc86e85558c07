/**
 * The emulator's opaque tokens and its page-shape and token-echo faults, over real HTTPS: what
 * the collector's tests of issue 11 (page accounting, token redaction) rely on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphWindow, REPORTING_SCOPE, startHarness, type Harness } from './harness.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const HOUR = 3_600_000;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ opaqueTokens: true, throttle: { limit: 10_000 } });
  h.emulator.clock.set(NOW);
  h.emulator.clock.freeze(true);
});
afterAll(async () => {
  await h.close();
});

const list = (): string =>
  `/v1.0/admin/exchange/tracing/messageTraces?${new URLSearchParams({
    $filter: graphWindow(NOW - 6 * HOUR, NOW - HOUR),
    $top: '10',
  }).toString()}`;
const reportingList = '/ecp/reportingwebservice/reporting.svc/MessageTrace?$format=json';

describe('opaque access tokens', () => {
  it('are no JWT, and Graph accepts them; a made-up one is refused', async () => {
    const token = await h.token();
    expect(token).not.toMatch(/^eyJ/);
    expect(token.split('.')).toHaveLength(1);
    expect((await h.get(list(), { authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await h.get(list(), { authorization: `Bearer ${token}x` })).status).toBe(401);
  });

  it('are revoked like signed ones', async () => {
    const token = await h.token();
    expect((await h.control('POST', `/tenants/${h.tenant().name}/revoke`)).status).toBe(200);
    expect((await h.get(list(), { authorization: `Bearer ${token}` })).status).toBe(401);
    const fresh = await h.token();
    expect((await h.get(list(), { authorization: `Bearer ${fresh}` })).status).toBe(200);
  });
});

describe('the echo-token fault', () => {
  it('answers 400 quoting the token sent, once, on Graph and the Reporting Web Service', async () => {
    const token = await h.token();
    const auth = { authorization: `Bearer ${token}` };
    await h.control('POST', '/faults', { queue: [{ kind: 'echo-token', targets: ['graph-list'] }] });
    const echoed = await h.get(list(), auth);
    expect(echoed.status).toBe(400);
    expect((echoed.json() as { error: { message: string } }).error.message).toContain(token);
    expect((await h.get(list(), auth)).status).toBe(200);

    const rws = await h.token(h.tenant(), REPORTING_SCOPE);
    await h.control('POST', '/faults', { queue: [{ kind: 'echo-token', targets: ['reporting'] }] });
    const reply = await h.get(reportingList, { authorization: `Bearer ${rws}` });
    expect(reply.status).toBe(400);
    expect(reply.text).toContain(rws);
  });
});

describe('the extra-page-key fault', () => {
  it('adds a row-like top-level key beside a whole page', async () => {
    const token = await h.token();
    const auth = { authorization: `Bearer ${token}` };
    const plain = (await h.get(list(), auth)).json() as Record<string, unknown>;
    await h.control('POST', '/faults', { queue: [{ kind: 'extra-page-key', targets: ['graph-list'] }] });
    const extra = (await h.get(list(), auth)).json() as Record<string, unknown>;
    expect(extra['toIP']).toBe('');
    expect(extra['value']).toEqual(plain['value']);
  });
});
