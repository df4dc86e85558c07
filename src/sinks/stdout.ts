/**
 * The stdout output: NDJSON to a stream (process.stdout unless one is injected). It honours back
 * pressure: `send` answers once the stream has taken the batch (its write callback) and, when the
 * stream's buffer is full, once it has drained, so a slow reader slows delivery instead of letting
 * batches pile up in memory. A pipe cannot be rewound, so this output is at-least-once.
 */
import type { Writable } from 'node:stream';

import { abortReason } from '../util/abort.js';
import type { OutboxEvent } from '../core/outbox-event.js';
import { encodeNdjson } from './ndjson.js';
import { once } from '../util/once.js';
import { type HealthResult, type SendResult, type Sink } from './types.js';

export interface StdoutSinkOptions {
  readonly name: string;
  /** Default `process.stdout`. */
  readonly stream?: Writable;
}

export function createStdoutSink(options: StdoutSinkOptions): Sink {
  const stream = options.stream ?? process.stdout;
  const name = options.name;

  function unusable(): Error | undefined {
    if (stream.destroyed || stream.writableEnded)
      return new Error(`stdout output ${name}: the stream is closed`);
    return undefined;
  }

  return {
    name,
    start: () => Promise.resolve(undefined),
    async send(batch: readonly OutboxEvent[], signal: AbortSignal): Promise<SendResult> {
      if (signal.aborted) throw abortReason(signal);
      if (batch.length === 0) return { status: 'ok' };
      const closed = unusable();
      // Retryable: the delivery loop gives up after its attempts and the events stay in the outbox.
      if (closed !== undefined) return { status: 'retryable', error: closed };
      const data = encodeNdjson(batch);
      try {
        await new Promise<void>((resolve, reject) => {
          let written = false;
          let drained = true;
          const done = (): void => {
            if (written && drained) resolve();
          };
          const onError = (error: Error): void => {
            stream.off('drain', onDrain);
            reject(error);
          };
          const onDrain = (): void => {
            drained = true;
            done();
          };
          stream.once('error', onError);
          const ok = stream.write(data, (error) => {
            stream.off('error', onError);
            if (error) {
              stream.off('drain', onDrain);
              reject(error);
              return;
            }
            written = true;
            done();
          });
          if (!ok) {
            drained = false;
            stream.once('drain', onDrain);
          }
        });
        return { status: 'ok' };
      } catch (error) {
        return {
          status: 'retryable',
          error: new Error(`stdout output ${name}: write failed`, { cause: error }),
        };
      }
    },
    healthcheck(signal: AbortSignal): Promise<HealthResult> {
      if (signal.aborted) return Promise.reject(abortReason(signal));
      const closed = unusable();
      return Promise.resolve(closed === undefined ? { status: 'ok' } : { status: 'failed', error: closed });
    },
    // The process owns stdout: closing the output must not end it.
    close: once(() => Promise.resolve()),
  };
}
