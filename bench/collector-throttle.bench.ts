/**
 * The collector under the emulator's real throttle, scaled in time: Microsoft allows 100 requests
 * per tenant per 5 minutes; here 100 per few seconds, so that a backfill needing several windows of
 * quota runs in seconds. The real collector runs in this process (`runCollector --once`), each
 * tenant with its own budget of 90 per window. Reported: list requests against the minimum, and the
 * 429s, split into those our own traffic caused and those another app of the same tenant caused.
 *
 * Pages are small (`pageSize`, default 100 rows) so that a few tens of thousands of rows need a few
 * hundred requests; the minimum is then ⌈rows / pageSize⌉ per window the collector read, which is
 * the issue's ⌈rows / 5000⌉ at Graph's full page size.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { parseConfig, type TenantConfig } from '../src/config/load.js';
import { collectorConfigYaml } from '../src/emulator/collector-config.js';
import { startEmulator, type Emulator } from '../src/emulator/server.js';
import { DEFAULT_THROTTLE } from '../src/emulator/throttle.js';
import { silentLogger } from '../src/observe/log.js';
import { runCollector } from '../src/pipeline/run.js';
import { isoSeconds, type TimeWindow } from '../src/core/window.js';
import { createSource } from '../src/sources/create.js';
import { createTenantBudget } from '../src/sources/http/budget.js';
import { emulatorGraphToken } from './emulator-token.js';
import { printTable } from './table.js';

const LIMIT = DEFAULT_THROTTLE.limit;
/** What we keep of the quota (requestsPer5Min's default): the other 10 absorb timing drift. */
const BUDGET = 90;
const WINDOW_MS = Number(process.env.BENCH_THROTTLE_WINDOW_MS ?? 3000);
const PAGE_SIZE = Number(process.env.BENCH_THROTTLE_PAGE ?? 100);
const TARGET_ROWS = Number(process.env.BENCH_THROTTLE_ROWS ?? 25_000);
/** The other app's traffic in the adversarial run, per quota window. */
const OTHERS_PER_WINDOW = 20;
const HOURS = 48;

type Counts = Record<string, Record<string, Record<string, number>>>;

interface Attempt {
  readonly tenant: string;
  /** When the request left, client side (the emulator counts it on arrival, a few ms later). */
  readonly sentAt: number;
  readonly status: number | undefined;
}

interface WindowRead {
  readonly pass: string;
  readonly window: TimeWindow;
  /** When its first page came back: the ground truth is asked as of then. */
  readonly firstPageAt: number;
  rows: number;
  pages: number;
}

interface OtherApp {
  ok: number;
  throttled: number;
  stop(): Promise<void>;
}

async function stats(emulator: Emulator, agent: Agent): Promise<Counts> {
  const res = await request(`${emulator.url}/_emulator/stats`, { dispatcher: agent });
  return (await res.body.json()) as Counts;
}

/** Rows the emulator held for a window when it was read (its ground truth), to check what the collector read. */
async function truthRows(
  emulator: Emulator,
  agent: Agent,
  tenant: string,
  read: WindowRead,
): Promise<number> {
  const { window } = read;
  const query = new URLSearchParams({
    tenant,
    // The emulator's clock runs: rows that turned visible after the window was read are the
    // reconcile pass's (or the next run's), not a page this window should have cost.
    asOf: new Date(read.firstPageAt).toISOString(),
    from: new Date(window.from).toISOString(),
    to: new Date(window.to).toISOString(),
  });
  const res = await request(`${emulator.url}/_emulator/ground-truth?${query.toString()}`, {
    dispatcher: agent,
  });
  return (await res.body.text()).split('\n').filter((line) => line.length > 0).length;
}

/**
 * Another app of the tenant, polling on its own: `perWindow` one-row list requests per quota window,
 * evenly spaced, honouring Retry-After on a 429 as a well-behaved client would. The emulator's
 * tenants have one app registration, so this client uses the same credentials; Microsoft's quota
 * is per tenant, which is what matters here.
 */
function startOtherApp(emulator: Emulator, agent: Agent, tenantName: string, perWindow: number): OtherApp {
  const tenant = emulator.tenants().find((t) => t.name === tenantName);
  if (tenant === undefined) throw new Error(`no emulator tenant ${tenantName}`);
  const controller = new AbortController();
  const app: OtherApp = { ok: 0, throttled: 0, stop: () => Promise.resolve() };
  const loop = (async () => {
    const token = await emulatorGraphToken(emulator.url, tenant, agent);
    const now = Date.now();
    const filter = `receivedDateTime ge ${isoSeconds(now - 3_600_000)} and receivedDateTime le ${isoSeconds(now - 300_000)}`;
    const url = `${emulator.url}/v1.0/admin/exchange/tracing/messageTraces?$top=1&$filter=${encodeURIComponent(filter)}`;
    while (!controller.signal.aborted) {
      const res = await request(url, {
        dispatcher: agent,
        headers: { authorization: `Bearer ${token}` },
        signal: controller.signal,
      });
      await res.body.dump();
      if (res.statusCode === 429) {
        app.throttled++;
        await delay(Number(res.headers['retry-after'] ?? 1) * 1000, undefined, { signal: controller.signal });
      } else {
        app.ok++;
        await delay(WINDOW_MS / perWindow, undefined, { signal: controller.signal });
      }
    }
  })().catch((error: unknown) => {
    if (!controller.signal.aborted) throw error;
  });
  app.stop = async () => {
    controller.abort();
    await loop;
  };
  return app;
}

interface Scenario {
  readonly label: string;
  readonly tenants: number;
  readonly others: boolean;
}

async function run(scenario: Scenario): Promise<string[]> {
  // ~2.4 rows per message: size the mail flow so that the 48-hour backfill holds about TARGET_ROWS.
  const messagesPerDay = Math.round(((TARGET_ROWS / 2.4) * 24) / HOURS);
  // The real clock, running: the emulator's throttle slides with its clock, and a frozen one would
  // never free a slot.
  const emulator = await startEmulator({
    messagesPerDay,
    tenants: scenario.tenants,
    throttle: { limit: LIMIT, windowMs: WINDOW_MS },
  });
  const agent = new Agent({ connect: { ca: emulator.caCertPem } });
  const dir = mkdtempSync(path.join(tmpdir(), 'exotrace-bench-throttle-'));
  try {
    const file = path.join(dir, 'exotrace.yaml');
    const config = parseConfig(
      collectorConfigYaml(emulator, {
        settings: {
          startFrom: `${HOURS}h`,
          minAge: '5m',
          reconcileLookback: '10m',
          requestsPer5Min: String(BUDGET),
        },
      }),
      file,
    );
    const attempts: Attempt[] = [];
    const reads = new Map<string, WindowRead>();
    const sourceFor = (tenant: TenantConfig) =>
      createSource(
        tenant,
        config,
        {
          // Each tenant its own budget: the quota is per tenant, so one tenant's backfill must not
          // slow another's.
          budget: createTenantBudget({ requests: BUDGET, windowMs: WINDOW_MS }),
          onAttempt: (report) =>
            attempts.push({
              tenant: tenant.name,
              sentAt: Date.now() - report.durationMs,
              status: report.status,
            }),
        },
        { pageSize: PAGE_SIZE },
      );

    const tenantNames = emulator.tenants().map((t) => t.name);
    const [first] = tenantNames;
    if (first === undefined) throw new Error('no tenant');
    const others = scenario.others ? startOtherApp(emulator, agent, first, OTHERS_PER_WINDOW) : undefined;
    // Let the other app be already polling when the backfill starts, as it would be in a tenant.
    if (others !== undefined) await delay(WINDOW_MS / 2);
    const before = await stats(emulator, agent);
    // The other app's answers so far, so that only those during the run are taken off the counters.
    const othersBefore = { ok: others?.ok ?? 0, throttled: others?.throttled ?? 0 };

    const started = performance.now();
    const summary = await runCollector(config, {
      once: true,
      signal: new AbortController().signal,
      log: silentLogger,
      sourceFor,
      events: {
        onPage(tenant, pass, window, rows) {
          const key = `${tenant} ${pass} ${window.from} ${window.to}`;
          const read = reads.get(key) ?? { pass, window, firstPageAt: Date.now(), rows: 0, pages: 0 };
          read.rows += rows;
          read.pages++;
          reads.set(key, read);
        },
      },
    });
    const seconds = (performance.now() - started) / 1000;
    await others?.stop();
    if (summary.failed) throw new Error(`collector failed: ${JSON.stringify(summary.tenants)}`);
    const after = await stats(emulator, agent);

    // The emulator's counters, ours only: the other app's answers are counted on its side.
    const served = (counts: Counts, status: (s: string) => boolean): number =>
      tenantNames.reduce((sum, name) => {
        const byApi = counts[name] ?? {};
        return (
          sum +
          ['graph-list', 'graph-detail'].reduce(
            (n, api) =>
              n +
              Object.entries(byApi[api] ?? {})
                .filter(([code]) => status(code))
                .reduce((m, [, count]) => m + count, 0),
            0,
          )
        );
      }, 0);
    const requests =
      served(after, (s) => s !== '429') -
      served(before, (s) => s !== '429') -
      ((others?.ok ?? 0) - othersBefore.ok);
    const throttled =
      served(after, (s) => s === '429') -
      served(before, (s) => s === '429') -
      ((others?.throttled ?? 0) - othersBefore.throttled);

    // Who caused each 429 served to us: had our own requests in the quota window before it reached
    // the limit, our traffic alone would have been refused; otherwise the other app took the slots.
    const ours = attempts.filter((a) => a.status !== undefined && a.status !== 429);
    let ownCaused = 0;
    for (const refused of attempts.filter((a) => a.status === 429)) {
      const inWindow = ours.filter(
        (a) =>
          a.tenant === refused.tenant && a.sentAt > refused.sentAt - WINDOW_MS && a.sentAt <= refused.sentAt,
      ).length;
      if (inWindow >= LIMIT) ownCaused++;
    }
    const byOthers = attempts.filter((a) => a.status === 429).length - ownCaused;

    // The minimum: every window the collector read needs ⌈rows / pageSize⌉ requests, and one even
    // when empty. Rows per window are those the API returned, checked against the ground truth.
    const perTenant = new Map<string, number>();
    let truthMinimum = 0;
    for (const [key, read] of reads) {
      const tenant = key.split(' ')[0] ?? '';
      perTenant.set(tenant, (perTenant.get(tenant) ?? 0) + Math.max(1, Math.ceil(read.rows / PAGE_SIZE)));
      truthMinimum += Math.max(1, Math.ceil((await truthRows(emulator, agent, tenant, read)) / PAGE_SIZE));
    }
    // A window that returned nothing may not reach onPage; it still cost its one request.
    for (const outcome of summary.tenants) {
      const windows = outcome.passes.reduce((n, p) => n + p.windows, 0);
      const seen = [...reads.keys()].filter((k) => k.startsWith(`${outcome.tenant} `)).length;
      perTenant.set(outcome.tenant, (perTenant.get(outcome.tenant) ?? 0) + Math.max(0, windows - seen));
      truthMinimum += Math.max(0, windows - seen);
    }
    const minimum = [...perTenant.values()].reduce((n, m) => n + m, 0);
    // However fast the collector, a tenant needing m requests waits out ⌈m / budget⌉ − 1 windows.
    const floorSeconds =
      (Math.max(...[...perTenant.values()].map((m) => Math.ceil(m / BUDGET) - 1)) * WINDOW_MS) / 1000;
    // The collector's own view of its requests, against the emulator's counters.
    const attempted = attempts.filter((a) => a.status !== undefined && a.status !== 429).length;
    const passes = [...reads]
      .map(
        ([key, r]) =>
          `${scenario.tenants > 1 ? `${key.split(' ')[0] ?? ''} ` : ''}${r.pass} ${r.rows}/${r.pages}`,
      )
      .join(', ');

    const written = readFileSync(path.join(dir, 'events.ndjson'), 'utf8').split('\n').length - 1;
    return [
      scenario.label,
      String(scenario.tenants),
      String(written),
      attempted === requests ? String(requests) : `${requests} (collector saw ${attempted})`,
      minimum === truthMinimum ? String(minimum) : `${minimum} (truth ${truthMinimum})`,
      `${(requests / minimum).toFixed(3)}×`,
      // The emulator's 429 count is shown too when it disagrees with what the collector saw.
      throttled === ownCaused + byOthers ? String(ownCaused) : `${ownCaused} (emulator served ${throttled})`,
      others === undefined && byOthers === 0 ? '' : `${byOthers} (other app got ${others?.throttled ?? 0})`,
      seconds.toFixed(1),
      floorSeconds.toFixed(0),
      passes,
    ];
  } finally {
    await agent.close();
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const table: string[][] = [
  [
    'run',
    'tenants',
    'rows',
    'requests',
    'minimum',
    'ratio',
    '429 own traffic',
    '429 caused by others',
    's',
    'quota floor s',
    'per window: rows/pages',
  ],
];
for (const scenario of [
  { label: 'one tenant', tenants: 1, others: false },
  { label: 'two tenants at once', tenants: 2, others: false },
  { label: `one tenant + other app (${OTHERS_PER_WINDOW}/window)`, tenants: 1, others: true },
]) {
  table.push(await run(scenario));
}
console.log(
  `exotrace collector under the throttle — node ${process.version}; emulator and collector in this process`,
);
console.log(
  `Quota ${LIMIT} requests per ${WINDOW_MS / 1000} s per tenant (Microsoft's 100 per 5 min, scaled), budget ${BUDGET}; ` +
    `page size ${PAGE_SIZE}, so the minimum is ⌈rows / ${PAGE_SIZE}⌉ per window read (fast pass + reconcile), per tenant.`,
);
printTable(table, [false, true, true, true, true, true, true, true, true, true, false]);
console.log(
  'quota floor: the windows a tenant must wait out at 90 requests each, however fast the collector. ' +
    '429 own traffic: 429s served to us while our own requests in the quota window had reached the limit.',
);
console.log(
  'Goal: requests ≤ 1.05× the minimum and no 429 caused by our own traffic (429s caused by another app are expected, Retry-After honoured).',
);
