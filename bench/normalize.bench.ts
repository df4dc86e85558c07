/**
 * `npm run bench`: normalizer throughput against a naive hand-written mapping, then the peak memory
 * of `exotrace parse` on a large NDJSON file against a process that only reads the file line by line.
 * Inputs are generated here, deterministically, so runs on different machines see the same records.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  createWriteStream,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import { createNormalizer } from '../src/normalize/index.js';
import { printTable } from './table.js';
import { createRandom } from '../src/emulator/data/prng.js';

const N = 20_000;
const SEED = 0x5eed_2026;
const ORGANIZATION = 'contoso.onmicrosoft.com';
const ACCEPTED_DOMAINS = ['contoso.com'];
const GOAL_RATIO = 0.7;
const PARSE_MIB = positiveNumber(process.env.BENCH_PARSE_MB, 200);
const MIB = 1024 * 1024;

const root = fileURLToPath(new URL('..', import.meta.url));
const cliMain = join(root, 'dist', 'cli', 'main.js');

// ---------------------------------------------------------------------------------------------
// Deterministic input

const random = createRandom(SEED);
const int = (n: number): number => Math.floor(random() * n);
const chance = (p: number): boolean => random() < p;

function pick<T>(items: readonly T[]): T {
  const item = items[int(items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function weighted<T>(items: readonly (readonly [T, number])[]): T {
  const total = items.reduce((sum, [, w]) => sum + w, 0);
  let r = random() * total;
  for (const [item, w] of items) {
    r -= w;
    if (r < 0) return item;
  }
  return pick(items)[0];
}

const hex = (digits: number): string => {
  let s = '';
  for (let i = 0; i < digits; i++) s += '0123456789abcdef'.charAt(int(16));
  return s;
};
const guid = (): string => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;

const USERS = ['alex.wilber', 'megan.bowen', 'lidia.holloway', 'diego.siciliani', 'isaiah.langer', 'joni'];
const USERS_EXTERNAL = ['noreply', 'billing', 'jane.doe', 'support', 'j.smith', 'newsletter', 'hr-team'];
const EXTERNAL_DOMAINS = [
  'fabrikam.com',
  'gmail.com',
  'outlook.com',
  'northwindtraders.com',
  'adatum.com',
  'mail.tailspintoys.com',
];
// A subdomain too, so the accepted-domain lookup walks labels as it must in a real tenant.
const LOCAL_DOMAINS = ['contoso.com', 'contoso.com', 'contoso.com', 'eu.contoso.com'];
const GROUPS = ['all-staff@contoso.com', 'finance@contoso.com', 'it-ops@eu.contoso.com'];
const MESSAGE_ID_HOSTS = [
  'AM6PR01MB1234.eurprd01.prod.exchangelabs.com',
  'SN4PR0201MB3502.namprd02.prod.outlook.com',
  'mail.gmail.com',
  'mx.fabrikam.com',
];
const SUBJECTS = [
  'Monthly report',
  'RE: Invoice #{n} overdue',
  'FW: Q{q} budget review',
  'Réunion de lancement — {n}',
  'Angebot für Projekt {n}',
  'Your package is on its way',
  'Password expires in {q} days',
  '"Urgent": wire transfer needed',
  '[EXTERNAL] Meeting notes\tdraft',
  '会议邀请: 项目 {n}',
  'Weekly digest 📬',
];

type Status =
  'Delivered' | 'Failed' | 'GettingStatus' | 'Pending' | 'FilteredAsSpam' | 'Quarantined' | 'Expanded';
const STATUSES: readonly (readonly [Status, number])[] = [
  ['Delivered', 70],
  ['FilteredAsSpam', 7],
  ['Failed', 5],
  ['GettingStatus', 5],
  ['Pending', 4],
  ['Quarantined', 4],
  ['Expanded', 5],
];

interface Trace {
  traceId: string;
  messageId: string;
  sender: string;
  recipient: string;
  subject: string | null;
  status: Status;
  fromIp: string | null;
  toIp: string | null;
  size: number;
  receivedMs: number;
}

const ipv4 = (): string => `${pick([40, 52, 104, 185, 198, 209])}.${int(256)}.${int(256)}.${1 + int(254)}`;
const ipv6 = (): string => `2a01:111:f400:${hex(4)}::${hex(int(3) + 1)}`;
const ip = (): string => (chance(0.3) ? ipv6() : ipv4());

function trace(fromMs: number, windowMs: number): Trace {
  const direction = weighted([
    ['inbound', 55],
    ['outbound', 25],
    ['internal', 20],
  ] as const);
  const external = (): string => `${pick(USERS_EXTERNAL)}@${pick(EXTERNAL_DOMAINS)}`;
  const local = (): string => `${pick(USERS)}@${pick(LOCAL_DOMAINS)}`;
  const status = weighted(STATUSES);
  const template = pick(SUBJECTS);
  return {
    traceId: guid(),
    messageId: `<${hex(32)}@${pick(MESSAGE_ID_HOSTS)}>`,
    sender: direction === 'inbound' ? external() : local(),
    recipient: status === 'Expanded' ? pick(GROUPS) : direction === 'outbound' ? external() : local(),
    subject: chance(0.1)
      ? null
      : template.replace('{n}', String(1000 + int(9000))).replace('{q}', String(1 + int(4))),
    status,
    fromIp: chance(0.05) ? null : ip(),
    // Only mail leaving the tenant has a destination address.
    toIp: direction === 'outbound' && status === 'Delivered' ? ip() : null,
    // Mostly small messages, a long tail of attachments up to tens of MB.
    size: Math.round(Math.exp(7.5 + random() * 6 + (chance(0.02) ? 3 : 0))),
    receivedMs: fromMs + int(windowMs),
  };
}

const REPORTING_URL = 'https://reports.office365.com/ecp/ReportingWebService/Reporting.svc/MessageTrace';
const REPORTING_START_MS = 1_658_579_297_628;
const REPORTING_END_MS = 1_658_752_097_628;

/** A Reporting Web Service row in OData verbose JSON, keys in the service's order. */
function reportingLine(t: Trace, index: number): string {
  const uri = `${REPORTING_URL}(${index})`;
  return JSON.stringify({
    __metadata: { id: uri, uri, type: 'TenantReporting.MessageTrace' },
    Organization: ORGANIZATION,
    MessageId: t.messageId,
    Received: `/Date(${t.receivedMs})/`,
    SenderAddress: t.sender,
    RecipientAddress: t.recipient,
    Subject: t.subject,
    Status: t.status,
    ToIP: t.toIp,
    FromIP: t.fromIp,
    Size: t.size,
    MessageTraceId: t.traceId,
    StartDate: `/Date(${REPORTING_START_MS})/`,
    EndDate: `/Date(${REPORTING_END_MS})/`,
    Index: index,
  });
}

const GRAPH_START_MS = Date.UTC(2026, 0, 20);

/** A Microsoft Graph messageTrace row: camelCase status, whole-second ISO time, "" for no IP. */
function graphLine(t: Trace): string {
  return JSON.stringify({
    id: t.traceId,
    senderAddress: t.sender,
    recipientAddress: t.recipient,
    messageId: t.messageId,
    receivedDateTime: new Date(t.receivedMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    subject: t.subject,
    size: t.size,
    fromIP: t.fromIp ?? '',
    toIP: t.toIp ?? '',
    status: t.status.charAt(0).toLowerCase() + t.status.slice(1),
  });
}

const DAY_MS = 86_400_000;
const reportingLines = Array.from({ length: N }, (_, i) =>
  reportingLine(trace(REPORTING_START_MS, REPORTING_END_MS - REPORTING_START_MS), i),
);
const graphLines = Array.from({ length: N }, () => graphLine(trace(GRAPH_START_MS, 2 * DAY_MS)));

// ---------------------------------------------------------------------------------------------
// The naive baseline: what someone would write by hand, with no validation or enrichment.

interface ReportingRow {
  Organization: string;
  MessageId: string;
  Received: string;
  SenderAddress: string;
  RecipientAddress: string;
  Subject: string | null;
  Status: string;
  FromIP: string | null;
  Size: number;
  MessageTraceId: string;
}

interface GraphRow {
  id: string;
  senderAddress: string;
  recipientAddress: string;
  messageId: string;
  receivedDateTime: string;
  subject: string | null;
  size: number;
  fromIP: string;
  status: string;
}

function naiveEvent(
  line: string,
  action: string,
  timestamp: string,
  from: string,
  to: string,
  messageId: string,
  subject: string | null,
  traceId: string,
  size: number,
  ip: string | null,
): string {
  // JSON.stringify drops undefined members, which is how absent fields stay absent here.
  return JSON.stringify({
    message: line,
    event: { action, category: ['email'], type: ['info'] },
    '@timestamp': timestamp,
    email: {
      from: { address: [from] },
      message_id: messageId,
      subject: subject ?? undefined,
      to: { address: [to] },
    },
    office365: { message_trace: { MessageTraceId: traceId, Size: size } },
    organization: { name: ORGANIZATION },
    related: ip ? { ip: [ip] } : undefined,
    source: ip ? { address: ip, ip } : undefined,
  });
}

function naiveReporting(line: string): string {
  const r = JSON.parse(line) as ReportingRow;
  const ms = Number(r.Received.slice(6, -2));
  return naiveEvent(
    line,
    r.Status,
    new Date(ms).toISOString(),
    r.SenderAddress,
    r.RecipientAddress,
    r.MessageId,
    r.Subject,
    r.MessageTraceId,
    r.Size,
    r.FromIP,
  );
}

function naiveGraph(line: string): string {
  const r = JSON.parse(line) as GraphRow;
  return naiveEvent(
    line,
    r.status,
    new Date(r.receivedDateTime).toISOString(),
    r.senderAddress,
    r.recipientAddress,
    r.messageId,
    r.subject,
    r.id,
    r.size,
    r.fromIP,
  );
}

// ---------------------------------------------------------------------------------------------
// Part 1: throughput
//
// Each (dialect, variant) is measured in a process of its own: in one process the JIT would
// specialise the shared code for whichever task ran first, and the order would decide the figures.

type Variant = 'baseline' | 'seed' | 'full';
const VARIANTS: readonly Variant[] = ['baseline', 'seed', 'full'];
const dialects = [
  { dialect: 'reporting', lines: reportingLines, naive: naiveReporting },
  { dialect: 'graph', lines: graphLines, naive: naiveGraph },
] as const;
const TASK_TIME_MS = 2000;

interface TaskResult {
  readonly rate: number;
  readonly rme: number;
}

/** In a child: measure one task and print its result as JSON. */
async function measureTask(dialectName: string, variant: Variant): Promise<TaskResult> {
  const entry = dialects.find((d) => d.dialect === dialectName);
  if (entry === undefined) throw new Error(`unknown dialect ${dialectName}`);
  const { lines, naive } = entry;
  // Summing output lengths keeps the engine from discarding work whose result is never used.
  let sink = 0;
  let task: () => void;
  if (variant === 'baseline') {
    task = () => {
      for (const line of lines) sink += naive(line).length;
    };
  } else {
    const normalizer =
      variant === 'seed'
        ? createNormalizer({ profile: 'seed' })
        : createNormalizer({
            profile: 'full',
            organization: ORGANIZATION,
            acceptedDomains: ACCEPTED_DOMAINS,
          });
    // A rejected line costs less than a normalized one, so a generator bug would flatter the figures.
    for (const line of lines) {
      const result = normalizer.normalizeText(line);
      if (result.events.length !== 1 || result.rejects.length !== 0) {
        throw new Error(
          `${dialectName} line not normalized to one event: ${JSON.stringify(result.rejects)}\n${line}`,
        );
      }
    }
    task = () => {
      for (const line of lines) {
        for (const event of normalizer.normalizeText(line).events) sink += JSON.stringify(event).length;
      }
    };
  }
  // A minimum of a few iterations: the default (64) would take minutes at 20,000 lines each.
  const bench = new Bench({
    time: TASK_TIME_MS,
    iterations: 3,
    warmup: true,
    warmupIterations: 3,
    warmupTime: 500,
    throws: true,
  });
  bench.add('task', task);
  await bench.run();
  const result = bench.getTask('task')?.result;
  if (result?.state !== 'completed')
    throw new Error(`${dialectName}/${variant}: ${result?.state ?? 'missing'}`);
  if (sink === 0) throw new Error('the benchmarked task produced no output');
  return { rate: lines.length / (result.latency.mean / 1000), rme: result.latency.rme };
}

/** In the parent: run one task in a fresh process (same loader, same script). */
async function measureTaskInChild(dialectName: string, variant: Variant): Promise<TaskResult> {
  const scriptPath = process.argv[1];
  if (scriptPath === undefined) throw new Error('cannot find the bench script path');
  const child = spawn(process.execPath, [...process.execArgv, scriptPath], {
    env: { ...process.env, BENCH_TASK: `${dialectName}/${variant}` },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`${dialectName}/${variant} failed (exit ${String(code)})`);
  return JSON.parse(output) as TaskResult;
}

const onlyTask = process.env.BENCH_TASK;
if (onlyTask !== undefined) {
  const [dialectName = '', variant = 'baseline'] = onlyTask.split('/');
  process.stdout.write(JSON.stringify(await measureTask(dialectName, variant as Variant)));
  process.exit(0);
}

const cpu = cpus();
console.log(
  `exotrace bench — node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ` +
    `${N} lines per dialect, tinybench time ${TASK_TIME_MS} ms per task, one process per task`,
);
console.log('');
console.log('Part 1: normalize throughput (JSON.parse → ECS object → JSON.stringify, one event per line)');

const table: string[][] = [['dialect', 'variant', 'events/s', '±', 'vs baseline']];
const fullRatios: number[] = [];
for (const { dialect } of dialects) {
  let baselineRate = Number.NaN;
  for (const variant of VARIANTS) {
    const { rate, rme } = await measureTaskInChild(dialect, variant);
    if (variant === 'baseline') baselineRate = rate;
    const ratio = rate / baselineRate;
    if (variant === 'full') fullRatios.push(ratio);
    table.push([
      dialect,
      variant,
      Math.round(rate).toLocaleString('en-US'),
      `${rme.toFixed(1)}%`,
      `${ratio.toFixed(2)}×`,
    ]);
  }
}
printTable(table, [false, false, true, true, true]);
const met = fullRatios.every((r) => r >= GOAL_RATIO);
console.log(
  `Goal: full ≥ ${GOAL_RATIO}× baseline for each dialect — ${met ? 'met' : 'NOT met'} ` +
    `(${fullRatios.map((r) => `${r.toFixed(2)}×`).join(', ')}).`,
);

// ---------------------------------------------------------------------------------------------
// Part 2: parse memory

console.log('');
console.log(`Part 2: parse memory (${PARSE_MIB} MiB NDJSON file; the goal is stated for 1024 MiB:`);
console.log('        run `BENCH_PARSE_MB=1024 npm run bench`)');

if (!existsSync(cliMain)) {
  console.error(
    `${cliMain} is missing: run \`npm run build\` first (or \`npm run build && npm run bench\`).`,
  );
  process.exit(1);
}
const stale = newestMtime(join(root, 'src')) > statSync(cliMain).mtimeMs;
if (stale)
  console.log('        warning: src/ is newer than dist/; run `npm run build` to measure the current code');

const file = join(tmpdir(), `exotrace-bench-${process.pid}.ndjson`);
try {
  const written = await writeParseFile(file, PARSE_MIB * MIB);
  const readlineRun = await measureProcess(
    `import { createReadStream, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
process.on('exit', () => { writeSync(3, String(process.resourceUsage().maxRSS)); });
const lines = createInterface({ input: createReadStream(${JSON.stringify(file)}, { highWaterMark: 1048576 }), crlfDelay: Infinity });
// Batched like the CLI's output, so both pay the same for writing and differ in the work per line.
let pending = '';
for await (const line of lines) {
  pending += line + '\\n';
  if (pending.length >= 262144) { process.stdout.write(pending); pending = ''; }
}
process.stdout.write(pending);`,
  );
  const parseRun = await measureProcess(
    `import { writeSync } from 'node:fs';
process.on('exit', () => { writeSync(3, String(process.resourceUsage().maxRSS)); });
process.argv = ['node', 'exotrace', 'parse', ${JSON.stringify(file)}];
await import(${JSON.stringify(pathToFileURL(cliMain).href)});`,
    shebangNodeFlags(cliMain),
  );
  const fileMiB = written.bytes / MIB;
  const line = (name: string, run: ProcessRun): string[] => [
    name,
    fileMiB.toFixed(0),
    run.seconds.toFixed(2),
    (fileMiB / run.seconds).toFixed(1),
    Math.round(written.lines / run.seconds).toLocaleString('en-US'),
    (run.maxRssKiB / 1024).toFixed(1),
  ];
  printTable(
    [
      ['process', 'file MiB', 's', 'MiB/s', 'lines/s', 'peak RSS MiB'],
      line('readline → /dev/null', readlineRun),
      line('exotrace parse (full)', parseRun),
    ],
    [false, true, true, true, true, true],
  );
  console.log(
    `exotrace parse / readline: ${(parseRun.seconds / readlineRun.seconds).toFixed(2)}× the time, ` +
      `${(parseRun.maxRssKiB / readlineRun.maxRssKiB).toFixed(2)}× the peak RSS ` +
      `(${written.lines.toLocaleString('en-US')} lines, every one an event: exit status 0).`,
  );
} finally {
  rmSync(file, { force: true });
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Repeats the generated lines, both dialects interleaved, until the file reaches `targetBytes`. */
async function writeParseFile(path: string, targetBytes: number): Promise<{ bytes: number; lines: number }> {
  const BLOCK_LINES = 1000;
  const blocks: { text: string; bytes: number }[] = [];
  for (let i = 0; i < N; i += BLOCK_LINES / 2) {
    const parts: string[] = [];
    for (let j = i; j < Math.min(N, i + BLOCK_LINES / 2); j++) {
      parts.push(reportingLines[j] ?? '', graphLines[j] ?? '');
    }
    const text = parts.join('\n') + '\n';
    blocks.push({ text, bytes: Buffer.byteLength(text) });
  }
  const out = createWriteStream(path, { highWaterMark: 4 * MIB });
  let bytes = 0;
  let lines = 0;
  for (let i = 0; bytes < targetBytes; i = (i + 1) % blocks.length) {
    const block = blocks[i];
    if (block === undefined) throw new Error('no input blocks');
    if (!out.write(block.text)) await once(out, 'drain');
    bytes += block.bytes;
    lines += BLOCK_LINES;
  }
  out.end();
  await once(out, 'close');
  return { bytes, lines };
}

/** The node flags the binary's `#!/usr/bin/env -S node …` line gives it when run as `exotrace`. */
function shebangNodeFlags(path: string): string[] {
  const first = readFileSync(path, 'utf8').split('\n', 1)[0] ?? '';
  const match = /^#!\/usr\/bin\/env -S node(?<flags>(?: \S+)*)\s*$/.exec(first);
  return (match?.groups?.flags ?? '').split(' ').filter((flag) => flag.length > 0);
}

interface ProcessRun {
  readonly seconds: number;
  readonly maxRssKiB: number;
}

/**
 * Runs an ES module text in a fresh `node` (no tsx loader, so nothing but the code under test is
 * in memory), stdout on /dev/null, and reads the peak RSS the child reports on fd 3 as it exits.
 */
async function measureProcess(code: string, nodeFlags: readonly string[] = []): Promise<ProcessRun> {
  const devNull = openSync('/dev/null', 'w');
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeFlags, '--input-type=module', '-e', code], {
    stdio: ['ignore', devNull, 'pipe', 'pipe'],
  });
  closeSync(devNull);
  const report = child.stdio[3];
  if (!(report instanceof Readable) || child.stderr === null) throw new Error('child pipes missing');
  let reported = '';
  report.setEncoding('utf8').on('data', (chunk: string) => (reported += chunk));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    // Rejects would go to stderr, one per line: keep enough to explain a failure, not a flood.
    if (stderr.length < 4096) stderr += chunk;
  });
  const [exitCode, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  const seconds = (performance.now() - started) / 1000;
  const maxRssKiB = Number(reported);
  if (exitCode !== 0 || !(maxRssKiB > 0)) {
    throw new Error(`child failed (exit ${exitCode ?? signal ?? '?'}): ${stderr.slice(0, 4096)}`);
  }
  return { seconds, maxRssKiB };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    newest = Math.max(newest, statSync(join(dir, name)).mtimeMs);
  }
  return newest;
}

function positiveNumber(text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n))
    throw new Error(`BENCH_PARSE_MB must be a positive number, got ${text}`);
  return n;
}
