import { inspect } from 'node:util';

import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import {
  deliverOnce,
  splitRequestBudget,
  startSinks,
  type DeliverOptions,
} from '../../src/pipeline/outbox/index.js';
import { createHttpSink } from '../../src/sinks/http.js';
import type { HttpSinkIo } from '../../src/sinks/http-post.js';
import { createSekoiaSink } from '../../src/sinks/sekoia.js';
import { SinkError, type SendResult, type Sink } from '../../src/sinks/types.js';
import { createSplunkHecSink } from '../../src/sinks/splunk-hec.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import type { OutboxEvent } from '../../src/core/outbox-event.js';
import type { PageEvent, StateStore } from '../../src/state/store.js';
import { tempDir } from './helpers.js';
import { makeTls, startReceiver, type Receiver, type Reply, type Tls } from './http-family/receiver.js';

const TOKEN = 'hec-token-5f1c9a7e';
const INTAKE_KEY = 'intake-key-93b2d4aa';
const HEADER_SECRET = 'Bearer header-secret-77e0';
const API_KEY = 'apikey-c0ffee42';
const SECRETS = [TOKEN, INTAKE_KEY, HEADER_SECRET, API_KEY, 'header-secret-77e0'];

// Proxy variables of the machine running the tests must not route loopback requests elsewhere.
const IO: HttpSinkIo = { env: {}, timeoutMs: 3000 };

let counter = 0;

/** An ECS event like the normalizer's: `message` holds the original row, `@timestamp` its time. */
function ecsEvent(): { id: string; json: string; row: string; timestamp: string } {
  counter += 1;
  const id = `e${counter}`;
  const timestamp = `2026-01-02T03:04:${String(counter % 60).padStart(2, '0')}.${String(counter % 1000).padStart(3, '0')}Z`;
  const row = JSON.stringify({
    Id: id,
    MessageId: `<m${counter}@contoso.com>`,
    Subject: `héllo "${counter}"`,
  });
  const json = JSON.stringify({
    message: row,
    '@timestamp': timestamp,
    event: { id },
    email: { subject: `héllo ${counter}` },
  });
  return { id, json, row, timestamp };
}

function outboxEvents(count: number): OutboxEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const e = ecsEvent();
    return {
      seq: i + 1,
      tenant: 'contoso',
      pass: 'fast' as const,
      key: `k${e.id}`,
      eventId: e.id,
      json: e.json,
    };
  });
}

async function commitEvents(store: StateStore, count: number): Promise<string[]> {
  const events: PageEvent[] = [];
  for (let i = 0; i < count; i++) {
    const e = ecsEvent();
    events.push({ key: `k${e.id}`, eventId: e.id, json: e.json });
  }
  await store.commitPage('contoso', {
    pass: 'fast',
    checkpoint: { cursor: counter },
    events,
    rejects: [],
    now: 1_000_000,
    seenTtlMs: 60_000,
  });
  return events.map((e) => e.eventId);
}

const idOf = (json: string): string => (JSON.parse(json) as { event: { id: string } }).event.id;

interface Kind {
  readonly type: 'http' | 'splunk-hec' | 'sekoia';
  readonly path: string;
  readonly ok: Reply;
  /** The secrets this output is configured with (it can only hide its own). */
  readonly secrets: readonly string[];
  make(origin: string, extra?: { caPem?: string; name?: string }, io?: HttpSinkIo): Sink;
  /** The event ids a request carried, in order. */
  ids(body: string): string[];
  /** The config key an authentication error must name. */
  readonly authKey: RegExp;
}

const KINDS: readonly Kind[] = [
  {
    type: 'http',
    path: '/ingest/mail?tag=1',
    ok: { status: 202, body: '' },
    secrets: [HEADER_SECRET, API_KEY],
    make: (origin, extra = {}, io = IO) =>
      createHttpSink(
        {
          type: 'http',
          name: extra.name ?? 'web',
          url: `${origin}/ingest/mail?tag=1`,
          format: 'ndjson',
          headers: { Authorization: HEADER_SECRET, 'X-Api-Key': API_KEY },
          gzip: false,
          ...(extra.caPem === undefined ? {} : { caPem: extra.caPem }),
        },
        io,
      ),
    ids: (body) =>
      body
        .split('\n')
        .filter((l) => l !== '')
        .map(idOf),
    authKey: /headers of output web/,
  },
  {
    type: 'splunk-hec',
    path: '/services/collector/event',
    ok: { status: 200, body: '{"text":"Success","code":0}' },
    secrets: [TOKEN],
    make: (origin, extra = {}, io = IO) =>
      createSplunkHecSink(
        {
          type: 'splunk-hec',
          name: extra.name ?? 'splunk',
          url: origin,
          token: TOKEN,
          index: 'mail',
          ...(extra.caPem === undefined ? {} : { caPem: extra.caPem }),
        },
        io,
      ),
    ids: (body) =>
      body
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { event: { event: { id: string } } }).event.event.id),
    authKey: /token key of output splunk/,
  },
  {
    type: 'sekoia',
    path: '/batch',
    ok: { status: 200, body: '{"event_ids":["x"]}' },
    secrets: [INTAKE_KEY],
    make: (origin, extra = {}, io = IO) =>
      createSekoiaSink(
        {
          type: 'sekoia',
          name: extra.name ?? 'sekoia',
          url: origin,
          intakeKey: INTAKE_KEY,
          payload: 'raw',
          ...(extra.caPem === undefined ? {} : { caPem: extra.caPem }),
        },
        io,
      ),
    ids: (body) =>
      (JSON.parse(body) as { jsons: string[] }).jsons.map((s) => (JSON.parse(s) as { Id: string }).Id),
    authKey: /intakeKey key of output sekoia/,
  },
];

const [HTTP, SPLUNK, SEKOIA] = KINDS as readonly [Kind, Kind, Kind];

/** The element, or a failed test. */
function at<T>(list: readonly T[], index: number): T {
  const value = list[index];
  if (value === undefined) throw new Error(`nothing at ${index}`);
  return value;
}

const signal = new AbortController().signal;
const receivers: Receiver[] = [];
const sinks: Sink[] = [];
let tls: Tls;

beforeAll(() => {
  tls = makeTls();
});

async function receiver(
  reply?: Reply | ((body: string, index: number) => Reply),
  withTls?: Tls,
): Promise<Receiver> {
  const r = await startReceiver({
    ...(withTls === undefined ? {} : { tls: withTls }),
    ...(reply === undefined
      ? {}
      : { handler: typeof reply === 'function' ? (req, i) => reply(req.body, i) : () => reply }),
  });
  receivers.push(r);
  return r;
}

function track<T extends Sink>(sink: T): T {
  sinks.push(sink);
  return sink;
}

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
});

/** No secret anywhere in what a result or an error shows, causes included. */
function expectNoSecret(value: unknown): void {
  const text = inspect(value, { depth: 10 }) + JSON.stringify(value, Object.getOwnPropertyNames(value ?? {}));
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

function errorOf(result: SendResult): Error {
  if (result.status === 'ok') throw new Error('expected a failure, got ok');
  return result.error;
}

describe('request shape', () => {
  it('http: NDJSON with the configured headers, the query kept', async () => {
    const r = await receiver({ status: 200 });
    const sink = track(HTTP.make(r.origin));
    const batch = outboxEvents(3);
    expect(await sink.send(batch, signal)).toEqual({ status: 'ok' });
    expect(r.requests).toHaveLength(1);
    const [req] = r.requests;
    expect(req?.method).toBe('POST');
    expect(req?.path).toBe('/ingest/mail?tag=1');
    expect(req?.headers['content-type']).toBe('application/x-ndjson');
    expect(req?.headers['authorization']).toBe(HEADER_SECRET);
    expect(req?.headers['x-api-key']).toBe(API_KEY);
    expect(req?.headers['content-encoding']).toBeUndefined();
    expect(req?.body).toBe(batch.map((e) => e.json + '\n').join(''));
  });

  it('http: a JSON array, gzipped, content-type overridable', async () => {
    const r = await receiver({ status: 200 });
    const sink = track(
      createHttpSink(
        {
          type: 'http',
          name: 'arr',
          url: `${r.origin}/x`,
          format: 'json-array',
          headers: { 'content-type': 'application/vnd.test+json' },
          gzip: true,
        },
        IO,
      ),
    );
    const batch = outboxEvents(40);
    expect(await sink.send(batch, signal)).toEqual({ status: 'ok' });
    const [req] = r.requests;
    expect(req?.headers['content-encoding']).toBe('gzip');
    expect(req?.headers['content-type']).toBe('application/vnd.test+json');
    expect(req?.body).toBe(`[${batch.map((e) => e.json).join(',')}]`);
    expect(JSON.parse(req?.body ?? '')).toHaveLength(40);
    expect(req?.rawBytes).toBeLessThan(Buffer.byteLength(req?.body ?? ''));
  });

  it("splunk-hec: a 200 that is not HEC's answer (a proxy page) is no proof of storage: retryable", async () => {
    const r = await receiver({ status: 200, body: '<html>maintenance</html>' });
    const sink = track(
      createSplunkHecSink({ type: 'splunk-hec', name: 'splunk', url: r.origin, token: TOKEN }, IO),
    );
    const result = await sink.send(outboxEvents(2), signal);
    expect(result.status).toBe('retryable');
    expect(errorOf(result).message).toMatch(/not HEC's/);
  });

  it('splunk-hec: /services/collector/event, Splunk token, one HEC event per event with time from @timestamp', async () => {
    const r = await receiver(SPLUNK.ok);
    const sink = track(
      createSplunkHecSink(
        {
          type: 'splunk-hec',
          name: 'splunk',
          url: `${r.origin}/base`,
          token: TOKEN,
          index: 'mail',
          sourcetype: 'o365:messagetrace',
          source: 'exotrace',
        },
        IO,
      ),
    );
    const batch = outboxEvents(2);
    expect(await sink.send(batch, signal)).toEqual({ status: 'ok' });
    const [req] = r.requests;
    expect(req?.path).toBe('/base/services/collector/event');
    expect(req?.headers['authorization']).toBe(`Splunk ${TOKEN}`);
    const lines = (req?.body ?? '').split('\n');
    expect(lines).toHaveLength(2);
    lines.forEach((line, i) => {
      const event = at(batch, i);
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const ecs = JSON.parse(event.json) as Record<string, unknown>;
      expect(parsed).toEqual({
        time: Date.parse(String(ecs['@timestamp'])) / 1000,
        event: ecs,
        index: 'mail',
        sourcetype: 'o365:messagetrace',
        source: 'exotrace',
      });
      // Seconds with exactly the milliseconds, as HEC reads them.
      expect(line).toMatch(/^\{"time":\d{10}\.\d{3},"event":/);
    });
  });

  it('sekoia raw: {intake_key, jsons} with each original API row as a string', async () => {
    const r = await receiver(SEKOIA.ok);
    const sink = track(SEKOIA.make(r.origin));
    const batch = outboxEvents(3);
    expect(await sink.send(batch, signal)).toEqual({ status: 'ok' });
    const [req] = r.requests;
    expect(req?.path).toBe('/batch');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['authorization']).toBeUndefined();
    expect(JSON.parse(req?.body ?? '')).toEqual({
      intake_key: INTAKE_KEY,
      jsons: batch.map((e) => (JSON.parse(e.json) as { message: string }).message),
    });
  });

  it('sekoia ecs: each ECS event as a JSON string; an event without message is dead-lettered in raw', async () => {
    const r = await receiver(SEKOIA.ok);
    const ecs = track(
      createSekoiaSink(
        {
          type: 'sekoia',
          name: 's',
          url: r.origin,
          intakeKey: INTAKE_KEY,
          payload: 'ecs',
        },
        IO,
      ),
    );
    const batch = outboxEvents(2);
    expect(await ecs.send(batch, signal)).toEqual({ status: 'ok' });
    expect((JSON.parse(r.requests[0]?.body ?? '') as { jsons: string[] }).jsons).toEqual(
      batch.map((e) => e.json),
    );

    const raw = track(SEKOIA.make(r.origin));
    const odd = { ...at(batch, 0), seq: 9, json: '{"event":{"id":"x"}}' };
    const result = await raw.send([at(batch, 1), odd], signal);
    expect(result).toMatchObject({ status: 'rejected', seqs: [9] });
    expect(errorOf(result).message).toMatch(/no message field/);
    expect(r.requests).toHaveLength(2);
  });

  it('sekoia: a batch larger than the body limit goes in several POSTs, each under it, in order', async () => {
    const r = await receiver(SEKOIA.ok);
    const limit = 1000;
    const sink = track(SEKOIA.make(r.origin, {}, { ...IO, maxBodyBytes: limit }));
    const batch = outboxEvents(30);
    expect(await sink.send(batch, signal)).toEqual({ status: 'ok' });
    expect(r.requests.length).toBeGreaterThanOrEqual(3);
    for (const [i, req] of r.requests.entries()) {
      expect(Buffer.byteLength(req.body)).toBeLessThanOrEqual(limit);
      // Packed: the next part's first event would not have fitted in this one.
      const next = r.requests[i + 1];
      if (next === undefined) continue;
      const firstOfNext = (JSON.parse(next.body) as { jsons: string[] }).jsons[0] ?? '';
      expect(
        Buffer.byteLength(req.body) + 1 + Buffer.byteLength(JSON.stringify(firstOfNext)),
      ).toBeGreaterThan(limit);
    }
    expect(r.requests.flatMap((req) => SEKOIA.ids(req.body))).toEqual(batch.map((e) => e.eventId));
  });

  it('sekoia: a later part failing answers partial, and only the parts not accepted are sent again', async () => {
    const r = await receiver((_body, i) => (i === 1 ? { status: 503, body: 'busy' } : SEKOIA.ok));
    const sink = track(SEKOIA.make(r.origin, {}, { ...IO, maxBodyBytes: 2000 }));
    const batch = outboxEvents(30);
    const result = await sink.send(batch, signal);
    expect(result.status).toBe('partial');
    if (result.status !== 'partial') return;
    const firstPart = SEKOIA.ids(at(r.requests, 0).body);
    expect(result.rejected).toEqual([]);
    expect(result.retry).toEqual(batch.slice(firstPart.length).map((e) => e.seq));
    // The whole batch sent again (the delivery loop gave up and re-read it): the accepted part is skipped.
    expect(await sink.send(batch, signal)).toEqual({ status: 'ok' });
    const delivered = r.requests.filter((_, i) => i !== 1).flatMap((req) => SEKOIA.ids(req.body));
    expect(delivered).toEqual(batch.map((e) => e.eventId));
  });

  it('refuses plain http to a host that is not loopback, without printing secrets', () => {
    expect(() => HTTP.make('http://collector.example.com')).toThrow(SinkError);
    expect(() => SPLUNK.make('http://10.0.0.1:8088')).toThrow(/use https/);
    try {
      SEKOIA.make('http://intake.example.com');
    } catch (error) {
      expectNoSecret(error);
    }
  });
});

describe.each(KINDS)('$type: answers and failures', (kind) => {
  const batch = outboxEvents(3);
  const seqs = batch.map((e) => e.seq);

  it('2xx → ok, at the output path', async () => {
    const r = await receiver(kind.ok);
    expect(await track(kind.make(r.origin)).send(batch, signal)).toEqual({ status: 'ok' });
    expect(r.requests[0]?.path).toBe(kind.path);
    expect(kind.ids(r.requests[0]?.body ?? '')).toEqual(batch.map((e) => e.eventId));
  });

  it('429 with Retry-After seconds → retryable with retryAfterMs', async () => {
    const r = await receiver({ status: 429, headers: { 'retry-after': '7' }, body: 'slow down' });
    const result = await track(kind.make(r.origin)).send(batch, signal);
    expect(result).toMatchObject({ status: 'retryable', retryAfterMs: 7000 });
    expect(errorOf(result).message).toMatch(/429/);
  });

  it('503 with a Retry-After HTTP date → retryable, the delay from our clock', async () => {
    const now = Date.parse('2026-03-01T10:00:00Z');
    const r = await receiver({ status: 503, headers: { 'retry-after': 'Sun, 01 Mar 2026 10:00:30 GMT' } });
    const result = await track(kind.make(r.origin, {}, { ...IO, now: () => now })).send(batch, signal);
    expect(result).toMatchObject({ status: 'retryable', retryAfterMs: 30_000 });
  });

  it('400 → rejected, every seq, with the reason truncated', async () => {
    const r = await receiver({ status: 400, body: `bad things ${'x'.repeat(2000)}` });
    const result = await track(kind.make(r.origin)).send(batch, signal);
    expect(result).toMatchObject({ status: 'rejected', seqs });
    const message = errorOf(result).message;
    expect(message).toMatch(/400: bad things x+…$/);
    expect(message.length).toBeLessThan(500);
  });

  it('a redirect, a wrong path or a body limit on the way → retryable with what to check, never followed', async () => {
    for (const [status, hint] of [
      [302, /redirects are not followed/],
      [404, /check the url/],
      [413, /over a limit on the way/],
    ] as const) {
      const r = await receiver({
        status,
        headers: status === 302 ? { location: 'https://elsewhere.example/' } : {},
      });
      const result = await track(kind.make(r.origin)).send(batch, signal);
      expect(result.status, String(status)).toBe('retryable');
      expect(errorOf(result).message).toMatch(hint);
      // Not followed: the one request went to our receiver only.
      expect(r.requests).toHaveLength(1);
    }
  });

  it('401 → retryable (not the events’ fault), naming the key to fix', async () => {
    const r = await receiver({ status: 401, body: '{"text":"Invalid authorization","code":3}' });
    const result = await track(kind.make(r.origin)).send(batch, signal);
    expect(result.status).toBe('retryable');
    expect(errorOf(result).message).toMatch(kind.authKey);
  });

  it('connection refused → retryable', async () => {
    const r = await receiver(kind.ok);
    await r.stop();
    const result = await track(kind.make(r.origin)).send(batch, signal);
    expect(result.status).toBe('retryable');
    expect(errorOf(result).message).toMatch(/ECONNREFUSED/);
    // What to check, as doctor and the source say it for their hosts.
    expect(errorOf(result).message).toMatch(
      /nothing accepts connections at 127\.0\.0\.1:\d+; check the url of output /,
    );
  });

  it('no answer → retryable after the timeout', async () => {
    const r = await receiver({ status: 200, hang: true });
    const started = Date.now();
    const result = await track(kind.make(r.origin, {}, { ...IO, timeoutMs: 300 })).send(batch, signal);
    expect(result.status).toBe('retryable');
    expect(errorOf(result).message).toMatch(/timed out after 300 ms/);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('https: trusted with caFile added to the system roots; untrusted without it (retryable, names caFile)', async () => {
    const r = await receiver(kind.ok, tls);
    expect(await track(kind.make(r.origin, { caPem: tls.caPem })).send(batch, signal)).toEqual({
      status: 'ok',
    });
    const untrusted = await track(kind.make(r.origin)).send(batch, signal);
    expect(untrusted.status).toBe('retryable');
    expect(errorOf(untrusted).message).toMatch(/not trusted.*caFile/);
    expect(r.requests).toHaveLength(1);
  });

  it('secrets never appear in errors, even when the server echoes them', async () => {
    const echo = `denied for ${kind.secrets.join(' and ')}, authorization: ${kind.secrets[0] ?? ''}`;
    const results: SendResult[] = [];
    for (const status of [400, 401, 403, 429, 500]) {
      const r = await receiver({ status, body: echo });
      results.push(await track(kind.make(r.origin)).send(batch, signal));
    }
    const down = await receiver(kind.ok);
    await down.stop();
    results.push(await track(kind.make(down.origin)).send(batch, signal));
    const tlsDown = await receiver(kind.ok, tls);
    results.push(await track(kind.make(tlsDown.origin)).send(batch, signal));
    for (const result of results) {
      expect(result.status).not.toBe('ok');
      expectNoSecret(result);
      expectNoSecret(errorOf(result));
      expectNoSecret(errorOf(result).cause);
    }
    // Proves the check can fail: the echo itself is caught.
    expect(() => {
      expectNoSecret(new Error(echo));
    }).toThrow();
  });
});

describe('healthcheck', () => {
  it('splunk-hec: GET /services/collector/health with the token; failed when unhealthy, without the token', async () => {
    let healthy = true;
    const r = await receiver(() =>
      healthy
        ? { status: 200, body: '{"text":"HEC is healthy","code":17}' }
        : { status: 503, body: `{"text":"HEC is unhealthy, queues are full ${TOKEN}","code":18}` },
    );
    const sink = track(SPLUNK.make(r.origin));
    expect(await sink.healthcheck(signal)).toEqual({ status: 'ok' });
    expect(r.requests[0]).toMatchObject({ method: 'GET', path: '/services/collector/health' });
    expect(r.requests[0]?.headers['authorization']).toBe(`Splunk ${TOKEN}`);
    healthy = false;
    const failed = await sink.healthcheck(signal);
    expect(failed.status).toBe('failed');
    if (failed.status === 'failed') expect(failed.error.message).toMatch(/503.*queues are full/);
    expectNoSecret(failed);
  });

  it('splunk-hec: the token is tried with an event request without a body: refused → unauthorized, key token', async () => {
    let tokenAnswer: Reply = { status: 403, body: '{"text":"Invalid token","code":4}' };
    const r = await startReceiver({
      handler: (request) =>
        request.path === '/services/collector/health'
          ? { status: 200, body: '{"text":"HEC is healthy","code":17}' }
          : tokenAnswer,
    });
    receivers.push(r);
    const sink = track(SPLUNK.make(r.origin));
    const refused = await sink.healthcheck(signal);
    expect(refused.status).toBe('failed');
    if (refused.status === 'failed') {
      expect(refused.finding).toMatchObject({ code: 'unauthorized', key: 'token' });
      expect(refused.error.message).toMatch(/HEC refused the token \(403: Invalid token\)/);
    }
    expectNoSecret(refused);
    const probe = at(r.requests, 1);
    expect(probe).toMatchObject({ method: 'POST', path: '/services/collector/event', body: '' });
    expect(probe.headers['authorization']).toBe(`Splunk ${TOKEN}`);
    // A good token: HEC says "No data" to the empty request.
    tokenAnswer = { status: 400, body: '{"text":"No data","code":5}' };
    expect(await sink.healthcheck(signal)).toEqual({ status: 'ok' });
  });

  it.each([HTTP, SEKOIA])('$type: reachability only (any HTTP answer), failed when down', async (kind) => {
    const r = await receiver({ status: 405 });
    const sink = track(kind.make(r.origin));
    expect(await sink.healthcheck(signal)).toEqual({ status: 'ok' });
    expect(r.requests.every((req) => req.method !== 'POST')).toBe(true);
    await r.stop();
    const failed = await sink.healthcheck(signal);
    expect(failed.status).toBe('failed');
    expectNoSecret(failed);
  });
  it('http: the check sends the configured headers; 401/403 → unauthorized, key headers; 404 still reachable', async () => {
    let answer: Reply = { status: 401 };
    const r = await receiver(() => answer);
    const sink = track(HTTP.make(r.origin));
    const refused = await sink.healthcheck(signal);
    expect(refused.status).toBe('failed');
    if (refused.status === 'failed') {
      expect(refused.finding).toMatchObject({ code: 'unauthorized', key: 'headers' });
      expect(refused.error.message).toMatch(/refused the credentials \(401\)/);
    }
    expectNoSecret(refused);
    expect(at(r.requests, 0).method).toBe('HEAD');
    expect(at(r.requests, 0).headers['authorization']).toBe(HEADER_SECRET);
    answer = { status: 403 };
    expect(await sink.healthcheck(signal)).toMatchObject({
      status: 'failed',
      finding: { code: 'unauthorized' },
    });
    answer = { status: 404 };
    expect(await sink.healthcheck(signal)).toEqual({ status: 'ok' });
  });
});

describe('delivery through the outbox (SQLite)', () => {
  let store: StateStore;
  let cleanup: () => void;
  const options: DeliverOptions = { batchSize: 6, retry: { maxAttempts: 2, backoffMs: 5, maxDelayMs: 50 } };

  // A store per test: a sink registered from the beginning would see earlier tests' events.
  beforeEach(() => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    store = openSqliteStore(`${temp.dir}/state`);
  });
  afterEach(async () => {
    await store.close();
    cleanup();
  });

  /** Calls deliverOnce like the run loop does until the sinks' outboxes are empty. */
  async function deliverUntilEmpty(targets: readonly Sink[], deadlineMs: number): Promise<number> {
    const until = Date.now() + deadlineMs;
    let calls = 0;
    for (;;) {
      calls += 1;
      await deliverOnce(store, targets, options);
      const depths = await Promise.all(targets.map((s) => store.outboxDepth(s.name)));
      if (depths.every((d) => d === 0)) return calls;
      if (Date.now() > until)
        throw new Error(`outbox not empty after ${deadlineMs} ms: ${depths.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it.each(KINDS)(
    '$type: the server down for a while then back on the same port → every event exactly once',
    async (kind) => {
      const r = await receiver(kind.ok);
      const sink = track(kind.make(r.origin, { name: `outage-${kind.type}` }, { ...IO, maxBodyBytes: 3000 }));
      await startSinks(store, [sink]);
      const before = await commitEvents(store, 8);
      await deliverUntilEmpty([sink], 2000);

      await r.stop();
      const during = await commitEvents(store, 17);
      const failed = await deliverOnce(store, [sink], options);
      expect(failed[0]?.error?.message).toMatch(/ECONNREFUSED/);
      expect(failed[0]?.delivered).toBe(0);
      expectNoSecret(failed);
      // Back after about a second, while the loop keeps calling.
      const back = setTimeout(() => void r.start(), 1000);
      const calls = await deliverUntilEmpty([sink], 8000);
      clearTimeout(back);
      expect(calls).toBeGreaterThan(1);

      const received = r.requests.filter((req) => req.method === 'POST').flatMap((req) => kind.ids(req.body));
      expect(received).toEqual([...before, ...during]);
      expect(new Set(received).size).toBe(received.length);
      expect((await store.sinkState(sink.name))?.ackedSeq).toBe(await store.outboxHead());
    },
    15_000,
  );

  it('two outputs, one down: the other keeps delivering and its cursor advances', async () => {
    const up = await receiver(HTTP.ok);
    const down = await receiver(SPLUNK.ok);
    await down.stop();
    const good = track(HTTP.make(up.origin, { name: 'two-up' }));
    const bad = track(SPLUNK.make(down.origin, { name: 'two-down' }));
    await startSinks(store, [good, bad]);
    const ids = await commitEvents(store, 14);
    const [g, b] = await deliverOnce(store, [good, bad], options);
    expect(g).toMatchObject({ sink: 'two-up', delivered: 14 });
    expect(g?.error).toBeUndefined();
    expect(b).toMatchObject({ sink: 'two-down', delivered: 0, retried: 1 });
    expect(b?.error?.message).toMatch(/ECONNREFUSED/);
    const head = await store.outboxHead();
    expect((await store.sinkState('two-up'))?.ackedSeq).toBe(head);
    expect(await store.outboxDepth('two-down')).toBe(14);
    expect(up.requests.flatMap((req) => HTTP.ids(req.body))).toEqual(ids);

    await down.start();
    await deliverUntilEmpty([good, bad], 3000);
    expect(down.requests.flatMap((req) => SPLUNK.ids(req.body))).toEqual(ids);
    expect(up.requests).toHaveLength(3);
  });

  it.each(KINDS)(
    '$type: a batch refused as a whole with 400 is split until only the events at fault are dead-lettered',
    async (kind) => {
      let poison: readonly string[] = [];
      const r = await receiver((body) =>
        poison.some((id) => kind.ids(body).includes(id))
          ? { status: 400, body: '{"text":"Invalid data format","code":6}' }
          : kind.ok,
      );
      const sink = track(kind.make(r.origin, { name: `split-${kind.type}` }));
      await startSinks(store, [sink]);
      const ids = await commitEvents(store, 6);
      poison = [ids[1] ?? '', ids[4] ?? ''];
      const said: { sink: string; count: number; reason: string }[] = [];
      const [result] = await deliverOnce(store, [sink], {
        ...options,
        onDeadLetters: (batch) => said.push(batch),
      });
      expect(result, result?.error?.message).toMatchObject({ delivered: 4, deadLettered: 2 });
      expect(result?.error).toBeUndefined();
      const dead = await store.deadLetters(sink.name, 100);
      expect(dead.map((d) => d.eventId)).toEqual(poison);
      expect(dead[0]?.reason).toMatch(/400/);
      expect(said).toEqual([{ sink: sink.name, count: 2, reason: dead[0]?.reason }]);
      // The others were written, each once.
      const written = r.requests.filter((req) => kind.ids(req.body).every((id) => !poison.includes(id)));
      const received = written.flatMap((req) => kind.ids(req.body));
      expect([...received].sort()).toEqual(ids.filter((id) => !poison.includes(id)).sort());
      expect((await store.sinkState(sink.name))?.ackedSeq).toBe(await store.outboxHead());
    },
  );

  it('http: a batch refused with 400 lands in the dead letters, and is delivered once replayed after the fix', async () => {
    let broken = true;
    const r = await receiver((body) =>
      broken && body.includes('"e') && body.split('\n').length > 1
        ? { status: 400, body: 'schema mismatch' }
        : { status: 200 },
    );
    const sink = track(HTTP.make(r.origin, { name: 'dl-http' }));
    await startSinks(store, [sink]);
    const ids = await commitEvents(store, 5);
    const [result] = await deliverOnce(store, [sink], options);
    expect(result).toMatchObject({ delivered: 0, deadLettered: 5 });
    const dead = await store.deadLetters('dl-http', 100);
    expect(dead.map((d) => d.eventId)).toEqual(ids);
    expect(dead[0]?.reason).toMatch(/refused the batch with 400: schema mismatch/);
    expectNoSecret(dead);

    broken = false;
    expect(await store.retryDeadLetters('dl-http')).toBe(5);
    await deliverUntilEmpty([sink], 2000);
    expect(
      r.requests
        .at(-1)
        ?.body.split('\n')
        .filter((l) => l !== '')
        .map(idOf),
    ).toEqual(ids);
    expect(await store.deadLetters('dl-http', 100)).toEqual([]);
  });

  it('http: a batch refused as a whole at every size is not split down to single events: the requests stay within the split budget', async () => {
    const r = await receiver({ status: 400, body: 'unsupported media type for this endpoint' });
    const sink = track(HTTP.make(r.origin, { name: 'all-bad' }));
    await startSinks(store, [sink]);
    const events = 1000;
    const ids = await commitEvents(store, events);
    const said: { count: number; reason: string }[] = [];
    const [result] = await deliverOnce(store, [sink], {
      ...options,
      batchSize: events,
      onDeadLetters: (batch) => said.push(batch),
    });
    expect(result, result?.error?.message).toMatchObject({ delivered: 0, deadLettered: events });
    // The first request, the search's budget, and at most one send per halving past it (splitting
    // down to single events took 2n − 1 = 1999 requests).
    expect(r.requests.length).toBeGreaterThan(1);
    expect(r.requests.length).toBeLessThanOrEqual(
      1 + splitRequestBudget(events) + Math.ceil(Math.log2(events)),
    );
    const dead = await store.deadLetters('all-bad', events);
    expect(dead.map((d) => d.eventId).sort()).toEqual([...ids].sort());
    expect(dead[0]?.reason).toMatch(/refused the batch with 400: unsupported media type/);
    // The first ones were found one by one; the rest, still suspect when the budget was spent, say so.
    expect(dead.filter((d) => /not split further after \d+ requests/.test(d.reason)).length).toBeGreaterThan(
      events / 2,
    );
    expect(said).toHaveLength(1);
    expect(said[0]?.count).toBe(events);
    expect((await store.sinkState('all-bad'))?.ackedSeq).toBe(await store.outboxHead());
  });

  it('splunk-hec: the event HEC names invalid is dead-lettered, the others delivered; replayed after the fix', async () => {
    let poison: string | undefined;
    const r = await receiver((body) => {
      const lines = body.split('\n');
      const bad = lines.findIndex((l) => poison !== undefined && l.includes(`"id":"${poison}"`));
      return bad >= 0
        ? { status: 400, body: `{"text":"Invalid data format","code":6,"invalid-event-number":${bad}}` }
        : SPLUNK.ok;
    });
    const sink = track(SPLUNK.make(r.origin, { name: 'dl-splunk' }));
    await startSinks(store, [sink]);
    const ids = await commitEvents(store, 4);
    poison = ids[2];
    const [result] = await deliverOnce(store, [sink], options);
    expect(result).toMatchObject({ delivered: 3, deadLettered: 1 });
    const dead = await store.deadLetters('dl-splunk', 100);
    expect(dead.map((d) => d.eventId)).toEqual([poison]);
    expect(dead[0]?.reason).toMatch(/HEC refused event 2 of the batch \(400 code 6\)/);
    const accepted = (): string[] =>
      r.requests
        .filter((req) => !req.body.includes(`"id":"${poison}"`) || poison === undefined)
        .flatMap((req) => SPLUNK.ids(req.body));
    expect(accepted()).toEqual(ids.filter((id) => id !== poison));

    poison = undefined;
    expect(await store.retryDeadLetters('dl-splunk')).toBe(1);
    await deliverUntilEmpty([sink], 2000);
    expect(SPLUNK.ids(r.requests.at(-1)?.body ?? '')).toEqual([ids[2]]);
  });

  it('sekoia: a split batch whose later part keeps failing is not duplicated when the loop gives up and comes back', async () => {
    let failing = true;
    const accepted: string[] = [];
    const r = await receiver((body, i) => {
      if (failing && i > 0) return { status: 502, body: 'bad gateway' };
      accepted.push(...SEKOIA.ids(body));
      return SEKOIA.ok;
    });
    const sink = track(SEKOIA.make(r.origin, { name: 'split-sekoia' }, { ...IO, maxBodyBytes: 300 }));
    await startSinks(store, [sink]);
    const ids = await commitEvents(store, 6);
    const [first] = await deliverOnce(store, [sink], options);
    expect(first?.error?.message).toMatch(/502/);
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.length).toBeLessThan(6);
    expect(await store.outboxDepth('split-sekoia')).toBe(6);
    failing = false;
    await deliverUntilEmpty([sink], 2000);
    // Every event once, in order: the part accepted before the failures was not sent again.
    expect(accepted).toEqual(ids);
  });
});
