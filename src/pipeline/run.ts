/**
 * The collector as a whole: every tenant's loop, all concurrent, each with its own source (and so
 * its own request budget) and checkpoints, over one state store; delivery to every output from
 * the outbox. `once` is `exotrace run --once`; otherwise it runs until the signal aborts.
 */
import type { Config, TenantConfig } from '../config/load.js';
import { logSecretsOf } from '../config/secrets.js';
import type { Logger } from '../observe/log.js';
import { batchLimitsOf, startSinks } from '../sinks/deliver.js';
import { createSink, sinkIoOf } from '../sinks/registry.js';
import { type Sink } from '../sinks/types.js';
import { ExotraceError, shownFailure } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';
import { abortReason, systemSleep } from '../util/abort.js';
import { DEFAULTS } from '../config/schema.js';
import { createSource, createSourceBudget } from '../sources/create.js';
import type { TenantBudget } from '../sources/http/budget.js';
import { createCollectorMetrics, errorCodeOf, type MetricsTenant } from '../observe/metrics.js';
import { createCatchUpProgress } from '../observe/catch-up.js';
import type { MessageTraceSource } from '../sources/source.js';
import { openSqliteStore } from '../state/sqlite.js';
import type { StateStore } from '../state/store.js';
import { createTenantCollector, type CollectorEvents, type PassSummary } from './collector.js';
import { startDeliveryLoops, type DeliveryLoops } from './delivery.js';
import { createPageNormalizer } from './normalize-pool.js';
import { createPageGate } from './page-gate.js';
import { warnIfNewState } from './new-state.js';
import {
  DEFAULT_POLL_MS,
  RECENT_DEAD_LETTER_MS,
  snapshotFromState,
  startHealthServer,
  type HealthServer,
} from '../observe/health.js';
import { createRetentionCheck } from './retention.js';
import { statusReport } from '../observe/status-report.js';
import type { PageNormalizer } from './page-events.js';

/** The errors of a request abandoned at its deadline or its body ceiling. */
const READ_LIMIT_CODES: ReadonlySet<string> = new Set(['request_timeout', 'response_too_large']);

export interface TenantOutcome {
  readonly tenant: string;
  readonly passes: readonly PassSummary[];
  /** Why this tenant failed (sanitized); undefined when it did not. */
  readonly error?: Record<string, unknown>;
  /** Its last cycle was cut short (a stop): neither a success nor a failure, and not recorded. */
  readonly cutShort?: boolean;
}

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

/**
 * When `--once` runs the reconcile pass: `always` (the default, as the interface promises), or
 * `due`: only when `reconcileEvery` has passed since the tenant's last reconcile (read from the
 * state), as the daemon does; for a cron job that runs more often than it needs to re-read the lookback.
 */
export const ONCE_RECONCILE_MODES = ['always', 'due'] as const;
export type OnceReconcile = (typeof ONCE_RECONCILE_MODES)[number];

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

/** A failure as it may be logged and returned: code, message and fix, never a secret. */
export function describeError(error: unknown, secrets: readonly string[] = []): Record<string, unknown> {
  if (error instanceof ExotraceError) {
    // Already built without secrets; the config's own are replaced too, should one slip in.
    if (secrets.length === 0) return shownFailure(error);
    return Object.fromEntries(
      Object.entries(shownFailure(error)).map(([k, v]) => [
        k,
        typeof v === 'string' ? redactSecrets(v, secrets) : v,
      ]),
    );
  }
  const message = redactSecrets(error instanceof Error ? error.message : String(error), secrets);
  // An output's error carries a short code (`http_401`, `ECONNREFUSED`) when it has one.
  const code = error instanceof Error ? errorCodeOf(error) : undefined;
  return code === undefined || code === 'Error' ? { message } : { code, message };
}

/** The daemon's wait before trying a failing tenant again: the poll interval, doubled per failure in a row, at most 15 minutes (or the poll interval when longer). */
export function failingTenantDelay(pollMs: number, failures: number): number {
  const cap = Math.max(pollMs, 15 * 60_000);
  return Math.min(cap, pollMs * 2 ** Math.min(Math.max(failures - 1, 0), 20));
}

/** After SIGINT/SIGTERM (or --once stopped by back pressure): how long the outputs get to take what was committed. */
const STOP_FLUSH_MS = 30_000;

/**
 * `--once` with the outbox full: how long the output at fault may keep failing (or acknowledge
 * nothing) before collection stops (a blip past one round's retries does not end the catch-up; an
 * output down, or hung, does, in time).
 */
const ONCE_FULL_AND_FAILING_MS = 30_000;

/** A successful round that ends no failure is kept in the state at most this often per output. */
const ROUND_RECORD_EVERY_MS = 60_000;

/** Waits, or stops waiting when the run is stopped (a stop is no error here). */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  systemSleep(ms, signal).catch(() => undefined);

/** Below this many waiting events /metrics counts each tenant's outbox depth at every scrape... */
const EXACT_DEPTH_BELOW = 100_000;
/** ...above, it reuses the count this long (counting reads every waiting event). */
const OUTBOX_DEPTH_CACHE_MS = 60_000;

export async function runCollector(config: Config, options: RunOptions): Promise<RunSummary> {
  const now = options.now ?? Date.now;
  const { log } = options;
  // The run's own stop: the caller's signal, or the end of this function whatever ends it (an
  // unexpected error must not leave tenants or delivery loops running on a closed store).
  const stopRun = new AbortController();
  const onCallerStop = (): void => {
    stopRun.abort(options.signal.reason);
  };
  options.signal.addEventListener('abort', onCallerStop, { once: true });
  if (options.signal.aborted) onCallerStop();
  const signal = stopRun.signal;
  // Collection's own stop: the run's, or (--once) back pressure with the output at fault failing,
  // which would otherwise wait for room for ever. The outputs keep the run's signal: they still get
  // their last round and its deadline.
  const stopCollecting = new AbortController();
  const collecting = AbortSignal.any([signal, stopCollecting.signal]);
  let collectionStoppedFor: string | undefined;
  // Errors kept (state, /status) are cleaned of the configuration's secrets too, not just patterns.
  const secrets = logSecretsOf(config);
  const describe = (error: unknown): Record<string, unknown> => describeError(error, secrets);
  const store = options.store ?? openSqliteStore(config.stateDir);
  const sinks = options.sinks ?? config.outputs.map((output) => createSink(output, sinkIoOf(config, log)));
  const delivered: Record<string, number> = {};
  const deadLettered: Record<string, number> = {};
  const pending: Record<string, number> = {};
  const maxEvents = config.outbox?.maxEvents ?? DEFAULTS.outboxMaxEvents;
  const warnAfterMs = config.outbox?.warnAfterMs ?? DEFAULTS.outboxWarnAfterMs;
  // Daemon: time between a tenant's polls (also in each tenant's lag bound).
  const pollMs = options.pollIntervalMs ?? DEFAULT_POLL_MS;
  const pageNormalizer = options.pageNormalizer ?? createPageNormalizer();
  // Memory stays flat however many tenants: they share a few pages in hand.
  const pageGate = createPageGate();
  const outcomes: TenantOutcome[] = [];
  // What /readyz and /status report of the outputs' rounds, to the millisecond; the state keeps them
  // too (`recordOutputRound`), so that `exotrace status` after --once or without the daemon agrees.
  const outputHealth = new Map<
    string,
    { lastSuccessAt?: number; failingSince?: number; lastError?: Record<string, unknown> }
  >();
  let health: HealthServer | undefined;
  let deliveryLoops: DeliveryLoops | undefined;
  let finishing: Promise<void> | undefined;
  // Each tenant's request budget, created here so that /metrics can say what is left of it.
  const budgets = new Map<string, TenantBudget>();
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
  const metrics = createCollectorMetrics({
    tenants: config.tenants.map((t) => ({ name: t.name, api: t.api })),
    outputs: sinks.map((sink) => sink.name),
    // Process metrics observe the whole process: only for a daemon that serves them.
    processMetrics: config.health !== undefined && !options.once,
    readers: {
      lagMs: async (tenant) => {
        const cursor = (await store.getCheckpoint(tenant, 'fast'))?.cursor;
        return cursor === undefined ? undefined : Math.max(0, now() - cursor);
      },
      outboxDepths: async () => {
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
      budgetRemaining: (tenant) => budgets.get(tenant)?.remaining(),
      backlog: (output) => backlogOf(output),
      deadLetters: (output) => store.deadLetterCount(output),
    },
  });
  // A tenant catching up says so at info every `log.progressEvery` (catch-up.ts).
  const catchUp = createCatchUpProgress({
    log,
    everyMs: config.log?.progressEveryMs ?? DEFAULTS.logProgressEveryMs,
    ...(options.progressClock === undefined ? {} : { now: options.progressClock }),
    budgetOf: (name) => {
      const perWindow = config.tenants.find((t) => t.name === name)?.requestsPer5Min ?? 1;
      const budget = budgets.get(name);
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
  /** The default source: the tenant's own budget, every attempt and retry counted. */
  const sourceOf = (tenant: TenantConfig): MessageTraceSource => {
    const budget = createSourceBudget(tenant);
    budgets.set(tenant.name, budget);
    const labels: MetricsTenant = { name: tenant.name, api: tenant.api };
    return createSource(tenant, config, {
      budget,
      onAttempt: (report) => {
        metrics.attempt(labels, report);
        catchUp.request(tenant.name);
      },
      onRetry: (info) => {
        metrics.retry(labels, info);
        const said = info.status === undefined ? describe(info.error)['message'] : `HTTP ${info.status}`;
        catchUp.retry(tenant.name, typeof said === 'string' ? said : 'a failed request');
        // A 429 under our own budget means another app spends the tenant's quota: worth a line.
        // An answer abandoned at a read limit (bounded-request.ts) means a broken server or
        // network: a warning, never silence.
        const limit = ExotraceError.is(info.error) && READ_LIMIT_CODES.has(info.error.code);
        const level = limit ? 'warn' : info.status === 429 ? 'info' : 'debug';
        log[level]('request retried', {
          tenant: tenant.name,
          retry: info.retry,
          delaySeconds: Math.round(info.delayMs / 100) / 10,
          ...(info.status === undefined ? { error: describe(info.error) } : { status: info.status }),
        });
      },
      onLoginAnswer: (status) => {
        metrics.login(tenant.name, status);
      },
    });
  };
  try {
    // A restarted daemon's gauges start from what the state knows (alerts must not reset).
    const known = new Set(config.tenants.map((t) => t.name));
    for (const c of await store.tenantCycles()) {
      if (known.has(c.tenant)) metrics.lastCycle(c.tenant, c.lastError !== undefined, c.lastSuccessAt);
    }
    await warnIfNewState(store, config, log);
    const removed = await startSinks(store, sinks);
    // An output failing when the last run ended is still failing until a round of it succeeds.
    for (const r of await store.outputRounds()) {
      const { output, ...rounds } = r;
      if (sinks.some((sink) => sink.name === output)) outputHealth.set(output, rounds);
    }
    const roundsRecordedAt = new Map<string, number>();
    /**
     * Keeps an output's round in the state: every failure (its error may change), and a success
     * when it ends a failure or the last one recorded is a minute old (a round runs every second
     * or at each commit: the state need not be written that often). A state that cannot be
     * written is said; delivery goes on as it would.
     */
    const recordRound = (output: string, failed: boolean, wasFailing: boolean): void => {
      const health = outputHealth.get(output);
      const at = now();
      const last = roundsRecordedAt.get(output);
      if (!failed && !wasFailing && last !== undefined && Math.abs(at - last) < ROUND_RECORD_EVERY_MS) return;
      roundsRecordedAt.set(output, at);
      const error = failed ? health?.lastError : undefined;
      store
        .recordOutputRound(output, { at, ...(error === undefined ? {} : { error }) })
        .catch((recordError: unknown) => {
          log.error('could not record the output round in the state', {
            output,
            error: describe(recordError),
          });
        });
    };
    for (const output of removed.forgotten) {
      log.info('output no longer configured: forgotten (it held back pruning of the outbox)', { output });
    }
    for (const output of removed.kept) {
      log.warn(
        'output no longer configured but has dead letters: kept, and the outbox is not pruned past it; add it back to list or retry them with exotrace deadletter',
        { output },
      );
    }
    // Retention: said after each delivery round, at most every ten minutes per output.
    const retention = createRetentionCheck(store, warnAfterMs);
    const warnOfOldEvents = async (): Promise<void> => {
      const names = sinks.map((sink) => sink.name);
      for (const warning of await retention.check(names, now())) {
        log.error('output has not taken events for too long; they are kept in the outbox', { ...warning });
      }
    };

    // The daemon answers /healthz, /readyz, /status and /metrics when the configuration has
    // `health`: started before anything else runs, so that a port in use stops the run at once.
    if (config.health !== undefined && !options.once) {
      const healthListen = config.health.listen;
      health = await startHealthServer({
        listen: config.health.listen,
        // A tenant is not current after two failed cycles in a row (one cut short is no outage).
        // New dead letters make it unready for an hour (or until they are retried): they are events
        // that will not arrive unless someone acts.
        rule: () => ({
          maxBacklog: maxEvents,
          now: now(),
          failedCycles: 2,
          maxWaitingMs: warnAfterMs,
          recentDeadLetterMs: RECENT_DEAD_LETTER_MS,
        }),
        metrics: () => metrics.exposition(),
        // The document `exotrace status --json` prints, by its rule (see README).
        status: (snapshot) =>
          statusReport(config, snapshot, { kind: 'daemon', from: `http://${healthListen}/status` }, now()),
        snapshot: async () => {
          const fromState = await snapshotFromState(store, {
            tenants: config.tenants.map((t) => ({ name: t.name, minAgeMs: t.minAgeMs })),
            outputs: sinks.map((sink) => sink.name),
            now: now(),
            pollMs,
            backlog: backlogOf,
          });
          // Plus what only this process knows: how its outputs' last rounds went.
          return {
            ...fromState,
            outputs: fromState.outputs.map((o) => ({ ...o, ...outputHealth.get(o.output) })),
          };
        },
      });
      log.info('health endpoints listening', {
        address: health.address,
        paths: ['/healthz', '/readyz', '/status', '/metrics'],
      });
    }
    const delivery = startDeliveryLoops({
      store,
      sinks,
      batchLimits: batchLimitsOf(config.outputs),
      log,
      signal,
      now,
      describe,
      afterRound: warnOfOldEvents,
      onRound: (output, round, error) => {
        metrics.delivery(output, round, now());
        if (round.delivered > 0 || round.deadLettered > 0 || error !== undefined)
          log.debug('delivery round', { output, ...round });
        const before = outputHealth.get(output);
        outputHealth.set(
          output,
          error === undefined
            ? { lastSuccessAt: now() }
            : {
                ...(before?.lastSuccessAt === undefined ? {} : { lastSuccessAt: before.lastSuccessAt }),
                failingSince: before?.failingSince ?? now(),
                lastError: describe(error),
              },
        );
        recordRound(output, error !== undefined, before?.failingSince !== undefined);
      },
    });
    deliveryLoops = delivery;

    /** The output furthest behind: how many events it has yet to acknowledge. */
    const furthestBehind = async (): Promise<{ output: string; events: number }> => {
      let worst = { output: '', events: 0 };
      for (const sink of sinks) {
        const events = await backlogOf(sink.name);
        if (events > worst.events) worst = { output: sink.name, events };
      }
      return worst;
    };

    // Back pressure, shared by the tenants: past `outbox.maxEvents` waiting for an output, no new
    // page is asked for until deliveries bring it under (the page in hand still commits); nothing
    // is ever dropped. One line when it starts and one when it ends, not one per tenant.
    const pressure: {
      on: boolean;
      failingFrom: number | undefined;
      /** The output furthest behind at the last look, and its acknowledged sequence then. */
      watched: { output: string; ackedSeq: number | undefined } | undefined;
    } = { on: false, failingFrom: undefined, watched: undefined };
    const roomForPage = async (waitSignal: AbortSignal): Promise<void> => {
      for (;;) {
        const behind = await furthestBehind();
        if (behind.events < maxEvents) {
          if (pressure.on) {
            pressure.on = false;
            log.info('outbox has room again: collection resumes', { events: behind.events, maxEvents });
          }
          return;
        }
        // --once: an output that keeps failing while the outbox is full for it will not make room
        // before the run ends (a daemon waits: the output may come back). Past a grace for a blip,
        // stop fetching, flush, report. Timed on the monotonic clock (`now` may be a test's).
        // Acknowledging nothing while full counts as failing: an output that takes connections and
        // never answers ends no round (and so no failure) for 5 times http.timeout.
        const failing = outputHealth.get(behind.output);
        const ackedSeq = (await store.sinkState(behind.output))?.ackedSeq;
        const progressed =
          pressure.watched?.output !== behind.output || pressure.watched.ackedSeq !== ackedSeq;
        pressure.watched = { output: behind.output, ackedSeq };
        const stalled = failing?.failingSince !== undefined || !progressed;
        if (options.once && stalled) pressure.failingFrom ??= performance.now();
        else pressure.failingFrom = undefined;
        if (
          pressure.failingFrom !== undefined &&
          performance.now() - pressure.failingFrom >= ONCE_FULL_AND_FAILING_MS
        ) {
          if (collectionStoppedFor === undefined) {
            collectionStoppedFor = behind.output;
            log.warn(
              'outbox full and the output is failing: run --once stops collecting; the outputs get their last round, the next run resumes',
              {
                output: behind.output,
                events: behind.events,
                maxEvents,
                configKey: 'outbox.maxEvents',
                ...(failing?.lastError === undefined
                  ? {
                      reason: `no acknowledgement for ${ONCE_FULL_AND_FAILING_MS / 1000} s while the outbox is full`,
                    }
                  : { error: failing.lastError }),
              },
            );
            stopCollecting.abort(new Error(`outbox full for output ${behind.output}, which is failing`));
          }
          throw abortReason(collecting);
        }
        if (!pressure.on) {
          pressure.on = true;
          log.warn('outbox full: collection paused until the outputs catch up (nothing is dropped)', {
            output: behind.output,
            events: behind.events,
            maxEvents,
            configKey: 'outbox.maxEvents',
          });
        }
        await delivery.drained.wait(1000, waitSignal);
        if (waitSignal.aborted) throw abortReason(waitSignal);
      }
    };

    /**
     * Keeps a cycle's outcome in the state (`exotrace status` reads it when no daemon runs). The
     * state may be what failed (a full disk): that is said, and the tenant carries on as it would.
     */
    const recordCycle = async (tenant: string, error: Record<string, unknown> | undefined): Promise<void> => {
      try {
        await store.recordTenantCycle(tenant, { at: now(), ...(error === undefined ? {} : { error }) });
      } catch (recordError) {
        log.error('could not record the tenant cycle in the state', { tenant, error: describe(recordError) });
      }
    };

    const runTenant = async (tenant: TenantConfig): Promise<TenantOutcome> => {
      const source = (options.sourceFor ?? sourceOf)(tenant);
      const collector = createTenantCollector({
        tenant,
        source,
        store,
        now,
        pageNormalizer,
        pageGate,
        roomForPage,
        events: {
          onClamp(name, requested, start) {
            log.warn('start moved inside the API history', {
              tenant: name,
              requested: new Date(requested).toISOString(),
              start: new Date(start).toISOString(),
            });
            options.events?.onClamp?.(name, requested, start);
          },
          onPage(name, pass, window, rows, inserted, page) {
            if (inserted > 0) delivery.committed();
            catchUp.page(name, pass, window, rows, page?.oldest);
            options.events?.onPage?.(name, pass, window, rows, inserted, page);
          },
          onWindowStart(name, pass, window, done, total) {
            catchUp.windowStart(name, pass, window, done, total);
            options.events?.onWindowStart?.(name, pass, window, done, total);
          },
          onWindowEnd(name, pass, window, done, total) {
            catchUp.windowEnd(name, pass, window, done, total);
            options.events?.onWindowEnd?.(name, pass, window, done, total);
          },
          onCommit(name, pass, rows, result, rejects) {
            metrics.committed(name, pass, rows, result);
            // A row that cannot be normalized is kept (never dropped) but must not go unnoticed: a
            // new shape of the API's answers shows here first. The reason names the field; the row
            // itself stays in the state.
            const first = rejects[0];
            if (first !== undefined) {
              log.warn('rows could not be normalized; they are kept in the state (table reject)', {
                tenant: name,
                pass,
                rejected: rejects.length,
                reason: first.reason,
              });
            }
            log.debug('page committed', {
              tenant: name,
              pass,
              rows,
              inserted: result.inserted,
              duplicates: result.duplicates,
              rejected: result.rejected,
            });
            options.events?.onCommit?.(name, pass, rows, result, rejects);
          },
        },
      });
      const passes: PassSummary[] = [];
      // The daemon keeps trying a failing tenant (the cause may be fixed meanwhile: consent given,
      // service principal created, network back), less and less often; --once reports it and ends.
      let failures = 0;
      let lastError: Record<string, unknown> | undefined;
      let cutShort = false;
      // A call, not the property: the compiler would take `aborted` as fixed after a first check.
      const stopped = (): boolean => collecting.aborted;
      try {
        do {
          try {
            catchUp.passStart(tenant.name, 'fast');
            passes.push(
              await collector.fastPass(collecting).finally(() => {
                catchUp.passEnd(tenant.name, 'fast');
              }),
            );
            // --once reconciles always (unless told `due`); the daemon when reconcileEvery says so.
            const forceReconcile = options.once && (options.onceReconcile ?? 'always') === 'always';
            catchUp.passStart(tenant.name, 'reconcile');
            const reconcile = await collector.reconcilePass(collecting, forceReconcile).finally(() => {
              catchUp.passEnd(tenant.name, 'reconcile');
            });
            if (reconcile !== undefined) passes.push(reconcile);
            // A pass stopped between two windows returns what it did: the cycle is not complete, so
            // it is neither "collected" nor recorded as a success (the checkpoints resume it).
            if (stopped()) {
              cutShort = true;
              break;
            }
            // Keys past every re-read's reach can go; the seen-set stays the size of the lookback.
            await store.pruneSeen(now());
            log.info('tenant collected', { tenant: tenant.name, passes: passes.slice(-2) });
            failures = 0;
            lastError = undefined;
            metrics.cycle(tenant.name, true, now());
            await recordCycle(tenant.name, undefined);
          } catch (error) {
            // Stopping (SIGINT/SIGTERM) aborts the request in flight: its page was not committed,
            // and the checkpoint still points before it. That is a clean stop, not a failure.
            if (stopped()) {
              cutShort = true;
              break;
            }
            lastError = describe(error);
            failures++;
            metrics.cycle(tenant.name, false, now());
            const retryInMs = options.once ? undefined : failingTenantDelay(pollMs, failures);
            log.error('tenant failed', {
              tenant: tenant.name,
              error: lastError,
              ...(retryInMs === undefined ? {} : { retryInSeconds: Math.round(retryInMs / 1000) }),
            });
            await recordCycle(tenant.name, lastError);
            if (retryInMs !== undefined) {
              await sleep(retryInMs, signal);
              continue;
            }
          }
          if (!options.once) await sleep(pollMs, signal);
        } while (!options.once && !signal.aborted);
        return {
          tenant: tenant.name,
          passes,
          ...(lastError === undefined ? {} : { error: lastError }),
          ...(cutShort ? { cutShort } : {}),
        };
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
    // Flush what was committed, also after a stop (whose signal is already aborted), but bounded:
    // a stop gives the outputs STOP_FLUSH_MS more, whether it came before the flush or during it.
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
    // Collection stopped by back pressure (--once) gets the same bound: the output at fault is down.
    if (options.signal.aborted || collectionStoppedFor !== undefined) armFlushDeadline();
    else options.signal.addEventListener('abort', armFlushDeadline, { once: true });
    finishing = delivery.finish(flush.signal);
    try {
      await finishing;
    } finally {
      options.signal.removeEventListener('abort', armFlushDeadline);
      clearTimeout(deadline);
    }
    Object.assign(delivered, delivery.delivered);
    Object.assign(deadLettered, delivery.deadLettered);
    for (const sink of sinks) {
      const waiting = await backlogOf(sink.name);
      if (waiting > 0) {
        pending[sink.name] = waiting;
        log.warn('output did not take everything; its events stay in the outbox for the next run', {
          output: sink.name,
          events: waiting,
        });
      }
    }
  } finally {
    // Whatever ended the run, nothing of it keeps running: the tenants' waits and the outputs' loops
    // end (a round in flight is cut) before the outputs and the store are closed under them.
    stopRun.abort(new Error('the run ended'));
    clearInterval(progressTimer);
    options.signal.removeEventListener('abort', onCallerStop);
    const ending = finishing ?? deliveryLoops?.stop();
    if (ending !== undefined) await ending.catch(() => undefined);
    await health?.close();
    if (options.pageNormalizer === undefined) await pageNormalizer.close();
    // Every output is closed even when one fails to, and the store after them.
    const closed = await Promise.allSettled(sinks.map((sink) => sink.close()));
    for (const [i, result] of closed.entries()) {
      if (result.status === 'rejected')
        log.warn('output did not close cleanly', {
          output: sinks[i]?.name,
          error: describe(result.reason),
        });
    }
    if (options.store === undefined) await store.close();
  }
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
