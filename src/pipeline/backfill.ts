/**
 * A bounded historical collection of one tenant (`exotrace backfill`), on the same assembly as
 * `run`: the page gate, the worker pool, back pressure (`outbox.maxEvents`), delivery while it
 * collects, and a safe close. Like `run --once` it ends by itself: an output that keeps failing
 * while the outbox is full for it stops collection (after the full-and-failing grace), the outputs
 * get their last round within the flush deadline, and the same command resumes.
 */
import { linkedAbort } from '../util/abort.js';
import type { Config, TenantConfig } from '../config/load.js';
import type { Logger } from '../observe/log.js';
import type { SourceHooks } from '../sources/create.js';
import type { TenantBudget } from '../sources/http/budget.js';
import { assemble } from './assemble.js';
import {
  createTenantCollector,
  type BackfillOptions,
  type CollectorEvents,
  type PassSummary,
} from './collector.js';
import { warnIfNewState } from '../observe/new-state.js';
import type { FlushOutcome } from './outbox/index.js';

export interface BackfillRunOptions extends BackfillOptions {
  readonly from: number;
  readonly to: number;
  /** The caller's stop (^C, SIGTERM): collection ends, the outputs get their last round. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly events?: CollectorEvents;
  /** A window of the plan finished (`done` of `total`). */
  readonly onWindow?: (done: number, total: number) => void;
  /** Every attempt of the tenant's source (progress). */
  readonly onAttempt?: SourceHooks['onAttempt'];
  /** The tenant's budget once its source exists (the progress's ETA reads what is left of it). */
  readonly onBudget?: (budget: TenantBudget) => void;
  /** Collection ended (done, stopped or failed), before the final flush: the progress bar ends. */
  readonly onCollected?: () => void;
}

export type BackfillOutcome =
  | {
      readonly kind: 'collected';
      readonly summary: PassSummary;
      readonly flushed: FlushOutcome;
      /** The last error of each output left behind (for the line that says so). */
      readonly errors: Readonly<Record<string, Record<string, unknown>>>;
    }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'failed'; readonly error: Record<string, unknown> };

export async function runBackfill(
  config: Config,
  tenant: TenantConfig,
  options: BackfillRunOptions,
): Promise<BackfillOutcome> {
  const { log } = options;
  // The run's own stop: the caller's, or the end of this function whatever ends it.
  const stopRun = linkedAbort(options.signal);
  // No `stopWhenStalled`: with the outbox full for an output that is down, a backfill waits for it
  // as the daemon does and resumes when it takes events again (^C stops it; the same command
  // resumes). It is run by hand, for one tenant, and has nothing else to get on with.
  const assembly = assemble(config, { log, signal: stopRun.signal });
  const { outbox } = assembly;
  const collecting = stopRun.signal;
  const errorsOf = (flushed: FlushOutcome): Record<string, Record<string, unknown>> => {
    const errors: Record<string, Record<string, unknown>> = {};
    for (const output of Object.keys(flushed.pending)) {
      const error = outbox.roundsOf(output)?.lastError;
      if (error !== undefined) errors[output] = error;
    }
    return errors;
  };
  try {
    warnIfNewState(await assembly.store.createdNew(), config, log);
    await outbox.start();
    const source = assembly.sourceFor(tenant, {
      ...(options.onAttempt === undefined ? {} : { onAttempt: options.onAttempt }),
    });
    const budget = assembly.budgetOf(tenant.name);
    if (budget !== undefined) options.onBudget?.(budget);
    let summary: PassSummary | undefined;
    let failure: unknown;
    try {
      const collector = createTenantCollector({
        tenant,
        source,
        store: assembly.store,
        now: Date.now,
        pageNormalizer: assembly.pageNormalizer,
        pageGate: assembly.pageGate,
        roomForPage: outbox.roomForPage,
        commit: outbox.commit,
        ...(options.events === undefined ? {} : { events: options.events }),
      });
      summary = await collector.backfill(options.from, options.to, collecting, options.onWindow, {
        ...(options.recollect === undefined ? {} : { recollect: options.recollect }),
      });
    } catch (error) {
      failure = error;
    } finally {
      options.onCollected?.();
      await source.close();
    }
    // What was committed is delivered whatever ended collection, within the flush deadline once
    // stopped.
    const flushed = await outbox.finish(options.signal);
    if (options.signal.aborted) return { kind: 'stopped' };
    if (summary === undefined) return { kind: 'failed', error: assembly.describe(failure) };
    return { kind: 'collected', summary, flushed, errors: errorsOf(flushed) };
  } catch (error) {
    if (options.signal.aborted) return { kind: 'stopped' };
    return { kind: 'failed', error: assembly.describe(error) };
  } finally {
    stopRun.end(new Error('the backfill ended'));
    await assembly.close();
  }
}
