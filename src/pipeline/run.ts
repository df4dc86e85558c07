/**
 * The collector as a whole: every tenant's loop, all concurrent, each with its own source (and so
 * its own request budget) and checkpoints, over one state store; delivery to every output from
 * the outbox. `once` is `exotrace run --once`; otherwise it runs until the signal aborts.
 */
import type { Config, TenantConfig } from '../config/load.js';
import type { Logger } from '../observe/log.js';
import { deliverOnce, startSinks } from '../sinks/deliver.js';
import { createSink, type Sink } from '../sinks/sink.js';
import { ExotraceError, redact } from '../sources/http/errors.js';
import { systemSleep } from '../sources/http/types.js';
import { createSource } from '../sources/create.js';
import type { MessageTraceSource } from '../sources/source.js';
import { openSqliteStore } from '../state/sqlite.js';
import type { StateStore } from '../state/store.js';
import { createTenantCollector, type CollectorEvents, type PassSummary } from './collector.js';

export interface TenantOutcome {
  readonly tenant: string;
  readonly passes: readonly PassSummary[];
  /** Why this tenant failed (sanitized); undefined when it did not. */
  readonly error?: Record<string, unknown>;
}

export interface RunSummary {
  readonly tenants: readonly TenantOutcome[];
  readonly delivered: Readonly<Record<string, number>>;
  readonly failed: boolean;
}

export interface RunOptions {
  readonly once: boolean;
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
}

/** A failure as it may be logged and returned: code, message and fix, never a secret. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof ExotraceError) return error.toJSON();
  return { message: redact(error instanceof Error ? error.message : String(error)) };
}

/** After SIGINT/SIGTERM: how long the outputs get to take what was committed. */
const STOP_FLUSH_MS = 30_000;

/** Waits, or stops waiting when the run is stopped (a stop is no error here). */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  systemSleep(ms, signal).catch(() => undefined);

export async function runCollector(config: Config, options: RunOptions): Promise<RunSummary> {
  const now = options.now ?? Date.now;
  const { log, signal } = options;
  const store = options.store ?? openSqliteStore(config.stateDir);
  const sinks = options.sinks ?? config.outputs.map((output) => createSink(output));
  const delivered: Record<string, number> = {};
  const outcomes: TenantOutcome[] = [];
  try {
    await startSinks(store, sinks);
    const deliver = async (deliverSignal: AbortSignal = signal): Promise<void> => {
      const result = await deliverOnce(store, sinks, { signal: deliverSignal });
      for (const counts of result) {
        delivered[counts.sink] = (delivered[counts.sink] ?? 0) + counts.delivered;
        // A delivery cut short by the stop is not a failing output: the final flush follows.
        if (counts.error !== undefined && !deliverSignal.aborted)
          log.warn('output failing; its events wait in the outbox', {
            output: counts.sink,
            error: describeError(counts.error),
          });
      }
    };

    const runTenant = async (tenant: TenantConfig): Promise<TenantOutcome> => {
      const source = (options.sourceFor ?? ((t) => createSource(t, config)))(tenant);
      const collector = createTenantCollector({
        tenant,
        source,
        store,
        now,
        events: {
          onClamp(name, requested, start) {
            log.warn('start moved inside the API history', {
              tenant: name,
              requested: new Date(requested).toISOString(),
              start: new Date(start).toISOString(),
            });
            options.events?.onClamp?.(name, requested, start);
          },
          onPage(name, pass, window, rows, inserted) {
            options.events?.onPage?.(name, pass, window, rows, inserted);
          },
        },
      });
      const passes: PassSummary[] = [];
      try {
        do {
          passes.push(await collector.fastPass(signal));
          // --once always reconciles; the daemon when reconcileEvery says so.
          const reconcile = await collector.reconcilePass(signal, options.once);
          if (reconcile !== undefined) passes.push(reconcile);
          // Keys past every re-read's reach can go; the seen-set stays the size of the lookback.
          await store.pruneSeen(now());
          log.info('tenant collected', { tenant: tenant.name, passes: passes.slice(-2) });
          if (!options.once) await sleep(options.pollIntervalMs ?? 60_000, signal);
        } while (!options.once && !signal.aborted);
        return { tenant: tenant.name, passes };
      } catch (error) {
        // Stopping (SIGINT/SIGTERM) aborts the request in flight: its page was not committed, and
        // the checkpoint still points before it. That is a clean stop, not a failure.
        if (signal.aborted) return { tenant: tenant.name, passes };
        const described = describeError(error);
        log.error('tenant failed', { tenant: tenant.name, error: described });
        return { tenant: tenant.name, passes, error: described };
      } finally {
        await source.close();
      }
    };

    // Deliver while collecting, so a long backfill does not hold everything in the outbox.
    const collecting = { value: true };
    const delivery = (async () => {
      while (collecting.value && !signal.aborted) {
        await deliver();
        await sleep(1000, signal);
      }
    })();
    outcomes.push(...(await Promise.all(config.tenants.map(runTenant))));
    collecting.value = false;
    await delivery;
    // Flush what was committed, also after a stop (whose signal is already aborted), but bounded.
    await deliver(signal.aborted ? AbortSignal.timeout(STOP_FLUSH_MS) : signal);
  } finally {
    for (const sink of sinks) await sink.close();
    if (options.store === undefined) await store.close();
  }
  return { tenants: outcomes, delivered, failed: outcomes.some((o) => o.error !== undefined) };
}
