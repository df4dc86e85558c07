/**
 * The emulated Graph message trace API, over real HTTPS, as any client sees it: paging, order,
 * validation, authentication order, throttling and each fault.
 */
import { errors } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { graphWindow, REPORTING_SCOPE, startHarness, type Harness, type Reply } from './harness.js';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-11-20T12:00:00Z');
const LIST = '/v1.0/admin/exchange/tracing/messageTraces';

interface GraphRow {
  id: string;
  recipientAddress: string;
  receivedDateTime: string;
  status: string;
  '@odata.type'?: string;
}
interface Page {
  value: GraphRow[];
  '@odata.nextLink'?: string;
  '@odata.context'?: string;
}

function listUrl(fromMs: number, toMs: number, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams({ $filter: graphWindow(fromMs, toMs), ...extra });
  return `${LIST}?${params.toString()}`;
}

let h: Harness;
let token: string;
const auth = (): Record<string, string> => ({ authorization: `Bearer ${token}` });

async function walk(first: string): Promise<{ rows: GraphRow[]; pages: number }> {
  const rows: GraphRow[] = [];
  let pages = 0;
  for (let url: string | undefined = first; url !== undefined;) {
    const reply = await h.get(url, auth());
    expect(reply.status, reply.text.slice(0, 300)).toBe(200);
    const page = reply.json() as Page;
    rows.push(...page.value);
    pages++;
    url = page['@odata.nextLink'];
  }
  return { rows, pages };
}

async function groundTruth(
  fromMs: number,
  toMs: number,
): Promise<{ id: string; recipient: string; status: string }[]> {
  const reply = await h.control('GET', `/ground-truth?tenant=contoso&from=${fromMs}&to=${toMs}&asOf=${NOW}`);
  expect(reply.status).toBe(200);
  return reply.text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as { id: string; recipient: string; status: string });
}

beforeAll(async () => {
  h = await startHarness({ messagesPerDay: 3000, throttle: { limit: 10_000 } });
  h.emulator.clock.set(NOW);
  h.emulator.clock.freeze(true);
  token = await h.token();
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  await h.control('DELETE', '/faults');
});

describe('paging and order', () => {
  it('a next-link chain returns every visible row once, newest first, equal to the ground truth', async () => {
    const from = NOW - 12 * HOUR;
    const { rows, pages } = await walk(listUrl(from, NOW, { $top: '200' }));
    expect(pages).toBeGreaterThan(2);
    const keys = rows.map((r) => `${r.id}|${r.recipientAddress.toLowerCase()}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (let i = 1; i < rows.length; i++) {
      expect(
        Date.parse(rows[i - 1]?.receivedDateTime ?? '') >= Date.parse(rows[i]?.receivedDateTime ?? ''),
      ).toBe(true);
    }
    const truth = await groundTruth(from, NOW);
    expect(keys.sort()).toEqual(truth.map((t) => `${t.id}|${t.recipient.toLowerCase()}`).sort());
    const statusOf = new Map(
      truth.map((t) => [`${t.id}|${t.recipient.toLowerCase()}`, t.status.toLowerCase()]),
    );
    for (const row of rows)
      expect(row.status.toLowerCase()).toBe(statusOf.get(`${row.id}|${row.recipientAddress.toLowerCase()}`));
  });

  it('the next link is absolute, on this host, and carries the original parameters', async () => {
    const reply = await h.get(listUrl(NOW - 6 * HOUR, NOW, { $top: '10' }), auth());
    const next = new URL((reply.json() as Page)['@odata.nextLink'] ?? '');
    expect(next.origin).toBe(h.emulator.url);
    expect(next.pathname).toBe(LIST);
    expect(next.searchParams.get('$filter')).toBe(graphWindow(NOW - 6 * HOUR, NOW));
    expect(next.searchParams.get('$top')).toBe('10');
    expect(next.searchParams.get('$skiptoken')).toMatch(/^[A-Za-z0-9_-]+$/);
    expect((reply.json() as Page)['@odata.context']).toBe(
      `${h.emulator.url}/v1.0/$metadata#admin/exchange/tracing/messageTraces`,
    );
  });

  it('$top defaults to 1000; without a filter the window is the last 48 hours', async () => {
    const reply = await h.get(LIST, auth());
    expect(reply.status).toBe(200);
    const page = reply.json() as Page;
    expect(page.value).toHaveLength(1000);
    const oldest = (await walk(LIST)).rows.at(-1);
    expect(Date.parse(oldest?.receivedDateTime ?? '')).toBeGreaterThanOrEqual(NOW - 48 * HOUR - 1000);
  });

  it('rows appear once visible: later queries see rows that earlier ones did not', async () => {
    const from = NOW - HOUR;
    const before = (await walk(listUrl(from, NOW))).rows.length;
    h.emulator.clock.set(NOW + 30 * 60_000);
    const after = (await walk(listUrl(from, NOW))).rows.length;
    h.emulator.clock.set(NOW);
    expect(after).toBeGreaterThan(before);
  });

  it('beta spells statuses in PascalCase and types each row', async () => {
    const reply = await h.get(
      listUrl(NOW - 2 * HOUR, NOW, { $top: '20' }).replace('/v1.0/', '/beta/'),
      auth(),
    );
    const rows = (reply.json() as Page).value;
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row['@odata.type']).toBe('#microsoft.graph.exchangeMessageTrace');
      expect(row.status).toMatch(/^[A-Z]/);
    }
    const v1 = (await h.get(listUrl(NOW - 2 * HOUR, NOW, { $top: '20' }), auth())).json() as Page;
    expect(v1.value.map((r) => r.status.toLowerCase())).toEqual(rows.map((r) => r.status.toLowerCase()));
    expect(v1.value.every((r) => /^[a-z]/.test(r.status))).toBe(true);
  });

  it('eq filters select rows: recipientAddress, case-insensitively', async () => {
    const sample = ((await h.get(listUrl(NOW - 6 * HOUR, NOW, { $top: '1' }), auth())).json() as Page)
      .value[0];
    const recipient = sample?.recipientAddress ?? '';
    const filter = `${graphWindow(NOW - 6 * HOUR, NOW)} and recipientAddress eq '${recipient.toUpperCase()}'`;
    const { rows } = await walk(`${LIST}?${new URLSearchParams({ $filter: filter }).toString()}`);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.recipientAddress.toLowerCase() === recipient.toLowerCase())).toBe(true);
  });
});

describe('validation (400)', () => {
  const DAY = 24 * HOUR;
  it.each([
    ['a window over 10 days', graphWindow(NOW - 11 * DAY, NOW), /10 days/i],
    ['a start older than 90 days', graphWindow(NOW - 91 * DAY, NOW - 85 * DAY), /older than 90 days/],
    ['an end in the future', graphWindow(NOW - HOUR, NOW + HOUR), /end of the receivedDateTime range/],
    [
      'one bound only',
      `receivedDateTime ge ${new Date(NOW - HOUR).toISOString().slice(0, 19)}Z`,
      /both|bound/i,
    ],
    ['an unparseable filter', 'receivedDateTime between yesterday', /Invalid filter clause/],
  ])('%s', async (_, filter, message) => {
    const reply = await h.get(`${LIST}?${new URLSearchParams({ $filter: filter }).toString()}`, auth());
    expect(reply.status).toBe(400);
    const body = reply.json() as { error: { code: string; message: string } };
    expect(body.error.code).toBe('BadRequest');
    expect(body.error.message).toMatch(message);
  });

  it.each(['0', '5001', 'ten', '1.5'])('$top=%s', async (top) => {
    const reply = await h.get(listUrl(NOW - HOUR, NOW, { $top: top }), auth());
    expect(reply.status).toBe(400);
  });

  it('a skip token from another query is refused', async () => {
    const next = ((await h.get(listUrl(NOW - 6 * HOUR, NOW, { $top: '5' }), auth())).json() as Page)[
      '@odata.nextLink'
    ];
    const token = new URL(next ?? '').searchParams.get('$skiptoken') ?? '';
    const reply = await h.get(listUrl(NOW - 5 * HOUR, NOW, { $top: '5', $skiptoken: token }), auth());
    expect(reply.status).toBe(400);
  });
});

describe('authentication and authorization, in order', () => {
  const errorOf = (reply: Reply): { code: string; message: string } =>
    (reply.json() as { error: { code: string; message: string } }).error;

  it('no token, a malformed token, a tampered token: 401 InvalidAuthenticationToken', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer nonsense' },
      { authorization: `Bearer ${token.slice(0, -4)}AAAA` },
    ]) {
      const reply = await h.get(listUrl(NOW - HOUR, NOW), headers);
      expect(reply.status).toBe(401);
      expect(errorOf(reply).code).toBe('InvalidAuthenticationToken');
    }
  });

  it('a token for the Reporting Web Service (wrong audience): 401', async () => {
    const other = await h.token(undefined, REPORTING_SCOPE);
    const reply = await h.get(listUrl(NOW - HOUR, NOW), { authorization: `Bearer ${other}` });
    expect(reply.status).toBe(401);
  });

  it("the tenant without the transport app's service principal: 401 with Microsoft's message", async () => {
    await h.control('PATCH', '/tenants/contoso', { servicePrincipal: false });
    const reply = await h.get(listUrl(NOW - HOUR, NOW), auth());
    await h.control('PATCH', '/tenants/contoso', { servicePrincipal: true });
    expect(reply.status).toBe(401);
    expect(errorOf(reply).message).toContain(
      'the service principal for App ID 8bd644d1-64a1-4d4b-ae52-2e0cbf64e373 was not found',
    );
  });

  it('an app without ExchangeMessageTrace.Read.All: 403', async () => {
    const limited = await startHarness({ tenants: [{ name: 'fabrikam', graphRoles: [] }] });
    try {
      const reply = await limited.get(listUrl(Date.now() - HOUR, Date.now()), {
        authorization: `Bearer ${await limited.token()}`,
      });
      expect(reply.status).toBe(403);
      expect(errorOf(reply).code).toBe('Forbidden');
    } finally {
      await limited.close();
    }
  });
});

describe('getDetailsByRecipient', () => {
  it('returns the row’s steps in time order, each with the trace id', async () => {
    const row = ((await h.get(listUrl(NOW - 6 * HOUR, NOW - HOUR, { $top: '1' }), auth())).json() as Page)
      .value[0];
    expect(row).toBeDefined();
    const literal = `'${(row?.recipientAddress ?? '').replace(/'/g, "''")}'`;
    const path = `${LIST}/${row?.id ?? ''}/getDetailsByRecipient(recipientAddress=${encodeURIComponent(literal)})`;
    const reply = await h.get(path, auth());
    expect(reply.status).toBe(200);
    const steps = (reply.json() as { value: { id: string; dateTime: string; event: string }[] }).value;
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.every((s) => s.id === row?.id)).toBe(true);
    expect(steps[0]?.event).toBe('Receive');
    const times = steps.map((s) => Date.parse(s.dateTime));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('an unknown trace id gives an empty list (by default) or 404 (when configured)', async () => {
    const path = `${LIST}/00000000-0000-0000-0000-000000000000/getDetailsByRecipient(recipientAddress='nobody@contoso.com')`;
    const reply = await h.get(path, auth());
    expect(reply.status).toBe(200);
    expect((reply.json() as { value: unknown[] }).value).toEqual([]);
    const strict = await startHarness({ api: { unknownDetails: '404' } });
    try {
      expect((await strict.get(path, { authorization: `Bearer ${await strict.token()}` })).status).toBe(404);
    } finally {
      await strict.close();
    }
  });
});

describe('throttling', () => {
  it('over the quota: 429 with Retry-After in whole seconds, shared by list and detail calls; the window moves on', async () => {
    const t = await startHarness({ throttle: { limit: 3, windowMs: 60_000 } });
    try {
      t.emulator.clock.freeze(true);
      const headers = { authorization: `Bearer ${await t.token()}` };
      const now = t.emulator.clock.now();
      const url = listUrl(now - HOUR, now, { $top: '1' });
      expect((await t.get(url, headers)).status).toBe(200);
      expect((await t.get(url, headers)).status).toBe(200);
      const detail = `${LIST}/00000000-0000-0000-0000-000000000000/getDetailsByRecipient(recipientAddress='a@b.c')`;
      expect((await t.get(detail, headers)).status).toBe(200);
      const refused = await t.get(url, headers);
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBe('60');
      expect((refused.json() as { error: { code: string } }).error.code).toBe('TooManyRequests');
      t.emulator.clock.advance(30_000);
      expect((await t.get(url, headers)).headers['retry-after']).toBe('30');
      t.emulator.clock.advance(30_000);
      expect((await t.get(url, headers)).status).toBe(200);
      const stats = (await t.control('GET', '/stats')).json() as Record<
        string,
        Record<string, Record<string, number>>
      >;
      expect(stats.contoso?.['graph-list']?.['429']).toBe(2);
    } finally {
      await t.close();
    }
  });

  it('fractional Retry-After when configured', async () => {
    const t = await startHarness({ throttle: { limit: 1, windowMs: 2_500, fractionalRetryAfter: true } });
    try {
      t.emulator.clock.freeze(true);
      const headers = { authorization: `Bearer ${await t.token()}` };
      const now = t.emulator.clock.now();
      await t.get(listUrl(now - HOUR, now, { $top: '1' }), headers);
      t.emulator.clock.advance(372);
      const refused = await t.get(listUrl(now - HOUR, now, { $top: '1' }), headers);
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBe('2.128');
    } finally {
      await t.close();
    }
  });
});

describe('faults', () => {
  const url = (): string => listUrl(NOW - 6 * HOUR, NOW, { $top: '50' });
  const queue = (fault: object, times = 1): Promise<Reply> =>
    h.control('POST', '/faults', { queue: [fault], times });

  it.each([500, 502, 503, 504])('status %i once, then normal service', async (status) => {
    await queue({ kind: 'status', status, targets: ['graph-list'] });
    expect((await h.get(url(), auth())).status).toBe(status);
    expect((await h.get(url(), auth())).status).toBe(200);
  });

  it('a connection reset', async () => {
    await queue({ kind: 'reset' });
    await expect(h.get(url(), auth())).rejects.toThrow(/other side closed|socket|ECONNRESET/i);
    expect((await h.get(url(), auth())).status).toBe(200);
  });

  it('truncated JSON: a complete response whose body does not parse', async () => {
    await queue({ kind: 'truncate' });
    const reply = await h.get(url(), auth());
    expect(reply.status).toBe(200);
    expect(() => reply.json()).toThrow(SyntaxError);
  });

  it('slow headers trip a client timeout; slow bodies arrive whole', async () => {
    await queue({ kind: 'slow-headers', delayMs: 1500 });
    const { request, Agent } = await import('undici');
    const impatient = new Agent({ connect: { ca: h.emulator.caCertPem }, headersTimeout: 300 });
    try {
      await expect(
        request(h.emulator.url + url(), { headers: auth(), dispatcher: impatient }),
      ).rejects.toBeInstanceOf(errors.HeadersTimeoutError);
    } finally {
      await impatient.close();
    }
    await queue({ kind: 'slow-body', delayMs: 200 });
    const slow = await h.get(url(), auth());
    expect((slow.json() as Page).value).toHaveLength(50);
  });

  it('a revoked token: 401 now and after; a new token works', async () => {
    await queue({ kind: 'revoke-token' });
    expect((await h.get(url(), auth())).status).toBe(401);
    expect((await h.get(url(), auth())).status).toBe(401);
    token = await h.token();
    expect((await h.get(url(), auth())).status).toBe(200);
  });

  it('an expired next link: 400 on the next page', async () => {
    const next = ((await h.get(url(), auth())).json() as Page)['@odata.nextLink'] ?? '';
    await queue({ kind: 'expire-next-link' });
    const reply = await h.get(next, auth());
    expect(reply.status).toBe(400);
    expect((reply.json() as { error: { message: string } }).error.message).toMatch(/expired/);
  });

  it('a short page still has a next link, and the walk still returns every row', async () => {
    const full = await walk(url());
    await queue({ kind: 'short-page' });
    const first = (await h.get(url(), auth())).json() as Page;
    expect(first.value.length).toBeLessThan(50);
    expect(first['@odata.nextLink']).toBeDefined();
    const rest = await walk(first['@odata.nextLink'] ?? '');
    expect([...first.value, ...rest.rows].map((r) => r.id + r.recipientAddress)).toEqual(
      full.rows.map((r) => r.id + r.recipientAddress),
    );
  });

  it('duplicate rows: the next page repeats the end of the previous one', async () => {
    await queue({ kind: 'duplicate-rows' });
    const first = (await h.get(url(), auth())).json() as Page;
    const second = (await h.get(first['@odata.nextLink'] ?? '', auth())).json() as Page;
    const seen = new Set(first.value.map((r) => r.id + r.recipientAddress));
    expect(second.value.filter((r) => seen.has(r.id + r.recipientAddress)).length).toBeGreaterThan(0);
  });

  it('faults aimed at one tenant spare the others', async () => {
    await queue({ kind: 'status', status: 503, tenant: 'someone-else' });
    expect((await h.get(url(), auth())).status).toBe(200);
    await h.control('DELETE', '/faults');
  });
});
