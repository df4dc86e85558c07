/**
 * The syslog output over TCP against a receiver slower than a batch (issue 11, item 10): the batch
 * goes over in parts that fit the receiver's pace, each part acknowledged, and nothing already
 * written is sent again. The receiver is a node:net server of the test that reads at a fixed rate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { deliverOnce, startSinks } from '../../src/pipeline/outbox/index.js';
import type { SendResult, Sink } from '../../src/sinks/types.js';
import { WRITE_CHUNK_BYTES, createSyslogSink, type SyslogOutputConfig } from '../../src/sinks/syslog.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import type { PageEvent, StateStore } from '../../src/state/store.js';

/**
 * About 2 MiB/s. A batch of 16 MiB then takes some 6 s past the ~4 MiB the kernel's buffers take
 * in: longer than WRITE_TIMEOUT_MS, which is generous so that a loaded machine's pauses never look
 * like a receiver that stopped.
 */
const BYTES_PER_MS = 2048;
const WRITE_TIMEOUT_MS = 4000;
const EVENTS = 8000;

/**
 * A receiver that reads each connection at BYTES_PER_MS, keeping every byte. `holdAfter`: it
 * stops reading once it has that many bytes, until `release` (a receiver that stalls).
 */
async function slowReceiver(holdAfter = Infinity) {
  const connections: Buffer[][] = [];
  const sockets: Socket[] = [];
  let total = 0;
  let held: Socket[] | undefined = holdAfter === Infinity ? undefined : [];
  const server = createServer((socket) => {
    const data: Buffer[] = [];
    connections.push(data);
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      data.push(chunk);
      total += chunk.length;
      // Take no more until this chunk's time at the receiver's pace has passed.
      socket.pause();
      if (held !== undefined && total >= holdAfter) held.push(socket);
      else setTimeout(() => socket.resume(), Math.ceil(chunk.length / BYTES_PER_MS));
    });
  });
  const release = (): void => {
    const waiting = held ?? [];
    held = undefined;
    for (const socket of waiting) socket.resume();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  /** The event ids received over every connection, in order, decoding the octet-counted frames. */
  const received = (): string[] => {
    const ids: string[] = [];
    for (const data of connections) {
      const bytes = Buffer.concat(data);
      let at = 0;
      while (at < bytes.length) {
        const space = bytes.indexOf(0x20, at);
        if (space < 0) break;
        const length = Number(bytes.subarray(at, space).toString('ascii'));
        // A frame cut by a closed connection is not a message.
        if (space + 1 + length > bytes.length) break;
        const message = bytes.subarray(space + 1, space + 1 + length).toString('utf8');
        ids.push(/"id":"([^"]+)"/.exec(message)?.[1] ?? '?');
        at = space + 1 + length;
      }
    }
    return ids;
  };
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => {
        resolve();
      });
    });
  return {
    port: address.port,
    received,
    bytes: () => total,
    release,
    connections: () => connections.length,
    close,
  };
}

function slowOutput(port: number): SyslogOutputConfig {
  return {
    type: 'syslog',
    name: 'slow',
    host: '127.0.0.1',
    port,
    protocol: 'tcp',
    appName: 'exotrace',
  };
}

/**
 * The sink's clock: the wall clock plus a step per look. The sink looks at it between two chunks,
 * so a send's time is up after at most WRITE_TIMEOUT_MS / CLOCK_STEP_MS chunks even when the
 * kernel's buffers would take the whole batch at once (a fast machine, large socket buffers): a
 * send reports a part whatever the machine.
 */
const CLOCK_STEP_MS = 500;
function steppingClock(): () => number {
  let looks = 0;
  return () => Date.now() + CLOCK_STEP_MS * looks++;
}

/** The syslog sink, with every send's outcome recorded; `after` sees each result. */
function recordingSink(
  port: number,
  extra: { writeTimeoutMs?: number; after?: (result: SendResult) => void } = {},
): { sink: Sink; results: SendResult['status'][] } {
  const inner = createSyslogSink(slowOutput(port), {
    hostname: 'collector-1',
    procId: '1',
    writeTimeoutMs: extra.writeTimeoutMs ?? WRITE_TIMEOUT_MS,
    now: steppingClock(),
  });
  const results: SendResult['status'][] = [];
  const sink: Sink = {
    name: inner.name,
    start: (meta) => inner.start(meta),
    send: async (batch, signal) => {
      const result = await inner.send(batch, signal);
      results.push(result.status);
      extra.after?.(result);
      return result;
    },
    healthcheck: (signal) => inner.healthcheck(signal),
    close: () => inner.close(),
  };
  return { sink, results };
}

/** EVENTS events of ~2 KiB: one batch of 16 MiB. */
function bigEvents(): PageEvent[] {
  return Array.from({ length: EVENTS }, (_, i) => ({
    key: `k${i}`,
    eventId: `e${i}`,
    json: JSON.stringify({
      '@timestamp': '2026-11-25T10:00:00.000000Z',
      event: { id: `e${i}` },
      pad: 'x'.repeat(2000),
    }),
  }));
}

async function commit(store: StateStore, events: PageEvent[]): Promise<void> {
  await store.commitPage('contoso', {
    pass: 'fast',
    checkpoint: { cursor: 1 },
    events,
    rejects: [],
    now: 1_000_000,
    seenTtlMs: 60_000,
  });
}

async function receivedAll(receiver: { received: () => string[] }, count: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const started = Date.now();
    const check = (): void => {
      if (receiver.received().length >= count) resolve();
      else if (Date.now() - started > 60_000) reject(new Error(`the receiver never got ${count} events`));
      else setTimeout(check, 50);
    };
    check();
  });
}

const options = {
  batchSize: EVENTS,
  maxBatchBytes: 32 * 1024 * 1024,
  retry: { maxAttempts: 3, backoffMs: 10, maxDelayMs: 50 },
};

describe('syslog output over TCP: a receiver slower than a batch', () => {
  it('delivers a batch of 16 MiB over several acknowledged parts, each event written exactly once', async () => {
    const receiver = await slowReceiver();
    const stateDir = mkdtempSync(join(tmpdir(), 'exotrace-syslog-pace-'));
    const store = openSqliteStore(stateDir);
    const { sink, results } = recordingSink(receiver.port);
    const events = bigEvents();
    try {
      await commit(store, events);
      await startSinks(store, [sink]);
      const [delivery] = await deliverOnce(store, [sink], options);
      expect(delivery?.error).toBeUndefined();
      expect(delivery).toMatchObject({ delivered: EVENTS, deadLettered: 0 });
      expect(await store.outboxDepth('slow')).toBe(0);
      // Over several sends, each acknowledging its part; none failed.
      expect(results.at(-1)).toBe('ok');
      expect(results.filter((r) => r === 'partial').length).toBeGreaterThan(0);
      expect(results).not.toContain('retryable');
      // Every event exactly once, in order, on one connection: nothing written was sent again.
      await receivedAll(receiver, EVENTS);
      expect(receiver.received()).toEqual(events.map((e) => e.eventId));
      expect(receiver.connections()).toBe(1);
    } finally {
      await sink.close();
      await store.close();
      await receiver.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 120_000);
  it('a stop after a part was written: that part is acknowledged, and the next delivery sends only the rest', async () => {
    const receiver = await slowReceiver();
    const stateDir = mkdtempSync(join(tmpdir(), 'exotrace-syslog-pace-'));
    const store = openSqliteStore(stateDir);
    const stop = new AbortController();
    // Stopped right after the first send that reported a part (SIGTERM's flush deadline, say).
    const { sink } = recordingSink(receiver.port, {
      after: (result) => {
        if (result.status === 'partial') stop.abort(new Error('stopped'));
      },
    });
    const events = bigEvents();
    try {
      await commit(store, events);
      await startSinks(store, [sink]);
      const [stopped] = await deliverOnce(store, [sink], { ...options, signal: stop.signal });
      expect(stopped?.error?.message).toMatch(/stopped/);
      // What was written is acknowledged: it is not in the outbox any more.
      expect(stopped?.delivered).toBeGreaterThan(0);
      expect(await store.outboxDepth('slow')).toBe(EVENTS - (stopped?.delivered ?? 0));
      const [rest] = await deliverOnce(store, [sink], options);
      expect(rest?.error).toBeUndefined();
      expect((stopped?.delivered ?? 0) + (rest?.delivered ?? 0)).toBe(EVENTS);
      await receivedAll(receiver, EVENTS);
      // Every event once, in order: nothing written before the stop was sent again.
      expect(receiver.received()).toEqual(events.map((e) => e.eventId));
    } finally {
      await sink.close();
      await store.close();
      await receiver.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a stop in the middle of a send to a receiver that stalled: what went is acknowledged, only the chunk in flight can arrive twice', async () => {
    // Stalls after 1 MiB: the send waits for the kernel's buffers to drain when the stop comes.
    const receiver = await slowReceiver(1024 * 1024);
    const stateDir = mkdtempSync(join(tmpdir(), 'exotrace-syslog-pace-'));
    const store = openSqliteStore(stateDir);
    // A send has all the time it wants: only the stop ends it.
    const { sink } = recordingSink(receiver.port, { writeTimeoutMs: 600_000 });
    const events = bigEvents();
    const stop = new AbortController();
    try {
      await commit(store, events);
      await startSinks(store, [sink]);
      const delivering = deliverOnce(store, [sink], { ...options, signal: stop.signal });
      await new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const check = (): void => {
          if (receiver.bytes() >= 1024 * 1024) resolve();
          else if (Date.now() - started > 60_000) reject(new Error('the receiver never got 1 MiB'));
          else setTimeout(check, 20);
        };
        check();
      });
      stop.abort(new Error('stopped'));
      const [stopped] = await delivering;
      expect(stopped?.error?.message).toMatch(/stopped/);
      expect(stopped?.delivered).toBeGreaterThan(0);
      expect(await store.outboxDepth('slow')).toBe(EVENTS - (stopped?.delivered ?? 0));
      receiver.release();
      const [rest] = await deliverOnce(store, [sink], options);
      expect(rest?.error).toBeUndefined();
      await receivedAll({ received: () => [...new Set(receiver.received())] }, EVENTS);
      // Whole frames only (the one cut by the stop is no message). Every event arrived; the only
      // ones twice are of the chunk in flight when the stop came, which the kernel had taken in
      // part: no more than a chunk's worth, right after the acknowledged part (before the fix,
      // everything received before the stop came again).
      const ids = receiver.received();
      const written = stopped?.delivered ?? 0;
      const perChunk = Math.ceil(WRITE_CHUNK_BYTES / (events[0]?.json.length ?? 1));
      const seen = new Set<string>();
      const twice = ids.filter((id) => seen.has(id) || (seen.add(id), false));
      expect(twice.length).toBeLessThanOrEqual(perChunk);
      const inFlight = new Set(events.slice(written, written + perChunk).map((e) => e.eventId));
      expect(twice.filter((id) => !inFlight.has(id))).toEqual([]);
      expect([...seen].sort()).toEqual(events.map((e) => e.eventId).sort());
    } finally {
      await sink.close();
      await store.close();
      await receiver.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 120_000);
});
