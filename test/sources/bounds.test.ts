/**
 * Every HTTP read is bounded (issue 11, items 6–8): an answer that never ends fails at the
 * protocol's ceiling, one that trickles in fails at the whole-request deadline, and a walk whose
 * next links bring nothing new stops. Sources as the collector builds them (createSource) against
 * the emulator over real HTTPS; outputs against real local servers.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config, TenantConfig } from '../../src/config/index.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import type { TimeWindow } from '../../src/core/window.js';
import { createElasticsearchSink } from '../../src/sinks/elasticsearch.js';
import { createHttpSink } from '../../src/sinks/http.js';
import { createSource } from '../../src/sources/create.js';
import type { AttemptReport } from '../../src/http/attempt.js';
import { BODY_LIMITS } from '../../src/http/bounded-request.js';
import { ExotraceError } from '../../src/core/errors.js';
import type { RetryInfo } from '../../src/http/retry.js';
import { MAX_EMPTY_PAGES, type MessageTraceSource, type Page } from '../../src/sources/source.js';
import { fakeEvents } from '../sinks/helpers.js';
import { createVirtualTime } from './virtual-time.js';

const HOUR = 3_600_000;
let emulator: Emulator;
let window: TimeWindow;
const sources: MessageTraceSource[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ messagesPerDay: 400, tenants: [{ name: 'contoso' }] });
  // A fixed instant, not today's: how many rows a two-hour window holds follows the emulator's
  // working-day curve, and the paging tests below need a few pages of rows whatever the hour the
  // suite runs at (at night or on a weekend the same window held fewer than 16 rows).
  const now = Date.UTC(2026, 10, 19, 20, 0, 0); // a Thursday; the window is Wednesday office hours
  emulator.clock.set(now);
  emulator.clock.freeze(true);
  window = { from: now - 30 * HOUR, to: now - 28 * HOUR };
});

afterEach(async () => {
  emulator.faults.clear();
  await Promise.all(sources.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await emulator.close();
});

interface Made {
  source: MessageTraceSource;
  attempts: AttemptReport[];
  retries: RetryInfo[];
}

/** A source as `run` builds it, with `http.timeout` set and every wait in virtual time. */
function make(timeoutMs: number, pageSize?: number): Made {
  const tenant = emulator.tenants()[0];
  const app = tenant?.apps[0];
  if (tenant === undefined || app === undefined) throw new Error('no tenant');
  const config: TenantConfig = {
    name: tenant.name,
    tenantId: tenant.tenantId,
    clientId: app.clientId,
    credential: { kind: 'secret', clientSecret: app.secrets[0]?.value ?? '' },
    api: 'graph',
    loginUrl: emulator.url,
    apiUrl: emulator.url,
    acceptedDomains: [],
    startFrom: { kind: 'ago', ms: 24 * HOUR },
    minAgeMs: 300_000,
    reconcileLookbackMs: 24 * HOUR,
    reconcileEveryMs: HOUR,
    requestsPer5Min: 90,
    details: false,
  };
  const full: Config = {
    file: '/dev/null',
    stateDir: '/tmp',
    tls: { caFile: emulator.caFile, caPem: emulator.caCertPem },
    http: { timeoutMs },
    tenants: [config],
    outputs: [],
  };
  const time = createVirtualTime(emulator.clock.now(), (ms) => {
    emulator.clock.advance(ms);
  });
  const attempts: AttemptReport[] = [];
  const retries: RetryInfo[] = [];
  const source = createSource(
    config,
    full,
    {
      onAttempt: (r) => attempts.push(r),
      onRetry: (r) => retries.push(r),
      clock: time.now,
      sleep: time.sleep,
      random: () => 0.5,
      env: {},
    },
    pageSize === undefined ? {} : { pageSize },
  );
  sources.push(source);
  return { source, attempts, retries };
}

async function walk(source: MessageTraceSource): Promise<Page[]> {
  const pages: Page[] = [];
  for await (const page of source.pages(window, { signal: new AbortController().signal })) pages.push(page);
  return pages;
}

function retryError(retries: readonly RetryInfo[]): ExotraceError {
  const error = retries[0]?.error;
  if (!ExotraceError.is(error))
    throw new Error(`the first retry followed no ExotraceError: ${String(error)}`);
  return error;
}

/** What an error may show: host and path, never a query (skip token, filter) or a token. */
function expectClean(text: string): void {
  expect(text).not.toMatch(/\$skiptoken|\$filter|\?/i);
  expect(text).not.toMatch(/eyJ[\w-]+\./);
}

describe('a body that never ends (item 6)', () => {
  it('fails the Graph page at the page ceiling (response_too_large), and the page is read again', async () => {
    const { source, attempts, retries } = make(60_000);
    emulator.faults.enqueue([{ kind: 'endless-body', targets: ['graph-list'] }]);
    const pages = await walk(source);
    expect(pages.length).toBeGreaterThan(0);
    expect(attempts.map((a) => a.error ?? a.status)).toEqual(['response_too_large', 200]);
    const error = retryError(retries);
    expect(error.code).toBe('response_too_large');
    expect(error.retryable).toBe(true);
    const { host } = new URL(emulator.url);
    expect(error.message).toContain(`GET https://${host}/v1.0/admin/exchange/tracing/messageTraces`);
    expect(error.message).toContain(String(BODY_LIMITS.apiPage));
    expectClean(error.message);
  });

  it('fails the token request at the token ceiling, and the token is asked for again', async () => {
    const { source, retries } = make(60_000);
    emulator.faults.enqueue([{ kind: 'endless-body', targets: ['token'] }]);
    const pages = await walk(source);
    expect(pages.length).toBeGreaterThan(0);
    const error = retryError(retries);
    expect(error.code).toBe('response_too_large');
    expect(error.message).toContain(String(BODY_LIMITS.token));
    expect(error.message).toContain('/oauth2/');
    expectClean(error.message);
  });
});

describe('a body that trickles in (item 7)', () => {
  // A byte every 100 ms passes every per-chunk limit of 1.5 s; only a whole-request deadline ends it.
  it('abandons a trickling Graph page at http.timeout (request_timeout), and the page is read again', async () => {
    const { source, attempts, retries } = make(1500);
    emulator.faults.enqueue([{ kind: 'trickle-body', delayMs: 100, targets: ['graph-list'] }]);
    const pages = await walk(source);
    expect(pages.length).toBeGreaterThan(0);
    expect(attempts.map((a) => a.error ?? a.status)).toEqual(['request_timeout', 200]);
    const error = retryError(retries);
    expect(error.code).toBe('request_timeout');
    expect(error.message).toContain('1500 ms (http.timeout)');
    expectClean(error.message);
  });

  it('abandons a trickling token answer at http.timeout, and the token is asked for again', async () => {
    const { source, retries } = make(1500);
    emulator.faults.enqueue([{ kind: 'trickle-body', delayMs: 100, targets: ['token'] }]);
    const pages = await walk(source);
    expect(pages.length).toBeGreaterThan(0);
    const error = retryError(retries);
    expect(error.code).toBe('request_timeout');
    expect(error.message).toContain('/oauth2/');
  });
});

describe('a next link that never advances (item 8)', () => {
  it('stops the window with no_progress when a new link brings the same rows again', async () => {
    const { source, attempts } = make(60_000, 5);
    // From the first paging request on, every next link is new and leads to the same page.
    emulator.faults.enqueue([{ kind: 'stuck-next-link', targets: ['graph-list'] }]);
    const pages: Page[] = [];
    let failure: unknown;
    try {
      for await (const page of source.pages(window, { signal: new AbortController().signal })) {
        pages.push(page);
        page.release();
      }
    } catch (error) {
      failure = error;
    }
    expect(ExotraceError.is(failure)).toBe(true);
    const error = failure as ExotraceError;
    expect(error.code).toBe('no_progress');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain("tenant 'contoso' (tenants[0])");
    expect(error.message).toContain('page 3');
    expectClean(error.message);
    // Page 1, page 2, and the repeat of page 2 (its rows in reverse order: a page is known by its
    // rows, not its body) that stopped the walk: nothing more was asked.
    expect(pages).toHaveLength(2);
    expect(attempts.filter((a) => a.path.endsWith('/messageTraces'))).toHaveLength(3);
  });

  it('stops the window with no_progress when new links lead to empty pages for ever', async () => {
    const { source, attempts } = make(60_000, 5);
    // From the first paging request on, every page is empty and has a new next link.
    emulator.faults.enqueue([{ kind: 'empty-next-link', targets: ['graph-list'] }]);
    const pages: Page[] = [];
    let failure: unknown;
    try {
      for await (const page of source.pages(window, { signal: new AbortController().signal })) {
        pages.push(page);
        page.release();
        // A fail-safe, not the bound under test: the budget (90 requests) would end it much later.
        if (pages.length > 50) break;
      }
    } catch (error) {
      failure = error;
    }
    expect(ExotraceError.is(failure), String(failure)).toBe(true);
    const error = failure as ExotraceError;
    expect(error.code).toBe('no_progress');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain("tenant 'contoso' (tenants[0])");
    expect(error.message).toContain(`page ${MAX_EMPTY_PAGES + 2} of a window`);
    expect(error.message).toContain(`its ${MAX_EMPTY_PAGES + 1} last pages all empty`);
    expectClean(error.message);
    // Page 1 with rows, then the empty pages let through; the one past them stopped the walk.
    expect(pages.map((p) => p.rowCount)).toEqual([5, ...Array<number>(MAX_EMPTY_PAGES).fill(0)]);
    expect(attempts.filter((a) => a.path.endsWith('/messageTraces'))).toHaveLength(MAX_EMPTY_PAGES + 2);
  });

  it('still walks a window whose pages repeat some rows beside new ones (duplicate-rows)', async () => {
    const { source } = make(60_000, 5);
    const plain: string[] = [];
    for await (const page of source.pages(window, { signal: new AbortController().signal })) {
      plain.push(...page.rows.map((r) => JSON.stringify(r)));
      page.release();
    }
    expect(plain.length).toBeGreaterThan(15);
    emulator.faults.enqueue([{ kind: 'duplicate-rows', targets: ['graph-list'] }], 3);
    const repeated: string[] = [];
    for await (const page of source.pages(window, { signal: new AbortController().signal })) {
      repeated.push(...page.rows.map((r) => JSON.stringify(r)));
      page.release();
    }
    expect(repeated.length).toBeGreaterThan(plain.length);
    expect(new Set(repeated)).toEqual(new Set(plain));
  });
});

/** A local receiver whose every answer is `answer(res)`. */
async function receiver(answer: (res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
}

/** An answer that never ends, written at the client's pace. */
function endless(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(65_536, ' ');
  const more = (): void => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', more);
  };
  res.write('{"items":[');
  more();
}

/** A small answer, one byte every 100 ms. */
function trickle(res: ServerResponse): void {
  const body = Buffer.from('{"errors":false,"items":[]}');
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
  res.flushHeaders();
  let at = 0;
  const timer = setInterval(() => {
    if (res.destroyed || at >= body.length) {
      clearInterval(timer);
      if (!res.destroyed) res.end();
      return;
    }
    res.write(body.subarray(at, at + 1));
    at++;
  }, 100);
  res.on('close', () => {
    clearInterval(timer);
  });
}

describe("outputs' answers (items 6 and 7)", () => {
  it('an http output fails the send (retryable) on an answer past the output ceiling', async () => {
    const { url, server } = await receiver(endless);
    const sink = createHttpSink(
      { type: 'http', name: 'h', url: `${url}/in`, format: 'ndjson', headers: {}, gzip: false },
      { env: {}, timeoutMs: 60_000 },
    );
    try {
      const result = await sink.send(fakeEvents(1, 3), new AbortController().signal);
      expect(result.status).toBe('retryable');
      if (result.status !== 'retryable') return;
      expect(result.error.message).toContain(String(BODY_LIMITS.outputAnswer));
      expect((result.error as Error & { code?: string }).code).toBe('response_too_large');
    } finally {
      await sink.close();
      await closeServer(server);
    }
  });

  it('an Elasticsearch output fails the send (retryable) on an answer past the output ceiling', async () => {
    const { url, server } = await receiver(endless);
    const sink = createElasticsearchSink(
      { type: 'elasticsearch', name: 'es', url, index: 'logs-office365.message_trace-default' },
      { env: {}, timeoutMs: 60_000, gzip: false },
    );
    try {
      const result = await sink.send(fakeEvents(1, 3), new AbortController().signal);
      expect(result.status).toBe('retryable');
      if (result.status !== 'retryable') return;
      expect(result.error.message).toContain(String(BODY_LIMITS.outputAnswer));
    } finally {
      await sink.close();
      await closeServer(server);
    }
  });

  it('an Elasticsearch output abandons a trickling answer at http.timeout', async () => {
    const { url, server } = await receiver(trickle);
    const sink = createElasticsearchSink(
      { type: 'elasticsearch', name: 'es', url, index: 'logs-office365.message_trace-default' },
      { env: {}, timeoutMs: 1000, gzip: false },
    );
    try {
      const result = await sink.send(fakeEvents(1, 3), new AbortController().signal);
      expect(result.status).toBe('retryable');
      if (result.status !== 'retryable') return;
      expect(result.error.message).toContain('within 1000 ms (http.timeout)');
    } finally {
      await sink.close();
      await closeServer(server);
    }
  });
});
