/**
 * The collector end to end: a backfill from the emulator (no throttling) into the file output, as
 * `exotrace run --once` runs it, in a child process whose peak RSS is read as it exits. Baseline in
 * the same run: a plain client walking the same pages and appending the rows to a file (no
 * normalizing, no state, no dedupe). Then requests used against the minimum (⌈rows / 5000⌉ per
 * window), from the emulator's own counters.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Agent, request } from 'undici';
import { collectorConfigYaml } from '../src/emulator/collector-config.js';
import { startEmulator, type Emulator } from '../src/emulator/server.js';
import { emulatorGraphToken } from './emulator-token.js';
import { printTable } from './table.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cliMain = path.join(root, 'dist', 'cli', 'main.js');
const NOW = Date.parse('2026-11-20T12:00:00Z');
const HOUR = 3_600_000;
const targets = (process.env.BENCH_COLLECTOR_ROWS ?? '100000,1000000').split(',').map(Number);

function shebangFlags(): string[] {
  const first = readFileSync(cliMain, 'utf8').split('\n', 1)[0] ?? '';
  return (/^#!\/usr\/bin\/env -S node(?<f>(?: \S+)*)\s*$/.exec(first)?.groups?.f ?? '')
    .split(' ')
    .filter(Boolean);
}

async function measure(code: string, flags: string[]): Promise<{ seconds: number; rssMiB: number }> {
  const devNull = openSync('/dev/null', 'w');
  const started = performance.now();
  const child = spawn(process.execPath, [...flags, '--input-type=module', '-e', code], {
    stdio: ['ignore', devNull, 'pipe', 'pipe'],
  });
  closeSync(devNull);
  let report = '';
  let stderr = '';
  const fd3 = child.stdio[3];
  if (fd3 instanceof Readable) fd3.setEncoding('utf8').on('data', (d: string) => (report += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4000) stderr += d;
  });
  const [codeExit] = (await once(child, 'close')) as [number | null];
  if (codeExit !== 0) throw new Error(`child exited ${String(codeExit)}: ${stderr}`);
  return { seconds: (performance.now() - started) / 1000, rssMiB: Number(report) / 1024 };
}

async function stats(
  emulator: Emulator,
  agent: Agent,
): Promise<Record<string, Record<string, Record<string, number>>>> {
  const res = await request(`${emulator.url}/_emulator/stats`, { dispatcher: agent });
  return (await res.body.json()) as Record<string, Record<string, Record<string, number>>>;
}

const rows: string[][] = [
  ['run', 'rows', 's', 'rows/s', 'vs baseline', 'peak RSS MiB', 'list requests', 'minimum'],
];
for (const target of targets) {
  // ~2.4 rows per message: size the window so that the walk returns about `target` rows.
  const hours = 48;
  const messagesPerDay = Math.round(((target / 2.4) * 24) / hours);
  const emulator = await startEmulator({ messagesPerDay, tenants: 1, throttle: { limit: 1_000_000 } });
  emulator.clock.set(NOW);
  emulator.clock.freeze(true);
  const agent = new Agent({ connect: { ca: emulator.caCertPem } });
  const tenant = emulator.tenants()[0];
  const app = tenant?.apps[0];
  if (tenant === undefined || app === undefined) throw new Error('no tenant');
  const dir = mkdtempSync(path.join(tmpdir(), 'exotrace-bench-collector-'));
  const config = path.join(dir, 'exotrace.yaml');
  writeFileSync(
    config,
    collectorConfigYaml(emulator, {
      settings: { startFrom: `${hours}h`, minAge: '5m', reconcileLookback: '10m', requestsPer5Min: '100' },
    }),
  );

  // The collector takes the emulator's frozen "now" from the clock only through the API; give it the same instant.
  const collector = await measure(
    `import { writeSync } from 'node:fs';
process.on('exit', () => { writeSync(3, String(process.resourceUsage().maxRSS)); });
Date.now = () => ${NOW};
process.argv = ['node', 'exotrace', 'run', '--config', ${JSON.stringify(config)}, '--once'];
await import(${JSON.stringify(pathToFileURL(cliMain).href)});`,
    shebangFlags(),
  );
  const counts = await stats(emulator, agent);
  const listRequests = counts[tenant.name]?.['graph-list']?.['200'] ?? 0;
  const eventsWritten = readFileSync(path.join(dir, 'events.ndjson'), 'utf8').split('\n').length - 1;
  // The minimum: one request per 5,000 rows of each pass's window (fast: the whole range; reconcile: 10 minutes).
  const fastRows = eventsWritten;
  const minimum = Math.ceil(fastRows / 5000) + 1;

  // Baseline: the same walk with a plain client, rows appended to a file as they come.
  const token = await emulatorGraphToken(emulator.url, tenant, agent);
  const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 19) + 'Z';
  const first = `${emulator.url}/v1.0/admin/exchange/tracing/messageTraces?$top=5000&$filter=${encodeURIComponent(`receivedDateTime ge ${iso(NOW - hours * HOUR)} and receivedDateTime le ${iso(NOW - 5 * 60_000)}`)}`;
  const baselineOut = path.join(dir, 'baseline.ndjson');
  const baseline = await measure(
    `import { writeSync, openSync, appendFileSync } from 'node:fs';
import { Agent, request } from ${JSON.stringify(pathToFileURL(path.join(root, 'node_modules/undici/index.js')).href)};
process.on('exit', () => { writeSync(3, String(process.resourceUsage().maxRSS)); });
const agent = new Agent({ connect: { ca: ${JSON.stringify(emulator.caCertPem)} } });
let url = ${JSON.stringify(first)};
while (url) {
  const res = await request(url, { dispatcher: agent, headers: { authorization: 'Bearer ${token}' } });
  const page = JSON.parse(await res.body.text());
  appendFileSync(${JSON.stringify(baselineOut)}, page.value.map((r) => JSON.stringify(r)).join('\\n') + '\\n');
  url = page['@odata.nextLink'];
}
await agent.close();`,
    [],
  );
  const rate = eventsWritten / collector.seconds;
  const baseRate = eventsWritten / baseline.seconds;
  rows.push(
    [
      'baseline: plain walk → file',
      String(eventsWritten),
      baseline.seconds.toFixed(1),
      Math.round(baseRate).toLocaleString('en-US'),
      '1.00×',
      baseline.rssMiB.toFixed(0),
      '',
      '',
    ],
    [
      'exotrace run --once → file',
      String(eventsWritten),
      collector.seconds.toFixed(1),
      Math.round(rate).toLocaleString('en-US'),
      `${(rate / baseRate).toFixed(2)}×`,
      collector.rssMiB.toFixed(0),
      String(listRequests),
      String(minimum),
    ],
  );
  await agent.close();
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  `exotrace collector bench — node ${process.version}; emulator in this process, collector in a child`,
);
printTable(rows);
console.log(
  'Goals: ≥ 50k rows/s with RSS flat below 200 MB; requests ≤ 1.05× the minimum (the +1 is the reconcile pass).',
);
