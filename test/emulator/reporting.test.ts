/**
 * The Reporting Web Service of the emulator, as a plain HTTPS client sees it: both JSON dialects,
 * server paging by Index and `$skiptoken`, the StartDate/EndDate window, authentication and
 * authorization, MessageTraceDetail and the faults that touch it. The emulator clock is frozen,
 * so every page is compared with the ground truth exactly.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorOptions } from '../../src/emulator/server.js';
import { GRAPH_SCOPE, REPORTING_SCOPE, startHarness, type Harness, type Reply } from './harness.js';

const NOW = Date.parse('2026-03-10T12:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SERVICE = '/ecp/reportingwebservice/reporting.svc';
const ENTITY_BASE = '/ecp/ReportingWebService/Reporting.svc';
const UNAUTHORIZED_TITLE = '<title>401 - Unauthorized: Access is denied due to invalid credentials.</title>';
const NO_PERMISSION =
  '{"ErrorCode":"","Message":"No permission to access the report for the organization ."}';

const TRACE_FIELDS = [
  'Organization',
  'MessageId',
  'Received',
  'SenderAddress',
  'RecipientAddress',
  'Subject',
  'Status',
  'ToIP',
  'FromIP',
  'Size',
  'MessageTraceId',
  'StartDate',
  'EndDate',
  'Index',
];
const DETAIL_FIELDS = [
  'Organization',
  'MessageId',
  'Date',
  'Event',
  'Action',
  'Detail',
  'Data',
  'MessageTraceId',
  'RecipientAddress',
  'SenderAddress',
  'StartDate',
  'EndDate',
  'Index',
];

interface Metadata {
  id: string;
  uri: string;
  type: string;
}
interface TraceRow {
  __metadata?: Metadata;
  Organization: string;
  MessageId: string | null;
  Received: string;
  SenderAddress: string | null;
  RecipientAddress: string;
  Subject: string | null;
  Status: string;
  ToIP: string | null;
  FromIP: string | null;
  Size: number;
  MessageTraceId: string;
  StartDate: string;
  EndDate: string;
  Index: number;
}
interface DetailRow {
  __metadata?: Metadata;
  Organization: string;
  MessageId: string | null;
  Date: string;
  Event: string;
  Action: string | null;
  Detail: string;
  Data: string;
  MessageTraceId: string;
  RecipientAddress: string;
  SenderAddress: string | null;
  StartDate: string;
  EndDate: string;
  Index: number;
}
interface Verbose<T> {
  d: { results: T[]; __next?: string };
}
interface Light<T> {
  'odata.metadata': string;
  value: T[];
  'odata.nextLink'?: string;
}
interface Truth {
  id: string;
  recipient: string;
  status: string;
  received: string;
  visibleAt: string;
}
interface GraphDetail {
  id: string;
  dateTime: string;
  event: string;
  action: string;
  description: string;
  data: string;
}
type Dialect = 'verbose' | 'light';
type Report = 'MessageTrace' | 'MessageTraceDetail';

const isoSeconds = (ms: number): string => new Date(ms).toISOString().slice(0, 19) + 'Z';
const windowFilter = (from: number, to: number): string =>
  `StartDate eq datetime'${isoSeconds(from)}' and EndDate eq datetime'${isoSeconds(to)}'`;
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

function item<T>(list: readonly T[], index: number): T {
  const value = list[index];
  if (value === undefined) throw new Error(`no item ${index} in a list of ${list.length}`);
  return value;
}

/** A query as a careful client writes it: every part percent-encoded, spaces as %20. */
function reportPath(report: Report, params: Record<string, string>, base = SERVICE): string {
  const query = Object.entries(params)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
  return `${base}/${report}${query === '' ? '' : `?${query}`}`;
}

/** The request a dialect takes: `$format=json` (verbose) or `Accept: application/json` (light). */
function dialectRequest(
  dialect: Dialect,
  params: Record<string, string>,
  token: string,
): { params: Record<string, string>; headers: Record<string, string> } {
  const authorization = `Bearer ${token}`;
  return dialect === 'verbose'
    ? { params: { $format: 'json', ...params }, headers: { authorization } }
    : { params, headers: { authorization, accept: 'application/json' } };
}

interface Page<T> {
  rows: T[];
  next: string | undefined;
}

function pageOf<T>(reply: Reply, dialect: Dialect): Page<T> {
  expect(reply.status, reply.text.slice(0, 300)).toBe(200);
  expect(reply.headers['content-type']).toMatch(/^application\/json/);
  if (dialect === 'verbose') {
    const body = reply.json() as Verbose<T>;
    return { rows: body.d.results, next: body.d.__next };
  }
  const body = reply.json() as Light<T>;
  return { rows: body.value, next: body['odata.nextLink'] };
}

/** `/Date(1659020996164)/` → 1659020996164. */
function msOfVerbose(text: string): number {
  const match = /^\/Date\((-?\d+)\)\/$/.exec(text);
  if (match === null) throw new Error(`not an OData verbose date: ${text}`);
  return Number(match[1]);
}

/** JSON light's zone-less `2022-11-29T05:35:08.2652371` (UTC) → its millisecond. */
function msOfLight(text: string): number {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}$/.test(text))
    throw new Error(`not a JSON light date: ${text}`);
  return Date.parse(text.slice(0, 23) + 'Z');
}

const keyOf = (row: { MessageTraceId: string; RecipientAddress: string }): string =>
  `${row.MessageTraceId}|${row.RecipientAddress}`;
const truthKey = (line: Truth): string => `${line.id}|${line.recipient}`;

async function groundTruth(h: Harness, from: number, to: number, visible = true): Promise<Truth[]> {
  const params = new URLSearchParams({
    tenant: 'contoso',
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    asOf: new Date(NOW).toISOString(),
  });
  if (!visible) params.set('visible', 'false');
  const reply = await h.get(`/_emulator/ground-truth?${params.toString()}`);
  expect(reply.status).toBe(200);
  return reply.text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Truth);
}

interface Walk<T> {
  rows: T[];
  pageSizes: number[];
  /** Each next link as served, and the absolute URL it was resolved to. */
  links: { served: string; resolved: string }[];
}

/** Follows the next links from the first page to the last, resolving relative ones. */
async function walk<T>(h: Harness, firstPath: string, headers: Record<string, string>, dialect: Dialect) {
  const result: Walk<T> = { rows: [], pageSizes: [], links: [] };
  let url = h.emulator.url + firstPath;
  for (;;) {
    const page = pageOf<T>(await h.get(url, headers), dialect);
    result.rows.push(...page.rows);
    result.pageSizes.push(page.rows.length);
    if (page.next === undefined) return result;
    url = new URL(page.next, url).toString();
    result.links.push({ served: page.next, resolved: url });
    if (result.pageSizes.length > 500) throw new Error('the next-link chain does not end');
  }
}

async function startFrozen(options: EmulatorOptions): Promise<{ h: Harness; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'exotrace-rws-test-'));
  const h = await startHarness({
    dir,
    seed: 11,
    messagesPerDay: 2000,
    throttle: { limit: 100_000 },
    ...options,
  });
  const reply = await h.control('POST', '/time', { set: new Date(NOW).toISOString(), freeze: true });
  expect(reply.json()).toEqual({ now: new Date(NOW).toISOString(), epochMs: NOW, frozen: true });
  return { h, dir };
}

async function stop(started: { h: Harness; dir: string } | undefined): Promise<void> {
  if (started === undefined) return;
  await started.h.close();
  await rm(started.dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------

describe('Reporting Web Service with the default page size (2000)', () => {
  let started: { h: Harness; dir: string } | undefined;
  let h: Harness;
  let token: string;
  const FROM = NOW - DAY;
  let truth: Truth[];

  beforeAll(async () => {
    started = await startFrozen({
      // fabrikam's app was granted no ReportingWebService.Read.All.
      tenants: [{ name: 'contoso' }, { name: 'fabrikam', reportingRoles: [] }],
    });
    h = started.h;
    token = await h.token(h.tenant('contoso'), REPORTING_SCOPE);
    truth = await groundTruth(h, FROM, NOW);
  });
  afterAll(async () => {
    await stop(started);
  });
  afterEach(async () => {
    expect((await h.control('DELETE', '/faults')).status).toBe(200);
  });

  const get = (report: Report, dialect: Dialect, params: Record<string, string>): Promise<Reply> => {
    const request = dialectRequest(dialect, params, token);
    return h.get(reportPath(report, request.params), request.headers);
  };

  describe('response formats', () => {
    it('$format=json answers verbose OData: d.results, __metadata, /Date(ms)/, the window echoed, Index from 0', async () => {
      expect(truth.length).toBeGreaterThan(2000);
      const filter = windowFilter(FROM, NOW);
      const reply = await get('MessageTrace', 'verbose', { $filter: filter });
      const body = reply.json() as Verbose<TraceRow>;
      expect(Object.keys(body)).toEqual(['d']);
      expect(Object.keys(body.d)).toEqual(['results', '__next']);
      const rows = body.d.results;
      expect(rows).toHaveLength(2000);
      for (const row of rows) expect(Object.keys(row)).toEqual(['__metadata', ...TRACE_FIELDS]);
      expect(rows.map((r) => r.__metadata)).toEqual(
        range(0, 2000).map((i) => {
          const entity = `${h.emulator.url}${ENTITY_BASE}/MessageTrace(${i})`;
          return { id: entity, uri: entity, type: 'TenantReporting.MessageTrace' };
        }),
      );
      expect(rows.map((r) => r.Index)).toEqual(range(0, 2000));
      expect(new Set(rows.map((r) => r.StartDate))).toEqual(new Set([`/Date(${FROM})/`]));
      expect(new Set(rows.map((r) => r.EndDate))).toEqual(new Set([`/Date(${NOW})/`]));
      expect(new Set(rows.map((r) => r.Organization))).toEqual(new Set(['contoso.onmicrosoft.com']));
      // The 2000 newest rows of the window, in the ground truth's order, with its statuses.
      expect(
        rows.map((r) => [r.MessageTraceId, r.RecipientAddress, r.Status, msOfVerbose(r.Received)]),
      ).toEqual(truth.slice(0, 2000).map((t) => [t.id, t.recipient, t.status, Date.parse(t.received)]));

      const next = new URL(body.d.__next ?? '');
      expect(next.origin).toBe(h.emulator.url);
      expect(next.pathname.toLowerCase()).toBe(`${SERVICE}/messagetrace`);
      expect(Object.fromEntries(next.searchParams)).toEqual({
        $format: 'json',
        $filter: filter,
        $skiptoken: '1999',
      });
    });

    it('Accept: application/json answers JSON light: odata.metadata, value, Received without a zone', async () => {
      const filter = windowFilter(FROM, NOW);
      const reply = await get('MessageTrace', 'light', { $filter: filter });
      const body = reply.json() as Light<TraceRow>;
      expect(Object.keys(body)).toEqual(['odata.metadata', 'value', 'odata.nextLink']);
      expect(body['odata.metadata']).toBe(`${h.emulator.url}${ENTITY_BASE}/$metadata#MessageTrace`);
      const rows = body.value;
      expect(rows).toHaveLength(2000);
      for (const row of rows) expect(Object.keys(row)).toEqual(TRACE_FIELDS);
      expect(new Set(rows.map((r) => r.StartDate))).toEqual(new Set(['2026-03-09T12:00:00.0000000Z']));
      expect(new Set(rows.map((r) => r.EndDate))).toEqual(new Set(['2026-03-10T12:00:00.0000000Z']));
      for (const row of rows) expect(row.Received).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}$/);
      expect(
        rows.map((r) => [r.MessageTraceId, r.RecipientAddress, r.Status, msOfLight(r.Received)]),
      ).toEqual(truth.slice(0, 2000).map((t) => [t.id, t.recipient, t.status, Date.parse(t.received)]));
      const next = new URL(body['odata.nextLink'] ?? '');
      expect(Object.fromEntries(next.searchParams)).toEqual({ $filter: filter, $skiptoken: '1999' });

      // Apart from the dates' spelling and __metadata, both dialects carry the same values.
      const verbose = pageOf<TraceRow>(await get('MessageTrace', 'verbose', { $filter: filter }), 'verbose');
      const dialectSpecific = new Set(['__metadata', 'Received', 'StartDate', 'EndDate']);
      const strip = (row: TraceRow): Record<string, unknown> =>
        Object.fromEntries(Object.entries(row).filter(([key]) => !dialectSpecific.has(key)));
      expect(rows.map(strip)).toEqual(verbose.rows.map(strip));
      // Same instant to the millisecond; JSON light adds the sub-millisecond ticks.
      expect(rows.map((r) => msOfLight(r.Received))).toEqual(
        verbose.rows.map((r) => msOfVerbose(r.Received)),
      );
    });

    it('answers 406 without $format=json or Accept: application/json (documented deviation: no Atom)', async () => {
      const auth = { authorization: `Bearer ${token}` };
      const plain = await h.get(reportPath('MessageTrace', {}), auth);
      expect(plain.status).toBe(406);
      expect((plain.json() as { error: { message: { value: string } } }).error.message.value).toContain(
        '$format=json',
      );
      const xml = await h.get(reportPath('MessageTrace', {}), { ...auth, accept: 'application/atom+xml' });
      expect(xml.status).toBe(406);
      // An explicit Atom request is not answered in JSON light because of the Accept header.
      const atom = await h.get(reportPath('MessageTrace', { $format: 'atom' }), {
        ...auth,
        accept: 'application/json',
      });
      expect(atom.status).toBe(406);
    });
  });

  describe('paging', () => {
    for (const dialect of ['verbose', 'light'] as const) {
      it(`a ${dialect} walk of a 24 h window returns every row once, newest first, as the ground truth`, async () => {
        const request = dialectRequest(dialect, { $filter: windowFilter(FROM, NOW) }, token);
        const walked = await walk<TraceRow>(
          h,
          reportPath('MessageTrace', request.params),
          request.headers,
          dialect,
        );
        const n = truth.length;
        const pages = Math.ceil(n / 2000);
        expect(walked.pageSizes).toEqual(range(0, pages).map((p) => (p < pages - 1 ? 2000 : n - 2000 * p)));
        expect(walked.links.map((l) => new URL(l.served).searchParams.get('$skiptoken'))).toEqual(
          range(1, pages).map((p) => String(2000 * p - 1)),
        );
        expect(walked.rows.map((r) => r.Index)).toEqual(range(0, n));
        expect(new Set(walked.rows.map(keyOf)).size).toBe(n);
        expect(walked.rows.map((r) => [keyOf(r), r.Status])).toEqual(
          truth.map((t) => [truthKey(t), t.status]),
        );
        const received = walked.rows.map((r) =>
          dialect === 'verbose' ? msOfVerbose(r.Received) : msOfLight(r.Received),
        );
        for (let i = 1; i < received.length; i++) {
          expect(item(received, i)).toBeLessThanOrEqual(item(received, i - 1));
        }
        expect(Math.min(...received)).toBeGreaterThanOrEqual(FROM);
        expect(Math.max(...received)).toBeLessThanOrEqual(NOW);
      });
    }

    it('$top caps the whole result: 10 rows and no next link; 2500 rows over two pages', async () => {
      const filter = windowFilter(FROM, NOW);
      const ten = pageOf<TraceRow>(
        await get('MessageTrace', 'light', { $filter: filter, $top: '10' }),
        'light',
      );
      expect(ten.rows.map(keyOf)).toEqual(truth.slice(0, 10).map(truthKey));
      expect(ten.next).toBeUndefined();

      const request = dialectRequest('verbose', { $filter: filter, $top: '2500' }, token);
      const walked = await walk<TraceRow>(
        h,
        reportPath('MessageTrace', request.params),
        request.headers,
        'verbose',
      );
      expect(walked.pageSizes).toEqual([2000, 500]);
      expect(walked.rows.map((r) => r.Index)).toEqual(range(0, 2500));
      expect(walked.rows.map(keyOf)).toEqual(truth.slice(0, 2500).map(truthKey));
    });

    it('a $skiptoken past the last row gives an empty page without a next link', async () => {
      const page = pageOf<TraceRow>(
        await get('MessageTrace', 'verbose', {
          $filter: windowFilter(FROM, NOW),
          $skiptoken: String(truth.length - 1),
        }),
        'verbose',
      );
      expect(page).toEqual({ rows: [], next: undefined });
    });
  });

  describe('the $filter', () => {
    it('StartDate and EndDate come as a pair; one alone is a 400 in the dialect asked for', async () => {
      const value = 'StartDate and EndDate must be specified together.';
      const onlyStart = await get('MessageTrace', 'verbose', {
        $filter: `StartDate eq datetime'${isoSeconds(FROM)}'`,
      });
      expect(onlyStart.status).toBe(400);
      expect(onlyStart.json()).toEqual({ error: { code: '', message: { lang: 'en-US', value } } });
      const onlyEnd = await get('MessageTrace', 'light', {
        $filter: `EndDate eq datetime'${isoSeconds(NOW)}'`,
      });
      expect(onlyEnd.status).toBe(400);
      expect(onlyEnd.json()).toEqual({ 'odata.error': { code: '', message: { lang: 'en-US', value } } });
    });

    it('refuses a start older than 10 days and accepts one just younger', async () => {
      const old = await get('MessageTrace', 'light', {
        $filter: windowFilter(NOW - 10 * DAY - HOUR, NOW - 10 * DAY),
      });
      expect(old.status).toBe(400);
      expect(old.json()).toEqual({
        'odata.error': {
          code: '',
          message: {
            lang: 'en-US',
            value: "Invalid StartDate value. The StartDate can't be older than 10 days from today.",
          },
        },
      });
      const recent = await get('MessageTrace', 'light', {
        $filter: windowFilter(NOW - 10 * DAY + HOUR, NOW - 10 * DAY + 13 * HOUR),
      });
      const page = pageOf<TraceRow>(recent, 'light');
      expect(page.rows.length).toBeGreaterThan(0);
      for (const row of page.rows) {
        expect(msOfLight(row.Received)).toBeGreaterThanOrEqual(NOW - 10 * DAY + HOUR);
        expect(msOfLight(row.Received)).toBeLessThanOrEqual(NOW - 10 * DAY + 13 * HOUR);
      }
    });

    it('without a filter the window is the last 48 hours', async () => {
      const truth48 = await groundTruth(h, NOW - 2 * DAY, NOW);
      const first = pageOf<TraceRow>(await get('MessageTrace', 'verbose', { $top: '5' }), 'verbose');
      expect(first.rows.map(keyOf)).toEqual(truth48.slice(0, 5).map(truthKey));
      expect(item(first.rows, 0).StartDate).toBe(`/Date(${NOW - 2 * DAY})/`);
      expect(item(first.rows, 0).EndDate).toBe(`/Date(${NOW})/`);
      // The window holds exactly the ground truth's rows: the one after the last but one is the last.
      const tail = pageOf<TraceRow>(
        await get('MessageTrace', 'verbose', { $skiptoken: String(truth48.length - 2) }),
        'verbose',
      );
      expect(tail.rows.map((r) => [r.Index, keyOf(r)])).toEqual([
        [truth48.length - 1, truthKey(item(truth48, truth48.length - 1))],
      ]);
      expect(tail.next).toBeUndefined();
    });

    it("RecipientAddress eq '…' keeps that recipient's rows (case-insensitively)", async () => {
      const counts = new Map<string, number>();
      for (const t of truth) counts.set(t.recipient, (counts.get(t.recipient) ?? 0) + 1);
      const [recipient] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
      const expected = truth.filter((t) => t.recipient === recipient);
      expect(expected.length).toBeGreaterThan(1);
      const page = pageOf<TraceRow>(
        await get('MessageTrace', 'light', {
          $filter: `${windowFilter(FROM, NOW)} and RecipientAddress eq '${recipient.toUpperCase()}'`,
        }),
        'light',
      );
      expect(page.rows.map((r) => [r.Index, keyOf(r), r.Status])).toEqual(
        expected.map((t, i) => [i, truthKey(t), t.status]),
      );
      expect(page.next).toBeUndefined();

      const nobody = pageOf<TraceRow>(
        await get('MessageTrace', 'light', {
          $filter: `${windowFilter(FROM, NOW)} and RecipientAddress eq 'nobody@nowhere.example'`,
        }),
        'light',
      );
      expect(nobody).toEqual({ rows: [], next: undefined });
    });

    it("MessageTraceId eq guid'…' keeps that message's rows", async () => {
      const byId = new Map<string, Truth[]>();
      for (const t of truth) byId.set(t.id, [...(byId.get(t.id) ?? []), t]);
      const expected = [...byId.values()].find((rows) => rows.length >= 3);
      if (expected === undefined) throw new Error('no message with three recipients in the window');
      const id = item(expected, 0).id;
      const page = pageOf<TraceRow>(
        await get('MessageTrace', 'verbose', {
          $filter: `MessageTraceId eq guid'${id}' and ${windowFilter(FROM, NOW)}`,
        }),
        'verbose',
      );
      expect(page.rows.map(keyOf)).toEqual(expected.map(truthKey));
      expect(page.rows.map((r) => r.Index)).toEqual(range(0, expected.length));

      const one = item(expected, 1);
      const both = pageOf<TraceRow>(
        await get('MessageTrace', 'verbose', {
          $filter: `MessageTraceId eq guid'${id}' and RecipientAddress eq '${one.recipient}' and ${windowFilter(FROM, NOW)}`,
        }),
        'verbose',
      );
      expect(both.rows.map(keyOf)).toEqual([truthKey(one)]);
    });
  });

  describe('authentication and authorization', () => {
    const expectUnauthorizedPage = (reply: Reply): void => {
      expect(reply.status).toBe(401);
      expect(reply.headers['content-type']).toMatch(/^text\/html/);
      expect(reply.text).toContain(UNAUTHORIZED_TITLE);
    };
    const query = reportPath('MessageTrace', { $format: 'json', $top: '1' });

    it('Basic authentication gets the IIS 401 page', async () => {
      const basic = Buffer.from('admin@contoso.onmicrosoft.com:Passw0rd!').toString('base64');
      expectUnauthorizedPage(await h.get(query, { authorization: `Basic ${basic}` }));
    });

    it('no token, a malformed token and a Graph token get 401', async () => {
      expectUnauthorizedPage(await h.get(query));
      expectUnauthorizedPage(await h.get(query, { authorization: 'Bearer not.a.token' }));
      const graphToken = await h.token(h.tenant('contoso'), GRAPH_SCOPE);
      expectUnauthorizedPage(await h.get(query, { authorization: `Bearer ${graphToken}` }));
      expect((await h.get(query, { authorization: `Bearer ${token}` })).status).toBe(200);
    });

    it('a tenant whose app holds no admin role (reportingReader: false) gets the 403 body', async () => {
      const auth = { authorization: `Bearer ${token}` };
      const patched = await h.control('PATCH', '/tenants/contoso', { reportingReader: false });
      expect(patched.status).toBe(200);
      try {
        const refused = await h.get(query, auth);
        expect(refused.status).toBe(403);
        expect(refused.text).toBe(NO_PERMISSION);
      } finally {
        expect((await h.control('PATCH', '/tenants/contoso', { reportingReader: true })).status).toBe(200);
      }
      expect((await h.get(query, auth)).status).toBe(200);
    });

    it('an app without ReportingWebService.Read.All gets the same 403', async () => {
      const fabrikam = await h.token(h.tenant('fabrikam'), REPORTING_SCOPE);
      const refused = await h.get(query, { authorization: `Bearer ${fabrikam}` });
      expect(refused.status).toBe(403);
      expect(refused.text).toBe(NO_PERMISSION);
    });

    it('the path is not case-sensitive; an unknown report is a 404', async () => {
      const auth = { authorization: `Bearer ${token}` };
      const params = { $format: 'json', $top: '3' };
      const expected = truth.slice(0, 3).map(truthKey);
      for (const base of [SERVICE, ENTITY_BASE, SERVICE.toUpperCase()]) {
        const page = pageOf<TraceRow>(await h.get(reportPath('MessageTrace', params, base), auth), 'verbose');
        expect(page.rows.map(keyOf)).toEqual(expected);
      }
      const upper = await h.get(`${SERVICE.toUpperCase()}/MESSAGETRACE?$format=json&$top=3`, auth);
      expect(pageOf<TraceRow>(upper, 'verbose').rows.map(keyOf)).toEqual(expected);
      const unknown = await h.get(`${SERVICE}/MessageTraces?$format=json`, auth);
      expect(unknown.status).toBe(404);
    });
  });

  describe('MessageTraceDetail', () => {
    it('lists a row’s steps ascending by Date, in both dialects, as Graph’s getDetailsByRecipient does', async () => {
      const row = truth.find((t) => t.status === 'Delivered' && Date.parse(t.received) < NOW - 2 * HOUR);
      if (row === undefined) throw new Error('no delivered row in the window');
      const filter = `MessageTraceId eq guid'${row.id}' and RecipientAddress eq '${row.recipient}' and ${windowFilter(FROM, NOW)}`;
      const verbose = pageOf<DetailRow>(
        await get('MessageTraceDetail', 'verbose', { $filter: filter }),
        'verbose',
      );
      const light = pageOf<DetailRow>(await get('MessageTraceDetail', 'light', { $filter: filter }), 'light');
      expect(verbose.next).toBeUndefined();
      expect(light.next).toBeUndefined();
      const steps = verbose.rows;
      expect(steps.length).toBeGreaterThanOrEqual(2);
      for (const step of steps) expect(Object.keys(step)).toEqual(['__metadata', ...DETAIL_FIELDS]);
      for (const step of light.rows) expect(Object.keys(step)).toEqual(DETAIL_FIELDS);
      expect(steps.map((s) => s.__metadata)).toEqual(
        steps.map((_, i) => {
          const entity = `${h.emulator.url}${ENTITY_BASE}/MessageTraceDetail(${i})`;
          return { id: entity, uri: entity, type: 'TenantReporting.MessageTraceDetail' };
        }),
      );
      expect(steps.map((s) => s.Index)).toEqual(range(0, steps.length));
      expect(new Set(steps.map((s) => `${s.MessageTraceId}|${s.RecipientAddress}`))).toEqual(
        new Set([truthKey(row)]),
      );
      const dates = steps.map((s) => msOfVerbose(s.Date));
      expect(dates).toEqual([...dates].sort((a, b) => a - b));
      // The first step is the receipt: the row's Received.
      expect(item(dates, 0)).toBe(Date.parse(row.received));
      expect(light.rows.map((s) => msOfLight(s.Date))).toEqual(dates);
      const fields = (s: DetailRow): unknown[] => [s.Event, s.Action, s.Detail, s.Data, s.MessageTraceId];
      expect(light.rows.map(fields)).toEqual(steps.map(fields));
      for (const step of steps) {
        expect(step.Event).toMatch(/^\w+$/);
        expect(step.Detail.length).toBeGreaterThan(0);
      }

      const graphToken = await h.token(h.tenant('contoso'), GRAPH_SCOPE);
      const graph = await h.get(
        `/v1.0/admin/exchange/tracing/messageTraces/${row.id}/getDetailsByRecipient(recipientAddress='${row.recipient}')`,
        { authorization: `Bearer ${graphToken}` },
      );
      expect(graph.status).toBe(200);
      const graphSteps = (graph.json() as { value: GraphDetail[] }).value;
      expect(steps.map((s) => [s.Event, s.Action ?? '', s.Detail, s.Data])).toEqual(
        graphSteps.map((g) => [g.event, g.action, g.description, g.data]),
      );
    });
  });

  describe('faults', () => {
    const filter = windowFilter(FROM, NOW);

    it('a queued 503 answers once, then the report answers 200', async () => {
      const queued = await h.control('POST', '/faults', {
        queue: [{ kind: 'status', status: 503, targets: ['reporting'] }],
      });
      expect(queued.json()).toMatchObject({ queued: 1 });
      const failed = await get('MessageTrace', 'verbose', { $filter: filter, $top: '1' });
      expect(failed.status).toBe(503);
      const ok = await get('MessageTrace', 'verbose', { $filter: filter, $top: '1' });
      expect(pageOf<TraceRow>(ok, 'verbose').rows.map(keyOf)).toEqual([truthKey(item(truth, 0))]);
      expect((await h.control('GET', '/faults')).json()).toMatchObject({ queued: 0 });
    });

    it('a fault aimed at Graph leaves the report alone', async () => {
      await h.control('POST', '/faults', {
        queue: [{ kind: 'status', status: 500, targets: ['graph-list'] }],
      });
      expect((await get('MessageTrace', 'light', { $filter: filter, $top: '1' })).status).toBe(200);
      expect((await h.control('GET', '/faults')).json()).toMatchObject({ queued: 1 });
    });

    it('short-page: fewer rows than the page size, with a next link that continues the walk', async () => {
      await h.control('POST', '/faults', { queue: [{ kind: 'short-page', targets: ['reporting'] }] });
      const short = pageOf<TraceRow>(await get('MessageTrace', 'light', { $filter: filter }), 'light');
      expect(short.rows.length).toBeGreaterThan(0);
      expect(short.rows.length).toBeLessThan(2000);
      expect(short.rows.map(keyOf)).toEqual(truth.slice(0, short.rows.length).map(truthKey));
      const next = new URL(short.next ?? '');
      expect(next.searchParams.get('$skiptoken')).toBe(String(short.rows.length - 1));
      const after = pageOf<TraceRow>(
        await h.get(next.toString(), { authorization: `Bearer ${token}`, accept: 'application/json' }),
        'light',
      );
      expect(item(after.rows, 0).Index).toBe(short.rows.length);
      expect(after.rows.map(keyOf)).toEqual(
        truth.slice(short.rows.length, short.rows.length + 2000).map(truthKey),
      );
    });

    it('duplicate-rows: the next page starts with rows of the page before', async () => {
      await h.control('POST', '/faults', { queue: [{ kind: 'duplicate-rows', targets: ['reporting'] }] });
      const first = pageOf<TraceRow>(await get('MessageTrace', 'verbose', { $filter: filter }), 'verbose');
      expect(first.rows).toHaveLength(2000);
      const skiptoken = Number(new URL(first.next ?? '').searchParams.get('$skiptoken'));
      expect(skiptoken).toBeLessThan(1999);
      const second = pageOf<TraceRow>(
        await h.get(first.next ?? '', { authorization: `Bearer ${token}` }),
        'verbose',
      );
      const repeated = 1999 - skiptoken;
      expect(second.rows.slice(0, repeated).map((r) => [r.Index, keyOf(r)])).toEqual(
        first.rows.slice(2000 - repeated).map((r) => [r.Index, keyOf(r)]),
      );
      expect(item(second.rows, repeated).Index).toBe(2000);
      expect(item(second.rows, repeated).MessageTraceId).toBe(item(truth, 2000).id);
    });

    it('expire-next-link: a next link is refused with a 400, and works again on retry', async () => {
      const first = pageOf<TraceRow>(await get('MessageTrace', 'verbose', { $filter: filter }), 'verbose');
      await h.control('POST', '/faults', { queue: [{ kind: 'expire-next-link', targets: ['reporting'] }] });
      const auth = { authorization: `Bearer ${token}` };
      const expired = await h.get(first.next ?? '', auth);
      expect(expired.status).toBe(400);
      expect(expired.json()).toEqual({
        error: { code: '', message: { lang: 'en-US', value: 'The skip token is no longer valid.' } },
      });
      const retried = pageOf<TraceRow>(await h.get(first.next ?? '', auth), 'verbose');
      expect(item(retried.rows, 0).Index).toBe(2000);
    });

    it('truncate: a 200 whose JSON stops in the middle', async () => {
      await h.control('POST', '/faults', { queue: [{ kind: 'truncate', targets: ['reporting'] }] });
      const cut = await get('MessageTrace', 'light', { $filter: filter, $top: '20' });
      expect(cut.status).toBe(200);
      expect(() => cut.json()).toThrow(SyntaxError);
      const whole = await get('MessageTrace', 'light', { $filter: filter, $top: '20' });
      expect(whole.text.startsWith(cut.text)).toBe(true);
      expect(cut.text.length).toBe(Math.floor(whole.text.length / 2));
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('Reporting Web Service with small pages (api.reportingPageSize: 50)', () => {
  let absolute: { h: Harness; dir: string } | undefined;
  let relative: { h: Harness; dir: string } | undefined;
  /** A window start (whole seconds) with some 600 rows after it: a dozen pages of 50. */
  let FROM: number;

  beforeAll(async () => {
    [absolute, relative] = await Promise.all([
      startFrozen({ api: { reportingPageSize: 50, reportingHistoryDays: 30 } }),
      startFrozen({ api: { reportingPageSize: 50, relativeNextLinks: true } }),
    ]);
    const day = await groundTruth(absolute.h, NOW - DAY, NOW);
    FROM = Math.floor(Date.parse(item(day, Math.min(599, day.length - 1)).received) / 1000) * 1000;
  });
  afterAll(async () => {
    await Promise.all([stop(absolute), stop(relative)]);
  });
  const harness = (started: { h: Harness } | undefined): Harness => {
    if (started === undefined) throw new Error('emulator not started');
    return started.h;
  };

  it('walks a window of ~600 rows in pages of 50: every row once, Index contiguous, equal to the ground truth', async () => {
    const h = harness(absolute);
    const token = await h.token(h.tenant(), REPORTING_SCOPE);
    const truth = await groundTruth(h, FROM, NOW);
    expect(truth.length).toBeGreaterThan(200);
    const request = dialectRequest('verbose', { $filter: windowFilter(FROM, NOW) }, token);
    const walked = await walk<TraceRow>(
      h,
      reportPath('MessageTrace', request.params),
      request.headers,
      'verbose',
    );
    const pages = Math.ceil(truth.length / 50);
    expect(walked.pageSizes).toHaveLength(pages);
    expect(walked.pageSizes.slice(0, -1)).toEqual(Array<number>(pages - 1).fill(50));
    expect(walked.links.map((l) => new URL(l.served).searchParams.get('$skiptoken'))).toEqual(
      range(1, pages).map((p) => String(50 * p - 1)),
    );
    expect(walked.rows.map((r) => r.Index)).toEqual(range(0, truth.length));
    expect(new Set(walked.rows.map(keyOf))).toEqual(new Set(truth.map(truthKey)));
    expect(walked.rows.map((r) => [keyOf(r), r.Status])).toEqual(truth.map((t) => [truthKey(t), t.status]));
  });

  it('relative next links (api.relativeNextLinks) resolve against the request URL to the same next page', async () => {
    const abs = harness(absolute);
    const rel = harness(relative);
    const [absToken, relToken] = await Promise.all([
      abs.token(abs.tenant(), REPORTING_SCOPE),
      rel.token(rel.tenant(), REPORTING_SCOPE),
    ]);
    const request = (token: string): ReturnType<typeof dialectRequest> =>
      dialectRequest('light', { $filter: windowFilter(FROM, NOW) }, token);
    const absWalk = await walk<TraceRow>(
      abs,
      reportPath('MessageTrace', request(absToken).params),
      request(absToken).headers,
      'light',
    );
    const relWalk = await walk<TraceRow>(
      rel,
      reportPath('MessageTrace', request(relToken).params),
      request(relToken).headers,
      'light',
    );
    expect(relWalk.links.length).toBeGreaterThan(2);
    for (const link of relWalk.links) {
      expect(link.served).toMatch(/^\.\.\/\.\.\/ReportingWebService\/Reporting\.svc\/MessageTrace\?/);
      expect(new URL(link.resolved).origin).toBe(rel.emulator.url);
    }
    // The same seed and clock: the same rows, and the same next pages, whichever form the link takes.
    expect(relWalk.rows).toEqual(absWalk.rows);
    expect(relWalk.links.map((l) => new URL(l.resolved).search)).toEqual(
      absWalk.links.map((l) => new URL(l.resolved).search),
    );
    expect(relWalk.links.map((l) => new URL(l.resolved).pathname.toLowerCase())).toEqual(
      absWalk.links.map((l) => new URL(l.resolved).pathname.toLowerCase()),
    );

    // The verbose dialect's __next is relative too.
    const verbose = dialectRequest('verbose', { $filter: windowFilter(FROM, NOW) }, relToken);
    const first = pageOf<TraceRow>(
      await rel.get(reportPath('MessageTrace', verbose.params), verbose.headers),
      'verbose',
    );
    expect(first.next).toMatch(/^\.\.\/\.\.\/ReportingWebService\/Reporting\.svc\/MessageTrace\?/);
  });

  it('api.reportingHistoryDays: 30 accepts a start 20 days back and refuses one 31 days back', async () => {
    const h = harness(absolute);
    const token = await h.token(h.tenant(), REPORTING_SCOPE);
    const auth = { authorization: `Bearer ${token}` };
    const twenty = await h.get(
      reportPath('MessageTrace', {
        $format: 'json',
        $filter: windowFilter(NOW - 20 * DAY, NOW - 20 * DAY + 12 * HOUR),
      }),
      auth,
    );
    const rows = pageOf<TraceRow>(twenty, 'verbose').rows;
    expect(rows.length).toBeGreaterThan(0);
    expect(item(rows, 0).StartDate).toBe(`/Date(${NOW - 20 * DAY})/`);
    const old = await h.get(
      reportPath('MessageTrace', { $format: 'json', $filter: windowFilter(NOW - 31 * DAY, NOW - 30 * DAY) }),
      auth,
    );
    expect(old.status).toBe(400);
    expect(old.json()).toEqual({
      error: {
        code: '',
        message: {
          lang: 'en-US',
          value: "Invalid StartDate value. The StartDate can't be older than 30 days from today.",
        },
      },
    });
  });
});
