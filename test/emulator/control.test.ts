/**
 * The emulator's control API (`/_emulator`), as a test or benchmark drives it over HTTPS: time,
 * faults, tenant switches and token revocation, request counters and the ground truth. Each
 * behaviour is checked through what the emulated Microsoft APIs then answer.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorOptions } from '../../src/emulator/server.js';
import { GRAPH_SCOPE, startHarness, type Harness, type Reply } from './harness.js';

const NOW = Date.parse('2026-03-10T12:00:00Z');
const NOW_ISO = '2026-03-10T12:00:00.000Z';
const HOUR = 3_600_000;
const GRAPH_LIST = '/v1.0/admin/exchange/tracing/messageTraces';
const NO_FAULTS = {
  errorRate: 0,
  errorStatuses: [500, 502, 503, 504],
  resetRate: 0,
  truncateRate: 0,
  slowRate: 0,
  slowMs: 2000,
  shortPageRate: 0,
  duplicateRate: 0,
};
const STATUSES = new Set([
  'GettingStatus',
  'Pending',
  'Delivered',
  'Expanded',
  'Failed',
  'Quarantined',
  'FilteredAsSpam',
]);
const FABRIKAM_ID = '9A8B7C6D-5E4F-4A3B-8C2D-1E0F9A8B7C6D';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Started {
  h: Harness;
  dir: string;
}
interface TimeReply {
  now: string;
  epochMs: number;
  frozen: boolean;
}
interface Truth {
  id: string;
  recipient: string;
  status: string;
  received: string;
  visibleAt: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function item<T>(list: readonly T[], index: number): T {
  const value = list[index];
  if (value === undefined) throw new Error(`no item ${index} in a list of ${list.length}`);
  return value;
}

async function start(options: EmulatorOptions = {}): Promise<Started> {
  const dir = await mkdtemp(path.join(tmpdir(), 'exotrace-control-test-'));
  const h = await startHarness({ dir, seed: 5, throttle: { limit: 100_000 }, ...options });
  return { h, dir };
}

async function stop(started: Started | undefined): Promise<void> {
  if (started === undefined) return;
  await started.h.close();
  await rm(started.dir, { recursive: true, force: true });
}

const errorOf = (reply: Reply): string => (reply.json() as { error: string }).error;

const graphList = (h: Harness, token: string): Promise<Reply> =>
  h.get(GRAPH_LIST, { authorization: `Bearer ${token}` });

// ---------------------------------------------------------------------------------------------

describe('control API: time, faults, tenants', () => {
  let started: Started | undefined;
  let h: Harness;

  beforeAll(async () => {
    started = await start({
      tenants: [{ name: 'contoso' }, { name: 'fabrikam' }],
      tokenLifetimeSeconds: 600,
    });
    h = started.h;
  });
  afterAll(async () => {
    await stop(started);
  });

  describe('time', () => {
    const time = async (body: object): Promise<TimeReply> => {
      const reply = await h.control('POST', '/time', body);
      expect(reply.status, reply.text).toBe(200);
      return reply.json() as TimeReply;
    };
    const current = async (): Promise<TimeReply> => (await h.control('GET', '/time')).json() as TimeReply;

    it('runs on the real clock until told otherwise', async () => {
      const before = Date.now();
      const now = await current();
      expect(now.frozen).toBe(false);
      expect(now.epochMs).toBeGreaterThanOrEqual(before);
      expect(now.epochMs).toBeLessThanOrEqual(Date.now());
      expect(now.now).toBe(new Date(now.epochMs).toISOString());
    });

    it('sets, freezes, advances and releases the clock', async () => {
      expect(await time({ set: '2026-03-10T12:00:00Z', freeze: true })).toEqual({
        now: NOW_ISO,
        epochMs: NOW,
        frozen: true,
      });
      await sleep(30);
      expect(await current()).toEqual({ now: NOW_ISO, epochMs: NOW, frozen: true });
      expect((await time({ advance: '5m' })).epochMs).toBe(NOW + 300_000);
      expect((await time({ advance: 1500 })).epochMs).toBe(NOW + 301_500);
      expect((await time({ advance: '2h' })).epochMs).toBe(NOW + 2 * HOUR + 301_500);
      // Epoch milliseconds, as a number or as digits.
      expect((await time({ set: NOW + 1 })).epochMs).toBe(NOW + 1);
      expect((await time({ set: String(NOW) })).epochMs).toBe(NOW);
      // The control root reports the same clock.
      expect((await h.control('GET', '/')).json()).toMatchObject({ now: NOW_ISO, frozen: true });

      const released = await time({ freeze: false });
      expect(released.frozen).toBe(false);
      await sleep(50);
      const later = await current();
      expect(later.epochMs).toBeGreaterThanOrEqual(NOW + 50);
      expect(later.epochMs).toBeLessThan(NOW + 10_000);
      await time({ set: NOW, freeze: true });
    });

    it('drives token expiry: a token outlives its lifetime when the clock advances', async () => {
      await time({ set: NOW, freeze: true });
      const token = await h.token(h.tenant('contoso'), GRAPH_SCOPE);
      expect((await graphList(h, token)).status).toBe(200);
      await time({ advance: '11m' });
      const expired = await graphList(h, token);
      expect(expired.status).toBe(401);
      expect(expired.json()).toMatchObject({ error: { code: 'InvalidAuthenticationToken' } });
      expect((await graphList(h, await h.token(h.tenant('contoso'), GRAPH_SCOPE))).status).toBe(200);
      await time({ set: NOW });
    });

    it.each([
      [{ set: 'yesterday' }, '"set" must be an ISO 8601 instant or epoch milliseconds'],
      [{ set: '' }, '"set" must be an ISO 8601 instant or epoch milliseconds'],
      [{ set: true }, '"set" must be an ISO 8601 instant or epoch milliseconds'],
      [{ set: 1e20 }, '"set" must be an ISO 8601 instant or epoch milliseconds'],
      [{ advance: '-5m' }, '"advance" must be a duration such as "5m" or milliseconds'],
      [{ advance: 'soon' }, '"advance" must be a duration such as "5m" or milliseconds'],
      [{ advance: -1 }, '"advance" must be a duration such as "5m" or milliseconds'],
      [{ advance: true }, '"advance" must be a duration such as "5m" or milliseconds'],
      [{ advance: 1e17 }, '"advance" would move the clock past the year 275760'],
      [{ freeze: 'yes' }, '"freeze" must be true or false'],
      [{ freeze: 1 }, '"freeze" must be true or false'],
      // Nothing of a refused request applies, not even its valid parts.
      [
        { set: '2030-01-01T00:00:00Z', advance: 'soon' },
        '"advance" must be a duration such as "5m" or milliseconds',
      ],
      [{ set: '2030-01-01T00:00:00Z', freeze: 'no' }, '"freeze" must be true or false'],
    ])('refuses %j with a 400 naming the field, and leaves the clock alone', async (body, message) => {
      await time({ set: NOW, freeze: true });
      const reply = await h.control('POST', '/time', body);
      expect(reply.status).toBe(400);
      expect(reply.json()).toEqual({ error: message });
      expect(await current()).toEqual({ now: NOW_ISO, epochMs: NOW, frozen: true });
    });

    it('refuses a body that is not a JSON object', async () => {
      for (const body of ['not json', '[1]', 'null', '"2026-03-10T12:00:00Z"']) {
        const reply = await h.post('/_emulator/time', body, { 'content-type': 'application/json' });
        expect(reply.status).toBe(400);
        expect(errorOf(reply)).toBe('body must be a JSON object');
      }
    });
  });

  describe('faults', () => {
    let token: string;
    let fabrikamToken: string;
    beforeAll(async () => {
      await h.control('POST', '/time', { set: NOW, freeze: true });
      token = await h.token(h.tenant('contoso'), GRAPH_SCOPE);
      fabrikamToken = await h.token(h.tenant('fabrikam'), GRAPH_SCOPE);
    });
    afterEach(async () => {
      await h.control('DELETE', '/faults');
    });
    const faults = async (): Promise<unknown> => (await h.control('GET', '/faults')).json();

    it('starts with no faults', async () => {
      expect(await faults()).toEqual({ queued: 0, rates: NO_FAULTS });
    });

    it('queues faults (times copies), each spent on one matching request', async () => {
      const reply = await h.control('POST', '/faults', {
        queue: [{ kind: 'status', status: 502, targets: ['graph-list'] }],
        times: 2,
      });
      expect(reply.json()).toEqual({ queued: 2, rates: NO_FAULTS });
      expect((await graphList(h, token)).status).toBe(502);
      expect(await faults()).toEqual({ queued: 1, rates: NO_FAULTS });
      expect((await graphList(h, token)).status).toBe(502);
      expect((await graphList(h, token)).status).toBe(200);
      expect(await faults()).toEqual({ queued: 0, rates: NO_FAULTS });
    });

    it('a fault limited to one tenant leaves the others alone', async () => {
      await h.control('POST', '/faults', { queue: [{ kind: 'status', status: 500, tenant: 'fabrikam' }] });
      expect((await graphList(h, token)).status).toBe(200);
      expect((await graphList(h, fabrikamToken)).status).toBe(500);
      expect((await graphList(h, fabrikamToken)).status).toBe(200);
    });

    it.each([
      [{ queue: [{ kind: 'meltdown' }] }, /^queue\.0\.kind: /],
      [{ queue: [{ kind: 'status', status: 200 }] }, /^queue\.0\.status: /],
      [{ queue: [{ kind: 'status', targets: ['mail'] }] }, /^queue\.0\.targets\.0: /],
      [{ queue: [{ kind: 'reset', colour: 'red' }] }, /^queue\.0\.colour: Unrecognized key/],
      [{ queue: { kind: 'reset' } }, /^queue\.: /],
      [{ queue: [{ kind: 'reset' }], times: 0 }, /^"times" must be a whole number from 1 to 10000$/],
      [{ queue: [{ kind: 'reset' }], times: 1.5 }, /^"times" must be a whole number from 1 to 10000$/],
      [{ queue: [{ kind: 'reset' }], times: 'twice' }, /^"times" must be a whole number from 1 to 10000$/],
      [{ queue: [{ kind: 'reset' }], times: 1e9 }, /^"times" must be a whole number from 1 to 10000$/],
      [{ rates: { errorRate: 2 } }, /^rates\.errorRate: /],
      [{ rates: { errorStatuses: [200] } }, /^rates\.errorStatuses\.0: /],
      [{ rates: { meltdownRate: 0.5 } }, /^rates\.meltdownRate: Unrecognized key/],
      // Nothing of a refused request applies: the valid queue is not queued.
      [{ queue: [{ kind: 'reset' }], rates: { errorRate: -1 } }, /^rates\.errorRate: /],
    ])('refuses %j with a 400 naming the field, and changes nothing', async (body, message) => {
      const reply = await h.control('POST', '/faults', body);
      expect(reply.status).toBe(400);
      expect(errorOf(reply)).toMatch(message);
      expect(await faults()).toEqual({ queued: 0, rates: NO_FAULTS });
    });

    it('sets rates; DELETE clears the queue and the rates', async () => {
      const reply = await h.control('POST', '/faults', {
        rates: { errorRate: 1, errorStatuses: [504] },
        queue: [{ kind: 'reset' }],
      });
      expect(reply.json()).toEqual({
        queued: 1,
        rates: { ...NO_FAULTS, errorRate: 1, errorStatuses: [504] },
      });
      await h.control('DELETE', '/faults', undefined);
      // A partial update keeps the other rates.
      await h.control('POST', '/faults', { rates: { errorRate: 1, errorStatuses: [504] } });
      await h.control('POST', '/faults', { rates: { slowMs: 10 } });
      expect(await faults()).toEqual({
        queued: 0,
        rates: { ...NO_FAULTS, errorRate: 1, errorStatuses: [504], slowMs: 10 },
      });
      for (let i = 0; i < 3; i++) expect((await graphList(h, token)).status).toBe(504);
      const cleared = await h.control('DELETE', '/faults');
      expect(cleared.json()).toEqual({ queued: 0, rates: NO_FAULTS });
      expect((await graphList(h, token)).status).toBe(200);
    });
  });

  describe('tenants', () => {
    const contosoView = (): Record<string, unknown> => {
      const t = h.tenant('contoso');
      return {
        name: 'contoso',
        tenantId: t.tenantId,
        domain: 'contoso.onmicrosoft.com',
        acceptedDomains: ['contoso.com'],
        messagesPerDay: 500,
        servicePrincipal: true,
        reportingReader: true,
        apps: [
          {
            clientId: item(t.apps, 0).clientId,
            graphRoles: ['ExchangeMessageTrace.Read.All'],
            reportingRoles: ['ReportingWebService.Read.All'],
          },
        ],
      };
    };

    it('GET describes a tenant found by name, id or domain, in any case', async () => {
      const t = h.tenant('contoso');
      for (const key of [
        'contoso',
        'CONTOSO',
        t.tenantId,
        t.tenantId.toUpperCase(),
        'Contoso.onmicrosoft.com',
      ]) {
        const reply = await h.control('GET', `/tenants/${encodeURIComponent(key)}`);
        expect(reply.status).toBe(200);
        expect(reply.json()).toEqual(contosoView());
      }
      const root = (await h.control('GET', '/')).json() as { tenants: unknown[] };
      expect(item(root.tenants, 0)).toEqual(contosoView());
      expect(root.tenants).toHaveLength(2);
      const unknown = await h.control('GET', '/tenants/nobody');
      expect(unknown.status).toBe(404);
      expect(unknown.json()).toEqual({ error: 'no tenant nobody' });
    });

    it('PATCH servicePrincipal: false makes Graph answer the service-principal 401, true restores it', async () => {
      await h.control('POST', '/time', { set: NOW, freeze: true });
      const token = await h.token(h.tenant('contoso'), GRAPH_SCOPE);
      const patched = await h.control('PATCH', '/tenants/contoso', { servicePrincipal: false });
      expect(patched.json()).toEqual({ ...contosoView(), servicePrincipal: false });
      expect(h.tenant('contoso').servicePrincipal).toBe(false);
      const refused = await graphList(h, token);
      expect(refused.status).toBe(401);
      const error = (refused.json() as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('Unauthorized');
      expect(error.message).toMatch(
        /^Service principal-less Authentication failed: the service principal for App ID 8bd644d1-64a1-4d4b-ae52-2e0cbf64e373 was not found\./,
      );
      // fabrikam is not affected.
      expect((await graphList(h, await h.token(h.tenant('fabrikam'), GRAPH_SCOPE))).status).toBe(200);
      const restored = await h.control('PATCH', '/tenants/contoso', { servicePrincipal: true });
      expect(restored.json()).toEqual(contosoView());
      expect((await graphList(h, token)).status).toBe(200);
    });

    it('PATCH reportingReader toggles the flag; bad values are 400s naming the field', async () => {
      expect((await h.control('PATCH', '/tenants/contoso', { reportingReader: false })).json()).toEqual({
        ...contosoView(),
        reportingReader: false,
      });
      expect((await h.control('PATCH', '/tenants/contoso', { reportingReader: true })).json()).toEqual(
        contosoView(),
      );
      const bad = await h.control('PATCH', '/tenants/contoso', { servicePrincipal: 'no' });
      expect(bad.status).toBe(400);
      expect(errorOf(bad)).toBe('"servicePrincipal" must be true or false');
      const bad2 = await h.control('PATCH', '/tenants/contoso', { reportingReader: 0 });
      expect(bad2.status).toBe(400);
      expect(errorOf(bad2)).toBe('"reportingReader" must be true or false');
      expect((await h.control('GET', '/tenants/contoso')).json()).toEqual(contosoView());
      expect((await h.control('PATCH', '/tenants/nobody', { reportingReader: true })).status).toBe(404);
    });

    it('POST …/revoke: tokens issued before no longer work on Graph; new ones do; other tenants keep theirs', async () => {
      await h.control('POST', '/time', { set: NOW, freeze: true });
      const before = await h.token(h.tenant('contoso'), GRAPH_SCOPE);
      const other = await h.token(h.tenant('fabrikam'), GRAPH_SCOPE);
      expect((await graphList(h, before)).status).toBe(200);
      const revoked = await h.control('POST', '/tenants/contoso/revoke');
      expect(revoked.status).toBe(200);
      expect(revoked.json()).toEqual({ revoked: 'contoso' });
      const refused = await graphList(h, before);
      expect(refused.status).toBe(401);
      expect(refused.json()).toMatchObject({ error: { code: 'InvalidAuthenticationToken' } });
      expect((await graphList(h, other)).status).toBe(200);
      const after = await h.token(h.tenant('contoso'), GRAPH_SCOPE);
      expect((await graphList(h, after)).status).toBe(200);
      expect((await h.control('POST', '/tenants/nobody/revoke')).status).toBe(404);
    });
  });

  it('an unknown control path is a 404', async () => {
    expect((await h.control('GET', '/nothing-here')).status).toBe(404);
  });
});

// ---------------------------------------------------------------------------------------------

describe('control API: /stats', () => {
  let started: Started | undefined;
  beforeAll(async () => {
    started = await start({ throttle: { limit: 2, windowMs: 60_000 } });
  });
  afterAll(async () => {
    await stop(started);
  });

  it('counts requests per tenant, API and status; DELETE resets the counts', async () => {
    const h = (started as Started).h;
    await h.control('POST', '/time', { set: NOW, freeze: true });
    const reset = await h.control('DELETE', '/stats');
    expect(reset.json()).toEqual({});

    const token = await h.token(h.tenant('contoso'), GRAPH_SCOPE);
    expect((await graphList(h, token)).status).toBe(200);
    expect((await graphList(h, token)).status).toBe(200);
    const throttled = await graphList(h, token);
    expect(throttled.status).toBe(429);
    // The clock is frozen: the oldest request leaves the 60 s window in exactly 60 s.
    expect(throttled.headers['retry-after']).toBe('60');
    // A request without a token is counted before any tenant is known.
    expect((await h.get('/ecp/reportingwebservice/reporting.svc/MessageTrace?$format=json')).status).toBe(
      401,
    );

    const stats = await h.control('GET', '/stats');
    expect(stats.status).toBe(200);
    expect(stats.json()).toEqual({
      '-': { control: { '200': 1 }, token: { '200': 1 }, reporting: { '401': 1 } },
      contoso: { 'graph-list': { '200': 2, '429': 1 } },
    });

    expect((await h.control('DELETE', '/stats')).json()).toEqual({});
    // Only the DELETE itself has been counted since.
    expect((await h.control('GET', '/stats')).json()).toEqual({ '-': { control: { '200': 1 } } });
  });
});

// ---------------------------------------------------------------------------------------------

describe('control API: /ground-truth', () => {
  let started: Started | undefined;
  let h: Harness;
  const FROM = NOW - 24 * HOUR;
  /**
   * An instant inside the window with 30 rows received after it: as of then those are not visible
   * yet and still in their first status, whatever the mail flow's daily curve looks like.
   */
  let ASOF: number;

  beforeAll(async () => {
    started = await start({
      messagesPerDay: 2000,
      // A configured tenant id may come in capitals; the control API still finds it in any case.
      tenants: [{ name: 'contoso' }, { name: 'fabrikam', tenantId: FABRIKAM_ID }],
    });
    h = started.h;
    await h.control('POST', '/time', { set: NOW, freeze: true });
    const all = await lines(window(NOW, { visible: 'false' }));
    expect(all.length).toBeGreaterThan(500);
    ASOF = Date.parse(item(all, 30).received) - 1;
  });
  afterAll(async () => {
    await stop(started);
  });

  const truthPath = (params: Record<string, string>): string =>
    `/_emulator/ground-truth?${new URLSearchParams(params).toString()}`;
  const window = (asOf: number, extra: Record<string, string> = {}): Record<string, string> => ({
    tenant: 'contoso',
    from: new Date(FROM).toISOString(),
    to: new Date(NOW).toISOString(),
    asOf: new Date(asOf).toISOString(),
    ...extra,
  });
  const lines = async (params: Record<string, string>): Promise<Truth[]> => {
    const reply = await h.get(truthPath(params));
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(reply.text.endsWith('\n')).toBe(true);
    return reply.text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Truth);
  };

  it('streams one NDJSON line per visible row: id, recipient, status, received, visibleAt, newest first', async () => {
    const truth = await lines(window(ASOF));
    expect(truth.length).toBeGreaterThan(100);
    for (const line of truth) {
      expect(Object.keys(line)).toEqual(['id', 'recipient', 'status', 'received', 'visibleAt']);
      expect(line.id).toMatch(GUID);
      expect(line.recipient).toMatch(/^[^@\s]+@[^@\s]+$/);
      expect(STATUSES.has(line.status)).toBe(true);
      expect(new Date(Date.parse(line.received)).toISOString()).toBe(line.received);
      expect(Date.parse(line.received)).toBeGreaterThanOrEqual(FROM);
      expect(Date.parse(line.visibleAt)).toBeGreaterThan(Date.parse(line.received));
      expect(Date.parse(line.visibleAt)).toBeLessThanOrEqual(ASOF);
    }
    const received = truth.map((line) => Date.parse(line.received));
    expect(received).toEqual([...received].sort((a, b) => b - a));
    expect(new Set(truth.map((line) => `${line.id}|${line.recipient}`)).size).toBe(truth.length);
    // The same tenant by id and by domain, the same lines.
    const t = h.tenant('contoso');
    const byId = await h.get(truthPath(window(ASOF, { tenant: t.tenantId })));
    const byDomain = await h.get(truthPath(window(ASOF, { tenant: t.domain })));
    const byName = await h.get(truthPath(window(ASOF)));
    expect(byId.text).toBe(byName.text);
    expect(byDomain.text).toBe(byName.text);
  });

  it('visible=false adds the rows not visible yet', async () => {
    const visible = await lines(window(ASOF));
    const all = await lines(window(ASOF, { visible: 'false' }));
    const hidden = all.filter((line) => Date.parse(line.visibleAt) > ASOF);
    expect(hidden.length).toBeGreaterThanOrEqual(30);
    expect(all.filter((line) => Date.parse(line.visibleAt) <= ASOF)).toEqual(visible);
    expect(all.length).toBe(visible.length + hidden.length);
  });

  it('statuses are as of asOf: rows still in GettingStatus or Pending settle later', async () => {
    const early = await lines(window(ASOF, { visible: 'false' }));
    const late = await lines(window(NOW + 2 * 24 * HOUR, { visible: 'false' }));
    expect(late.map((l) => [l.id, l.recipient, l.received, l.visibleAt])).toEqual(
      early.map((l) => [l.id, l.recipient, l.received, l.visibleAt]),
    );
    const transient = new Set(['GettingStatus', 'Pending']);
    const unsettled = early.filter((line) => transient.has(line.status));
    expect(unsettled.length).toBeGreaterThan(0);
    expect(late.filter((line) => transient.has(line.status))).toEqual([]);
    // Statuses already final stay as they were.
    early.forEach((line, i) => {
      if (!transient.has(line.status)) expect(item(late, i).status).toBe(line.status);
    });
  });

  it('another tenant has its own rows, found by its id in any case', async () => {
    const contoso = await lines(window(NOW));
    const fabrikam = await lines(window(NOW, { tenant: 'fabrikam' }));
    expect(fabrikam.length).toBeGreaterThan(0);
    expect(await lines(window(NOW, { tenant: FABRIKAM_ID.toLowerCase() }))).toEqual(fabrikam);
    expect(await lines(window(NOW, { tenant: FABRIKAM_ID }))).toEqual(fabrikam);
    expect((await h.control('GET', `/tenants/${FABRIKAM_ID.toLowerCase()}`)).json()).toMatchObject({
      name: 'fabrikam',
      tenantId: FABRIKAM_ID.toLowerCase(), // tenant ids are kept in one (lower-case) spelling
    });
    const ids = new Set(contoso.map((line) => line.id));
    expect(fabrikam.filter((line) => ids.has(line.id))).toEqual([]);
  });

  it('refuses an unknown or missing tenant and bad instants with a 400', async () => {
    const unknown = await h.get(truthPath(window(NOW, { tenant: 'nobody' })));
    expect(unknown.status).toBe(400);
    expect(errorOf(unknown)).toBe('"tenant" must name a tenant (name, id or domain)');
    const missing = await h.get('/_emulator/ground-truth');
    expect(missing.status).toBe(400);
    expect(errorOf(missing)).toBe('"tenant" must name a tenant (name, id or domain)');
    for (const field of ['asOf', 'from', 'to']) {
      const bad = await h.get(truthPath(window(NOW, { [field]: 'tomorrow' })));
      expect(bad.status).toBe(400);
      expect(errorOf(bad)).toBe('"asOf", "from" and "to" must be instants');
    }
  });
});
