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

import { deliverOnce, startSinks } from '../../src/sinks/deliver.js';
import type { SendResult, Sink } from '../../src/sinks/sink.js';
import { createSyslogSink, type SyslogOutputConfig } from '../../src/sinks/syslog.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import type { PageEvent } from '../../src/state/store.js';

/** About 1 MiB/s: far slower than a batch of 8 MiB needs, and than the kernel's buffers hold. */
const BYTES_PER_MS = 1024;

/** A receiver that reads each connection at BYTES_PER_MS, keeping every byte. */
async function slowReceiver() {
  const connections: Buffer[][] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    const data: Buffer[] = [];
    connections.push(data);
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      data.push(chunk);
      // Take no more until this chunk's time at the receiver's pace has passed.
      socket.pause();
      setTimeout(() => socket.resume(), Math.ceil(chunk.length / BYTES_PER_MS));
    });
  });
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
  return { port: address.port, received, connections: () => connections.length, close };
}

describe('syslog output over TCP: a receiver slower than a batch', () => {
  it('delivers a batch of 8 MiB over several acknowledged parts, each event written exactly once', async () => {
    const receiver = await slowReceiver();
    const stateDir = mkdtempSync(join(tmpdir(), 'exotrace-syslog-pace-'));
    const store = openSqliteStore(stateDir);
    const output = {
      type: 'syslog',
      name: 'slow',
      host: '127.0.0.1',
      port: receiver.port,
      protocol: 'tcp',
      appName: 'exotrace',
    } as SyslogOutputConfig;
    const inner = createSyslogSink(output, { hostname: 'collector-1', procId: '1', writeTimeoutMs: 1500 });
    const results: SendResult['status'][] = [];
    const sink: Sink = {
      name: inner.name,
      start: (meta) => inner.start(meta),
      send: async (batch, signal) => {
        const result = await inner.send(batch, signal);
        results.push(result.status);
        return result;
      },
      healthcheck: (signal) => inner.healthcheck(signal),
      flush: () => inner.flush(),
      close: () => inner.close(),
    };
    // 4,000 events of ~2 KiB: one batch of 8 MiB.
    const events: PageEvent[] = Array.from({ length: 4000 }, (_, i) => ({
      key: `k${i}`,
      eventId: `e${i}`,
      json: JSON.stringify({
        '@timestamp': '2026-11-25T10:00:00.000000Z',
        event: { id: `e${i}` },
        pad: 'x'.repeat(2000),
      }),
    }));
    try {
      await store.commitPage('contoso', {
        pass: 'fast',
        checkpoint: { cursor: 1 },
        events,
        rejects: [],
        now: 1_000_000,
        seenTtlMs: 60_000,
      });
      await startSinks(store, [sink]);
      const [delivery] = await deliverOnce(store, [sink], {
        batchSize: 5000,
        maxBatchBytes: 16 * 1024 * 1024,
        retry: { maxAttempts: 3, backoffMs: 10, maxDelayMs: 50 },
      });
      expect(delivery?.error).toBeUndefined();
      expect(delivery).toMatchObject({ delivered: 4000, deadLettered: 0 });
      expect(await store.outboxDepth('slow')).toBe(0);
      // Over several sends, each acknowledging its part; none failed.
      expect(results.at(-1)).toBe('ok');
      expect(results.filter((r) => r === 'partial').length).toBeGreaterThan(0);
      expect(results).not.toContain('retryable');
      // Every event exactly once, in order, on one connection: nothing written was sent again.
      await new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const check = (): void => {
          if (receiver.received().length >= 4000) resolve();
          else if (Date.now() - started > 60_000) reject(new Error('the receiver never got 4000 events'));
          else setTimeout(check, 50);
        };
        check();
      });
      expect(receiver.received()).toEqual(events.map((e) => e.eventId));
      expect(receiver.connections()).toBe(1);
    } finally {
      await sink.close();
      await store.close();
      await receiver.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 120_000);
});
