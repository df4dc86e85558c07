import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';

import { createStdoutSink } from '../../src/sinks/stdout.js';
import { fakeEvents, ndjson } from './helpers.js';

const signal = new AbortController().signal;

/** A slow consumer with a tiny buffer: each chunk is taken only when the test releases it. */
function slowStream(): { stream: Writable; received: string[]; release: () => void; pending: () => number } {
  const received: string[] = [];
  const waiting: (() => void)[] = [];
  const stream = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _encoding, callback) {
      waiting.push(() => {
        received.push(chunk.toString('utf8'));
        callback();
      });
    },
  });
  return {
    stream,
    received,
    release: () => {
      waiting.shift()?.();
    },
    pending: () => waiting.length,
  };
}

describe('stdout output', () => {
  it('writes NDJSON and answers ok only once the stream took the batch (back pressure)', async () => {
    const slow = slowStream();
    const sink = createStdoutSink({ name: 'out', stream: slow.stream });
    let settled = false;
    const sending = sink.send(fakeEvents(1, 50), signal).then((r) => {
      settled = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    expect(slow.pending()).toBe(1);
    slow.release();
    expect(await sending).toEqual({ status: 'ok' });
    expect(slow.received.join('')).toBe(ndjson(fakeEvents(1, 50).map((e) => e.json)));
  });

  it('waits for each write before the next batch, keeping order', async () => {
    const slow = slowStream();
    const sink = createStdoutSink({ name: 'out', stream: slow.stream });
    const timer = setInterval(() => {
      slow.release();
    }, 1);
    try {
      for (let i = 0; i < 5; i++)
        expect((await sink.send(fakeEvents(i * 10 + 1, 10), signal)).status).toBe('ok');
    } finally {
      clearInterval(timer);
    }
    expect(slow.received.join('')).toBe(ndjson(fakeEvents(1, 50).map((e) => e.json)));
  });

  it('a closed or failing stream is retryable, never thrown', async () => {
    const failing = new Writable({
      write(_chunk, _encoding, callback) {
        callback(new Error('EPIPE'));
      },
    });
    failing.on('error', () => undefined);
    const sink = createStdoutSink({ name: 'out', stream: failing });
    expect((await sink.send(fakeEvents(1, 1), signal)).status).toBe('retryable');
    expect((await sink.send(fakeEvents(1, 1), signal)).status).toBe('retryable');
    expect((await sink.healthcheck(signal)).status).toBe('failed');
    await sink.close();
    await sink.close();
  });
});
