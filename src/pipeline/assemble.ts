/**
 * The one assembly of the collector, for `run`, `run --once`, `backfill` and `demo` alike: from the
 * configuration it builds the state, the outputs, the sources (each tenant with its own request
 * budget), the normalizer pool, the page gate and the outbox; `close` takes them down in order
 * (the outbox's loops, the pool, every output even when one fails to close, then the state).
 * Tests and the demo may hand in their own store, outputs, sources or normalizer: those are theirs
 * to close.
 */
import type { Config, TenantConfig } from '../config/load.js';
import { logSecretsOf } from '../config/secrets.js';
import { DEFAULTS } from '../config/schema.js';
import type { Logger } from '../observe/log.js';
import type { DeliveryRound } from '../observe/metrics.js';
import { assemblyTelemetry, noticeLogger, outboxTelemetry } from '../observe/telemetry.js';
import { createSink, sinkIoOf } from '../sinks/registry.js';
import type { Sink } from '../sinks/types.js';
import { createSource, createSourceBudget, type SourceHooks } from '../sources/create.js';
import type { TenantBudget } from '../sources/http/budget.js';
import type { MessageTraceSource } from '../sources/source.js';
import { openStateStore } from '../state/index.js';
import type { StateStore } from '../state/store.js';
import { describeError } from './describe-error.js';
import { createPageNormalizer } from './normalize-pool.js';
import { createPageGate, type PageGate } from './page-gate.js';
import type { PageNormalizer } from './page-events.js';
import { createOutbox, type Outbox, type StopWhenStalled } from './outbox/index.js';
import type { Processor } from './processors/index.js';

export interface AssemblyOptions {
  readonly log: Logger;
  /** The run's stop: the outbox's loops end with it. */
  readonly signal: AbortSignal;
  readonly now?: () => number;
  /** A run that ends by itself (`--once`, backfill) stops collecting when full for a failing output. */
  readonly stopWhenStalled?: StopWhenStalled;
  /** Each delivery round's outcome (metrics). */
  readonly onRound?: (output: string, round: DeliveryRound) => void;
  /** The steps that see each page's new events inside its commit (pipeline/processors). */
  readonly processors?: readonly Processor[];
  /** Tests and the demo inject these (and close them); by default they come from the config. */
  readonly store?: StateStore;
  readonly sinks?: readonly Sink[];
  readonly sourceFor?: (tenant: TenantConfig) => MessageTraceSource;
  /** Default: a pool of worker threads shared by the tenants (inline when running from sources). */
  readonly pageNormalizer?: PageNormalizer;
}

export interface Assembly {
  readonly store: StateStore;
  readonly sinks: readonly Sink[];
  readonly pageNormalizer: PageNormalizer;
  /** Memory stays flat however many tenants: they share a few pages in hand. */
  readonly pageGate: PageGate;
  readonly outbox: Outbox;
  /** The tenant's source over its own request budget (created here: one per tenant). */
  sourceFor(tenant: TenantConfig, hooks?: Omit<SourceHooks, 'budget'>): MessageTraceSource;
  /** The budget of a tenant whose source was made here. */
  budgetOf(tenant: string): TenantBudget | undefined;
  /** Errors cleaned of the configuration's secrets too, not just patterns. */
  readonly describe: (error: unknown) => Record<string, unknown>;
  /** Takes everything down in order; safe after any failure, idempotent. */
  close(): Promise<void>;
}

export function assemble(config: Config, options: AssemblyOptions): Assembly {
  const { log } = options;
  const now = options.now ?? Date.now;
  const secrets = logSecretsOf(config);
  const describe = (error: unknown): Record<string, unknown> => describeError(error, secrets);
  const store = options.store ?? openStateStore(config);
  const sinks =
    options.sinks ?? config.outputs.map((output) => createSink(output, sinkIoOf(config, noticeLogger(log))));
  const pageNormalizer = options.pageNormalizer ?? createPageNormalizer();
  const pageGate = createPageGate();
  const budgets = new Map<string, TenantBudget>();
  const outbox = createOutbox({
    store,
    sinks,
    outputs: config.outputs,
    maxEvents: config.outbox?.maxEvents ?? DEFAULTS.outboxMaxEvents,
    warnAfterMs: config.outbox?.warnAfterMs ?? DEFAULTS.outboxWarnAfterMs,
    log,
    signal: options.signal,
    now,
    describe,
    ...(options.stopWhenStalled === undefined ? {} : { stopWhenStalled: options.stopWhenStalled }),
    telemetry: outboxTelemetry(log, {
      describe,
      ...(options.onRound === undefined ? {} : { onRound: options.onRound }),
    }),
    ...(options.processors === undefined ? {} : { processors: options.processors }),
  });
  const said = assemblyTelemetry(log, { describe });
  let closing: Promise<void> | undefined;

  return {
    store,
    sinks,
    pageNormalizer,
    pageGate,
    outbox,
    sourceFor(tenant, hooks = {}) {
      if (options.sourceFor !== undefined) return options.sourceFor(tenant);
      const budget = createSourceBudget(tenant);
      budgets.set(tenant.name, budget);
      return createSource(tenant, config, { ...hooks, budget });
    },
    budgetOf: (tenant) => budgets.get(tenant),
    describe,
    close() {
      closing ??= (async () => {
        // Nothing keeps running on what is closed next: the outputs' loops end first.
        await outbox.stop().catch(() => undefined);
        if (options.pageNormalizer === undefined)
          await pageNormalizer.close().catch((error: unknown) => {
            said.normalizerNotClosed(error);
          });
        // Every output is closed even when one fails to, and the store after them.
        const closed = await Promise.allSettled(sinks.map((sink) => sink.close()));
        for (const [i, result] of closed.entries()) {
          if (result.status === 'rejected') said.outputNotClosed(sinks[i]?.name, result.reason);
        }
        if (options.store === undefined) await store.close();
      })();
      return closing;
    },
  };
}
