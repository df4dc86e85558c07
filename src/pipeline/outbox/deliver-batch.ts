/**
 * One output's delivery from the outbox: batches read at its acknowledged cursor, sent with
 * retries, events refused for good put in the dead letters (a batch refused as a whole is split to
 * find them), the cursor moved (acknowledgement), then the outbox pruned. The outbox decides what
 * each sink gets, sinks only send (style.md, "For exotrace" 6). Each sink has its own acknowledged
 * cursor and is driven on its own, so a sink that keeps failing holds back only itself (and
 * pruning), never another sink.
 */
import { DEFAULTS } from '../../config/schema.js';
import { retryLoop } from '../../http/retry.js';
import { abortReason, systemSleep, type Sleep } from '../../util/abort.js';
import { sinkRetry, type SendStep } from './sink-retry.js';
import type { OutboxEvent } from '../../core/outbox-event.js';
import type { StateStore } from '../../state/store.js';
import { SinkError, type SendResult, type Sink } from '../../sinks/types.js';
import { plural } from '../../util/plural.js';

/** The defaults of an output's `batchSize` and `batchBytes`. */
export const DEFAULT_BATCH_SIZE: number = DEFAULTS.batchSize;
export const DEFAULT_MAX_BATCH_BYTES: number = DEFAULTS.batchBytes;
/**
 * A batch refused as a whole is split to find the events at fault: each one costs about two
 * requests per halving. The search is sized for this many of them; past it, the events still
 * suspect are dead-lettered together (a receiver that refuses every event would otherwise get
 * 2n − 1 requests for a batch of n: 9,999 for 5,000 events).
 */
export const SPLIT_FAULTS_SOUGHT = 8;

/** The requests the split of a batch of `events` refused as a whole may make. */
export function splitRequestBudget(events: number): number {
  return 2 * Math.ceil(Math.log2(Math.max(2, events))) * SPLIT_FAULTS_SOUGHT;
}

export interface DeliverRetryOptions {
  /** Sends of one batch within one call, the first included; default 5. */
  readonly maxAttempts?: number;
  /** First backoff ceiling; doubles per retry (full jitter). Default 500 ms. */
  readonly backoffMs?: number;
  /**
   * Longest wait within one call, default 30 s. A sink asking for a longer `retryAfterMs` is left
   * for the next call instead: the delay is honoured, not shortened (shortening it is how
   * collectors get throttled again).
   */
  readonly maxDelayMs?: number;
}

/** How large a batch one output takes (its `batchSize` and `batchBytes`). */
export interface BatchLimits {
  readonly batchSize?: number;
  readonly maxBatchBytes?: number;
}

export interface DeliverOptions {
  /** Events per batch; default 5000. */
  readonly batchSize?: number;
  /** UTF-8 bytes of `json` per batch (one larger event still goes alone); default 8 MiB. */
  readonly maxBatchBytes?: number;
  /** Per output, by name: its own limits, which win over the two above (see `batchLimitsOf`). */
  readonly perOutput?: Readonly<Record<string, BatchLimits>>;
  readonly signal?: AbortSignal;
  /** Clock, for the time a sink takes (reported as `elapsedMs`). */
  readonly now?: () => number;
  readonly retry?: DeliverRetryOptions;
  /** Injected for tests; default a real timer that an abort ends. */
  readonly sleep?: Sleep;
  /** In [0, 1), for the jitter; default Math.random. */
  readonly random?: () => number;
  /** After each batch that put events in the dead letters (to be said: never silently). */
  readonly onDeadLetters?: (batch: DeadLettered) => void;
}

/** The outcome of sending one batch: written (some events perhaps refused for good), or given up. */
type Sent =
  | { readonly ok: true; readonly dead: ReadonlyMap<number, string>; readonly meta: string | undefined }
  | { readonly ok: false; readonly error: Error; readonly retryAfterMs?: number };

/** Events of one batch an output refused for good, now in the dead letters. */
export interface DeadLettered {
  readonly sink: string;
  readonly count: number;
  /** The first refused event's reason (the others' are in the dead letters). */
  readonly reason: string;
}

export interface SinkDelivery {
  readonly sink: string;
  /** Events durably written and acknowledged. */
  readonly delivered: number;
  /** Sends that were tried again. */
  readonly retried: number;
  readonly deadLettered: number;
  readonly elapsedMs: number;
  /** Why this sink stopped before its outbox was empty (gave up retrying, a bug, an abort). */
  readonly error?: Error;
  /**
   * The output asked to be left alone this long (a Retry-After beyond `maxDelayMs`): the caller
   * must not send to it before then.
   */
  readonly retryAfterMs?: number;
}

/** Each configured output's batch limits, by output name, for `DeliverOptions.perOutput`. */
export function batchLimitsOf(
  outputs: readonly {
    readonly name: string;
    readonly batchSize?: number | undefined;
    readonly batchBytes?: number | undefined;
  }[],
): Record<string, BatchLimits> {
  const limits: Record<string, BatchLimits> = {};
  for (const output of outputs) {
    limits[output.name] = {
      ...(output.batchSize === undefined ? {} : { batchSize: output.batchSize }),
      ...(output.batchBytes === undefined ? {} : { maxBatchBytes: output.batchBytes }),
    };
  }
  return limits;
}

/**
 * Deliver each sink's outbox until it is empty, all sinks concurrently, then prune what every sink
 * has acknowledged. Failures are reported per sink (`error`), never thrown, except store errors
 * from the final prune.
 */
export async function deliverOnce(
  store: StateStore,
  sinks: readonly Sink[],
  options: DeliverOptions = {},
): Promise<SinkDelivery[]> {
  const results = await Promise.all(sinks.map((sink) => deliverSink(store, sink, options)));
  await store.pruneOutbox();
  return results;
}

async function deliverSink(store: StateStore, sink: Sink, options: DeliverOptions): Promise<SinkDelivery> {
  const now = options.now ?? Date.now;
  const signal = options.signal ?? new AbortController().signal;
  const own = options.perOutput?.[sink.name];
  const limit = own?.batchSize ?? options.batchSize ?? DEFAULT_BATCH_SIZE;
  const maxBytes = own?.maxBatchBytes ?? options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  const maxAttempts = Math.max(1, options.retry?.maxAttempts ?? 5);
  const backoffMs = options.retry?.backoffMs ?? 500;
  const maxDelayMs = options.retry?.maxDelayMs ?? 30_000;
  const sleep = options.sleep ?? systemSleep;
  const random = options.random ?? Math.random;
  const started = now();
  let delivered = 0;
  let retried = 0;
  let deadLettered = 0;
  const report = (error?: Error, retryAfterMs?: number): SinkDelivery => ({
    sink: sink.name,
    delivered,
    retried,
    deadLettered,
    elapsedMs: now() - started,
    ...(error === undefined ? {} : { error }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });

  // Events of the current batch already acknowledged (a written prefix, see `settle`).
  let settled = 0;
  /**
   * Acknowledges `events` (the batch's, from the cursor on, each written or in `dead`): the part
   * not settled yet, its dead letters first (the store wants them still in the outbox), then the
   * cursor with `meta`, then the counts and the line about what was refused. Called for a written
   * prefix before the rest of its batch is sent, and for the whole batch once it is through; the
   * dead letters stored are taken out of `dead`.
   */
  const settle = async (
    events: readonly OutboxEvent[],
    dead: Map<number, string>,
    meta?: string,
  ): Promise<void> => {
    const fresh = events.slice(settled);
    const last = fresh.at(-1);
    if (last === undefined) return;
    let refused = 0;
    let reason: string | undefined;
    for (const event of fresh) {
      const why = dead.get(event.seq);
      if (why === undefined) continue;
      await store.deadLetter(sink.name, event.seq, why);
      dead.delete(event.seq);
      refused += 1;
      reason ??= why;
    }
    await store.ack(sink.name, last.seq, meta);
    settled = events.length;
    deadLettered += refused;
    delivered += fresh.length - refused;
    if (reason !== undefined) options.onDeadLetters?.({ sink: sink.name, count: refused, reason });
  };

  /**
   * Sends `events` until each is written or refused for good (retrying what may be sent again),
   * or gives up with the error to report. A request refused as a whole without naming the events
   * at fault (`batchRefused`) is sent again in halves, down to single events, so that only those
   * at fault are dead-lettered and the others are written; within `split`, the requests that
   * search may still make (see SPLIT_FAULTS_SOUGHT).
   */
  const sendAll = async (
    events: readonly OutboxEvent[],
    split?: { left: number; readonly total: number },
  ): Promise<Sent> => {
    // What is left to send: all of it, then only what a partial send asks again.
    let pending: readonly OutboxEvent[] = events;
    const dead = new Map<number, string>();
    let meta: string | undefined;
    // A half of a split that gave up: the whole batch gives up with it.
    let halfFailed: Sent | undefined;
    const retry = sinkRetry({ maxAttempts, backoffMs, maxDelayMs, random });
    const last = await retryLoop<SendStep>(
      async () => {
        if (split !== undefined) split.left -= 1;
        const result: SendResult = await sink.send(pending, signal);
        if (result.status === 'ok') {
          meta = result.meta;
          return { kind: 'done' };
        }
        let progressed = false;
        if (result.status === 'rejected' || result.status === 'partial') {
          const refused =
            result.status === 'rejected' ? (result.seqs ?? pending.map((e) => e.seq)) : result.rejected;
          for (const seq of refused) {
            if (!pending.some((e) => e.seq === seq)) {
              throw new SinkError(`output ${sink.name} refused seq ${seq}, which was not in the batch`);
            }
          }
          const budget = splitRequestBudget(refused.length);
          const searching = split ?? { left: budget, total: budget };
          if (
            result.status === 'rejected' &&
            result.batchRefused === true &&
            refused.length > 1 &&
            searching.left >= 2
          ) {
            const refusedSet = new Set(refused);
            const suspects = pending.filter((e) => refusedSet.has(e.seq));
            const middle = Math.ceil(suspects.length / 2);
            for (const half of [suspects.slice(0, middle), suspects.slice(middle)]) {
              const sent = await sendAll(half, searching);
              if (!sent.ok) {
                halfFailed = sent;
                return { kind: 'done' };
              }
              for (const [seq, reason] of sent.dead) dead.set(seq, reason);
              meta = sent.meta;
            }
            return { kind: 'done' };
          }
          // Refused whole with the search's requests spent: all of these are taken as at fault.
          const unsplit =
            result.status === 'rejected' && result.batchRefused === true && refused.length > 1
              ? ` (refused together; not split further after ${searching.total} ${plural(searching.total, 'request')})`
              : '';
          for (const seq of refused) dead.set(seq, result.error.message + unsplit);
          if (result.status === 'rejected') return { kind: 'done' };
          const again = new Set(result.retry);
          const before = pending.length;
          pending = pending.filter((e) => again.has(e.seq) && !dead.has(e.seq));
          if (pending.length === 0) return { kind: 'done' };
          // The written prefix of the whole batch (never of a half in a split, whose events before
          // it are not all settled) is acknowledged now.
          if (result.prefixWritten === true && split === undefined) {
            const firstLeft = Math.min(...pending.map((e) => e.seq));
            await settle(
              events.filter((e) => e.seq < firstLeft),
              dead,
            );
            // A send cut by the stop says what it wrote (then acknowledged); the rest waits.
            if (signal.aborted) throw abortReason(signal);
          }
          progressed = pending.length < before;
        }
        // Retryable, or the retryable part of a partial send.
        return {
          kind: 'again',
          error: result.error,
          progressed,
          ...(result.retryAfterMs === undefined ? {} : { retryAfterMs: result.retryAfterMs }),
        };
      },
      signal,
      {
        strategies: [retry.strategy],
        // The strategy counts the attempts (anew after progress); no overall deadline.
        maxRetries: Infinity,
        maxElapsedMs: Infinity,
        sleep,
        onRetry: () => {
          retried += 1;
        },
      },
    );
    if (halfFailed !== undefined) return halfFailed;
    if (last.kind === 'again') {
      const retryAfterMs = retry.askedToWaitMs();
      return { ok: false, error: last.error, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    }
    return { ok: true, dead, meta };
  };

  try {
    for (;;) {
      if (signal.aborted) return report(abortReason(signal));
      const batch = await store.readOutbox(sink.name, { limit, maxBytes });
      const last = batch.at(-1);
      if (last === undefined) return report();
      settled = 0;

      const sent = await sendAll(batch);
      if (!sent.ok) return report(sent.error, sent.retryAfterMs);
      await settle(batch, new Map(sent.dead), sent.meta);
      await sink.acknowledged?.(sent.meta);
    }
  } catch (error) {
    if (signal.aborted) return report(abortReason(signal));
    return report(error instanceof Error ? error : new Error(String(error)));
  }
}
