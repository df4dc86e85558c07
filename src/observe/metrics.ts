/**
 * The collector's Prometheus metrics, served on `/metrics` by the health server. One registry per
 * run (never prom-client's global one: two runs in a process, or tests, must not add up), named
 * `exotrace_*`. Counters are bumped where things happen (an attempt on the wire, a commit, a
 * delivery round); what the state database knows (lag, backlogs, dead letters) is read when
 * scraped, so it is never stale and costs nothing between scrapes.
 *
 * Labels are bounded: tenant and output names come from the config, statuses are Microsoft's few
 * canonical ones (any other is counted as `other`), HTTP statuses and error codes are small sets. No label or value carries a secret
 * or a URL (queries hold skip tokens and filters).
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { AttemptReport } from '../http/attempt.js';
import { failureCode } from '../core/errors.js';
import type { RetryInfo } from '../http/retry.js';
import { isKnownStatus } from '../normalize/status.js';
import type { CommitResult } from '../core/commit-result.js';
import type { Pass } from '../core/window.js';

/** What the scrape reads from the state and the sources, per tenant and per output. */
export interface MetricsReaders {
  /** now − the tenant's fast checkpoint, ms; undefined before its first commit. */
  lagMs(tenant: string): Promise<number | undefined>;
  /** Per tenant, events in the outbox that some output has yet to take (one query for all). */
  outboxDepths(): Promise<Readonly<Record<string, number>>>;
  /** Requests the tenant may still send in the current 5-minute window. */
  budgetRemaining(tenant: string): number | undefined;
  /** Events the output has yet to acknowledge. */
  backlog(output: string): Promise<number>;
  /** Dead letters the output holds now. */
  deadLetters(output: string): Promise<number>;
}

export interface MetricsTenant {
  readonly name: string;
  /** graph | graph-beta | reporting: the `api` label of its requests. */
  readonly api: string;
}

/** One delivery round of an output, as `deliverOnce` reports it. */
export interface DeliveryRound {
  readonly delivered: number;
  readonly retried: number;
  readonly deadLettered: number;
  /** The round ended in an error (its code, or the error's name). */
  readonly errorCode?: string;
}

export interface CollectorMetrics {
  readonly registry: Registry;
  /** An attempt that reached the wire (the sources' `onAttempt` hook). */
  attempt(tenant: MetricsTenant, report: AttemptReport): void;
  /** An answer of the login host (the sources' `onLoginAnswer` hook); undefined when none came. */
  login(tenant: string, status: number | undefined): void;
  /** A retry about to wait (the sources' `onRetry` hook). */
  retry(tenant: MetricsTenant, info: RetryInfo): void;
  /** A page committed with its checkpoint. */
  committed(
    tenant: string,
    pass: Pass,
    rows: number,
    result: Pick<CommitResult, 'insertedByStatus' | 'duplicates' | 'rejected'> & Partial<CommitResult>,
  ): void;
  /** A tenant's cycle (fast pass, reconcile) ended. */
  cycle(tenant: string, ok: boolean, atMs: number): void;
  /** What the state knows of a tenant's last cycles when the run starts (no cycle is counted). */
  lastCycle(tenant: string, failed: boolean, lastSuccessAtMs: number | undefined): void;
  /** A delivery round of an output ended. */
  delivery(output: string, round: DeliveryRound, atMs: number): void;
  /** The Prometheus text exposition. */
  exposition(): Promise<{ contentType: string; text: string }>;
}

const SECOND = 1000;

let processMetrics: Registry | undefined;
/**
 * The process's own metrics (memory, CPU, event loop, GC), registered once per process: prom-client
 * starts an event-loop monitor and a GC observer for them that are never stopped, so a registry of
 * their own per run would add one of each per run.
 */
function processRegistry(): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: 'exotrace_' });
  }
  return processMetrics;
}

/**
 * The error code a failure is counted under (core/errors.ts `failureCode`): an output's finer
 * code (`http_503`, `ECONNREFUSED`), ours, or the system's along the cause chain, else its name.
 * Never its message.
 */
export const errorCodeOf = failureCode;

export function createCollectorMetrics(options: {
  readonly tenants: readonly MetricsTenant[];
  readonly outputs: readonly string[];
  readonly readers: MetricsReaders;
  /** Process metrics (memory, CPU, event loop); default true. */
  readonly processMetrics?: boolean;
}): CollectorMetrics {
  const { readers } = options;
  const registry = new Registry();
  const registers = [registry];
  // Name, labels, then what it means (the help text is what docs/metrics.md shows).
  const counter = <L extends string>(name: string, labelNames: readonly L[], help: string): Counter<L> =>
    new Counter({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, labelNames: readonly L[], help: string): Gauge<L> =>
    new Gauge({ name, help, labelNames, registers });
  /** A gauge read when scraped: `read` sets its values then (from the state, the budgets). */
  const scraped = <L extends string>(
    name: string,
    labelNames: readonly L[],
    help: string,
    read: (set: (labels: Partial<Record<L, string>>, value: number) => void) => void | Promise<void>,
  ): Gauge<L> =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        await read((labels, value) => {
          this.set(labels, value);
        });
      },
    });

  // Per tenant: the source.
  const requests = counter(
    'exotrace_requests_total',
    ['tenant', 'api', 'status'],
    'Requests to the message trace API that reached the wire, by HTTP status (or "network" when no response came)',
  );
  const logins = counter(
    'exotrace_login_requests_total',
    ['tenant', 'status'],
    'Requests to the login host (tokens, metadata), by HTTP status (or "network"); a 400/401 is a credential or consent problem',
  );
  const throttled = counter(
    'exotrace_throttled_total',
    ['tenant', 'api'],
    '429 (throttled) responses received from the message trace API',
  );
  const retries = counter(
    'exotrace_retries_total',
    ['tenant', 'api', 'reason'],
    'Requests tried again, by what the previous attempt got (HTTP status or "network")',
  );
  scraped(
    'exotrace_request_budget_remaining',
    ['tenant'],
    'Requests the tenant may still send in the current 5-minute window (tenants[i].requestsPer5Min)',
    (set) => {
      for (const t of options.tenants) {
        const remaining = readers.budgetRemaining(t.name);
        if (remaining !== undefined) set({ tenant: t.name }, remaining);
      }
    },
  );

  // Per tenant: collection.
  const rows = counter(
    'exotrace_rows_fetched_total',
    ['tenant', 'pass'],
    'Message trace rows read from the API (every pass, re-reads included)',
  );
  const pages = counter(
    'exotrace_pages_committed_total',
    ['tenant', 'pass'],
    'Pages committed to the state with their checkpoint',
  );
  const events = counter(
    'exotrace_events_total',
    ['tenant', 'status'],
    'New events added to the outbox, by message trace status (event.action; a status Microsoft does not document counts as other)',
  );
  const duplicates = counter(
    'exotrace_duplicates_suppressed_total',
    ['tenant'],
    'Rows read again (reconcile, overlap, resume) and not emitted a second time',
  );
  const rejected = counter(
    'exotrace_rows_rejected_total',
    ['tenant'],
    'Rows that could not be normalized (kept in the state with their reason)',
  );
  const cycles = counter(
    'exotrace_tenant_cycles_total',
    ['tenant', 'outcome'],
    'Collection cycles (fast pass then reconcile when due), by outcome',
  );
  const lastSuccess = gauge(
    'exotrace_tenant_last_success_timestamp_seconds',
    ['tenant'],
    'When the tenant last completed a cycle without error (Unix time)',
  );
  const lastFailed = gauge(
    'exotrace_tenant_last_cycle_failed',
    ['tenant'],
    '1 when the tenant’s last cycle failed (see the log or /status for why), else 0',
  );
  scraped(
    'exotrace_lag_seconds',
    ['tenant'],
    'How far collection is behind: now minus the fast checkpoint (includes minAge)',
    async (set) => {
      for (const t of options.tenants) {
        const lag = await readers.lagMs(t.name);
        if (lag !== undefined) set({ tenant: t.name }, lag / SECOND);
      }
    },
  );
  scraped(
    'exotrace_outbox_events',
    ['tenant'],
    'Events of the tenant in the outbox that some output has yet to take',
    async (set) => {
      const depths = await readers.outboxDepths();
      for (const t of options.tenants) set({ tenant: t.name }, depths[t.name] ?? 0);
    },
  );

  // Per output.
  const delivered = counter(
    'exotrace_output_delivered_total',
    ['output'],
    'Events the output durably took (acknowledged)',
  );
  const outputRetries = counter(
    'exotrace_output_retries_total',
    ['output'],
    'Sends to the output tried again',
  );
  const deadLettered = counter(
    'exotrace_output_dead_lettered_total',
    ['output'],
    'Events the output refused for good, moved to its dead letters',
  );
  const outputFailures = counter(
    'exotrace_output_failures_total',
    ['output', 'code'],
    'Delivery rounds that ended in an error (the events wait in the outbox), by error code',
  );
  const lastError = gauge(
    'exotrace_output_last_error_timestamp_seconds',
    ['output'],
    'When the output’s last delivery round failed (Unix time); see output_last_error_info for the code',
  );
  const lastErrorInfo = gauge(
    'exotrace_output_last_error_info',
    ['output', 'code'],
    '1 for the error code of the output’s last failed round while it is failing; absent once a round succeeds',
  );
  const lastDelivery = gauge(
    'exotrace_output_last_success_timestamp_seconds',
    ['output'],
    'When a delivery round of the output last ended without error (Unix time)',
  );
  scraped(
    'exotrace_output_backlog_events',
    ['output'],
    'Events the output has yet to acknowledge',
    async (set) => {
      for (const o of options.outputs) set({ output: o }, await readers.backlog(o));
    },
  );
  scraped(
    'exotrace_output_dead_letters',
    ['output'],
    'Dead letters the output holds now (exotrace deadletter list|retry)',
    async (set) => {
      for (const o of options.outputs) set({ output: o }, await readers.deadLetters(o));
    },
  );

  // Zero series from the start: a rate() over a counter that appears late misses its first step,
  // and an alert on "no 429s" must see a 0, not nothing.
  for (const t of options.tenants) {
    throttled.inc({ tenant: t.name, api: t.api }, 0);
    duplicates.inc({ tenant: t.name }, 0);
    rejected.inc({ tenant: t.name }, 0);
  }
  for (const o of options.outputs) {
    delivered.inc({ output: o }, 0);
    outputRetries.inc({ output: o }, 0);
    deadLettered.inc({ output: o }, 0);
  }
  const failingCode = new Map<string, string>();

  const setLastCycle = (tenant: string, failed: boolean, lastSuccessAtMs: number | undefined): void => {
    lastFailed.set({ tenant }, failed ? 1 : 0);
    if (lastSuccessAtMs !== undefined) lastSuccess.set({ tenant }, lastSuccessAtMs / SECOND);
  };

  return {
    registry,
    attempt(tenant, report) {
      const status = report.status === undefined ? 'network' : String(report.status);
      requests.inc({ tenant: tenant.name, api: tenant.api, status });
      if (report.status === 429) throttled.inc({ tenant: tenant.name, api: tenant.api });
    },
    login(tenant, status) {
      logins.inc({ tenant, status: status === undefined ? 'network' : String(status) });
    },
    retry(tenant, info) {
      const reason = info.status === undefined ? 'network' : String(info.status);
      retries.inc({ tenant: tenant.name, api: tenant.api, reason });
    },
    committed(tenant, pass, rowCount, result) {
      rows.inc({ tenant, pass }, rowCount);
      pages.inc({ tenant, pass });
      for (const [status, count] of Object.entries(result.insertedByStatus)) {
        // Microsoft's documented statuses by name; anything else (a value added later) as `other`,
        // so that no API answer can grow the label set.
        events.inc(
          { tenant, status: isKnownStatus(status) || status === 'unknown' ? status : 'other' },
          count,
        );
      }
      duplicates.inc({ tenant }, result.duplicates);
      rejected.inc({ tenant }, result.rejected);
    },
    lastCycle: setLastCycle,
    cycle(tenant, ok, atMs) {
      cycles.inc({ tenant, outcome: ok ? 'ok' : 'failed' });
      setLastCycle(tenant, !ok, ok ? atMs : undefined);
    },
    delivery(output, round, atMs) {
      delivered.inc({ output }, round.delivered);
      outputRetries.inc({ output }, round.retried);
      deadLettered.inc({ output }, round.deadLettered);
      const previous = failingCode.get(output);
      if (round.errorCode === undefined) {
        lastDelivery.set({ output }, atMs / SECOND);
        if (previous !== undefined) lastErrorInfo.remove({ output, code: previous });
        failingCode.delete(output);
        return;
      }
      outputFailures.inc({ output, code: round.errorCode });
      lastError.set({ output }, atMs / SECOND);
      if (previous !== undefined && previous !== round.errorCode) {
        lastErrorInfo.remove({ output, code: previous });
      }
      lastErrorInfo.set({ output, code: round.errorCode }, 1);
      failingCode.set(output, round.errorCode);
    },
    async exposition() {
      const own = await registry.metrics();
      if (options.processMetrics === false) return { contentType: registry.contentType, text: own };
      return { contentType: registry.contentType, text: `${own}\n${await processRegistry().metrics()}` };
    },
  };
}

/**
 * docs/metrics.md: every metric the collector serves, from the registry itself (so the reference
 * cannot drift; a test keeps the file equal to this), then what to alert on.
 */
export function renderMetricsDoc(): string {
  const metrics = createCollectorMetrics({
    tenants: [],
    outputs: [],
    processMetrics: false,
    readers: {
      lagMs: () => Promise.resolve(undefined),
      outboxDepths: () => Promise.resolve({}),
      budgetRemaining: () => undefined,
      backlog: () => Promise.resolve(0),
      deadLetters: () => Promise.resolve(0),
    },
  });
  const rows = metrics.registry.getMetricsAsArray().map((metric) => {
    const labels = (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
    return `| \`${metric.name}\` | ${metric.type} | ${labels.map((l) => `\`${l}\``).join(', ')} | ${metric.help} |`;
  });
  return `${[
    '# Metrics',
    '',
    '<!-- Generated by `npm run docs:metrics` from src/observe/metrics.ts; do not edit by hand. -->',
    '',
    'The collector daemon (`exotrace run` without `--once`) serves Prometheus metrics when the',
    'configuration has a `health` block (`health: { listen: 127.0.0.1:9464 }`; nothing is served',
    'without it): `http://<health.listen>/metrics`, beside `/healthz`, `/readyz` and `/status`.',
    'Every series has the `exotrace_` prefix; tenant and output names are those of the',
    'configuration. Counters start at zero when the daemon starts. Gauges about the state (lag,',
    'outbox, backlog, dead letters) are read from the state database when scraped.',
    '',
    '| metric | type | labels | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
    'The usual process metrics come along with the same prefix (`exotrace_process_resident_memory_bytes`,',
    '`exotrace_process_cpu_seconds_total`, `exotrace_nodejs_eventloop_lag_seconds`, …).',
    '`exotrace_outbox_events` is counted at every scrape while fewer than 100,000 events wait, and at',
    'most once a minute beyond (counting reads every waiting event).',
    '',
    '## What to alert on',
    '',
    '| alert | expression (PromQL) | why |',
    '|---|---|---|',
    '| tenant failing | `exotrace_tenant_last_cycle_failed == 1` for 15m | credentials, consent, service principal: the log and `exotrace status` say which fix |',
    '| tenant behind | `exotrace_lag_seconds > 3600` | collection stalled or throttled for an hour (normal lag is `minAge` plus a poll: raise the bound above any long `minAge`) |',
    '| throttled by Microsoft | `increase(exotrace_throttled_total[15m]) > 0` | another app of the tenant spends the 100 requests per 5 minutes; lower `requestsPer5Min` |',
    '| output down | `max by (output) (exotrace_output_last_error_info) == 1` for 10m | the events wait in the outbox; `exotrace_output_backlog_events` says how many (by output, so that a changing error code does not restart the timer) |',
    '| outbox filling | `max(exotrace_output_backlog_events) > 500000` | near `outbox.maxEvents` (default 1,000,000) collection pauses |',
    '| dead letters | `exotrace_output_dead_letters > 0` | events an output refused for good: `exotrace deadletter list` |',
    '| rejected rows | `increase(exotrace_rows_rejected_total[1h]) > 0` | rows that could not be normalized (a new API shape?) |',
  ].join('\n')}\n`;
}
