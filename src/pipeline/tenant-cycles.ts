/**
 * A tenant's cycles in a run: the fast pass, then the reconcile pass (always under `--once`
 * unless told `due`; the daemon when `reconcileEvery` says so), the outcome kept in the state; the
 * daemon polls again after `pollMs`, and keeps trying a failing tenant less and less often.
 */
import type { RunTelemetry } from '../observe/telemetry.js';
import type { StateStore } from '../state/store.js';
import { systemSleep } from '../util/abort.js';
import type { PassSummary, TenantCollector } from './collector.js';

export interface TenantOutcome {
  readonly tenant: string;
  readonly passes: readonly PassSummary[];
  /** Why this tenant failed (sanitized); undefined when it did not. */
  readonly error?: Record<string, unknown>;
  /** Its last cycle was cut short (a stop): neither a success nor a failure, and not recorded. */
  readonly cutShort?: boolean;
}

/**
 * When `--once` runs the reconcile pass: `always` (the default, as the interface promises), or
 * `due`: only when `reconcileEvery` has passed since the tenant's last reconcile (read from the
 * state), as the daemon does; for a cron job that runs more often than it needs to re-read the lookback.
 */
export const ONCE_RECONCILE_MODES = ['always', 'due'] as const;
export type OnceReconcile = (typeof ONCE_RECONCILE_MODES)[number];

/** The daemon's wait before trying a failing tenant again: the poll interval, doubled per failure in a row, at most 15 minutes (or the poll interval when longer). */
export function failingTenantDelay(pollMs: number, failures: number): number {
  const cap = Math.max(pollMs, 15 * 60_000);
  return Math.min(cap, pollMs * 2 ** Math.min(Math.max(failures - 1, 0), 20));
}

/** Waits, or stops waiting when the run is stopped (a stop is no error here). */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  systemSleep(ms, signal).catch(() => undefined);

export interface TenantCyclesOptions {
  readonly tenant: string;
  readonly collector: TenantCollector;
  readonly store: StateStore;
  readonly once: boolean;
  /** `--once` only. Default `always`. */
  readonly onceReconcile?: OnceReconcile;
  /** Daemon: time between a tenant's polls. */
  readonly pollMs: number;
  readonly now: () => number;
  /** The run's stop: ends the daemon's waits. */
  readonly signal: AbortSignal;
  /** Collection's stop: the run's, or back pressure's (a pass stopped by it is cut short). */
  readonly collecting: AbortSignal;
  readonly said: Pick<
    RunTelemetry,
    'passStart' | 'passEnd' | 'tenantCollected' | 'tenantFailed' | 'cycleNotRecorded'
  >;
  readonly describe: (error: unknown) => Record<string, unknown>;
}

export async function runTenantCycles(options: TenantCyclesOptions): Promise<TenantOutcome> {
  const { tenant, collector, store, now, signal, collecting, said, pollMs, describe } = options;
  /**
   * Keeps a cycle's outcome in the state (`exotrace status` reads it when no daemon runs). The
   * state may be what failed (a full disk): that is said, and the tenant carries on as it would.
   */
  const recordCycle = async (error: Record<string, unknown> | undefined): Promise<void> => {
    try {
      await store.recordTenantCycle(tenant, { at: now(), ...(error === undefined ? {} : { error }) });
    } catch (recordError) {
      said.cycleNotRecorded(tenant, recordError);
    }
  };
  const passes: PassSummary[] = [];
  // The daemon keeps trying a failing tenant (the cause may be fixed meanwhile: consent given,
  // service principal created, network back), less and less often; --once reports it and ends.
  let failures = 0;
  let lastError: Record<string, unknown> | undefined;
  let cutShort = false;
  // A call, not the property: the compiler would take `aborted` as fixed after a first check.
  const stopped = (): boolean => collecting.aborted;
  do {
    try {
      said.passStart(tenant, 'fast');
      passes.push(
        await collector.fastPass(collecting).finally(() => {
          said.passEnd(tenant, 'fast');
        }),
      );
      // --once reconciles always (unless told `due`); the daemon when reconcileEvery says so.
      const forceReconcile = options.once && (options.onceReconcile ?? 'always') === 'always';
      said.passStart(tenant, 'reconcile');
      const reconcile = await collector.reconcilePass(collecting, forceReconcile).finally(() => {
        said.passEnd(tenant, 'reconcile');
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
      said.tenantCollected(tenant, passes.slice(-2), now());
      failures = 0;
      lastError = undefined;
      await recordCycle(undefined);
    } catch (error) {
      // Stopping (SIGINT/SIGTERM) aborts the request in flight: its page was not committed,
      // and the checkpoint still points before it. That is a clean stop, not a failure.
      if (stopped()) {
        cutShort = true;
        break;
      }
      lastError = describe(error);
      failures++;
      const retryInMs = options.once ? undefined : failingTenantDelay(pollMs, failures);
      said.tenantFailed(tenant, lastError, retryInMs, now());
      await recordCycle(lastError);
      if (retryInMs !== undefined) {
        await sleep(retryInMs, signal);
        continue;
      }
    }
    if (!options.once) await sleep(pollMs, signal);
  } while (!options.once && !signal.aborted);
  return {
    tenant,
    passes,
    ...(lastError === undefined ? {} : { error: lastError }),
    ...(cutShort ? { cutShort } : {}),
  };
}
