/**
 * Back pressure, shared by the tenants: past `outbox.maxEvents` waiting for an output, no new page
 * is asked for until deliveries bring it under (the page in hand still commits); nothing is ever
 * dropped. One line when it starts and one when it ends, not one per tenant.
 *
 * A run that ends by itself (`run --once`, `backfill`) cannot wait for ever: an output that keeps
 * failing while the outbox is full for it will not make room before the run ends (a daemon waits:
 * the output may come back). Past a grace for a blip, collection stops; the outputs get their last
 * round and the next run resumes.
 */
import type { OutboxTelemetry } from '../../observe/telemetry.js';
import { abortReason } from '../../util/abort.js';
import type { Wakeup } from '../../util/wakeup.js';
import type { OutputRoundsNow } from './output-health.js';

/**
 * With the outbox full: how long the output at fault may keep failing (or acknowledge nothing)
 * before a run that ends by itself stops collecting (a blip past one round's retries does not end
 * the catch-up; an output down, or hung, does, in time).
 */
export const FULL_AND_FAILING_MS = 30_000;

/** Who stops collecting when the outbox stays full for a failing output, as the warning says it. */
export interface StopWhenStalled {
  /** `run --once`, `backfill`. */
  readonly who: string;
  /** How the work left resumes: `the next run resumes`. */
  readonly resumes: string;
}

export interface BackPressureOptions {
  readonly outputs: readonly string[];
  readonly maxEvents: number;
  /** Events `output` has yet to acknowledge. */
  readonly backlogOf: (output: string) => Promise<number>;
  readonly ackedSeqOf: (output: string) => Promise<number | undefined>;
  readonly healthOf: (output: string) => OutputRoundsNow | undefined;
  /** Rung after every delivery round. */
  readonly drained: Wakeup;
  readonly telemetry: OutboxTelemetry;
  /** Undefined: wait for room however long it takes (the daemon). */
  readonly stopWhenStalled?: StopWhenStalled;
}

export interface BackPressure {
  /** Resolves when the outbox has room for a page; throws when collection stopped (or `signal` aborted). */
  readonly roomForPage: (signal: AbortSignal) => Promise<void>;
  /** Aborted when collection stopped because the outbox stayed full for a failing output. */
  readonly collectionStopped: AbortSignal;
  /** The output that stopped collection, if one did. */
  readonly stoppedFor: () => string | undefined;
}

export function createBackPressure(options: BackPressureOptions): BackPressure {
  const { maxEvents, telemetry } = options;
  const stopCollecting = new AbortController();
  let stoppedFor: string | undefined;
  const pressure: {
    on: boolean;
    failingFrom: number | undefined;
    /** The output furthest behind at the last look, and its acknowledged sequence then. */
    watched: { output: string; ackedSeq: number | undefined } | undefined;
  } = { on: false, failingFrom: undefined, watched: undefined };

  /** The output furthest behind: how many events it has yet to acknowledge. */
  const furthestBehind = async (): Promise<{ output: string; events: number }> => {
    let worst = { output: '', events: 0 };
    for (const output of options.outputs) {
      const events = await options.backlogOf(output);
      if (events > worst.events) worst = { output, events };
    }
    return worst;
  };

  const roomForPage = async (waitSignal: AbortSignal): Promise<void> => {
    for (;;) {
      const behind = await furthestBehind();
      if (behind.events < maxEvents) {
        if (pressure.on) {
          pressure.on = false;
          telemetry.resumed({ events: behind.events, maxEvents });
        }
        return;
      }
      // Timed on the monotonic clock (a test's `now` may be pinned). Acknowledging nothing while
      // full counts as failing: an output that takes connections and never answers ends no round
      // (and so no failure) for 5 times http.timeout.
      const failing = options.healthOf(behind.output);
      const ackedSeq = await options.ackedSeqOf(behind.output);
      const progressed = pressure.watched?.output !== behind.output || pressure.watched.ackedSeq !== ackedSeq;
      pressure.watched = { output: behind.output, ackedSeq };
      const stalled = failing?.failingSince !== undefined || !progressed;
      const stop = options.stopWhenStalled;
      if (stop !== undefined && stalled) pressure.failingFrom ??= performance.now();
      else pressure.failingFrom = undefined;
      if (
        stop !== undefined &&
        pressure.failingFrom !== undefined &&
        performance.now() - pressure.failingFrom >= FULL_AND_FAILING_MS
      ) {
        if (stoppedFor === undefined) {
          stoppedFor = behind.output;
          telemetry.stoppedCollecting(
            stop,
            { output: behind.output, events: behind.events, maxEvents },
            failing?.lastError === undefined
              ? { reason: `no acknowledgement for ${FULL_AND_FAILING_MS / 1000} s while the outbox is full` }
              : { error: failing.lastError },
          );
          stopCollecting.abort(new Error(`outbox full for output ${behind.output}, which is failing`));
        }
        throw abortReason(stopCollecting.signal);
      }
      if (!pressure.on) {
        pressure.on = true;
        telemetry.paused({ output: behind.output, events: behind.events, maxEvents });
      }
      await options.drained.wait(1000, waitSignal);
      if (waitSignal.aborted) throw abortReason(waitSignal);
    }
  };

  return {
    roomForPage,
    collectionStopped: stopCollecting.signal,
    stoppedFor: () => stoppedFor,
  };
}
