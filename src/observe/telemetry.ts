/**
 * Telemetry apart from orchestration: every log line (and the metrics that go with them) of the
 * collector's middle, written here from the events the outbox, the assembly and the collector's
 * run expose. The orchestration code (src/pipeline/) says what happened by calling these; it holds
 * no log string. The texts and fields are the ones the docs, the tests and people's alerts grep:
 * change them here only with care.
 */
import { ExotraceError } from '../core/errors.js';
import type { Pass, TimeWindow } from '../core/window.js';
import type { AttemptReport } from '../http/attempt.js';
import type { RetryInfo } from '../http/retry.js';
import type { CommitResult } from '../core/commit-result.js';
import type { CatchUpProgress } from './catch-up.js';
import type { Logger } from './log.js';
import type { SinkNotice } from '../sinks/types.js';
import type { CollectorMetrics, DeliveryRound } from './metrics.js';

/** What the outbox says: its outputs' rounds, back pressure, retention, dead letters. */
export interface OutboxTelemetry {
  /** A round of `output` ended (metrics; a debug line when it did something or failed). */
  round(output: string, round: DeliveryRound, error?: unknown): void;
  /** An output the state knew and the configuration no longer has, forgotten. */
  outputForgotten(output: string): void;
  /** The same, kept for its dead letters. */
  outputKept(output: string): void;
  /** An output's round could not be kept in the state. */
  roundNotRecorded(output: string, error: unknown): void;
  /** An output has not taken events for longer than `outbox.warnAfter`. */
  eventsWaitingTooLong(warning: Readonly<Record<string, unknown>>): void;
  /** Back pressure started: no page is asked for. */
  paused(fields: { output: string; events: number; maxEvents: number }): void;
  /** Back pressure ended. */
  resumed(fields: { events: number; maxEvents: number }): void;
  /** A run that ends by itself stopped collecting: the outbox stayed full for a failing output. */
  stoppedCollecting(
    stop: { who: string; resumes: string },
    fields: { output: string; events: number; maxEvents: number },
    why: { error: Record<string, unknown> } | { reason: string },
  ): void;
  /** A batch put events in the dead letters. */
  deadLettered(batch: { sink: string; count: number; reason: string }): void;
  /** An output's round gave up (said at most once a minute per output by the caller). */
  outputFailing(output: string, error: unknown, retryAfterMs: number | undefined): void;
  /** A delivery round failed on the state (the database unwritable). */
  deliveryFailed(output: string, error: unknown): void;
  /** The check after a round (retention) failed. */
  outboxCheckFailed(error: unknown): void;
}

/** What the assembly says when it takes things down. */
export interface AssemblyTelemetry {
  normalizerNotClosed(error: unknown): void;
  outputNotClosed(output: string | undefined, error: unknown): void;
}

export interface TelemetryOptions {
  /** Turns an error into what may be logged (no secret). */
  readonly describe: (error: unknown) => Record<string, unknown>;
  /** Metrics of each delivery round (the collector's /metrics), when there are any. */
  readonly onRound?: (output: string, round: DeliveryRound) => void;
}

export function outboxTelemetry(log: Logger, options: TelemetryOptions): OutboxTelemetry {
  const { describe } = options;
  return {
    round(output, round, error) {
      options.onRound?.(output, round);
      if (round.delivered > 0 || round.deadLettered > 0 || error !== undefined)
        log.debug('delivery round', { output, ...round });
    },
    outputForgotten(output) {
      log.info('output no longer configured: forgotten (it held back pruning of the outbox)', { output });
    },
    outputKept(output) {
      log.warn(
        'output no longer configured but has dead letters: kept, and the outbox is not pruned past it; add it back to list or retry them with exotrace deadletter',
        { output },
      );
    },
    roundNotRecorded(output, error) {
      log.error('could not record the output round in the state', { output, error: describe(error) });
    },
    eventsWaitingTooLong(warning) {
      log.error('output has not taken events for too long; they are kept in the outbox', { ...warning });
    },
    paused(fields) {
      log.warn('outbox full: collection paused until the outputs catch up (nothing is dropped)', {
        ...fields,
        configKey: 'outbox.maxEvents',
      });
    },
    resumed(fields) {
      log.info('outbox has room again: collection resumes', fields);
    },
    stoppedCollecting(stop, fields, why) {
      log.warn(
        `outbox full and the output is failing: ${stop.who} stops collecting; the outputs get their last round, ${stop.resumes}`,
        { ...fields, configKey: 'outbox.maxEvents', ...why },
      );
    },
    deadLettered(batch) {
      log.warn('output refused events for good: they are in the dead letters', {
        output: batch.sink,
        events: batch.count,
        reason: batch.reason,
        fix: `exotrace deadletter list --output ${batch.sink}; fix the cause, then exotrace deadletter retry`,
      });
    },
    outputFailing(output, error, retryAfterMs) {
      log.warn('output failing; its events wait in the outbox', {
        output,
        error: describe(error),
        ...(retryAfterMs === undefined ? {} : { retryAfterSeconds: Math.ceil(retryAfterMs / 1000) }),
      });
    },
    deliveryFailed(output, error) {
      log.error('delivery failed; the events stay in the outbox', { output, error: describe(error) });
    },
    outboxCheckFailed(error) {
      log.error('outbox check failed', { error: describe(error) });
    },
  };
}

export function assemblyTelemetry(
  log: Logger,
  options: Pick<TelemetryOptions, 'describe'>,
): AssemblyTelemetry {
  return {
    normalizerNotClosed(error) {
      log.warn('the normalizer pool did not close cleanly', { error: options.describe(error) });
    },
    outputNotClosed(output, error) {
      log.warn('output did not close cleanly', { output, error: options.describe(error) });
    },
  };
}

/** A tenant as the metrics label it. */
interface TenantLabels {
  readonly name: string;
  readonly api: string;
}

/** What the collector's run says: its sources' requests, its tenants' pages, cycles and end. */
export interface RunTelemetry {
  /** The hooks of a tenant's source: attempts, retries and login answers counted and said. */
  sourceHooks(tenant: TenantLabels): {
    onAttempt: (report: AttemptReport) => void;
    onRetry: (info: RetryInfo) => void;
    onLoginAnswer: (status: number | undefined) => void;
  };
  /** A requested start older than the API keeps was moved. */
  clamped(tenant: string, requested: number, start: number): void;
  passStart(tenant: string, pass: Pass): void;
  passEnd(tenant: string, pass: Pass): void;
  windowStart(tenant: string, pass: Pass, window: TimeWindow, done: number, total: number): void;
  windowEnd(tenant: string, pass: Pass, window: TimeWindow, done: number, total: number): void;
  page(tenant: string, pass: Pass, window: TimeWindow, rows: number, oldest: number | undefined): void;
  /** A page committed (its counters are the commit-counters processor's). */
  committed(
    tenant: string,
    pass: Pass,
    rows: number,
    result: Pick<CommitResult, 'inserted' | 'duplicates' | 'rejected'>,
    rejects: readonly { readonly reason: string }[],
  ): void;
  tenantCollected(tenant: string, passes: readonly unknown[], at: number): void;
  tenantFailed(
    tenant: string,
    error: Record<string, unknown>,
    retryInMs: number | undefined,
    at: number,
  ): void;
  cycleNotRecorded(tenant: string, error: unknown): void;
  healthListening(address: string, paths: readonly string[]): void;
  /** The run ended with events of `output` still in the outbox. */
  outputBehind(output: string, events: number): void;
}

/** The errors of a request abandoned at its deadline or its body ceiling. */
const READ_LIMIT_CODES: ReadonlySet<string> = new Set(['request_timeout', 'response_too_large']);

export function runTelemetry(
  log: Logger,
  options: Pick<TelemetryOptions, 'describe'> & {
    readonly metrics: CollectorMetrics;
    readonly catchUp: CatchUpProgress;
  },
): RunTelemetry {
  const { describe, metrics, catchUp } = options;
  return {
    sourceHooks(tenant) {
      return {
        onAttempt: (report) => {
          metrics.attempt(tenant, report);
          catchUp.request(tenant.name);
        },
        onRetry: (info) => {
          metrics.retry(tenant, info);
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
      };
    },
    clamped(tenant, requested, start) {
      log.warn('start moved inside the API history', {
        tenant,
        requested: new Date(requested).toISOString(),
        start: new Date(start).toISOString(),
      });
    },
    passStart: (tenant, pass) => {
      catchUp.passStart(tenant, pass);
    },
    passEnd: (tenant, pass) => {
      catchUp.passEnd(tenant, pass);
    },
    windowStart: (tenant, pass, window, done, total) => {
      catchUp.windowStart(tenant, pass, window, done, total);
    },
    windowEnd: (tenant, pass, window, done, total) => {
      catchUp.windowEnd(tenant, pass, window, done, total);
    },
    page: (tenant, pass, window, rows, oldest) => {
      catchUp.page(tenant, pass, window, rows, oldest);
    },
    committed(tenant, pass, rows, result, rejects) {
      // A row that cannot be normalized is kept (never dropped) but must not go unnoticed: a new
      // shape of the API's answers shows here first. The reason names the field; the row itself
      // stays in the state.
      const first = rejects[0];
      if (first !== undefined) {
        log.warn('rows could not be normalized; they are kept in the state (table reject)', {
          tenant,
          pass,
          rejected: rejects.length,
          reason: first.reason,
        });
      }
      log.debug('page committed', {
        tenant,
        pass,
        rows,
        inserted: result.inserted,
        duplicates: result.duplicates,
        rejected: result.rejected,
      });
    },
    tenantCollected(tenant, passes, at) {
      log.info('tenant collected', { tenant, passes });
      metrics.cycle(tenant, true, at);
    },
    tenantFailed(tenant, error, retryInMs, at) {
      metrics.cycle(tenant, false, at);
      log.error('tenant failed', {
        tenant,
        error,
        ...(retryInMs === undefined ? {} : { retryInSeconds: Math.round(retryInMs / 1000) }),
      });
    },
    cycleNotRecorded(tenant, error) {
      log.error('could not record the tenant cycle in the state', { tenant, error: describe(error) });
    },
    healthListening(address, paths) {
      log.info('health endpoints listening', { address, paths });
    },
    outputBehind(output, events) {
      log.warn('output did not take everything; its events stay in the outbox for the next run', {
        output,
        events,
      });
    },
  };
}

/** A notice as a log line: a rotation is routine (info), anything else is worth a warning. */
export function noticeLogger(log: Logger): (notice: SinkNotice) => void {
  return (notice) => {
    const level = notice.kind === 'rotated' ? 'info' : 'warn';
    log[level](notice.message, { output: notice.sink, notice: notice.kind });
  };
}
