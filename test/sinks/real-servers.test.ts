/**
 * Gated suites: the outputs against real servers, run only when their address is in the
 * environment (none is reachable from CI, which has no network; the emulators stand in there).
 *
 *   EXOTRACE_TEST_ELASTICSEARCH_URL  [+ EXOTRACE_TEST_ELASTICSEARCH_API_KEY | _USERNAME + _PASSWORD]
 *   EXOTRACE_TEST_OPENSEARCH_URL     [+ EXOTRACE_TEST_OPENSEARCH_USERNAME + _PASSWORD]
 *   EXOTRACE_TEST_KAFKA_BROKERS      (host:port,…; read back with kcat, which must be installed)
 *   EXOTRACE_TEST_SPLUNK_HEC_URL     + EXOTRACE_TEST_SPLUNK_HEC_TOKEN
 *   EXOTRACE_TEST_CA_FILE            (optional: a CA for any of them)
 *
 * Each delivers a small batch of fresh events through the outbox, checks the server holds each
 * exactly once where it can be read back, then delivers the same events again (a new outbox, as
 * after a crash) and checks that idempotent outputs still hold each once.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import type { OutputConfig } from '../../src/config/load.js';
import { deliverOnce, startSinks } from '../../src/pipeline/outbox/index.js';
import { createSink } from '../../src/sinks/registry.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import type { PageEvent } from '../../src/state/store.js';

const env = process.env;
const caPem =
  env.EXOTRACE_TEST_CA_FILE === undefined ? undefined : readFileSync(env.EXOTRACE_TEST_CA_FILE, 'utf8');

/** Fresh events with unique ids, shaped like ours (`@timestamp`, `event.id`, a `message`). */
function freshEvents(n: number): PageEvent[] {
  const now = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => {
    const id = randomUUID();
    const event = {
      '@timestamp': now,
      message: JSON.stringify({ id, n: i }),
      event: {
        id,
        action: 'Delivered',
        category: ['email'],
        type: ['info'],
        dataset: 'office365.message_trace',
      },
      email: { to: { address: [`user${i}@example.com`] } },
    };
    return { key: `${now}|${id}`, eventId: id, json: JSON.stringify(event) };
  });
}

/** Delivers `events` to `output` through a fresh SQLite outbox; returns the dead letters' count. */
async function deliver(output: OutputConfig, events: readonly PageEvent[]): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'exotrace-real-'));
  const store = openSqliteStore(dir);
  try {
    await store.commitPage('t', {
      pass: 'fast',
      checkpoint: { cursor: 1 },
      events,
      rejects: [],
      now: Date.now(),
      seenTtlMs: 60_000,
    });
    const sink = createSink(output);
    await startSinks(store, [sink]);
    for (let attempt = 0; attempt < 5; attempt++) {
      const [result] = await deliverOnce(store, [sink]);
      if (result?.error !== undefined && attempt === 4) throw result.error;
      if ((await store.outboxDepth(sink.name)) === 0) break;
    }
    const dead = (await store.deadLetters(sink.name, 1000)).length;
    await sink.close();
    return dead;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function searchEngineSuite(name: 'Elasticsearch' | 'OpenSearch', prefix: string): void {
  const url = env[`${prefix}_URL`];
  describe.skipIf(url === undefined)(`${name} (${prefix}_URL)`, () => {
    it('stores each event once under its event.id, and again-sent events stay once', async () => {
      const base = (url ?? '').replace(/\/+$/, '');
      const apiKey = env[`${prefix}_API_KEY`];
      const username = env[`${prefix}_USERNAME`];
      const password = env[`${prefix}_PASSWORD`];
      // Elasticsearch: a data stream (its built-in logs-*-* template); OpenSearch: a plain index.
      const index =
        name === 'Elasticsearch'
          ? `logs-office365.message_trace-exotrace${Date.now()}`
          : `exotrace-test-${Date.now()}`;
      const output: OutputConfig = {
        type: 'elasticsearch',
        name: 'es',
        url: base,
        index,
        ...(apiKey === undefined ? {} : { apiKey }),
        ...(username === undefined || password === undefined ? {} : { username, password }),
        ...(caPem === undefined ? {} : { caPem }),
      };
      const events = freshEvents(50);
      expect(await deliver(output, events)).toBe(0);
      expect(await deliver(output, events)).toBe(0);
      const agent = new Agent(caPem === undefined ? {} : { connect: { ca: caPem } });
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (apiKey !== undefined) headers.authorization = `ApiKey ${apiKey}`;
      else if (username !== undefined && password !== undefined)
        headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      await (
        await request(`${base}/${index}/_refresh`, { method: 'POST', headers, dispatcher: agent })
      ).body.text();
      const res = await request(`${base}/${index}/_search?size=100`, {
        method: 'POST',
        headers,
        dispatcher: agent,
        body: JSON.stringify({ query: { match_all: {} }, _source: false }),
      });
      const found = (await res.body.json()) as { hits: { hits: { _id: string }[] } };
      await agent.close();
      expect(found.hits.hits.map((h) => h._id).sort()).toEqual(events.map((e) => e.eventId).sort());
    });
  });
}

searchEngineSuite('Elasticsearch', 'EXOTRACE_TEST_ELASTICSEARCH');
searchEngineSuite('OpenSearch', 'EXOTRACE_TEST_OPENSEARCH');

const brokers = env.EXOTRACE_TEST_KAFKA_BROKERS;
describe.skipIf(brokers === undefined)('Kafka (EXOTRACE_TEST_KAFKA_BROKERS)', () => {
  it('each event is a message keyed by its event.id, read back by kcat', async () => {
    const topic = `exotrace-test-${Date.now()}`;
    const events = freshEvents(50);
    const output: OutputConfig = {
      type: 'kafka',
      name: 'kafka',
      brokers: (brokers ?? '').split(','),
      topic,
      tls: caPem !== undefined,
      ...(caPem === undefined ? {} : { caPem }),
    };
    expect(await deliver(output, events)).toBe(0);
    const keys = execFileSync(
      'kcat',
      ['-C', '-b', brokers ?? '', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\\n'],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    )
      .split('\n')
      .filter((k) => k !== '');
    expect(keys.sort()).toEqual(events.map((e) => e.eventId).sort());
  });
});

const hecUrl = env.EXOTRACE_TEST_SPLUNK_HEC_URL;
const hecToken = env.EXOTRACE_TEST_SPLUNK_HEC_TOKEN;
describe.skipIf(hecUrl === undefined || hecToken === undefined)(
  'Splunk HEC (EXOTRACE_TEST_SPLUNK_HEC_URL)',
  () => {
    it('accepts every event (HEC cannot be read back without the search API)', async () => {
      const output: OutputConfig = {
        type: 'splunk-hec',
        name: 'hec',
        url: hecUrl ?? '',
        token: hecToken ?? '',
        ...(caPem === undefined ? {} : { caPem }),
      };
      expect(await deliver(output, freshEvents(50))).toBe(0);
    });
  },
);
