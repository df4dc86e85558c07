import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { generateTlsMaterial } from '../../src/emulator/tls.js';
import { errorCodeOf } from '../../src/observe/metrics.js';
import { deliverOnce, startSinks } from '../../src/pipeline/outbox/index.js';
import { createElasticsearchSink, type ElasticsearchOutputConfig } from '../../src/sinks/elasticsearch.js';
import type { Sink } from '../../src/sinks/types.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import type { OutboxEvent } from '../../src/core/outbox-event.js';
import type { PageEvent, StateStore } from '../../src/state/store.js';
import { startEsEmulator, type EsEmulator } from './es-emulator.js';
import { tempDir } from './helpers.js';

const INDEX = 'logs-office365.message_trace-default';
const API_KEY = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';
const PASSWORD = 'correct horse battery staple';
// Small backoff so retries inside one deliverOnce take milliseconds.
const fast = { retry: { maxAttempts: 3, backoffMs: 5, maxDelayMs: 50 } };

function output(url: string, extra: Partial<ElasticsearchOutputConfig> = {}): ElasticsearchOutputConfig {
  return { type: 'elasticsearch', name: 'es', url, index: INDEX, ...extra };
}

/** The sink with no proxy from the environment, so loopback requests never leave the machine. */
function sink(config: ElasticsearchOutputConfig): Sink {
  return createElasticsearchSink(config, { env: {} });
}

let counter = 0;

/** ECS-shaped events (data streams need @timestamp), with deterministic ids. */
function makeEvents(count: number): PageEvent[] {
  return Array.from({ length: count }, () => {
    counter += 1;
    const id = `ev-${counter}`;
    const json = JSON.stringify({
      '@timestamp': new Date(1_700_000_000_000 + counter * 1000).toISOString(),
      event: { id, dataset: 'office365.message_trace' },
      email: { subject: `héllo ${counter}` },
    });
    return { key: `k${counter}`, eventId: id, json };
  });
}

function outboxEvents(events: readonly PageEvent[], firstSeq = 1): OutboxEvent[] {
  return events.map((e, i) => ({ ...e, seq: firstSeq + i, tenant: 'contoso', pass: 'fast' as const }));
}

async function commit(store: StateStore, events: readonly PageEvent[]): Promise<void> {
  await store.commitPage('contoso', {
    pass: 'fast',
    checkpoint: { cursor: counter },
    events,
    rejects: [],
    now: 1_000_000,
    seenTtlMs: 60_000,
  });
}

const signal = (): AbortSignal => new AbortController().signal;

function storedIds(es: EsEmulator): string[] {
  return es.documents().map((d) => d.id);
}

describe('elasticsearch output against the _bulk emulator', () => {
  let es: EsEmulator;
  const open: Sink[] = [];
  const track = (s: Sink): Sink => {
    open.push(s);
    return s;
  };

  beforeEach(async () => {
    es = await startEsEmulator({ apiKey: API_KEY });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    await es.close();
  });

  it('sends one gzipped NDJSON _bulk of create actions with _id = event.id, auth and pipeline', async () => {
    const events = makeEvents(3);
    const s = track(sink(output(es.url, { apiKey: API_KEY, pipeline: 'office365-enrich' })));
    expect(await s.send(outboxEvents(events), signal())).toEqual({ status: 'ok' });

    expect(es.requests).toHaveLength(1);
    const req = es.requests[0];
    expect(req?.method).toBe('POST');
    expect(req?.path).toBe('/_bulk');
    expect(req?.query.get('pipeline')).toBe('office365-enrich');
    expect(req?.headers['content-type']).toBe('application/x-ndjson');
    expect(req?.headers['content-encoding']).toBe('gzip');
    expect(req?.headers.authorization).toBe(`ApiKey ${API_KEY}`);
    // The body on the wire really is gzip, and decodes to action/source pairs ending with \n.
    const text = gunzipSync(req?.raw ?? Buffer.alloc(0)).toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.split('\n').slice(0, -1);
    expect(lines).toEqual(
      events.flatMap((e) => [JSON.stringify({ create: { _index: INDEX, _id: e.eventId } }), e.json]),
    );
    expect(es.documents().map((d) => [d.index, d.id, d.pipeline])).toEqual(
      events.map((e) => [INDEX, e.eventId, 'office365-enrich']),
    );
    expect(es.documents().map((d) => JSON.stringify(d.source))).toEqual(events.map((e) => e.json));
  });

  it('the emulator refuses what a data stream refuses (index op, no @timestamp), and create is used', async () => {
    // Proves the emulator is strict where the output relies on it: a sink sending `index` would fail.
    const body = [
      JSON.stringify({ index: { _index: INDEX, _id: 'a' } }),
      JSON.stringify({ '@timestamp': '2024-01-01T00:00:00Z' }),
      JSON.stringify({ create: { _index: INDEX, _id: 'b' } }),
      JSON.stringify({ no: 'timestamp' }),
      JSON.stringify({ create: { _index: INDEX, _id: 'c' } }),
      JSON.stringify({ '@timestamp': '2024-01-01T00:00:00Z' }),
    ].join('\n');
    const { request } = await import('undici');
    const res = await request(`${es.url}/_bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', authorization: `ApiKey ${API_KEY}` },
      body: body + '\n',
    });
    const json = (await res.body.json()) as {
      errors: boolean;
      items: {
        create?: { status: number; error?: { type: string } };
        index?: { status: number; error?: { reason: string } };
      }[];
    };
    expect(res.statusCode).toBe(200);
    expect(json.errors).toBe(true);
    expect(json.items[0]?.index?.status).toBe(400);
    expect(json.items[0]?.index?.error?.reason).toMatch(/op_type of create/);
    expect(json.items[1]?.create?.error?.type).toBe('document_parsing_exception');
    expect(json.items[2]?.create?.status).toBe(201);
    expect(storedIds(es)).toEqual(['c']);
    // Not terminated by a newline: the whole request is refused, as Elasticsearch does.
    const bad = await request(`${es.url}/_bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', authorization: `ApiKey ${API_KEY}` },
      body,
    });
    expect(bad.statusCode).toBe(400);
    await bad.body.text();
  });

  it('409 on re-send is success: an acknowledged batch sent again creates no duplicate', async () => {
    const events = outboxEvents(makeEvents(4));
    const s = track(sink(output(es.url, { apiKey: API_KEY })));
    expect((await s.send(events, signal())).status).toBe('ok');
    const again = await s.send(events, signal());
    expect(again).toEqual({ status: 'ok' });
    expect(es.requests).toHaveLength(2);
    expect(es.requests[1]?.text).toBeDefined();
    expect(storedIds(es)).toEqual(events.map((e) => e.eventId));
  });

  it('a response lost after the cluster stored the batch: retryable, and the re-send stores nothing twice', async () => {
    const events = outboxEvents(makeEvents(5));
    const s = track(sink(output(es.url, { apiKey: API_KEY })));
    es.dropResponses(1);
    const lost = await s.send(events, signal());
    expect(lost.status).toBe('retryable');
    expect(es.documents()).toHaveLength(5);
    expect(await s.send(events, signal())).toEqual({ status: 'ok' });
    expect(storedIds(es)).toEqual(events.map((e) => e.eventId));
  });

  it('partial failure: only the 429 items are sent again, a mapping error is refused with its reason', async () => {
    const events = outboxEvents(makeEvents(5), 11);
    const [e1, e2, e3, e4] = events;
    es.failItems({ id: e2?.eventId ?? '', kind: 'rejected-execution', times: 1 });
    es.failItems({ id: e4?.eventId ?? '', kind: 'rejected-execution', times: 1 });
    es.failItems({ id: e3?.eventId ?? '', kind: 'mapper-parsing', field: 'email.subject' });
    const s = track(sink(output(es.url, { apiKey: API_KEY })));
    const result = await s.send(events, signal());
    expect(result.status).toBe('partial');
    if (result.status !== 'partial') return;
    expect(result.retry).toEqual([e2?.seq, e4?.seq]);
    expect(result.rejected).toEqual([e3?.seq]);
    expect(result.error.message).toMatch(
      /mapper_parsing_exception: failed to parse field \[email\.subject\]/,
    );
    expect(result.error.message).toContain(`_id ${e3?.eventId ?? ''}`);
    expect(storedIds(es)).toEqual([e1, events[4]].map((e) => e?.eventId));

    // Only what was asked again is sent again.
    const retry = events.filter((e) => result.retry.includes(e.seq));
    expect(await s.send(retry, signal())).toEqual({ status: 'ok' });
    const second = es.requests[1]?.text.split('\n').filter((l) => l.startsWith('{"create"'));
    expect(second).toHaveLength(2);
    expect(es.documents()).toHaveLength(4);
  });

  it('whole-request 429 and 503 are retryable with Retry-After; other 4xx are rejected', async () => {
    const events = outboxEvents(makeEvents(2));
    const s = track(sink(output(es.url, { apiKey: API_KEY })));
    es.failRequests({ status: 429, retryAfter: 7 });
    const throttled = await s.send(events, signal());
    expect(throttled).toMatchObject({ status: 'retryable', retryAfterMs: 7000 });
    if (throttled.status === 'retryable')
      expect(throttled.error.message).toMatch(/429.*es_rejected_execution_exception/);
    es.failRequests({ status: 503 });
    const unavailable = await s.send(events, signal());
    expect(unavailable.status).toBe('retryable');
    if (unavailable.status === 'retryable') {
      expect(unavailable.retryAfterMs).toBeUndefined();
      expect(unavailable.error.message).toMatch(/503/);
    }
    expect(es.documents()).toHaveLength(0);

    // Over a size limit on the way: not the events' fault, they wait for the limit to be raised.
    es.failRequests({ status: 413 });
    const tooLarge = await s.send(events, signal());
    expect(tooLarge.status).toBe('retryable');
    if (tooLarge.status === 'retryable')
      expect(tooLarge.error.message).toMatch(/413: the bulk is over a size limit/);

    es.failRequests({ status: 400 });
    const unreadable = await s.send(events, signal());
    expect(unreadable.status).toBe('rejected');
    if (unreadable.status === 'rejected') {
      expect(unreadable.seqs).toBeUndefined();
      expect(unreadable.error.message).toMatch(/refused the batch of 2 events with 400/);
    }
    expect(await s.send(events, signal())).toEqual({ status: 'ok' });
    expect(es.documents()).toHaveLength(2);
  });

  it('a fractional Retry-After (1.5) is honoured: the delivery is told to wait 1.5 s, not retried at once', async () => {
    const events = outboxEvents(makeEvents(1));
    const s = track(sink(output(es.url, { apiKey: API_KEY })));
    es.failRequests({ status: 429, retryAfter: 1.5 });
    const throttled = await s.send(events, signal());
    expect(throttled.status).toBe('retryable');
    if (throttled.status === 'retryable') expect(throttled.retryAfterMs).toBeGreaterThanOrEqual(1500);
  });

  it('failures carry real codes: http_503 for an answer, ECONNREFUSED for a cluster that is down', async () => {
    const events = outboxEvents(makeEvents(1));
    const s = track(sink(output(es.url, { apiKey: API_KEY })));
    es.failRequests({ status: 503 });
    const unavailable = await s.send(events, signal());
    expect(unavailable.status).toBe('retryable');
    if (unavailable.status === 'retryable') {
      expect(errorCodeOf(unavailable.error)).toBe('http_503');
      expect(unavailable.error).toMatchObject({ code: 'output_unavailable', status: 503 });
    }
    const down = await startEsEmulator();
    await down.stop();
    const refused = await track(sink({ ...output(down.url), name: 'down' })).send(events, signal());
    expect(refused.status).toBe('retryable');
    if (refused.status === 'retryable') {
      expect(errorCodeOf(refused.error)).toBe('ECONNREFUSED');
      expect(refused.error).toMatchObject({ code: 'network_error' });
    }
    await down.close();
  });

  it('a missing ingest pipeline is retried with the key to fix, not dead-lettered', async () => {
    const strict = await startEsEmulator({ pipelines: ['known'] });
    try {
      const s = track(sink(output(strict.url, { pipeline: 'unknown' })));
      const result = await s.send(outboxEvents(makeEvents(2)), signal());
      expect(result.status).toBe('partial');
      if (result.status !== 'partial') return;
      expect(result.rejected).toEqual([]);
      expect(result.retry).toHaveLength(2);
      expect(result.error.message).toMatch(/pipeline of output es/);
    } finally {
      await strict.close();
    }
  });

  it('an auth failure is retryable, names the key, and never shows the secret', async () => {
    const wrongKey = 'd3Jvbmc6c2VjcmV0LWtleS12YWx1ZQ==';
    const s = track(sink(output(es.url, { apiKey: wrongKey })));
    const result = await s.send(outboxEvents(makeEvents(1)), signal());
    expect(result.status).toBe('retryable');
    if (result.status !== 'retryable') return;
    expect(result.error.message).toMatch(/401.*security_exception.*apiKey of output es/);
    expect(result.error.message).not.toContain(wrongKey);
    expect(JSON.stringify(result.error)).not.toContain(wrongKey);
    const health = await s.healthcheck(signal());
    expect(health.status).toBe('failed');
    if (health.status === 'failed') {
      expect(health.error.message).toMatch(/401.*apiKey of output es/);
      expect(health.error.message).not.toContain(wrongKey);
    }
    expect(await track(sink(output(es.url, { apiKey: API_KEY }))).healthcheck(signal())).toEqual({
      status: 'ok',
    });
    // The id:key form is encoded to what the header takes, instead of failing like a wrong key.
    const pair = Buffer.from(API_KEY, 'base64').toString('utf8');
    expect(pair).toContain(':');
    const fromPair = track(sink(output(es.url, { apiKey: pair })));
    expect(await fromPair.send(outboxEvents(makeEvents(1)), signal())).toEqual({ status: 'ok' });
    expect(es.requests.at(-1)?.headers.authorization).toBe(`ApiKey ${API_KEY}`);
  });

  it('basic auth over https with the output CA; a wrong password is named, never shown', async () => {
    const temp = tempDir();
    const tls = await generateTlsMaterial(join(temp.dir, 'tls'));
    const secure = await startEsEmulator({
      tls: { certPem: tls.serverCertPem, keyPem: tls.serverKeyPem },
      basic: { username: 'exotrace', password: PASSWORD },
    });
    try {
      const good = track(
        sink(output(secure.url, { username: 'exotrace', password: PASSWORD, caPem: tls.caCertPem })),
      );
      expect(await good.healthcheck(signal())).toEqual({ status: 'ok' });
      expect((await good.send(outboxEvents(makeEvents(2)), signal())).status).toBe('ok');
      expect(secure.requests[1]?.headers.authorization).toBe(
        `Basic ${Buffer.from(`exotrace:${PASSWORD}`).toString('base64')}`,
      );
      expect(secure.documents()).toHaveLength(2);

      const bad = track(
        sink(output(secure.url, { username: 'exotrace', password: 'hunter2-wrong', caPem: tls.caCertPem })),
      );
      const result = await bad.send(outboxEvents(makeEvents(1)), signal());
      expect(result.status).toBe('retryable');
      if (result.status === 'retryable') {
        expect(result.error.message).toMatch(/username and password of output es/);
        expect(result.error.message).not.toMatch(/hunter2|ZXhvdHJhY2/);
      }

      // Without the CA the server is not trusted: retryable (never the events' fault), naming caFile.
      const untrusted = track(sink(output(secure.url, { username: 'exotrace', password: PASSWORD })));
      const refused = await untrusted.send(outboxEvents(makeEvents(1)), signal());
      expect(refused.status).toBe('retryable');
      if (refused.status === 'retryable') expect(refused.error.message).toMatch(/caFile of output es/);
    } finally {
      await secure.close();
      temp.cleanup();
    }
  });
});

describe('elasticsearch output through the outbox (SQLite)', () => {
  let es: EsEmulator;
  let store: StateStore;
  let cleanup: () => void;
  const sinks: Sink[] = [];

  beforeEach(async () => {
    es = await startEsEmulator();
    const temp = tempDir();
    cleanup = temp.cleanup;
    store = openSqliteStore(join(temp.dir, 'state'));
  });
  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.close()));
    await store.close();
    await es.close();
    cleanup();
  });

  it('a mapping error is dead-lettered, 429 items delivered on retry; replay after the fix stores it', async () => {
    const events = makeEvents(6);
    await commit(store, events);
    const bad = events[2]?.eventId ?? '';
    es.failItems({ id: bad, kind: 'document-parsing', field: '@timestamp' });
    es.failItems({ id: events[4]?.eventId ?? '', kind: 'rejected-execution', times: 2 });
    const s = sink(output(es.url));
    sinks.push(s);
    await startSinks(store, [s]);

    const [first] = await deliverOnce(store, [s], fast);
    expect(first?.error).toBeUndefined();
    expect(first).toMatchObject({ delivered: 5, deadLettered: 1, retried: 2 });
    const dead = await store.deadLetters('es', 10);
    expect(dead.map((d) => d.eventId)).toEqual([bad]);
    expect(dead[0]?.reason).toMatch(/document_parsing_exception.*failed to parse field \[@timestamp\]/);
    expect(storedIds(es).sort()).toEqual(
      events
        .map((e) => e.eventId)
        .filter((id) => id !== bad)
        .sort(),
    );
    expect(await store.outboxDepth('es')).toBe(0);

    // The mapping is fixed: replay.
    es.clearFailures();
    expect(await store.retryDeadLetters('es')).toBe(1);
    const [replay] = await deliverOnce(store, [s], fast);
    expect(replay).toMatchObject({ delivered: 1, deadLettered: 0 });
    expect(storedIds(es).sort()).toEqual(events.map((e) => e.eventId).sort());
    expect(await store.deadLetters('es', 10)).toEqual([]);
  });

  it('outage: the cluster goes away and comes back on the same port; every event stored exactly once', async () => {
    const s = sink(output(es.url));
    sinks.push(s);
    await startSinks(store, [s]);
    const all: PageEvent[] = [];
    const add = async (n: number) => {
      const events = makeEvents(n);
      all.push(...events);
      await commit(store, events);
    };
    await add(20);
    // Batches of 7, and the first answer is lost after storing: re-sends meet 409s.
    es.dropResponses(1);
    await deliverOnce(store, [s], { ...fast, batchSize: 7 });

    await es.stop();
    await add(15);
    const outage = await deliverOnce(store, [s], { ...fast, batchSize: 7 });
    expect(outage[0]?.error).toBeDefined();
    expect(await store.outboxDepth('es')).toBeGreaterThan(0);

    // The delivery loop keeps being driven while the cluster is down, then it comes back.
    const back = new Promise((resolve) => setTimeout(resolve, 1500)).then(() => es.start());
    const deadline = Date.now() + 15_000;
    let rounds = 0;
    while ((await store.outboxDepth('es')) > 0 && Date.now() < deadline) {
      rounds += 1;
      if (rounds === 3) await add(10);
      await deliverOnce(store, [s], { ...fast, batchSize: 7 });
      await new Promise((r) => setTimeout(r, 100));
    }
    await back;
    expect(rounds).toBeGreaterThan(3);
    expect(await store.outboxDepth('es')).toBe(0);
    const ids = storedIds(es);
    expect(ids).toHaveLength(all.length);
    expect(new Set(ids).size).toBe(all.length);
    expect([...ids].sort()).toEqual(all.map((e) => e.eventId).sort());
    // Re-sends did happen (the lost answer, the outage), so the 409 path was exercised.
    const sentIds = es.requests
      .filter((r) => r.path === '/_bulk')
      .flatMap((r) => r.text.split('\n').filter((l) => l.startsWith('{"create"')));
    expect(sentIds.length).toBeGreaterThan(all.length);
  }, 30_000);

  it('two outputs, one down: the other keeps delivering, the down one catches up after', async () => {
    const down = await startEsEmulator();
    await down.stop();
    const up = sink({ ...output(es.url), name: 'up' });
    const other = sink({ ...output(down.url), name: 'down' });
    sinks.push(up, other);
    await startSinks(store, [up, other]);
    const events = makeEvents(12);
    await commit(store, events);

    const [a, b] = await deliverOnce(store, [up, other], { ...fast, batchSize: 5 });
    expect(a).toMatchObject({ sink: 'up', delivered: 12 });
    expect(a?.error).toBeUndefined();
    expect(b).toMatchObject({ sink: 'down', delivered: 0 });
    expect(b?.error?.message).toMatch(
      /elasticsearch output down: POST http:\/\/127\.0\.0\.1:\d+\/_bulk failed: ECONNREFUSED: nothing accepts connections at 127\.0\.0\.1:\d+; check the url of output down/,
    );
    expect(storedIds(es)).toEqual(events.map((e) => e.eventId));
    expect(await store.outboxDepth('up')).toBe(0);
    expect(await store.outboxDepth('down')).toBe(12);

    await down.start();
    try {
      const [, later] = await deliverOnce(store, [up, other], { ...fast, batchSize: 5 });
      expect(later).toMatchObject({ sink: 'down', delivered: 12 });
      expect(down.documents().map((d) => d.id)).toEqual(events.map((e) => e.eventId));
      expect(es.documents()).toHaveLength(12);
    } finally {
      await down.close();
    }
  });
});
