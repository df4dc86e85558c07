import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { generateTlsMaterial } from '../../src/emulator/tls.js';
import { deliverOnce, startSinks } from '../../src/pipeline/outbox/index.js';
import { errorCodeOf } from '../../src/observe/metrics.js';
import { createKafkaSink, type KafkaOutputConfig, type KafkaSinkIo } from '../../src/sinks/kafka.js';
import type { Sink } from '../../src/sinks/types.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import type { OutboxEvent } from '../../src/core/outbox-event.js';
import type { PageEvent, StateStore } from '../../src/state/store.js';
import { crc32c, KafkaErrorCode, startKafkaBroker, type KafkaBroker } from './kafka-broker.js';
import { tempDir } from './helpers.js';

const run = promisify(execFile);

/** kcat (Debian's, on librdkafka) is the independent client; .ci/run installs it. */
const KCAT = spawnSync('kcat', ['-V'], { encoding: 'utf8' }).status === 0;
const withKcat = KCAT ? it : it.skip;
if (!KCAT)
  console.warn('kcat is not installed (apt-get install -y kcat): the kcat read-back tests are skipped');

/** Everything kcat reads from the topic, from the beginning to the end, as `key\tvalue` lines. */
async function kcatRead(broker: KafkaBroker, topic: string): Promise<string[]> {
  const { stdout } = await run(
    'kcat',
    ['-C', '-b', broker.address, '-t', topic, '-e', '-q', '-f', '%k\t%s\n'],
    {
      timeout: 20_000,
      encoding: 'utf8',
    },
  );
  return stdout.split('\n').filter((line) => line !== '');
}

let counter = 0;

function pageEvents(count: number, pad = 0): PageEvent[] {
  return Array.from({ length: count }, () => {
    counter += 1;
    const id = `ev-${counter}-${'x'.repeat(8)}`;
    // Non-ASCII text and a tab-free JSON, so a `key\tvalue` line is unambiguous.
    const json = JSON.stringify({
      event: { id },
      email: { subject: `héllo ${counter}` },
      pad: 'p'.repeat(pad),
    });
    return { key: `k${counter}`, eventId: id, json };
  });
}

function outboxEvents(events: readonly PageEvent[], firstSeq = 1): OutboxEvent[] {
  return events.map((e, i) => ({ ...e, seq: firstSeq + i, tenant: 'contoso', pass: 'fast' as const }));
}

const signal = (): AbortSignal => new AbortController().signal;

function config(broker: KafkaBroker, extra: Partial<KafkaOutputConfig> = {}): KafkaOutputConfig {
  return {
    type: 'kafka',
    name: 'kafka',
    brokers: [broker.address],
    topic: 'message-trace',
    tls: false,
    ...extra,
  };
}

describe('CRC32C (Castagnoli)', () => {
  it('matches the published check values', () => {
    expect(crc32c(Buffer.from('123456789', 'ascii'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    // RFC 3720 (iSCSI) B.4 vectors.
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)))).toBe(0x113fdb5c);
  });

  it('covers a byte range (a record batch is checked from its attributes on)', () => {
    const data = Buffer.from('xx123456789yy', 'ascii');
    expect(crc32c(data, 2, 11)).toBe(0xe3069283);
  });
});

describe('kafka output against the broker subset', () => {
  let broker: KafkaBroker;
  const open: Sink[] = [];
  const track = (output: KafkaOutputConfig, io: KafkaSinkIo = {}): Sink => {
    const sink = createKafkaSink(output, { retryDelayMs: 50, timeoutMs: 5000, ...io });
    open.push(sink);
    return sink;
  };

  beforeEach(async () => {
    broker = await startKafkaBroker();
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    await broker.stop();
  });

  it('produces each event with key = event.id and value = the event JSON, idempotently with acks all', async () => {
    const sink = track(config(broker));
    const events = outboxEvents(pageEvents(25));
    expect(await sink.send(events, signal())).toEqual({ status: 'ok' });
    expect(broker.records('message-trace').map((r) => [r.key, r.value])).toEqual(
      events.map((e) => [e.eventId, e.json]),
    );
    expect(broker.records('message-trace').map((r) => r.offset)).toEqual(events.map((_, i) => BigInt(i)));
    // The idempotent producer asked for a producer id; nothing was refused (CRC32C, sequences).
    expect(broker.requests.map((r) => r.api)).toContain('InitProducerId');
    expect(broker.refused).toEqual([]);
  });

  withKcat('kcat reads back exactly the keys and values our output produced', async () => {
    const sink = track(config(broker));
    const first = outboxEvents(pageEvents(40));
    const second = outboxEvents(pageEvents(3), 41);
    expect((await sink.send(first, signal())).status).toBe('ok');
    expect((await sink.send(second, signal())).status).toBe('ok');
    const lines = await kcatRead(broker, 'message-trace');
    expect(lines).toEqual([...first, ...second].map((e) => `${e.eventId}\t${e.json}`));
    // librdkafka negotiated what the broker advertises, and used the read path we implement.
    const kcatApis = new Set(broker.requests.filter((r) => r.clientId === 'rdkafka').map((r) => r.api));
    expect(kcatApis).toContain('Fetch');
  });

  withKcat(
    'the broker accepts what librdkafka produces (its batches and CRC32C, not only ours)',
    async () => {
      const input = ['a\t{"n":1}', 'b\t{"n":2}', 'c\t{"n":3}'].join('\n') + '\n';
      await new Promise<void>((resolve, reject) => {
        const child = execFile(
          'kcat',
          ['-P', '-b', broker.address, '-t', 'from-kcat', '-K', '\t', '-X', 'linger.ms=0'],
          { timeout: 20_000 },
          (error) => {
            if (error === null) resolve();
            else reject(new Error('kcat -P failed', { cause: error }));
          },
        );
        child.stdin?.end(input);
      });
      expect(broker.refused).toEqual([]);
      expect(broker.records('from-kcat').map((r) => `${r.key}\t${r.value}`)).toEqual([
        'a\t{"n":1}',
        'b\t{"n":2}',
        'c\t{"n":3}',
      ]);
    },
  );

  it('splits a large outbox batch into produce calls under the limit, in order', async () => {
    const sink = track(config(broker), { maxRequestBytes: 4000 });
    const events = outboxEvents(pageEvents(30, 300));
    expect(await sink.send(events, signal())).toEqual({ status: 'ok' });
    expect(broker.records('message-trace').map((r) => r.key)).toEqual(events.map((e) => e.eventId));
  });

  it('halves a call the broker finds too large, and dead-letters only an event that is too large alone', async () => {
    await broker.stop();
    broker = await startKafkaBroker({ maxMessageBytes: 3000 });
    const sink = track(config(broker));
    const small = pageEvents(12, 200);
    const huge = pageEvents(1, 5000);
    const events = outboxEvents([...small.slice(0, 6), ...huge, ...small.slice(6)]);
    const result = await sink.send(events, signal());
    expect(result.status).toBe('rejected');
    if (result.status !== 'rejected') return;
    expect(result.seqs).toEqual([7]);
    expect(result.error.message).toMatch(/MESSAGE_TOO_LARGE/);
    expect(result.error.message).toContain(huge[0]?.eventId);
    // The others are written, in order: the whole batch was too large, its halves were not.
    expect(broker.records('message-trace').map((r) => r.key)).toEqual(small.map((e) => e.eventId));
  });

  it('a broker that is down is retryable, naming the output and not the password', async () => {
    const password = 'hunter2-very-secret';
    const sink = track(config(broker, { sasl: { mechanism: 'plain', username: 'collector', password } }), {
      retries: 2,
    });
    await broker.stop();
    const result = await sink.send(outboxEvents(pageEvents(2)), signal());
    expect(result.status).toBe('retryable');
    if (result.status !== 'retryable') return;
    expect(result.error.message).toContain('kafka output kafka');
    expect(result.error.message).not.toContain(password);
    // Counted under a real code (metrics' label, /status's code), not the class name `Error`.
    expect(errorCodeOf(result.error)).toBe('ECONNREFUSED');
    expect(result.error).toMatchObject({ code: 'network_error', retryable: true });
    const health = await sink.healthcheck(signal());
    expect(health.status).toBe('failed');
    if (health.status === 'failed') expect(health.error.message).not.toContain(password);
    await broker.start();
  });

  it('TLS with the output CA and SASL PLAIN; a wrong password is named, never shown', async () => {
    const temp = tempDir();
    const tls = await generateTlsMaterial(join(temp.dir, 'tls'));
    const password = 'hunter2-kafka-secret';
    await broker.stop();
    broker = await startKafkaBroker({
      tls: { certPem: tls.serverCertPem, keyPem: tls.serverKeyPem },
      sasl: { username: 'collector', password },
    });
    try {
      const sasl = { mechanism: 'plain' as const, username: 'collector', password };
      const good = track(config(broker, { tls: true, caPem: tls.caCertPem, sasl }));
      const events = outboxEvents(pageEvents(5));
      expect(await good.send(events, signal())).toEqual({ status: 'ok' });
      expect(await good.healthcheck(signal())).toEqual({ status: 'ok' });
      expect(broker.requests.map((r) => r.api)).toContain('SaslAuthenticate');
      if (KCAT) {
        const { stdout } = await run(
          'kcat',
          [
            ...['-C', '-b', broker.address, '-t', 'message-trace', '-e', '-q', '-f', '%k\n'],
            ...['-X', 'security.protocol=sasl_ssl', '-X', 'sasl.mechanisms=PLAIN'],
            ...['-X', 'sasl.username=collector', '-X', `sasl.password=${password}`],
            ...['-X', `ssl.ca.location=${tls.caFile}`],
          ],
          { timeout: 20_000, encoding: 'utf8' },
        );
        expect(stdout.split('\n').filter((l) => l !== '')).toEqual(events.map((e) => e.eventId));
      }

      const bad = track(
        config(broker, { tls: true, caPem: tls.caCertPem, sasl: { ...sasl, password: 'hunter2-wrong' } }),
      );
      const refused = await bad.send(outboxEvents(pageEvents(1)), signal());
      expect(refused.status).toBe('retryable');
      if (refused.status === 'retryable') {
        expect(refused.error.message).toMatch(/sasl of output kafka/);
        expect(refused.error.message).not.toMatch(/hunter2/);
      }
      expect(broker.authFailures).toBeGreaterThan(0);

      // Without the CA the broker is not trusted: retryable (never the events' fault), naming caFile.
      const untrusted = track(config(broker, { tls: true, sasl }));
      const untrustedResult = await untrusted.send(outboxEvents(pageEvents(1)), signal());
      expect(untrustedResult.status).toBe('retryable');
      if (untrustedResult.status === 'retryable')
        expect(untrustedResult.error.message).toMatch(/caFile of output kafka/);
      expect(broker.records('message-trace')).toHaveLength(5);
    } finally {
      temp.cleanup();
    }
  });

  it('healthcheck: a metadata request; an unknown topic is reported without creating it', async () => {
    broker.createTopic('message-trace');
    expect(await track(config(broker)).healthcheck(signal())).toEqual({ status: 'ok' });
    await broker.stop();
    broker = await startKafkaBroker({ autoCreateTopics: false });
    const health = await track(config(broker, { topic: 'missing' })).healthcheck(signal());
    expect(health.status).toBe('failed');
    if (health.status === 'failed') expect(health.error.message).toMatch(/create the topic missing/);
    expect(broker.records('missing')).toEqual([]);
  });

  it('a retriable broker error is retried inside the client, with no duplicate', async () => {
    const sink = track(config(broker));
    broker.produceFaults.push(KafkaErrorCode.NOT_LEADER_OR_FOLLOWER);
    const events = outboxEvents(pageEvents(5));
    expect(await sink.send(events, signal())).toEqual({ status: 'ok' });
    expect(broker.records('message-trace').map((r) => r.key)).toEqual(events.map((e) => e.eventId));
  });

  it('a lost acknowledgement: retried inside the client, the broker keeps one copy', async () => {
    // The broker appends, then drops the connection instead of answering: the producer cannot know
    // whether it was written, and sends it again with the same producer id and sequence; the broker
    // answers with the first copy's offset instead of appending it again.
    const sink = track(config(broker));
    const warmup = outboxEvents(pageEvents(3));
    expect((await sink.send(warmup, signal())).status).toBe('ok');
    broker.dropProduceResponses = 1;
    const events = outboxEvents(pageEvents(4), 4);
    expect(await sink.send(events, signal())).toEqual({ status: 'ok' });
    expect(broker.requests.filter((r) => r.api === 'Produce')).toHaveLength(3);
    expect(broker.records('message-trace').map((r) => r.key)).toEqual(
      [...warmup, ...events].map((e) => e.eventId),
    );
  });

  it('a lost acknowledgement past the client retries: our re-send of the batch is not appended twice', async () => {
    const sink = track(config(broker), { retries: 2 });
    const warmup = outboxEvents(pageEvents(3));
    expect((await sink.send(warmup, signal())).status).toBe('ok');
    broker.dropProduceResponses = 100;
    const events = outboxEvents(pageEvents(4), 4);
    expect((await sink.send(events, signal())).status).toBe('retryable');
    // Appended once, never acknowledged.
    expect(broker.records('message-trace')).toHaveLength(7);
    broker.dropProduceResponses = 0;
    // What deliver.ts does next: the same events again, through the same sink (same producer).
    expect(await sink.send(events, signal())).toEqual({ status: 'ok' });
    expect(broker.records('message-trace').map((r) => r.key)).toEqual(
      [...warmup, ...events].map((e) => e.eventId),
    );
  });
});

describe('kafka output: the broker down, then back on the same port, through the outbox', () => {
  let broker: KafkaBroker;
  let store: StateStore;
  let temp: ReturnType<typeof tempDir>;
  let sink: Sink;

  beforeEach(async () => {
    broker = await startKafkaBroker();
    temp = tempDir();
    store = openSqliteStore(join(temp.dir, 'state'));
  });

  afterEach(async () => {
    await sink.close();
    await broker.stop();
    await store.close();
    temp.cleanup();
  });

  it('every event arrives once: nothing lost while down, nothing duplicated after', async () => {
    sink = createKafkaSink(config(broker), { retries: 2, retryDelayMs: 20, timeoutMs: 2000 });
    await startSinks(store, [sink]);
    const before = pageEvents(20);
    await store.commitPage('contoso', {
      pass: 'fast',
      checkpoint: { cursor: 1 },
      events: before,
      rejects: [],
      now: 1_000_000,
      seenTtlMs: 60_000,
    });
    const [first] = await deliverOnce(store, [sink], { batchSize: 8 });
    expect(first?.delivered).toBe(20);

    // Down: the next pages wait in the outbox; deliverOnce's retries bring the broker back.
    await broker.stop();
    const during = pageEvents(30);
    await store.commitPage('contoso', {
      pass: 'fast',
      checkpoint: { cursor: 2 },
      events: during,
      rejects: [],
      now: 1_000_001,
      seenTtlMs: 60_000,
    });
    let sleeps = 0;
    const [second] = await deliverOnce(store, [sink], {
      batchSize: 8,
      retry: { maxAttempts: 20, backoffMs: 1 },
      sleep: async () => {
        sleeps += 1;
        if (sleeps === 3) await broker.start();
      },
    });
    expect(second?.error).toBeUndefined();
    expect(second?.delivered).toBe(30);
    expect(second?.retried).toBeGreaterThanOrEqual(3);

    const keys = broker.records('message-trace').map((r) => r.key);
    const expected = [...before, ...during].map((e) => e.eventId);
    // Guaranteed: at least once and in order. And here exactly once: while the broker was down
    // nothing was appended, and the producer (same process) re-sends with the same sequences.
    expect(keys).toEqual(expected);
    expect(new Set(keys).size).toBe(keys.length);
    expect((await store.sinkState('kafka'))?.ackedSeq).toBe(50);
    if (KCAT) {
      const lines = await kcatRead(broker, 'message-trace');
      expect(lines.map((l) => l.split('\t')[0])).toEqual(expected);
    }
  });
});
