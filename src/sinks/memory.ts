/**
 * The in-memory sink: product code, used by pipeline and delivery tests the way OpenTelemetry's
 * tests use its in-memory exporter. It records what was accepted and follows a scripted plan of
 * outcomes ("retryable twice, then ok"), plus refusal rules ("reject seq 7").
 */
import { abortReason } from '../util/abort.js';
import type { OutboxEvent } from '../core/outbox-event.js';
import { once } from '../util/once.js';
import { type HealthResult, type SendResult, type Sink } from './types.js';

/** One step of the plan; each `send` consumes one (a step with `times` several). */
export type MemorySinkStep =
  | { readonly status: 'ok' }
  | {
      readonly status: 'retryable';
      /** How many sends answer this way; default 1, `Infinity` for ever. */
      readonly times?: number;
      readonly retryAfterMs?: number;
      readonly message?: string;
    }
  /** Reject the whole batch (or the given seqs that are in it). */
  | { readonly status: 'rejected'; readonly seqs?: readonly number[]; readonly message?: string }
  /** Throw, as a buggy sink would. */
  | { readonly status: 'throw'; readonly message?: string };

export interface MemorySinkOptions {
  /** Outcomes of the next sends, in order; once used up, sends are ok. */
  readonly plan?: readonly MemorySinkStep[];
  /** Events refused for good whenever they are sent (the others of the batch are accepted). */
  readonly rejectSeqs?: Iterable<number>;
}

export interface MemorySink extends Sink {
  /** Batches accepted, in order (a rejected event is left out of its batch). */
  readonly batches: readonly (readonly OutboxEvent[])[];
  /** Every `send` call, whatever its outcome. */
  readonly sends: number;
  /** The `meta` each `start` received. */
  readonly starts: readonly (string | undefined)[];
  readonly closed: boolean;
  /** All accepted events, in order. */
  events(): OutboxEvent[];
  /** Replace the remaining plan. */
  setPlan(plan: readonly MemorySinkStep[]): void;
  /** Forget everything recorded, and the plan and refusal rules. */
  reset(): void;
}

export function createMemorySink(name: string, options: MemorySinkOptions = {}): MemorySink {
  let plan: { step: MemorySinkStep; left: number }[] = [];
  let rejectSeqs = new Set<number>(options.rejectSeqs ?? []);
  let batches: OutboxEvent[][] = [];
  let starts: (string | undefined)[] = [];
  let sends = 0;
  let closed = false;
  let closeOnce = once(() => {
    closed = true;
    return Promise.resolve();
  });

  const setPlan = (steps: readonly MemorySinkStep[]): void => {
    plan = steps.map((step) => ({ step, left: step.status === 'retryable' ? (step.times ?? 1) : 1 }));
  };
  setPlan(options.plan ?? []);

  function nextStep(): MemorySinkStep | undefined {
    const head = plan[0];
    if (head === undefined) return undefined;
    head.left -= 1;
    if (head.left <= 0) plan.shift();
    return head.step;
  }

  function accept(batch: readonly OutboxEvent[], refused: ReadonlySet<number>): void {
    const kept = batch.filter((e) => !refused.has(e.seq));
    if (kept.length > 0) batches.push(kept);
  }

  return {
    name,
    get batches() {
      return batches;
    },
    get sends() {
      return sends;
    },
    get starts() {
      return starts;
    },
    get closed() {
      return closed;
    },
    start(meta) {
      starts.push(meta);
      return Promise.resolve(undefined);
    },
    send(batch, signal): Promise<SendResult> {
      if (signal.aborted) return Promise.reject(abortReason(signal));
      sends += 1;
      const step = nextStep();
      const error = (message: string | undefined, fallback: string): Error =>
        new Error(`memory output ${name}: ${message ?? fallback}`);
      switch (step?.status) {
        case 'retryable':
          return Promise.resolve({
            status: 'retryable',
            error: error(step.message, 'scripted retryable failure'),
            ...(step.retryAfterMs === undefined ? {} : { retryAfterMs: step.retryAfterMs }),
          });
        case 'rejected': {
          const seqs = step.seqs ?? batch.map((e) => e.seq);
          const inBatch = new Set(seqs.filter((seq) => batch.some((e) => e.seq === seq)));
          accept(batch, inBatch);
          return Promise.resolve({
            status: 'rejected',
            error: error(step.message, 'scripted rejection'),
            seqs: [...inBatch],
          });
        }
        case 'throw':
          return Promise.reject(error(step.message, 'scripted bug'));
        case 'ok':
        case undefined:
          break;
      }
      const refused = new Set(batch.filter((e) => rejectSeqs.has(e.seq)).map((e) => e.seq));
      accept(batch, refused);
      if (refused.size > 0) {
        return Promise.resolve({
          status: 'rejected',
          error: error(undefined, `refused seqs ${[...refused].join(', ')}`),
          seqs: [...refused],
        });
      }
      return Promise.resolve({ status: 'ok' });
    },
    healthcheck(signal): Promise<HealthResult> {
      if (signal.aborted) return Promise.reject(abortReason(signal));
      return Promise.resolve({ status: 'ok' });
    },
    close: () => closeOnce(),
    events: () => batches.flat(),
    setPlan,
    reset() {
      plan = [];
      rejectSeqs = new Set();
      batches = [];
      starts = [];
      sends = 0;
      closed = false;
      closeOnce = once(() => {
        closed = true;
        return Promise.resolve();
      });
    },
  };
}
