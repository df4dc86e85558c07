/**
 * Outputs: events/s each output delivers from the outbox to its local server or emulator, as a
 * ratio to the file output in the same run (issue 5). Realistic events: Graph pages from the
 * emulator, normalized as the collector does. Each output gets its own state (SQLite, WAL,
 * synchronous=FULL) with the same events committed beforehand; the timed part is the delivery
 * loop (`deliverOnce`) until the outbox is empty, acknowledgements included.
 *
 * The servers run in this process (they share its CPU with the output): the figures compare
 * outputs with each other on this machine, they do not predict a real cluster's speed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import type { OutputConfig } from '../src/config/load.js';
import { startEmulator } from '../src/emulator/server.js';
import { pageEventsFn } from '../src/pipeline/page-events.js';
import { deliverOnce, startSinks } from '../src/pipeline/outbox/index.js';
import { createSink } from '../src/sinks/registry.js';
import { openSqliteStore } from '../src/state/sqlite.js';
import type { PageEvent } from '../src/state/store.js';
import { startEsEmulator } from '../test/sinks/es-emulator.js';
import { startReceiver } from '../test/sinks/http-family/receiver.js';
import { startKafkaBroker } from '../test/sinks/kafka-broker.js';
import { findRsyslogd, freePort, Rsyslog } from '../test/sinks/rsyslog/harness.js';
import { emulatorGraphToken } from './emulator-token.js';
import { printTable } from './table.js';

const TARGET = Number(process.env.BENCH_OUTPUT_EVENTS ?? 50_000);
const NOW = Date.parse('2026-11-20T12:00:00Z');

/** Realistic events: Graph pages of the emulator's mail flow, normalized (full profile). */
async function makeEvents(): Promise<PageEvent[]> {
  const emulator = await startEmulator({
    messagesPerDay: 40_000,
    tenants: 1,
    throttle: { limit: 1_000_000 },
  });
  emulator.clock.set(NOW);
  emulator.clock.freeze(true);
  const agent = new Agent({ connect: { ca: emulator.caCertPem } });
  const tenant = emulator.tenants()[0];
  if (tenant === undefined) throw new Error('no tenant');
  const token = await emulatorGraphToken(emulator.url, tenant, agent);
  const normalize = pageEventsFn({ organization: tenant.domain, acceptedDomains: tenant.acceptedDomains });
  const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 19) + 'Z';
  const filter = `receivedDateTime ge ${iso(NOW - 72 * 3_600_000)} and receivedDateTime le ${iso(NOW - 300_000)}`;
  let url: string | undefined =
    `${emulator.url}/v1.0/admin/exchange/tracing/messageTraces?$top=5000&$filter=${encodeURIComponent(filter)}`;
  const events: PageEvent[] = [];
  while (url !== undefined && events.length < TARGET) {
    const res: Dispatcher.ResponseData = await request(url, {
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}` },
    });
    const text: string = await res.body.text();
    events.push(...normalize(text).events);
    url = (JSON.parse(text) as { '@odata.nextLink'?: string })['@odata.nextLink'];
  }
  await agent.close();
  await emulator.close();
  return events.slice(0, TARGET);
}

async function deliverAll(output: OutputConfig, events: readonly PageEvent[]): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'exotrace-bench-outputs-'));
  const store = openSqliteStore(path.join(dir, 'state'));
  try {
    for (let i = 0; i < events.length; i += 5000) {
      await store.commitPage('t', {
        pass: 'fast',
        checkpoint: { cursor: i },
        events: events.slice(i, i + 5000),
        rejects: [],
        now: NOW,
        seenTtlMs: 3_600_000,
      });
    }
    const resolved = output.type === 'file' ? { ...output, path: path.join(dir, output.path) } : output;
    const sink = createSink(resolved);
    await startSinks(store, [sink]);
    const started = performance.now();
    for (;;) {
      const [result] = await deliverOnce(store, [sink]);
      if (result?.error !== undefined) throw result.error;
      if ((await store.outboxDepth(sink.name)) === 0) break;
    }
    const seconds = (performance.now() - started) / 1000;
    await sink.close();
    return seconds;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const events = await makeEvents();
const es = await startEsEmulator();
const hec = await startReceiver({ handler: () => ({ status: 200, body: '{"text":"Success","code":0}' }) });
const plain = await startReceiver({ handler: () => ({ status: 200, body: '{}' }) });
// The receivers keep what they were sent (for tests): forget it as it comes, or it is the memory measured.
const forget = setInterval(() => {
  hec.requests.length = 0;
  plain.requests.length = 0;
}, 100);

const kafka = await startKafkaBroker();
// A real rsyslog when installed (Debian: rsyslog), writing what it receives to a file.
const rsyslogd = findRsyslogd();
const syslogDir = mkdtempSync(path.join(tmpdir(), 'exotrace-bench-rsyslog-'));
let rsyslog: Rsyslog | undefined;
let syslogPort = 0;
if (rsyslogd !== undefined) {
  syslogPort = await freePort();
  rsyslog = new Rsyslog({ rsyslogd, dir: syslogDir, tcpPort: syslogPort, udpPort: await freePort() });
  await rsyslog.start();
}

const outputs: OutputConfig[] = [
  { type: 'file', name: 'file', path: 'events.ndjson' },
  {
    type: 'elasticsearch',
    name: 'elasticsearch',
    url: es.url,
    index: 'logs-office365.message_trace-default',
  },
  { type: 'splunk-hec', name: 'splunk-hec', url: hec.origin, token: 'bench-token' },
  { type: 'sekoia', name: 'sekoia', url: plain.origin, intakeKey: 'bench-key', payload: 'raw' },
  { type: 'http', name: 'http', url: `${plain.origin}/in`, format: 'ndjson', headers: {}, gzip: false },
  { type: 'http', name: 'http (gzip)', url: `${plain.origin}/in`, format: 'ndjson', headers: {}, gzip: true },
  { type: 'kafka', name: 'kafka', brokers: [kafka.address], topic: 'message-trace', tls: false },
  ...(rsyslog === undefined
    ? []
    : [
        {
          type: 'syslog',
          name: 'syslog (tcp, rsyslog)',
          host: '127.0.0.1',
          port: syslogPort,
          protocol: 'tcp',
          appName: 'exotrace',
        } as const,
      ]),
];
const rows: string[][] = [['output', 'events', 's', 'events/s', 'vs file']];
let fileRate = 0;
for (const output of outputs) {
  const seconds = await deliverAll(output, events);
  const rate = events.length / seconds;
  if (output.type === 'file') fileRate = rate;
  rows.push([
    output.name,
    String(events.length),
    seconds.toFixed(2),
    Math.round(rate).toLocaleString('en-US'),
    `${(rate / fileRate).toFixed(2)}×`,
  ]);
}
clearInterval(forget);
await es.close();
await hec.stop();
await plain.stop();
await kafka.stop();
await rsyslog?.stop();
rmSync(syslogDir, { recursive: true, force: true });
console.log(
  `exotrace outputs bench — node ${process.version}; servers in this process (rsyslog in its own${rsyslog === undefined ? ': not installed, skipped' : ''})`,
);
printTable(rows);
