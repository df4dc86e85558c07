import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { deliverOnce, startSinks } from '../../src/pipeline/outbox/index.js';
import { createMemorySink } from '../../src/sinks/memory.js';
import { createSink } from '../../src/sinks/registry.js';
import { type Sink } from '../../src/sinks/types.js';
import type { StateStore } from '../../src/state/store.js';
import { createMemoryStore } from '../../src/state/memory.js';
import { STORE_KINDS, addEvents, noSleep, tempDir } from './helpers.js';

const opts = { sleep: noSleep, retry: { maxAttempts: 3, backoffMs: 1 } };

describe.each(STORE_KINDS)('deliverOnce with the $kind store', (kind) => {
  let cleanup: () => void;
  let store: StateStore;

  beforeEach(() => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    store = kind.open(temp.dir);
  });
  afterEach(async () => {
    await store.close();
    cleanup();
  });

  it('a sink that keeps failing blocks neither the other sink nor itself from reporting', async () => {
    const lines = await addEvents(store, 12);
    const good = createMemorySink('good');
    const bad = createMemorySink('bad', { plan: [{ status: 'retryable', times: Infinity }] });
    await startSinks(store, [good, bad]);
    const results = await deliverOnce(store, [good, bad], { ...opts, batchSize: 5 });

    expect(good.events().map((e) => e.json)).toEqual(lines);
    expect(good.batches.map((b) => b.length)).toEqual([5, 5, 2]);
    expect(results[0]).toMatchObject({ sink: 'good', delivered: 12, retried: 0, deadLettered: 0 });
    expect(results[0]?.error).toBeUndefined();
    expect(results[1]).toMatchObject({ sink: 'bad', delivered: 0, retried: 2 });
    expect(results[1]?.error?.message).toMatch(/scripted retryable/);
    expect(bad.sends).toBe(3);
    expect((await store.sinkState('good'))?.ackedSeq).toBe(await store.outboxHead());
    expect((await store.sinkState('bad'))?.ackedSeq).toBe(0);
    expect(await store.outboxDepth('bad')).toBe(12);
    // The lagging sink holds the events back from pruning.
    expect(await store.pruneOutbox()).toBe(0);
  });

  it('retries with backoff, then delivers once ("retryable twice, then ok")', async () => {
    const lines = await addEvents(store, 4);
    const sink = createMemorySink('m', { plan: [{ status: 'retryable', times: 2 }] });
    const waits: number[] = [];
    await startSinks(store, [sink]);
    const [result] = await deliverOnce(store, [sink], {
      ...opts,
      retry: { maxAttempts: 5, backoffMs: 100 },
      random: () => 0.999,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    expect(result).toMatchObject({ delivered: 4, retried: 2, deadLettered: 0 });
    expect(waits).toEqual([99, 199]);
    expect(sink.events().map((e) => e.json)).toEqual(lines);
    // Emptied everywhere: pruned.
    expect(await store.outboxDepth('m')).toBe(0);
  });

  it('honours retryAfterMs, and leaves a delay longer than maxDelayMs for the next call', async () => {
    await addEvents(store, 2);
    const sink = createMemorySink('m', { plan: [{ status: 'retryable', retryAfterMs: 60_000 }] });
    await startSinks(store, [sink]);
    const [first] = await deliverOnce(store, [sink], { ...opts, retry: { maxDelayMs: 1000 } });
    expect(first).toMatchObject({ delivered: 0, retried: 0 });
    expect(first?.error).toBeDefined();
    const [second] = await deliverOnce(store, [sink], opts);
    expect(second).toMatchObject({ delivered: 2 });
  });

  it('dead-letters refused items and acknowledges the batch', async () => {
    await addEvents(store, 6);
    const head = await store.outboxHead();
    const refused = [head - 4, head - 1];
    const sink = createMemorySink('m', { rejectSeqs: refused });
    await startSinks(store, [sink]);
    const [result] = await deliverOnce(store, [sink], opts);
    expect(result).toMatchObject({ delivered: 4, deadLettered: 2 });
    expect(sink.events().map((e) => e.seq)).not.toContain(refused[0]);
    const dead = await store.deadLetters('m', 10);
    expect(dead.map((d) => d.seq)).toEqual(refused);
    expect(dead[0]?.reason).toMatch(/refused/);
    expect((await store.sinkState('m'))?.ackedSeq).toBe(head);
  });

  it('dead-letters a whole rejected batch', async () => {
    await addEvents(store, 3);
    const sink = createMemorySink('m', { plan: [{ status: 'rejected' }] });
    await startSinks(store, [sink]);
    const [result] = await deliverOnce(store, [sink], opts);
    expect(result).toMatchObject({ delivered: 0, deadLettered: 3 });
    expect(await store.deadLetters('m', 10)).toHaveLength(3);
  });

  it('a partial send dead-letters the refused, resends only the rest, then acknowledges', async () => {
    await addEvents(store, 4);
    const head = await store.outboxHead();
    const seqs = [head - 3, head - 2, head - 1, head];
    const sent: number[][] = [];
    const sink: Sink = {
      ...createMemorySink('p'),
      name: 'p',
      send(batch) {
        sent.push(batch.map((e) => e.seq));
        if (sent.length > 1) return Promise.resolve({ status: 'ok' });
        return Promise.resolve({
          status: 'partial',
          error: new Error('mapping conflict'),
          rejected: [seqs[0] ?? 0],
          retry: [seqs[2] ?? 0],
        });
      },
    };
    await startSinks(store, [sink]);
    const [result] = await deliverOnce(store, [sink], opts);
    expect(sent).toEqual([seqs, [seqs[2]]]);
    expect(result).toMatchObject({ delivered: 3, deadLettered: 1, retried: 1 });
    expect((await store.deadLetters('p', 10)).map((d) => d.reason)).toEqual(['mapping conflict']);
    expect((await store.sinkState('p'))?.ackedSeq).toBe(head);
  });

  it('an output refusing one event per answer gets through a batch with more refusals than attempts', async () => {
    await addEvents(store, 8);
    const head = await store.outboxHead();
    const bad = new Set([head - 7, head - 6, head - 5, head - 4, head - 3, head - 2]);
    let sends = 0;
    const sink: Sink = {
      ...createMemorySink('hec'),
      name: 'hec',
      send(batch) {
        sends++;
        // Like Splunk HEC: the first bad event of the batch is named, the rest must be sent again.
        const first = batch.find((e) => bad.has(e.seq));
        if (first === undefined) return Promise.resolve({ status: 'ok' });
        return Promise.resolve({
          status: 'partial',
          error: new Error(`invalid event ${first.seq}`),
          rejected: [first.seq],
          retry: batch.filter((e) => e.seq !== first.seq).map((e) => e.seq),
        });
      },
    };
    await startSinks(store, [sink]);
    const [result] = await deliverOnce(store, [sink], { ...opts, retry: { maxAttempts: 3, backoffMs: 1 } });
    expect(result?.error).toBeUndefined();
    expect(result).toMatchObject({ delivered: 2, deadLettered: 6 });
    expect(sends).toBe(7);
    expect((await store.sinkState('hec'))?.ackedSeq).toBe(head);
  });

  it('a Retry-After beyond maxDelayMs is handed back to the caller, not shortened', async () => {
    await addEvents(store, 2);
    const sink = createMemorySink('slow', { plan: [{ status: 'retryable', retryAfterMs: 120_000 }] });
    await startSinks(store, [sink]);
    const [result] = await deliverOnce(store, [sink], opts);
    expect(result?.error).toBeDefined();
    expect(result?.retryAfterMs).toBe(120_000);
    expect(sink.sends).toBe(1);
  });

  it('a sink that throws (a bug) is reported, the others still deliver', async () => {
    await addEvents(store, 3);
    const buggy = createMemorySink('buggy', { plan: [{ status: 'throw' }] });
    const good = createMemorySink('good');
    await startSinks(store, [buggy, good]);
    const [b, g] = await deliverOnce(store, [buggy, good], opts);
    expect(b?.error?.message).toMatch(/scripted bug/);
    expect(g).toMatchObject({ delivered: 3 });
  });

  it('stops on abort and reports it', async () => {
    await addEvents(store, 3);
    const sink = createMemorySink('m');
    await startSinks(store, [sink]);
    const controller = new AbortController();
    controller.abort(new Error('stopping'));
    const [result] = await deliverOnce(store, [sink], { ...opts, signal: controller.signal });
    expect(result?.error?.message).toBe('stopping');
    expect(sink.sends).toBe(0);
  });

  it('startSinks registers new sinks from the beginning and hands each its acknowledged meta', async () => {
    await addEvents(store, 2);
    const sink = createMemorySink('m');
    await startSinks(store, [sink]);
    expect(sink.starts).toEqual([undefined]);
    expect(await store.outboxDepth('m')).toBe(2);
    await store.ack('m', await store.outboxHead(), 'where-i-was');
    await startSinks(store, [sink]);
    expect(sink.starts).toEqual([undefined, 'where-i-was']);
    await expect(startSinks(store, [sink, createMemorySink('m')])).rejects.toThrow(/share a name/);
  });
});

describe('createSink', () => {
  it('builds every output type from its configuration', async () => {
    const file = createSink({ type: 'file', name: 'f', path: '/tmp/x.ndjson' });
    expect(file.name).toBe('f');
    expect(createSink({ type: 'stdout', name: 's' }).name).toBe('s');
    const network = [
      createSink({
        type: 'elasticsearch',
        name: 'es',
        url: 'http://127.0.0.1:9200',
        index: 'logs-x-default',
      }),
      createSink({
        type: 'http',
        name: 'h',
        url: 'http://127.0.0.1:8080/in',
        format: 'ndjson',
        headers: {},
        gzip: false,
      }),
      createSink({ type: 'splunk-hec', name: 'hec', url: 'http://127.0.0.1:8088', token: 't' }),
      createSink({
        type: 'sekoia',
        name: 'sek',
        url: 'http://127.0.0.1:8081',
        intakeKey: 'k',
        payload: 'raw',
      }),
    ];
    network.push(
      createSink({
        type: 'syslog',
        name: 'sys',
        host: '127.0.0.1',
        port: 5514,
        protocol: 'tcp',
        appName: 'exotrace',
      }),
    );
    expect(network.map((sink) => sink.name)).toEqual(['es', 'h', 'hec', 'sek', 'sys']);
    for (const sink of network) await sink.close();
  });
});

describe('memory sink', () => {
  it('records, scripts and resets', async () => {
    const sink = createMemorySink('m', { plan: [{ status: 'retryable' }, { status: 'ok' }] });
    const signal = new AbortController().signal;
    const batch = [{ seq: 1, tenant: 't', pass: 'fast' as const, key: 'k', eventId: 'e', json: '{}' }];
    expect((await sink.send(batch, signal)).status).toBe('retryable');
    expect((await sink.send(batch, signal)).status).toBe('ok');
    expect(sink.events()).toEqual(batch);
    sink.setPlan([{ status: 'rejected', seqs: [1] }]);
    expect(await sink.send(batch, signal)).toMatchObject({ status: 'rejected', seqs: [1] });
    sink.reset();
    expect(sink.events()).toEqual([]);
    expect(sink.sends).toBe(0);
    await sink.close();
    expect(sink.closed).toBe(true);
  });
});

describe('startSinks and outputs removed from the configuration', () => {
  it('forgets one with nothing kept, keeps one with dead letters, and pruning goes on', async () => {
    const store = createMemoryStore();
    await store.registerSinks(['file', 'old', 'refused'], 'beginning');
    await store.commitPage('t', {
      pass: 'fast',
      checkpoint: { cursor: 1 },
      events: [1, 2].map((n) => ({ key: `k${n}`, eventId: `id${n}`, json: '{}' })),
      rejects: [],
      now: 1,
      seenTtlMs: 1000,
    });
    await store.deadLetter('refused', 1, 'mapping');
    await store.ack('refused', 2);
    const file = createMemorySink('file');
    expect(await startSinks(store, [file])).toEqual({ forgotten: ['old'], kept: ['refused'] });
    expect((await store.listSinks()).map((s) => s.name)).toEqual(['file', 'refused']);
    await deliverOnce(store, [file]);
    // Pruned up to what every remaining output acknowledged: the removed 'old' no longer holds it back.
    expect(await store.outboxDepth('file')).toBe(0);
    expect(await store.pruneOutbox()).toBe(0);
    expect(await store.readOutbox('refused', { afterSeq: 0, limit: 10, maxBytes: 1e6 })).toEqual([]);
  });
});
