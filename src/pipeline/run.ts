/**
 * The collector as a whole: every tenant's loop, all concurrent, each with its own source (and so
 * its own request budget) and checkpoints, over one state store; delivery to every output from
 * the outbox. `once` is `exotrace run --once`; otherwise it runs until the signal aborts.
 */
import { linkedAbort } from '../util/abort.js';
import type { Config, TenantConfig } from '../config/load.js';
import type { Logger } from '../observe/log.js';
import { type Sink } from '../sinks/types.js';
import { DEFAULTS } from '../config/schema.js';
import { createCollectorMetrics } from '../observe/metrics.js';
import { runTelemetry } from '../observe/telemetry.js';
import { createCatchUpProgress } from '../observe/catch-up.js';
import type { MessageTraceSource } from '../sources/source.js';
import type { StateStore } from '../state/store.js';
import { createTenantCollector, type CollectorEvents } from './collector.js';
import { runTenantCycles, type OnceReconcile, type TenantOutcome } from './tenant-cycles.js';
import { warnIfNewState } from '../observe/new-state.js';
import { DEFAULT_POLL_MS, type HealthServer } from '../observe/health.js';
import { startDaemonHealth } from './daemon-health.js';
import type { PageNormalizer } from './page-events.js';
import { assemble } from './assemble.js';
import { commitCounters } from './processors/index.js';

export { describeError } from './describe-error.js';
export {
  failingTenantDelay,
  ONCE_RECONCILE_MODES,
  type OnceReconcile,
  type TenantOutcome,
} from './tenant-cycles.js';

export interface RunSummary {
  readonly tenants: readonly TenantOutcome[];
  readonly delivered: Readonly<Record<string, number>>;
  /** Events each output refused for good during this run (now in its dead letters). */
  readonly deadLettered: Readonly<Record<string, number>>;
  readonly failed: boolean;
  /** Outputs that still had events to take when the run ended (kept in the outbox for the next). */
  readonly pending: Readonly<Record<string, number>>;
  /** The caller's signal stopped the run before it ended (`--once`: exit 130/143, not a success). */
  readonly interrupted: boolean;
  /**
   * `--once` stopped collecting under back pressure: the outbox was full for this output and its
   * deliveries were failing, so no room would come before the run ended.
   */
  readonly collectionStoppedFor?: string;
}

export interface RunOptions {
  readonly once: boolean;
  /** `--once` only (the daemon reconciles when `reconcileEvery` says). Default `always`. */
  readonly onceReconcile?: OnceReconcile;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly now?: () => number;
  /** Daemon: time between a tenant's polls. Default 60 s. */
  readonly pollIntervalMs?: number;
  readonly events?: CollectorEvents;
  /** Tests and the demo inject these; by default they come from the config. */
  readonly store?: StateStore;
  readonly sinks?: readonly Sink[];
  readonly sourceFor?: (tenant: TenantConfig) => MessageTraceSource;
  /** Default: a pool of worker threads shared by the tenants (inline when running from sources). */
  readonly pageNormalizer?: PageNormalizer;
  /** The monotonic clock of the catch-up progress lines (tests drive it); default `performance.now`. */
  readonly progressClock?: () => number;
}

/** How often running passes are checked against `log.progressEvery` between the collector's events. */
const PROGRESS_TICK_MS = 5_000;

export async function runCollector(config: Config, options: RunOptions): Promise<RunSummary> {
  const now = options.now ?? Date.now;
  const { log } = options;
  // The run's own stop: the caller's signal, or the end of this function whatever ends it (an
  // unexpected error must not leave tenants or delivery loops running on a closed store).
  const stopRun = linkedAbort(options.signal);
  const signal = stopRun.signal;
  const assembly = assemble(config, {
    log,
    signal,
    now,
    // --once: an output that keeps failing while the outbox is full for it will not make room
    // before the run ends; the daemon waits (the output may come back).
    ...(options.once ? { stopWhenStalled: { who: 'run --once', resumes: 'the next run resumes' } } : {}),
    onRound: (output, round) => {
      // Rounds start with the outbox, after the metrics below exist.
      collectorMetrics.delivery(output, round, now());
    },
    ...(options.store === undefined ? {} : { store: options.store }),
    ...(options.sinks === undefined ? {} : { sinks: options.sinks }),
    ...(options.sourceFor === undefined ? {} : { sourceFor: options.sourceFor }),
    ...(options.pageNormalizer === undefined ? {} : { pageNormalizer: options.pageNormalizer }),
    // What /metrics counts of each commit, counted by the store's own decision of what is new.
    processors: [
      commitCounters((tenant, pass, counts) => {
        collectorMetrics.committed(tenant, pass, counts.rows, counts);
      }),
    ],
  });
  const { store, sinks, outbox, describe } = assembly;
  // Collection's own stop: the run's, or (--once) back pressure with the output at fault failing,
  // which would otherwise wait for room for ever. The outputs keep the run's signal: they still get
  // their last round and its deadline.
  const collecting = AbortSignal.any([signal, outbox.collectionStopped]);
  const delivered: Record<string, number> = {};
  const deadLettered: Record<string, number> = {};
  const pending: Record<string, number> = {};
  // Daemon: time between a tenant's polls (also in each tenant's lag bound).
  const pollMs = options.pollIntervalMs ?? DEFAULT_POLL_MS;
  const outcomes: TenantOutcome[] = [];
  let health: HealthServer | undefined;
  const collectorMetrics = createCollectorMetrics({
    tenants: config.tenants.map((t) => ({ name: t.name, api: t.api })),
    outputs: sinks.map((sink) => sink.name),
    // Process metrics observe the whole process: only for a daemon that serves them.
    processMetrics: config.health !== undefined && !options.once,
    readers: {
      lagMs: async (tenant) => {
        const cursor = (await store.getCheckpoint(tenant, 'fast'))?.cursor;
        return cursor === undefined ? undefined : Math.max(0, now() - cursor);
      },
      outboxDepths: () => outbox.depthByTenant(),
      budgetRemaining: (tenant) => assembly.budgetOf(tenant)?.remaining(),
      backlog: (output) => outbox.backlogOf(output),
      deadLetters: (output) => outbox.deadLetterCount(output),
    },
  });
  // A tenant catching up says so at info every `log.progressEvery` (catch-up.ts).
  const catchUp = createCatchUpProgress({
    log,
    everyMs: config.log?.progressEveryMs ?? DEFAULTS.logProgressEveryMs,
    ...(options.progressClock === undefined ? {} : { now: options.progressClock }),
    budgetOf: (name) => {
      const perWindow = config.tenants.find((t) => t.name === name)?.requestsPer5Min ?? 1;
      const budget = assembly.budgetOf(name);
      const pausedUntil = budget?.pausedUntil();
      return {
        perWindow,
        free: budget?.remaining() ?? perWindow,
        pausedMs: pausedUntil === undefined ? 0 : Math.max(0, pausedUntil - Date.now()),
      };
    },
  });
  const progressTimer = setInterval(
    () => {
      catchUp.tick();
    },
    Math.min(PROGRESS_TICK_MS, config.log?.progressEveryMs ?? DEFAULTS.logProgressEveryMs),
  );
  progressTimer.unref();
  const said = runTelemetry(log, { describe, metrics: collectorMetrics, catchUp });
  /** The default source: the tenant's own budget, every attempt and retry counted. */
  const sourceOf = (tenant: TenantConfig): MessageTraceSource =>
    assembly.sourceFor(tenant, said.sourceHooks({ name: tenant.name, api: tenant.api }));
  try {
    // A restarted daemon's gauges start from what the state knows (alerts must not reset).
    const known = new Set(config.tenants.map((t) => t.name));
    for (const c of await store.tenantCycles()) {
      if (known.has(c.tenant))
        collectorMetrics.lastCycle(c.tenant, c.lastError !== undefined, c.lastSuccessAt);
    }
    warnIfNewState(await store.createdNew(), config, log);
    await outbox.start();

    // The daemon answers /healthz, /readyz, /status and /metrics when the configuration has
    // `health`: started before anything is collected, so that a port in use stops the run at once.
    if (config.health !== undefined && !options.once) {
      health = await startDaemonHealth(config, config.health.listen, {
        store,
        outputs: sinks.map((sink) => sink.name),
        outbox,
        exposition: () => collectorMetrics.exposition(),
        now,
        pollMs,
      });
      said.healthListening(health.address, ['/healthz', '/readyz', '/status', '/metrics']);
    }

    const runTenant = async (tenant: TenantConfig): Promise<TenantOutcome> => {
      const source = sourceOf(tenant);
      const collector = createTenantCollector({
        tenant,
        source,
        store,
        now,
        pageNormalizer: assembly.pageNormalizer,
        pageGate: assembly.pageGate,
        roomForPage: outbox.roomForPage,
        commit: outbox.commit,
        events: {
          onClamp(name, requested, start) {
            said.clamped(name, requested, start);
            options.events?.onClamp?.(name, requested, start);
          },
          onPage(name, pass, window, rows, inserted, page) {
            said.page(name, pass, window, rows, page?.oldest);
            options.events?.onPage?.(name, pass, window, rows, inserted, page);
          },
          onWindowStart(name, pass, window, done, total) {
            said.windowStart(name, pass, window, done, total);
            options.events?.onWindowStart?.(name, pass, window, done, total);
          },
          onWindowEnd(name, pass, window, done, total) {
            said.windowEnd(name, pass, window, done, total);
            options.events?.onWindowEnd?.(name, pass, window, done, total);
          },
          onCommit(name, pass, rows, result, rejects) {
            said.committed(name, pass, rows, result, rejects);
            options.events?.onCommit?.(name, pass, rows, result, rejects);
          },
        },
      });
      try {
        return await runTenantCycles({
          tenant: tenant.name,
          collector,
          store,
          once: options.once,
          ...(options.onceReconcile === undefined ? {} : { onceReconcile: options.onceReconcile }),
          pollMs,
          now,
          signal,
          collecting,
          said,
          describe,
        });
      } finally {
        await source.close();
      }
    };

    // Delivered while collecting (each output's own loop, woken by each commit), so a long backfill
    // does not hold everything in the outbox.
    // An unexpected error in one tenant's loop (not a failed cycle: those are retried) stops the
    // others too, and the run ends with it once they have all stopped.
    const settled = await Promise.allSettled(
      config.tenants.map((tenant) =>
        runTenant(tenant).catch((error: unknown) => {
          stopRun.abort(error);
          throw error;
        }),
      ),
    );
    for (const result of settled) if (result.status === 'rejected') throw result.reason;
    outcomes.push(...settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])));
    const flushed = await outbox.finish(options.signal);
    Object.assign(delivered, flushed.delivered);
    Object.assign(deadLettered, flushed.deadLettered);
    Object.assign(pending, flushed.pending);
    for (const [output, events] of Object.entries(flushed.pending)) said.outputBehind(output, events);
  } finally {
    // Whatever ended the run, nothing of it keeps running: the tenants' waits and the outputs' loops
    // end (a round in flight is cut) before the outputs and the store are closed under them.
    stopRun.end(new Error('the run ended'));
    clearInterval(progressTimer);
    await outbox.stop();
    await health?.close();
    await assembly.close();
  }
  const collectionStoppedFor = outbox.collectionStoppedFor();
  return {
    tenants: outcomes,
    delivered,
    deadLettered,
    pending,
    failed: outcomes.some((o) => o.error !== undefined),
    interrupted: options.signal.aborted,
    ...(collectionStoppedFor === undefined ? {} : { collectionStoppedFor }),
  };
}
