/**
 * Collector cases from the spec's "mistakes to test against", in process against the emulator over
 * real HTTPS (runCollector with the real source stack, file output, ground truth):
 * - one message with many recipients whose rows straddle several Graph pages (a dedupe on the
 *   trace id alone, or a page boundary inside a message, would drop recipients);
 * - the access token expiring mid-run: exactly one 401, one new token, every row still once;
 * - a multi-page window served newest first, stopped mid-window and resumed from the stored next
 *   link (not restarted, and no cursor taken from a row).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorControl } from '../helpers/emulator-control.js';
import { loadConfig, type Config, type TenantConfig } from '../../src/config/load.js';
import { collectorConfigYaml, type TenantSettings } from '../../src/emulator/collector-config.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { silentLogger } from '../../src/observe/log.js';
import { runCollector, type RunOptions } from '../../src/pipeline/run.js';
import type { TimeWindow } from '../../src/core/window.js';
import { createSource, type SourceHooks } from '../../src/sources/create.js';
import type { MessageTraceSource } from '../../src/sources/source.js';
import { openSqliteStore } from '../../src/state/sqlite.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const MIN_AGE = 5 * MINUTE;
const TENANT = 'contoso';

let emulator: Emulator;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-cases-'));
  // The emulator's default token lifetime (3599 s) is kept: the token-expiry case runs it out by moving
  // the emulator's clock, which msal (caching by real time) cannot see coming.
  emulator = await startEmulator({ tenants: 1, messagesPerDay: 1500, seed: 3, throttle: { limit: 1000 } });
  emulator.clock.set(NOW);
  emulator.clock.freeze(true);
});
afterAll(async () => {
  await emulator.close();
  rmSync(folder, { recursive: true, force: true });
});

function writeConfig(name: string, settings: TenantSettings, em: Emulator = emulator): Config {
  const dir = path.join(folder, name);
  const file = path.join(dir, 'exotrace.yaml');
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, collectorConfigYaml(em, { tenants: [TENANT], settings }));
  return loadConfig(file);
}

interface EventLine {
  event: { id: string; action: string };
  office365: { message_trace: { MessageTraceId: string } };
  email: { to?: { address: string[] } };
}

function events(config: Config): EventLine[] {
  return readFileSync(path.join(path.dirname(config.file), 'events.ndjson'), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as EventLine);
}

const keyOf = (e: EventLine): string =>
  `${e.office365.message_trace.MessageTraceId}|${(e.email.to?.address[0] ?? '').toLowerCase()}|${e.event.action}`;

interface TruthRow {
  id: string;
  recipient: string;
  status: string;
  received: string;
  visibleAt: string;
}

/** The emulator's ground truth: rows received in [from, to] (visible at asOf unless `all`). */
async function truthRows(
  from: number,
  to: number,
  asOf: number,
  options: { all?: boolean; em?: Emulator } = {},
): Promise<TruthRow[]> {
  const all = options.all === true ? '&visible=false' : '';
  const route = `/ground-truth?tenant=${TENANT}&from=${from}&to=${to}&asOf=${asOf}${all}`;
  const text = await emulatorControl(options.em ?? emulator, 'GET', route);
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as TruthRow);
}

const truthKeys = (rows: readonly TruthRow[]): string[] =>
  rows.map((r) => `${r.id}|${r.recipient.toLowerCase()}|${r.status}`);

/** One `pages()` call of the collector: where it started and the raw rows of each page. */
interface PagesCall {
  readonly window: TimeWindow;
  readonly nextLink: string | undefined;
  readonly pages: Record<string, unknown>[][];
}

/**
 * The real source, recording what the collector asked for and got; `afterPage` runs once the
 * collector has taken a page (committed it) and before the next page is requested.
 */
function recording(
  inner: MessageTraceSource,
  calls: PagesCall[],
  afterPage?: () => Promise<void>,
): MessageTraceSource {
  return {
    api: inner.api,
    probe: (signal) => inner.probe(signal),
    close: () => inner.close(),
    async *pages(window, options) {
      const call: PagesCall = { window, nextLink: options.nextLink, pages: [] };
      calls.push(call);
      for await (const page of inner.pages(window, options)) {
        call.pages.push([...page.rows]);
        yield page;
        await afterPage?.();
      }
    },
  };
}

function run(
  config: Config,
  sourceFor: (tenant: TenantConfig) => MessageTraceSource,
  extra: Partial<RunOptions> = {},
): ReturnType<typeof runCollector> {
  return runCollector(config, {
    once: true,
    signal: new AbortController().signal,
    log: silentLogger,
    now: () => NOW,
    sourceFor,
    ...extra,
  });
}

const isoSeconds = (ms: number): string => new Date(ms).toISOString().slice(0, 19) + 'Z';

describe('one message with many recipients, spread over pages', () => {
  // Recipients are the tenant's mailboxes (about one per 25 messages a day), so a message can
  // only reach 100+ of them in a tenant of 120+ mailboxes: 5,000 messages a day gives 200, and
  // the generator's company-wide lists (120–300 members) then fan out past 100 rows.
  let big: Emulator;
  beforeAll(async () => {
    big = await startEmulator({ tenants: 1, messagesPerDay: 5000, seed: 3, throttle: { limit: 1000 } });
    big.clock.set(NOW);
    big.clock.freeze(true);
  });
  afterAll(async () => {
    await big.close();
  });

  it('delivers every recipient of a 100+ recipient message exactly once, equal to the ground truth', async () => {
    // The largest message of the last two days (the same every run, the seed being fixed).
    const byId = new Map<string, TruthRow[]>();
    for (const row of await truthRows(NOW - 2 * 24 * HOUR, NOW, NOW, { all: true, em: big })) {
      const rows = byId.get(row.id) ?? [];
      rows.push(row);
      byId.set(row.id, rows);
    }
    const message = [...byId.values()].sort((a, b) => b.length - a.length)[0] ?? [];
    expect(message.length).toBeGreaterThanOrEqual(100);
    const messageId = message[0]?.id ?? '';
    const received = Date.parse(message[0]?.received ?? '');
    const visible = Math.max(...message.map((r) => Date.parse(r.visibleAt)));

    // Collect a short window around it, at an instant when all its rows are visible.
    const now = Math.ceil(Math.max(received + 2 * MIN_AGE, visible + MIN_AGE + MINUTE) / 1000) * 1000;
    const start = Math.floor((received - 2 * MINUTE) / 1000) * 1000;
    big.clock.set(now);
    // Small pages (an odd size, so no boundary falls on a message's edge by design).
    const pageSize = Math.floor(message.length / 4) | 1;
    const config = writeConfig(
      'many-recipients',
      { startFrom: isoSeconds(start), minAge: '5m', reconcileLookback: '6m' },
      big,
    );
    const calls: PagesCall[] = [];
    const summary = await run(config, (t) => recording(createSource(t, config, {}, { pageSize }), calls), {
      now: () => now,
    });
    expect(summary.failed).toBe(false);

    // Its rows really straddle pages: at least three pages hold some of them.
    const pagesWithIt = calls
      .flatMap((c) => c.pages)
      .filter((rows) => rows.some((r) => r['id'] === messageId)).length;
    expect(pagesWithIt).toBeGreaterThanOrEqual(3);

    const out = events(config);
    const ids = out.map((e) => e.event.id);
    expect(new Set(ids).size).toBe(ids.length);
    const recipients = out
      .filter((e) => e.office365.message_trace.MessageTraceId === messageId)
      .map((e) => (e.email.to?.address[0] ?? '').toLowerCase());
    // Every recipient once: as many events as recipients, and the same recipients.
    expect(recipients.length).toBe(message.length);
    expect(new Set(recipients)).toEqual(new Set(message.map((r) => r.recipient.toLowerCase())));
    // And the whole file is the ground truth of the window collected.
    const expected = truthKeys(await truthRows(start, now - MIN_AGE, now, { em: big }));
    expect(out.map(keyOf).sort()).toEqual([...expected].sort());
  });
});

describe('the access token expiring mid-run', () => {
  it('one 401, one new token, and every row still exactly once', async () => {
    // The emulator's clock runs three days ahead of the collector's: the rows of the collector's
    // last 24 hours are all visible and final by then, so moving the clock mid-run (to expire
    // the token) changes no page. Checked first, so that a failure below is the token's fault.
    const serverNow = NOW + 3 * 24 * HOUR;
    const from = NOW - 24 * HOUR;
    const to = NOW - MIN_AGE;
    const expected = truthKeys(await truthRows(from, to, serverNow));
    expect(truthKeys(await truthRows(from, to, serverNow + 3 * HOUR))).toEqual(expected);
    expect(expected.length).toBeGreaterThan(1000);
    emulator.clock.set(serverNow);

    // Token requests, as sent by msal through undici in this process (discovery is not counted).
    let tokenRequests = 0;
    const onRequest = (message: unknown): void => {
      const req = (message as { request: { method: string; path: string } }).request;
      if (req.method === 'POST' && /\/oauth2\/v2\.0\/token(\?|$)/.test(req.path)) tokenRequests++;
    };
    const statuses: number[] = [];
    const hooks: SourceHooks = {
      onAttempt: (a) => {
        if (a.status !== undefined && a.path.includes('/tracing/messageTraces')) statuses.push(a.status);
      },
    };
    subscribe('undici:request:create', onRequest);
    try {
      const config = writeConfig('token-expiry', {
        startFrom: '24h',
        minAge: '5m',
        reconcileLookback: '24h',
      });
      let advanced = false;
      const calls: PagesCall[] = [];
      // After the first page the emulator's clock passes the token's expiry (3599 s); msal, by
      // real time, still holds the token as fresh and sends it: the bearer policy's 401 path.
      const expire = async (): Promise<void> => {
        if (advanced) return;
        advanced = true;
        await emulatorControl(emulator, 'POST', '/time', { advance: '2h' });
      };
      const summary = await run(config, (t) =>
        recording(createSource(t, config, hooks, { pageSize: 400 }), calls, expire),
      );
      expect(summary.failed, JSON.stringify(summary.tenants)).toBe(false);
      expect(advanced).toBe(true);
      // Many pages after the refresh, so a token re-fetched per page (or a stale one kept) shows.
      expect(calls.flatMap((c) => c.pages).length).toBeGreaterThan(5);
      expect(statuses.filter((s) => s === 401)).toHaveLength(1);
      expect(tokenRequests).toBe(2);

      const out = events(config);
      const ids = out.map((e) => e.event.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(out.map(keyOf).sort()).toEqual([...expected].sort());
    } finally {
      unsubscribe('undici:request:create', onRequest);
      emulator.clock.set(NOW);
    }
  });
});

describe('a multi-page window, newest first, stopped and resumed', () => {
  it('resumes from the stored next link, reads no page twice, and the file equals the ground truth', async () => {
    const pageSize = 201;
    const config = writeConfig('resume', { startFrom: '24h', minAge: '5m', reconcileLookback: '24h' });
    const from = NOW - 24 * HOUR;
    const to = NOW - MIN_AGE;
    const truth = await truthRows(from, to, NOW);
    expect(truth.length).toBeGreaterThan(5 * pageSize);

    // First run: stopped once two pages of the fast pass are committed.
    const stop = new AbortController();
    const firstCalls: PagesCall[] = [];
    let fastPages = 0;
    await run(config, (t) => recording(createSource(t, config, {}, { pageSize }), firstCalls), {
      signal: stop.signal,
      events: {
        onPage(_tenant, pass) {
          if (pass === 'fast' && ++fastPages === 2) stop.abort();
        },
      },
    });
    expect(fastPages).toBe(2);

    const store = openSqliteStore(config.stateDir);
    const stored = await store.getCheckpoint(TENANT, 'fast').finally(() => store.close());
    expect(stored?.nextLink).toBeDefined();
    expect(stored?.window).toEqual({ from, to });

    // Second run: the fast pass starts from that link, not from the window's start.
    const calls: PagesCall[] = [];
    const summary = await run(config, (t) => recording(createSource(t, config, {}, { pageSize }), calls));
    expect(summary.failed).toBe(false);
    const resumed = calls[0];
    expect(resumed?.nextLink).toBe(stored?.nextLink);
    expect(resumed?.window).toEqual({ from, to });

    // The window's rows, as served: the two committed pages then the resumed ones. Newest first
    // throughout (so the last row of a page is the oldest: no cursor could come from it), and
    // together exactly the window's rows, none read twice.
    const served = [...(firstCalls[0]?.pages.slice(0, 2) ?? []), ...(resumed?.pages ?? [])].flat();
    const times = served.map((r) => Date.parse(String(r['receivedDateTime'])));
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeLessThanOrEqual(times[i - 1] ?? 0);
    expect(times[0]).toBeGreaterThan(times.at(-1) ?? 0);
    const servedKeys = served.map((r) => `${String(r['id'])}|${String(r['recipientAddress']).toLowerCase()}`);
    expect(new Set(servedKeys).size).toBe(servedKeys.length);
    expect(servedKeys.length).toBe(truth.length);

    const out = events(config);
    const ids = out.map((e) => e.event.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(out.map(keyOf).sort()).toEqual(truthKeys(truth).sort());
  });
});
