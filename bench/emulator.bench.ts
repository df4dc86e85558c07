/**
 * `npx tsx bench/emulator.bench.ts`: the emulator's mail-flow generator against baselines measured
 * in the same run, so results read as ratios whatever the machine.
 *
 * - Throughput and peak RSS of walking 100k and 1M rows with `everyRow`, against the same loop over
 *   100k rows already in an array (what holding the data in memory would cost and give).
 * - The time to serve one 5,000-row page with `rows` from a 10-day window of a 50,000 messages/day
 *   tenant, cold (a new generator: directory and buckets built from scratch) and warm (buckets
 *   cached), against JSON.stringify of those 5,000 rows in Graph's shape, which any server pays.
 *
 * Each memory figure comes from a process of its own: maxRSS is a high-water mark, so one process
 * could not tell the 100k walk from the 1M walk. `BENCH_WALK_3M=1` adds a 3M-row walk, to show
 * that peak RSS has reached its plateau (the row cache plus V8's heap headroom) by 1M rows.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus } from 'node:os';
import { Bench } from 'tinybench';
import { createTraceData } from '../src/emulator/data/index.js';
import { statusAt, type EmulatorTenant, type TraceData, type TraceRow } from '../src/emulator/model.js';
import { printTable } from './table.js';

const TENANT: EmulatorTenant = {
  name: 'bench',
  tenantId: '2f9c4c1e-8a57-4e0b-9d6a-0c1b7f3e5a21',
  domain: 'bench.onmicrosoft.com',
  acceptedDomains: ['bench.example', 'eu.bench.example'],
  messagesPerDay: 50_000,
  seed: 0x5eed_2026,
  servicePrincipal: true,
  reportingReader: true,
  apps: [],
};
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A Wednesday afternoon, UTC: "now" for the page, the newest end of every walk. */
const NOW = Date.UTC(2026, 2, 18, 15, 0);
const PAGE = 5000;
const TASK_TIME_MS = 2000;

type Task = 'idle' | 'array-100k' | 'every-100k' | 'every-1m' | 'every-3m';

interface WalkResult {
  readonly rows: number;
  readonly rate: number;
  readonly maxRssMiB: number;
}

/** What a list handler does with each row: its status now, and a field or two. */
function consume(row: TraceRow): number {
  return statusAt(row, NOW).length + (row.size & 7);
}

/** In a child: one walk, timed, then this process's peak RSS. */
function runTask(task: Task): WalkResult {
  const data = createTraceData();
  let sink = 0;
  let rows = 0;
  let seconds = Number.NaN;
  if (task === 'idle') {
    rows = 0;
  } else if (task === 'array-100k') {
    const array: TraceRow[] = [];
    for (const row of data.everyRow(TENANT, 0, NOW)) {
      array.push(row);
      if (array.length >= 100_000) break;
    }
    // The loop is fast enough that one pass is noise: repeat it for a stable figure.
    const passes = 20;
    const started = performance.now();
    for (let p = 0; p < passes; p++) for (const row of array) sink += consume(row);
    seconds = (performance.now() - started) / 1000 / passes;
    rows = array.length;
  } else {
    const limit = task === 'every-3m' ? 3_000_000 : task === 'every-1m' ? 1_000_000 : 100_000;
    const started = performance.now();
    for (const row of data.everyRow(TENANT, 0, NOW)) {
      sink += consume(row);
      if (++rows >= limit) break;
    }
    seconds = (performance.now() - started) / 1000;
  }
  if (task !== 'idle' && sink === 0) throw new Error('the walk produced nothing');
  return { rows, rate: rows / seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
}

async function runInChild(task: Task): Promise<WalkResult> {
  const script = process.argv[1];
  if (script === undefined) throw new Error('cannot find the bench script path');
  const child = spawn(process.execPath, [...process.execArgv, script], {
    env: { ...process.env, BENCH_TASK: task },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`${task} failed (exit ${String(code)})`);
  return JSON.parse(output) as WalkResult;
}

/** The first `PAGE` rows of a 10-day window ending at `end`, as a list handler reads them. */
function page(data: TraceData, end: number): TraceRow[] {
  const rows: TraceRow[] = [];
  for (const row of data.rows(TENANT, end - 10 * DAY, end, end)) {
    rows.push(row);
    if (rows.length >= PAGE) break;
  }
  if (rows.length < PAGE) throw new Error(`short page: ${rows.length} rows`);
  return rows;
}

/** Graph's shape of a row, as the list handler would serialize it. */
const graphRow = (row: TraceRow): Record<string, unknown> => ({
  id: row.traceId,
  senderAddress: row.sender,
  recipientAddress: row.recipient,
  messageId: row.messageId,
  receivedDateTime: new Date(row.received).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  subject: row.subject,
  size: row.size,
  fromIP: row.fromIp,
  toIP: row.toIp ?? '',
  status: statusAt(row, NOW),
});

interface PageResult {
  readonly name: string;
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

async function measure(name: string, fn: () => void): Promise<PageResult> {
  const bench = new Bench({ time: TASK_TIME_MS, warmup: true, warmupTime: 500, throws: true });
  bench.add(name, fn);
  await bench.run();
  const result = bench.getTask(name)?.result;
  if (result?.state !== 'completed') throw new Error(`${name}: ${result?.state ?? 'missing'}`);
  const { mean, p50, p99, max } = result.latency;
  return { name, mean, p50, p99, max };
}

async function measurePages(): Promise<PageResult[]> {
  // Pages end at each hour of a day in turn: quiet hours need several small buckets for 5,000
  // rows, busy ones a single large bucket; the mean covers both.
  const ends = Array.from({ length: 24 }, (_, i) => NOW - i * HOUR);
  let sink = 0;
  let next = 0;
  const endAt = (): number => ends[next++ % ends.length] ?? NOW;
  // Cold first, while nothing else is in the heap: a large warm cache alive at the same time
  // would add its major-GC pauses to the cold figures.
  const cold = await measure('rows(): 5,000-row page, cold', () => {
    sink += page(createTraceData(), endAt()).length;
  });
  // Warm means every page's buckets are cached: a row bound large enough for all 24 pages.
  const warm = createTraceData({ cacheRows: 1_000_000 });
  for (const end of ends) page(warm, end);
  const warmed = await measure('rows(): 5,000-row page, warm', () => {
    sink += page(warm, endAt()).length;
  });
  const serialized = page(warm, NOW).map(graphRow);
  const baseline = await measure('baseline: JSON.stringify of the page', () => {
    sink += JSON.stringify({ value: serialized }).length;
  });
  if (sink === 0) throw new Error('the page tasks produced nothing');
  return [cold, warmed, baseline];
}

const only = process.env.BENCH_TASK;
if (only !== undefined) {
  process.stdout.write(JSON.stringify(runTask(only as Task)));
  process.exit(0);
}

const cpu = cpus();
console.log(
  `exotrace emulator data bench — node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ` +
    `tenant ${TENANT.messagesPerDay.toLocaleString('en-US')} messages/day, default cache`,
);
console.log('');

const idle = await runInChild('idle');
const array = await runInChild('array-100k');
const walk100k = await runInChild('every-100k');
const walk1m = await runInChild('every-1m');
// Optional: shows the plateau (peak RSS no higher for 3M rows than for 1M).
const walk3m = process.env.BENCH_WALK_3M === '1' ? await runInChild('every-3m') : undefined;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
printTable([
  ['walk (one process each)', 'rows', 'rows/s', 'vs array', 'peak RSS MiB', 'RSS − idle'],
  ['idle (module loaded, nothing walked)', '0', '', '', idle.maxRssMiB.toFixed(0), '0'],
  [
    'baseline: loop over 100k rows in an array',
    fmt(array.rows),
    fmt(array.rate),
    '1.00×',
    array.maxRssMiB.toFixed(0),
    (array.maxRssMiB - idle.maxRssMiB).toFixed(0),
  ],
  ...[walk100k, walk1m, ...(walk3m === undefined ? [] : [walk3m])].map((w) => [
    `everyRow, ${fmt(w.rows)} rows`,
    fmt(w.rows),
    fmt(w.rate),
    `${(w.rate / array.rate).toFixed(3)}×`,
    w.maxRssMiB.toFixed(0),
    (w.maxRssMiB - idle.maxRssMiB).toFixed(0),
  ]),
]);
console.log(
  `1M rows: ${(walk1m.rows / walk1m.rate).toFixed(2)} s; peak RSS ${(walk1m.maxRssMiB / walk100k.maxRssMiB).toFixed(2)}× ` +
    `that of 100k rows (10× the rows), ${(walk1m.maxRssMiB / array.maxRssMiB).toFixed(2)}× that of holding 100k rows.`,
);
console.log('');

const pages = await measurePages();
const baseline = pages.find((p) => p.name.startsWith('baseline'))?.mean ?? Number.NaN;
printTable([
  [
    'page (24 window ends, one per hour of a day)',
    'mean ms',
    'p50 ms',
    'p99 ms',
    'max ms',
    'vs JSON.stringify',
  ],
  ...pages.map((p) => [
    p.name,
    p.mean.toFixed(2),
    p.p50.toFixed(2),
    p.p99.toFixed(2),
    p.max.toFixed(2),
    `${(p.mean / baseline).toFixed(2)}×`,
  ]),
]);
const cold = pages.find((p) => p.name.endsWith('cold'));
if (cold !== undefined) {
  console.log(
    `Goal: a 5,000-row page well under 100 ms — cold mean ${cold.mean.toFixed(1)} ms, ` +
      `p99 ${cold.p99.toFixed(1)} ms, max ${cold.max.toFixed(1)} ms.`,
  );
}
