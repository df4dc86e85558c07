/**
 * The outputs' loops while the collector runs: one per output, so that an output that hangs or
 * keeps failing holds back only itself (a single loop over all of them waited for the slowest).
 * Each loop delivers what the outbox holds, then waits for the next commit (or a second); a
 * failing output rests, longer when it asked for it (a Retry-After past the delivery's own limit
 * is honoured in full here, not retried every second).
 */
import type { Logger } from '../../observe/log.js';
import { outboxTelemetry, type OutboxTelemetry } from '../../observe/telemetry.js';
import { errorCodeOf, type DeliveryRound } from '../../observe/metrics.js';
import { deliverOnce, type BatchLimits, type DeadLettered } from './deliver-batch.js';
import type { Sink } from '../../sinks/types.js';
import { systemSleep } from '../../util/abort.js';
import type { StateStore } from '../../state/store.js';
import { createWakeup, type Wakeup } from '../../util/wakeup.js';

/** How long an output rests after a failed round (each round already retried with backoff). */
export const FAILING_OUTPUT_PAUSE_MS = 1000;
/** The "output failing" warning repeats at most this often per output while it lasts. */
const FAILING_WARNING_EVERY_MS = 60_000;

export interface DeliveryLoopsOptions {
  readonly store: StateStore;
  readonly sinks: readonly Sink[];
  readonly log: Logger;
  /** The run's stop. */
  readonly signal: AbortSignal;
  readonly now: () => number;
  /** Turns an error into what may be logged (no secret). */
  readonly describe: (error: unknown) => Record<string, unknown>;
  /** After each round of any output (the retention check). */
  readonly afterRound?: () => Promise<void>;
  /** Each round's outcome (metrics, /status): what it delivered, and the error it ended with. */
  readonly onRound?: (output: string, round: DeliveryRound, error?: unknown) => void;
  /** Each output's batch limits, by name (its `batchSize`, `batchBytes`); default 5000 events, 8 MiB. */
  readonly batchLimits?: Readonly<Record<string, BatchLimits>>;
  /** Rung after every round (back pressure waits on it); default a new one (`DeliveryLoops.drained`). */
  readonly drained?: Wakeup;
  /** What the loops say; default written to `log`. */
  readonly telemetry?: OutboxTelemetry;
}

export interface DeliveryLoops {
  /** New events were committed: every idle output looks now. */
  committed(): void;
  /** Rung after every round: back pressure looks again. */
  readonly drained: Wakeup;
  /** Events each output durably took, so far. */
  readonly delivered: Readonly<Record<string, number>>;
  /** Events each output refused for good (now in the dead letters), so far. */
  readonly deadLettered: Readonly<Record<string, number>>;
  /**
   * Ends the loops after their current round; then one last round per output within `signal`. The
   * round in flight is cut when `signal` aborts too: all of it ends within that deadline.
   */
  finish(signal: AbortSignal): Promise<void>;
  /** Ends the loops without a last round (the run is ending on an error; the run's stop cuts a round in flight). */
  stop(): Promise<void>;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  systemSleep(ms, signal).catch(() => undefined);

export function startDeliveryLoops(options: DeliveryLoopsOptions): DeliveryLoops {
  const { store, sinks, log, signal, now } = options;
  const delivered: Record<string, number> = {};
  const deadLettered: Record<string, number> = {};
  const telemetry = options.telemetry ?? outboxTelemetry(log, { describe: options.describe });
  const onDeadLetters = (batch: DeadLettered): void => {
    telemetry.deadLettered(batch);
  };
  const drained = options.drained ?? createWakeup();
  const running = { value: true };
  // Cuts the loops' rests and waits (at the end, or on a stop); a round in flight is not cut by the
  // end of collection (cutting a send can duplicate it downstream), only by the run's stop or by
  // the deadline `finish` is given (an output that never answers would hold the end for as long
  // as its round's attempts take: 5 times http.timeout).
  const rest = new AbortController();
  const cutInFlight = new AbortController();
  const loopSignal = AbortSignal.any([signal, cutInFlight.signal]);
  const onStop = (): void => {
    rest.abort();
  };
  signal.addEventListener('abort', onStop, { once: true });
  // Stopped before the loops start (a signal during start-up): a listener would never hear it.
  if (signal.aborted) rest.abort();
  const wakeups = sinks.map(() => createWakeup());
  const lastWarned = new Map<string, number>();

  /** One round for one output; false when it failed, with how long it asked to be left alone. */
  const round = async (sink: Sink, roundSignal: AbortSignal): Promise<{ ok: boolean; restMs: number }> => {
    let ok = true;
    let restMs = FAILING_OUTPUT_PAUSE_MS;
    try {
      const [result] = await deliverOnce(store, [sink], {
        signal: roundSignal,
        onDeadLetters,
        ...(options.batchLimits === undefined ? {} : { perOutput: options.batchLimits }),
      });
      if (result !== undefined) {
        options.onRound?.(
          sink.name,
          {
            delivered: result.delivered,
            retried: result.retried,
            deadLettered: result.deadLettered,
            ...(result.error === undefined ? {} : { errorCode: errorCodeOf(result.error) }),
          },
          result.error,
        );
        delivered[sink.name] = (delivered[sink.name] ?? 0) + result.delivered;
        if (result.deadLettered > 0)
          deadLettered[sink.name] = (deadLettered[sink.name] ?? 0) + result.deadLettered;
        if (result.error !== undefined) {
          ok = false;
          restMs = Math.max(restMs, result.retryAfterMs ?? 0);
          // Cut short by the stop is no failing output: the last round follows.
          if (!roundSignal.aborted) warnFailing(sink.name, result.error, result.retryAfterMs);
        }
      }
    } catch (error) {
      // A store error (the database unwritable): reported, and the loop goes on trying.
      ok = false;
      options.onRound?.(
        sink.name,
        {
          delivered: 0,
          retried: 0,
          deadLettered: 0,
          errorCode: errorCodeOf(error),
        },
        error,
      );
      telemetry.deliveryFailed(sink.name, error);
    }
    drained.ring();
    try {
      await options.afterRound?.();
    } catch (error) {
      telemetry.outboxCheckFailed(error);
    }
    return { ok, restMs };
  };

  const warnFailing = (name: string, error: Error, retryAfterMs: number | undefined): void => {
    const current = now();
    const last = lastWarned.get(name);
    if (last !== undefined && current - last < FAILING_WARNING_EVERY_MS) return;
    lastWarned.set(name, current);
    telemetry.outputFailing(name, error, retryAfterMs);
  };

  const loops = sinks.map(async (sink, i) => {
    const wakeup = wakeups[i] ?? createWakeup();
    while (running.value && !rest.signal.aborted) {
      const { ok, restMs } = await round(sink, loopSignal);
      if (ok) await wakeup.wait(1000, rest.signal);
      else await sleep(restMs, rest.signal);
    }
  });

  return {
    committed() {
      for (const wakeup of wakeups) wakeup.ring();
    },
    drained,
    delivered,
    deadLettered,
    async stop() {
      running.value = false;
      rest.abort();
      await Promise.all(loops);
      signal.removeEventListener('abort', onStop);
    },
    async finish(finalSignal) {
      running.value = false;
      // A resting output (a long Retry-After) is not waited for: the last round decides.
      rest.abort();
      // The round in flight gets no more than the last round: cut at the same deadline.
      const onDeadline = (): void => {
        cutInFlight.abort(finalSignal.reason);
      };
      if (finalSignal.aborted) onDeadline();
      else finalSignal.addEventListener('abort', onDeadline, { once: true });
      await Promise.all(loops);
      finalSignal.removeEventListener('abort', onDeadline);
      signal.removeEventListener('abort', onStop);
      await Promise.all(sinks.map((sink) => round(sink, finalSignal)));
    },
  };
}
