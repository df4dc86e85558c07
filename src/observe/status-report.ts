/**
 * The status document: what `exotrace status --json` prints and what the daemon's `/status`
 * serves, built by one function so that the two never drift apart (they once did: `/status` had
 * epoch milliseconds and other keys). Instants are ISO 8601 everywhere; durations stay in ms
 * (`lagMs`, `maxLagMs`). `snapshotOfReport` reads such a document back, so that `exotrace status`
 * can judge a daemon's answer by its own options (`--max-lag`).
 */
import type { Config } from '../config/load.js';
import { DEFAULTS } from '../config/schema.js';
import { readiness, type HealthSnapshot, type OutputHealth, type TenantHealth } from './health.js';
import { plural } from '../util/plural.js';

type TenantInstants = 'lastSuccessAt' | 'lastFailureAt';
type OutputInstants = 'newestDeadLetterAt' | 'oldestWaitingAt' | 'lastSuccessAt' | 'failingSince';

export interface TenantStatus extends Omit<TenantHealth, TenantInstants> {
  /** The tenant's `api` in this configuration (absent for a tenant only the daemon knows). */
  readonly api?: string;
  readonly lastSuccessAt?: string;
  readonly lastFailureAt?: string;
  /** No checkpoint and no cycle: this state has never collected the tenant. */
  readonly neverCollected: boolean;
}

export interface OutputStatus extends Omit<OutputHealth, OutputInstants> {
  readonly type?: string;
  readonly newestDeadLetterAt?: string;
  readonly oldestWaitingAt?: string;
  readonly lastSuccessAt?: string;
  readonly failingSince?: string;
}

/** The document: `status --json` and `/status`. Instants are ISO 8601. */
export interface StatusReport {
  /** Where it was read: the state database, or the running collector (`/status`). */
  readonly source: 'state' | 'daemon';
  /** The state directory, or the URL of the collector's `/status`. */
  readonly from: string;
  readonly at: string;
  /** Every tenant current and every output keeping up, with no dead letters. */
  readonly current: boolean;
  readonly reasons: readonly string[];
  readonly tenants: readonly TenantStatus[];
  readonly outputs: readonly OutputStatus[];
}

/** Each tenant's lag bound replaced by `maxLagMs` (`status --max-lag`), e.g. for an hourly cron. */
export function withMaxLag(snapshot: HealthSnapshot, maxLagMs: number | undefined): HealthSnapshot {
  if (maxLagMs === undefined) return snapshot;
  return { ...snapshot, tenants: snapshot.tenants.map((t) => ({ ...t, maxLagMs })) };
}

const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

/** `{ key: ISO }` for each instant that is there, nothing for one that is not. */
function instants<K extends string>(values: Readonly<Partial<Record<K, number>>>, keys: readonly K[]) {
  const out: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const value = iso(values[key]);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** `value` without `keys`. */
function without<T extends object, K extends string>(value: T, keys: readonly K[]): Omit<T, K> {
  const drop = new Set<string>(keys);
  return Object.fromEntries(Object.entries(value).filter(([key]) => !drop.has(key))) as Omit<T, K>;
}

const TENANT_INSTANTS: readonly TenantInstants[] = ['lastSuccessAt', 'lastFailureAt'];
const OUTPUT_INSTANTS: readonly OutputInstants[] = [
  'newestDeadLetterAt',
  'oldestWaitingAt',
  'lastSuccessAt',
  'failingSince',
];

/**
 * The report: the snapshot judged by the rule of `exotrace status` (one failed cycle makes a
 * tenant not current, every dead letter held counts), times as ISO.
 */
export function statusReport(
  config: Config,
  snapshot: HealthSnapshot,
  source: { readonly kind: 'state' | 'daemon'; readonly from: string },
  now: number,
): StatusReport {
  const maxBacklog = config.outbox?.maxEvents ?? DEFAULTS.outboxMaxEvents;
  const maxWaitingMs = config.outbox?.warnAfterMs ?? DEFAULTS.outboxWarnAfterMs;
  // A tenant with checkpoints but no recorded cycle has never finished one (stopped or killed during
  // its first): "no cycle completed yet", as /readyz says. (Every released state records cycles.)
  // failedCycles stays 1 (not the daemon's 2): a cron `run --once` whose last cycle failed is not current.
  const ready = readiness(snapshot, { maxBacklog, maxWaitingMs, now });
  const reasons = [...ready.reasons];
  for (const o of snapshot.outputs) {
    if (o.deadLetters > 0) {
      reasons.push(
        `output ${o.output}: ${o.deadLetters} ${plural(o.deadLetters, 'dead letter')} (exotrace deadletter list --config ${config.file} --output ${o.output})`,
      );
    }
  }
  const apiOf = new Map(config.tenants.map((t) => [t.name, t.api]));
  const typeOf = new Map(config.outputs.map((o) => [o.name, o.type]));
  return {
    source: source.kind,
    from: source.from,
    at: new Date(now).toISOString(),
    current: reasons.length === 0,
    reasons,
    tenants: snapshot.tenants.map((t) => {
      const api = apiOf.get(t.tenant);
      return {
        ...(api === undefined ? {} : { api }),
        ...without(t, TENANT_INSTANTS),
        ...instants(t, TENANT_INSTANTS),
        neverCollected:
          t.lastSuccessAt === undefined &&
          t.lastError === undefined &&
          Object.keys(t.checkpoints ?? {}).length === 0,
      };
    }),
    outputs: snapshot.outputs.map((o) => {
      const type = typeOf.get(o.output);
      return {
        ...without(o, OUTPUT_INSTANTS),
        ...(type === undefined ? {} : { type }),
        ...instants(o, OUTPUT_INSTANTS),
      };
    }),
  };
}

/** An instant of a status document as epoch ms: ISO, or (from an older daemon) a number. */
function msOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function epochs<K extends string>(
  values: Readonly<Record<string, unknown>>,
  keys: readonly K[],
): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const key of keys) {
    const ms = msOf(values[key]);
    if (ms !== undefined) out[key] = ms;
  }
  return out;
}

/**
 * A status document read back as the snapshot it was built from (what the configuration adds,
 * `api`, `type` and `neverCollected`, left out: the reader adds its own), so that it can be
 * judged again by another rule.
 */
export function snapshotOfReport(report: {
  readonly tenants: readonly Readonly<Record<string, unknown>>[];
  readonly outputs: readonly Readonly<Record<string, unknown>>[];
}): HealthSnapshot {
  return {
    tenants: report.tenants.map(
      (t) =>
        ({
          ...without(t, [...TENANT_INSTANTS, 'api', 'neverCollected']),
          ...epochs(t, TENANT_INSTANTS),
        }) as unknown as TenantHealth,
    ),
    outputs: report.outputs.map(
      (o) =>
        ({
          ...without(o, [...OUTPUT_INSTANTS, 'type']),
          ...epochs(o, OUTPUT_INSTANTS),
        }) as unknown as OutputHealth,
    ),
  };
}
