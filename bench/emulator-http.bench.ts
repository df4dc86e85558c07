/**
 * How fast the emulator serves a full Graph page (5,000 rows) over HTTPS, against a baseline in
 * the same run: the same HTTPS stack serving the same page's JSON, prepared in advance. The ratio
 * is the cost of generating, filtering and rendering the rows on each request.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import path from 'node:path';
import { Agent, request } from 'undici';
import { Bench } from 'tinybench';
import { startEmulator } from '../src/emulator/server.js';
import { emulatorGraphToken } from './emulator-token.js';

const DAY = 86_400_000;
const emulator = await startEmulator({ messagesPerDay: 50_000, throttle: { limit: 1_000_000 } });
const agent = new Agent({ connect: { ca: emulator.caCertPem } });
const tenant = emulator.tenants()[0];
const app = tenant?.apps[0];
if (tenant === undefined || app === undefined) throw new Error('no tenant');
emulator.clock.freeze(true);
const now = emulator.clock.now();

const token = await emulatorGraphToken(emulator.url, tenant, agent);
const headers = { authorization: `Bearer ${token}` };
const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 19) + 'Z';

// Pages from different days, so that most requests generate their hours afresh (a cold cache).
let day = 1;
const pageUrl = (): string => {
  const to = now - day * DAY;
  day = (day % 80) + 1;
  const filter = `receivedDateTime ge ${iso(to - DAY)} and receivedDateTime le ${iso(to)}`;
  return `${emulator.url}/v1.0/admin/exchange/tracing/messageTraces?$top=5000&$filter=${encodeURIComponent(filter)}`;
};

const sample = await request(pageUrl(), { headers, dispatcher: agent });
const sampleText = await sample.body.text();
const rows = (JSON.parse(sampleText) as { value: unknown[] }).value.length;
if (rows !== 5000) throw new Error(`expected a full page, got ${rows} rows`);

// Baseline: the same page, already rendered, from a plain HTTPS server with the same certificate.
const baseline = createServer({ ca: emulator.caCertPem, ...(await tlsOf()) }, (_, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(sampleText);
});
await new Promise<void>((resolve) => baseline.listen(0, '127.0.0.1', resolve));
const address = baseline.address();
const baselineUrl = `https://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/`;
const baselineAgent = new Agent({ connect: { ca: emulator.caCertPem, servername: 'localhost' } });

async function tlsOf(): Promise<{ key: string; cert: string }> {
  const dir = path.dirname(emulator.caFile);
  return {
    key: await readFile(path.join(dir, 'server-key.pem'), 'utf8'),
    cert: await readFile(path.join(dir, 'server.pem'), 'utf8'),
  };
}

const bench = new Bench({ time: 3000, warmup: true });
bench.add('baseline: prepared 5,000-row page over HTTPS', async () => {
  const res = await request(baselineUrl, { dispatcher: baselineAgent });
  await res.body.text();
});
bench.add('emulator: Graph page of 5,000 rows (cold hours)', async () => {
  const res = await request(pageUrl(), { headers, dispatcher: agent });
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  await res.body.text();
});
await bench.run();

console.log(
  `exotrace emulator bench — node ${process.version}; page = ${rows} rows, ${(sampleText.length / 1e6).toFixed(1)} MB`,
);
const results = bench.tasks.map((task) => {
  const result = task.result;
  if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
  return { name: task.name, ms: result.latency.mean, p99: result.latency.p99 };
});
const base = results[0]?.ms ?? Number.NaN;
for (const r of results) {
  console.log(
    `${r.name.padEnd(50)} ${r.ms.toFixed(1).padStart(7)} ms mean  ${r.p99.toFixed(1).padStart(7)} ms p99  ${(r.ms / base).toFixed(2)}× baseline`,
  );
}
console.log('Goal: a 5,000-row page well under 100 ms.');
await agent.close();
await baselineAgent.close();
baseline.close();
await emulator.close();
