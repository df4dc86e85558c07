/**
 * The outbox: the one owner of delivery. The collector hands it each page (`commit`: the page's
 * events, its checkpoint and seen-set keys in one transaction, the processors' hook inside it,
 * then the outputs' loops woken);
 * from there on everything is here: one loop per output (`loops.ts`) delivering batches with
 * retries, dead letters and acknowledgement (`deliver-batch.ts`), pruning, back pressure
 * (`back-pressure.ts`: `roomForPage`), each output's backlog and health (`output-health.ts`),
 * retention warnings (`retention.ts`), and the final flush with its deadline. Nothing else reads
 * or writes the outbox tables or the outputs' cursors.
 */
import type { Logger } from '../../observe/log.js';
import { outboxTelemetry, type OutboxTelemetry } from '../../observe/telemetry.js';
import type { Sink } from '../../sinks/types.js';
import type { CommitResult } from '../../core/commit-result.js';
import type { PageCommit, StateStore } from '../../state/store.js';
import { createWakeup } from '../../util/wakeup.js';
import { createBackPressure, type StopWhenStalled } from './back-pressure.js';
import { batchLimitsOf, type BatchLimits } from './deliver-batch.js';
import { startDeliveryLoops, type DeliveryLoops } from './loops.js';
import { createOutputHealth, type OutputRoundsNow } from './output-health.js';
import { createRetentionCheck } from './retention.js';
import { commitStepsOf, type Processor } from '../processors/index.js';
import { startSinks } from './start-outputs.js';

export {
  batchLimitsOf,
  deliverOnce,
  splitRequestBudget,
  SPLIT_FAULTS_SOUGHT,
  DEFAULT_BATCH_SIZE,
  DEFAULT_MAX_BATCH_BYTES,
  type BatchLimits,
  type DeadLettered,
  type DeliverOptions,
  type DeliverRetryOptions,
  type SinkDelivery,
} from './deliver-batch.js';
export { startSinks, type RemovedOutputs } from './start-outputs.js';
export { startDeliveryLoops, FAILING_OUTPUT_PAUSE_MS, type DeliveryLoops } from './loops.js';
export { FULL_AND_FAILING_MS, type StopWhenStalled } from './back-pressure.js';
export type { OutputRoundsNow } from './output-health.js';

/** After a stop (or collection stopped by back pressure): how long the outputs get to take what was committed. */
export const STOP_FLUSH_MS = 30_000;

/** Below this many waiting events the depth by tenant is counted at every call... */
const EXACT_DEPTH_BELOW = 100_000;
/** ...above, the count is reused this long (counting reads every waiting event). */
const OUTBOX_DEPTH_CACHE_MS = 60_000;

export interface OutboxOptions {
  readonly store: StateStore;
  readonly sinks: readonly Sink[];
  /** The configured outputs: their batch limits. */
  readonly outputs: Parameters<typeof batchLimitsOf>[0];
  /** `outbox.maxEvents`: back pressure's bound. */
  readonly maxEvents: number;
  /** `outbox.warnAfter`: the retention warning's age. */
  readonly warnAfterMs: number;
  readonly log: Logger;
  /** The run's stop: the loops end with it (the final flush still runs, within its deadline). */
  readonly signal: AbortSignal;
  readonly now: () => number;
  /** Turns an error into what may be logged or kept (no secret). */
  readonly describe: (error: unknown) => Record<string, unknown>;
  /** A run that ends by itself stops collecting when full for a failing output; the daemon waits. */
  readonly stopWhenStalled?: StopWhenStalled;
  /** What the outbox says (log lines, round metrics); default written to `log`. */
  readonly telemetry?: OutboxTelemetry;
  /** The steps that see each page's new events inside its commit (pipeline/processors). */
  readonly processors?: readonly Processor[];
}

/** What the final flush left. */
export interface FlushOutcome {
  /** Events each output durably took during the run. */
  readonly delivered: Readonly<Record<string, number>>;
  /** Events each output refused for good during the run (now in its dead letters). */
  readonly deadLettered: Readonly<Record<string, number>>;
  /** Outputs that still had events to take (kept for the next run), and how many. */
  readonly pending: Readonly<Record<string, number>>;
}

export interface Outbox {
  /** Registers and starts the outputs (throws when one cannot start), then starts their loops. */
  start(): Promise<void>;
  /** Commits one page (events, checkpoint, seen-set keys: one transaction) and wakes the outputs. */
  readonly commit: (tenant: string, page: PageCommit) => Promise<CommitResult>;
  /** Back pressure: awaited before each page is asked for. */
  readonly roomForPage: (signal: AbortSignal) => Promise<void>;
  /** Aborted when collection stopped because the outbox stayed full for a failing output. */
  readonly collectionStopped: AbortSignal;
  readonly collectionStoppedFor: () => string | undefined;
  /** Events `output` has yet to acknowledge (exact near the back-pressure bound). */
  readonly backlogOf: (output: string) => Promise<number>;
  /** Events waiting per tenant (counted, or a recent count when far behind). */
  depthByTenant(): Promise<Readonly<Record<string, number>>>;
  deadLetterCount(output: string): Promise<number>;
  /** How `output`'s rounds go in this process (and as the state knew them at start). */
  roundsOf(output: string): OutputRoundsNow | undefined;
  /**
   * Ends the loops, then one last round per output. Bounded by STOP_FLUSH_MS once `stop` aborts
   * (or at once when collection stopped by back pressure): the round in flight is cut then too.
   */
  finish(stop: AbortSignal): Promise<FlushOutcome>;
  /** Ends the loops without a last round (also after `finish`: waits for it). Idempotent. */
  stop(): Promise<void>;
}

export function createOutbox(options: OutboxOptions): Outbox {
  const { store, sinks, log, now, describe, maxEvents } = options;
  const names = sinks.map((sink) => sink.name);
  const telemetry = options.telemetry ?? outboxTelemetry(log, { describe });
  const drained = createWakeup();
  let loops: DeliveryLoops | undefined;
  let finishing: Promise<FlushOutcome> | undefined;
  let depthCache: { at: number; depths: Readonly<Record<string, number>> } | undefined;

  /**
   * Events an output has yet to acknowledge. Head minus its acknowledged sequence is cheap but
   * counts sequences it never reads (pruned ones, rows re-queued for another output); counting
   * exactly reads the whole backlog, so it is done only near the back-pressure bound.
   */
  const backlogOf = async (output: string): Promise<number> => {
    const head = await store.outboxHead();
    const events = head - ((await store.sinkState(output))?.ackedSeq ?? head);
    return events >= maxEvents ? store.outboxDepth(output) : events;
  };

  const health = createOutputHealth({
    store,
    now,
    onRecordFailed: (output, error) => {
      telemetry.roundNotRecorded(output, error);
    },
  });
  const pressure = createBackPressure({
    outputs: names,
    maxEvents,
    backlogOf,
    ackedSeqOf: async (output) => (await store.sinkState(output))?.ackedSeq,
    healthOf: (output) => health.get(output),
    drained,
    telemetry,
    ...(options.stopWhenStalled === undefined ? {} : { stopWhenStalled: options.stopWhenStalled }),
  });
  // Retention: said after each delivery round, at most every ten minutes per output.
  const retention = createRetentionCheck(store, options.warnAfterMs);
  const warnOfOldEvents = async (): Promise<void> => {
    for (const warning of await retention.check(names, now())) {
      telemetry.eventsWaitingTooLong({ ...warning });
    }
  };
  const batchLimits: Record<string, BatchLimits> = batchLimitsOf(options.outputs);
  const processors = options.processors ?? [];

  return {
    async start() {
      const removed = await startSinks(store, sinks);
      await health.load(names);
      for (const output of removed.forgotten) telemetry.outputForgotten(output);
      for (const output of removed.kept) telemetry.outputKept(output);
      loops = startDeliveryLoops({
        store,
        sinks,
        batchLimits,
        log,
        signal: options.signal,
        now,
        describe,
        drained,
        telemetry,
        afterRound: warnOfOldEvents,
        onRound: (output, round, error) => {
          telemetry.round(output, round, error);
          health.roundEnded(output, error === undefined ? undefined : describe(error));
        },
      });
    },
    async commit(tenant, page) {
      const steps = commitStepsOf(processors);
      const result = await store.commitPage(tenant, page, steps.hook);
      // Durable now: what the processors keep in memory (the counters) follows the commit.
      steps.committed();
      if (result.inserted > 0) loops?.committed();
      return result;
    },
    roomForPage: pressure.roomForPage,
    collectionStopped: pressure.collectionStopped,
    collectionStoppedFor: pressure.stoppedFor,
    backlogOf,
    async depthByTenant() {
      // Counting reads every waiting event: exact while few wait, at most every so often when an
      // output has fallen far behind (a scrape must not stall collection for long).
      const head = await store.outboxHead();
      const lowest = Math.min(head, ...(await store.listSinks()).map((s) => s.ackedSeq));
      const age = depthCache === undefined ? Infinity : performance.now() - depthCache.at;
      if (depthCache === undefined || head - lowest < EXACT_DEPTH_BELOW || age >= OUTBOX_DEPTH_CACHE_MS) {
        depthCache = { at: performance.now(), depths: await store.outboxDepthByTenant() };
      }
      return depthCache.depths;
    },
    deadLetterCount: (output) => store.deadLetterCount(output),
    roundsOf: (output) => health.get(output),
    finish(stop) {
      finishing ??= (async () => {
        // Flush what was committed, also after a stop (whose signal is already aborted), but
        // bounded: a stop gives the outputs STOP_FLUSH_MS more, whether it came before the flush
        // or during it. Collection stopped by back pressure gets the same bound: the output at
        // fault is down.
        const flush = new AbortController();
        let deadline: NodeJS.Timeout | undefined;
        const armFlushDeadline = (): void => {
          if (deadline !== undefined) return;
          deadline = setTimeout(() => {
            flush.abort(
              new Error(`stopped: the outputs had ${STOP_FLUSH_MS / 1000} s to take what was committed`),
            );
          }, STOP_FLUSH_MS);
        };
        if (stop.aborted || pressure.stoppedFor() !== undefined) armFlushDeadline();
        else stop.addEventListener('abort', armFlushDeadline, { once: true });
        try {
          await loops?.finish(flush.signal);
        } finally {
          stop.removeEventListener('abort', armFlushDeadline);
          clearTimeout(deadline);
        }
        const pending: Record<string, number> = {};
        // Counted exactly, once: the cheap estimate counts rows re-queued for another output
        // (`deadletter retry`) as waiting for this one, and would report it behind when it is not.
        for (const output of names) {
          const estimate = await backlogOf(output);
          const waiting = estimate > 0 ? await store.outboxDepth(output) : 0;
          if (waiting > 0) pending[output] = waiting;
        }
        return {
          delivered: { ...loops?.delivered },
          deadLettered: { ...loops?.deadLettered },
          pending,
        };
      })();
      return finishing;
    },
    async stop() {
      if (finishing !== undefined) await finishing.catch(() => undefined);
      else await loops?.stop();
    },
  };
}
