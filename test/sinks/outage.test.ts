/**
 * Every network output down for 10 s while the collector runs, then back (issue 5: "the server down
 * for 10 s then back → nothing lost, nothing duplicated downstream"). The collector (in-process,
 * the daemon loop) collects from the emulator over HTTPS into the file output and the network
 * outputs — Elasticsearch, Splunk HEC, Sekoia.io, HTTP, Kafka, and syslog to a real rsyslog when
 * one is installed — whose servers are stopped at the start; the file is the reference each
 * server's events are compared with once they return.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config, type OutputConfig } from '../../src/config/load.js';
import { collectorConfigYaml } from '../../src/emulator/collector-config.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { silentLogger } from '../../src/observe/log.js';
import { runCollector } from '../../src/pipeline/run.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import { startEsEmulator, type EsEmulator } from './es-emulator.js';
import { startKafkaBroker, type KafkaBroker } from './kafka-broker.js';
import { until } from '../helpers/wait.js';
import { startReceiver, type Receiver } from './http-family/receiver.js';
import { findRsyslogd, freePort, Rsyslog } from './rsyslog/harness.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const OUTAGE_MS = 10_000;
const NETWORK = ['es', 'hec', 'sekoia', 'http', 'kafka'];

let emulator: Emulator;
let folder: string;
let es: EsEmulator;
let hec: Receiver;
let sekoia: Receiver;
let http: Receiver;
let kafka: KafkaBroker;
/** A real rsyslog when installed (Debian: rsyslog); the syslog output is left out otherwise. */
let rsyslog: Rsyslog | undefined;
let syslogPort = 0;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-outage-'));
  emulator = await startEmulator({ tenants: 1, messagesPerDay: 1500, seed: 5, throttle: { limit: 1000 } });
  emulator.clock.set(NOW);
  emulator.clock.freeze(true);
  es = await startEsEmulator();
  hec = await startReceiver({ handler: () => ({ status: 200, body: '{"text":"Success","code":0}' }) });
  sekoia = await startReceiver({ handler: () => ({ status: 200, body: '{}' }) });
  http = await startReceiver({ handler: () => ({ status: 200, body: '' }) });
  kafka = await startKafkaBroker();
  const rsyslogd = findRsyslogd();
  if (rsyslogd !== undefined) {
    syslogPort = await freePort();
    const dir = path.join(folder, 'rsyslog');
    mkdirSync(dir, { recursive: true });
    rsyslog = new Rsyslog({ rsyslogd, dir, tcpPort: syslogPort, udpPort: await freePort() });
  }
});
afterAll(async () => {
  await es.close();
  await Promise.all([hec.stop(), sekoia.stop(), http.stop(), kafka.stop(), rsyslog?.stop()]);
  await emulator.close();
  rmSync(folder, { recursive: true, force: true });
});

/** event.id of every ECS event found in the bodies (NDJSON lines, HEC objects, Sekoia `jsons`). */
function idsIn(bodies: readonly string[], format: 'ndjson' | 'hec' | 'sekoia'): string[] {
  const ids: string[] = [];
  for (const body of bodies) {
    if (format === 'sekoia') {
      for (const json of (JSON.parse(body) as { jsons: string[] }).jsons) {
        ids.push((JSON.parse(json) as { event: { id: string } }).event.id);
      }
      continue;
    }
    // The ECS `event` object holds no nested object before its id; HEC's wrapper `event` does.
    for (const match of body.matchAll(/"event":\{[^{}]*?"id":"([0-9a-f-]{36})"/g)) ids.push(match[1] ?? '');
    if (format === 'ndjson') expect(body.endsWith('\n')).toBe(true);
  }
  return ids;
}

describe('every network output down for 10 s, then back', () => {
  it('nothing lost, nothing duplicated downstream; the file output never waited for them', async () => {
    const dir = path.join(folder, 'run');
    const file = path.join(dir, 'exotrace.yaml');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      file,
      collectorConfigYaml(emulator, { settings: { minAge: '5m', reconcileLookback: '1h' } }),
    );
    const base = loadConfig(file);
    const outputs: OutputConfig[] = [
      ...base.outputs,
      { type: 'elasticsearch', name: 'es', url: es.url, index: 'logs-office365.message_trace-default' },
      { type: 'splunk-hec', name: 'hec', url: hec.origin, token: 'hec-token' },
      { type: 'sekoia', name: 'sekoia', url: sekoia.origin, intakeKey: 'intake', payload: 'ecs' },
      { type: 'http', name: 'http', url: `${http.origin}/in`, format: 'ndjson', headers: {}, gzip: true },
      { type: 'kafka', name: 'kafka', brokers: [kafka.address], topic: 'message-trace', tls: false },
      ...(rsyslog === undefined
        ? []
        : [
            {
              type: 'syslog',
              name: 'syslog',
              host: '127.0.0.1',
              port: syslogPort,
              protocol: 'tcp',
              appName: 'exotrace',
            } as const,
          ]),
    ];
    const network = [...NETWORK, ...(rsyslog === undefined ? [] : ['syslog'])];
    const config: Config = { ...base, outputs };
    await es.stop();
    await Promise.all([hec.stop(), sekoia.stop(), http.stop(), kafka.stop()]);

    const stop = new AbortController();
    const store = openSqliteStore(config.stateDir);
    const running = runCollector(config, {
      once: false,
      signal: stop.signal,
      log: silentLogger,
      now: () => NOW,
      pollIntervalMs: 3_600_000,
      store,
    });
    try {
      const outputFile = path.join(dir, 'events.ndjson');
      const fileIds = (): string[] =>
        readFileSync(outputFile, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => (JSON.parse(l) as { event: { id: string } }).event.id);
      // The file output delivers everything while the others are down.
      await until(async () => {
        const head = await store.outboxHead();
        return head > 1000 && (await store.sinkState('file'))?.ackedSeq === head;
      }, 30_000);
      const expected = fileIds();
      await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
      for (const name of network) {
        expect((await store.sinkState(name))?.ackedSeq, name).toBe(0);
      }
      await es.start();
      await Promise.all([hec.start(), sekoia.start(), http.start(), kafka.start(), rsyslog?.start()]);
      const head = await store.outboxHead();
      await until(async () => {
        for (const name of network) {
          if ((await store.sinkState(name))?.ackedSeq !== head) return false;
        }
        return true;
      }, 60_000);
      const sorted = [...expected].sort();
      expect(new Set(expected).size).toBe(expected.length);
      expect(
        es
          .documents()
          .map((d) => d.id)
          .sort(),
      ).toEqual(sorted);
      expect(
        idsIn(
          hec.requests.map((r) => r.body),
          'hec',
        ).sort(),
      ).toEqual(sorted);
      expect(
        idsIn(
          sekoia.requests.map((r) => r.body),
          'sekoia',
        ).sort(),
      ).toEqual(sorted);
      expect(
        idsIn(
          http.requests.map((r) => r.body),
          'ndjson',
        ).sort(),
      ).toEqual(sorted);
      // Kafka: keyed by event.id; the value is the event itself.
      const records = kafka.records('message-trace');
      expect(records.map((r) => r.key).sort()).toEqual(sorted);
      for (const record of records) {
        expect((JSON.parse(record.value ?? '{}') as { event: { id: string } }).event.id).toBe(record.key);
      }
      if (rsyslog !== undefined) {
        // rsyslog writes what it received asynchronously: wait for all of it, then compare.
        const messages = await rsyslog.waitFor((m) => m.length >= sorted.length, 20_000);
        const syslogIds = messages.map((m) => (JSON.parse(m.msg) as { event: { id: string } }).event.id);
        expect(syslogIds.sort()).toEqual(sorted);
      }
    } finally {
      stop.abort();
      await running;
      await store.close();
    }
  }, 120_000);
});
