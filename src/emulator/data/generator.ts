/**
 * The data source behind every API handler: a tenant's mail flow cut into one-hour buckets, each
 * generated on demand from (tenant seed, hour) alone, cached in a small LRU, and walked newest
 * first. Nothing but the buckets a caller is reading (and the cache) is ever in memory.
 */
import {
  compareNewestFirst,
  type EmulatorTenant,
  type RowKey,
  type TraceData,
  type TraceRow,
} from '../model.js';
import { BucketCache } from './cache.js';
import { HOUR_MS, messageCount } from './curve.js';
import { buildDirectory, tenantKey, type Directory } from './directory.js';
import { decodeTraceHour, encodeTraceId } from './ids.js';
import { generateMessage } from './message.js';
import { Rng, seedWords } from './prng.js';

export interface TraceDataOptions {
  /** Buckets (tenant-hours) kept after generation; 0 disables the cache. Default 256. */
  readonly cacheBuckets?: number;
  /**
   * Rows kept across all cached buckets, whatever their count (default 200,000, roughly 150 MB):
   * a busy tenant's hour holds thousands of rows, so the bucket bound alone would not bound memory.
   */
  readonly cacheRows?: number;
}

export interface TraceDataStats {
  readonly cachedBuckets: number;
  readonly cachedRows: number;
  /** Buckets generated since creation, cache misses included: lets tests prove laziness. */
  readonly generatedBuckets: number;
}

export interface GeneratedTraceData extends TraceData {
  stats(): TraceDataStats;
}

// Salt of the bucket PRNG stream, distinct from the directory's.
const BUCKET_STREAM = 0xb0c4e7;
// The last hour a Date can represent (8.64e15 ms); trace ids carry the hour in 32 bits.
const MAX_HOUR = Math.floor(8.64e15 / HOUR_MS);
const TICKS = 10_000;
const MAX_TENANTS = 64;

interface TenantState {
  readonly key: string;
  readonly directory: Directory;
  readonly seedLo: number;
  readonly seedHi: number;
}

/** What a bucket's generation needs; kept separate from the cache so it can be called alone. */
function tenantState(tenant: EmulatorTenant): TenantState {
  const [seedLo, seedHi] = seedWords(tenant.seed);
  return { key: tenantKey(tenant), directory: buildDirectory(tenant), seedLo, seedHi };
}

/**
 * Every row received in UTC hour `hour` (hours since the epoch), newest first. Pure: the same
 * tenant and hour give the same rows whichever buckets were generated before.
 */
export function generateBucket(tenant: EmulatorTenant, hour: number): TraceRow[] {
  return generateFor(tenant, tenantState(tenant), hour);
}

function generateFor(tenant: EmulatorTenant, state: TenantState, hour: number): TraceRow[] {
  const rows: TraceRow[] = [];
  if (!Number.isInteger(hour) || hour < 0 || hour > MAX_HOUR) return rows;
  const { directory, seedLo, seedHi } = state;
  const rng = new Rng(BUCKET_STREAM, seedLo, seedHi, hour);
  const count = messageCount(rng, tenant.messagesPerDay, hour, directory.utcOffsetHours);
  // Arrival instants first, as one sortable number (ms in the hour × 10⁴ + ticks), so messages
  // come out newest first without sorting row objects.
  const keys = new Float64Array(count);
  for (let i = 0; i < count; i++) keys[i] = rng.int(HOUR_MS) * TICKS + rng.int(TICKS);
  keys.sort();
  const start = hour * HOUR_MS;
  let previous = Infinity;
  for (let i = count - 1; i >= 0; i--) {
    // Two messages in the same tick would make the order depend on trace ids; nudge them apart.
    const key = Math.min(keys[i] ?? 0, previous - 1);
    if (key < 0) break;
    previous = key;
    const traceId = encodeTraceId(rng, hour, seedLo, seedHi);
    generateMessage(rng, directory, traceId, start + Math.floor(key / TICKS), key % TICKS, rows);
  }
  return rows;
}

/** The first index whose row satisfies `ok`, for `ok` false then true along the array. */
function firstWhere(rows: readonly TraceRow[], ok: (row: TraceRow) => boolean): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ok(rows[mid] as TraceRow)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function createTraceData(options: TraceDataOptions = {}): GeneratedTraceData {
  const cache = new BucketCache<readonly TraceRow[]>(
    options.cacheBuckets ?? 256,
    options.cacheRows ?? 200_000,
  );
  // Directories are small (users, lists, domains) but not free to build: keep the latest tenants'.
  const tenants = new Map<string, TenantState>();
  let generatedBuckets = 0;

  const stateOf = (tenant: EmulatorTenant): TenantState => {
    const key = tenantKey(tenant);
    const known = tenants.get(key);
    if (known !== undefined) return known;
    const state = tenantState(tenant);
    tenants.set(key, state);
    for (const oldest of tenants.keys()) {
      if (tenants.size <= MAX_TENANTS) break;
      tenants.delete(oldest);
    }
    return state;
  };

  const bucket = (tenant: EmulatorTenant, state: TenantState, hour: number): readonly TraceRow[] => {
    const key = `${state.key}#${hour}`;
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const rows = generateFor(tenant, state, hour);
    generatedBuckets++;
    cache.set(key, rows);
    return rows;
  };

  function* walk(
    tenant: EmulatorTenant,
    fromMs: number,
    toMs: number,
    asOf: number | undefined,
    after: RowKey | undefined,
  ): Generator<TraceRow, void, undefined> {
    // Nothing received after asOf can be visible at asOf, and nothing newer than `after` is wanted.
    let upper = toMs;
    if (asOf !== undefined) upper = Math.min(upper, asOf);
    if (after !== undefined) upper = Math.min(upper, after.received);
    if (!(fromMs <= upper)) return;
    const state = stateOf(tenant);
    const lowest = Math.max(0, Math.floor(fromMs / HOUR_MS));
    let hour = Math.min(MAX_HOUR, Math.floor(upper / HOUR_MS));
    let first = true;
    // Each bucket is fetched only when the walk reaches it: a caller that stops early never pays
    // for older hours.
    for (; hour >= lowest; hour--) {
      const rows = bucket(tenant, state, hour);
      let i = 0;
      if (first) {
        first = false;
        i = firstWhere(rows, (row) => row.received <= upper);
        if (after !== undefined)
          i = Math.max(
            i,
            firstWhere(rows, (row) => compareNewestFirst(row, after) > 0),
          );
      }
      for (; i < rows.length; i++) {
        const row = rows[i] as TraceRow;
        if (row.received < fromMs) return;
        if (asOf !== undefined && row.visibleAt > asOf) continue;
        yield row;
      }
    }
  }

  return {
    rows: (tenant, fromMs, toMs, asOf, after) => walk(tenant, fromMs, toMs, asOf, after),
    everyRow: (tenant, fromMs, toMs) => walk(tenant, fromMs, toMs, undefined, undefined),
    message(tenant, traceId) {
      const state = stateOf(tenant);
      const hour = decodeTraceHour(traceId, state.seedLo, state.seedHi);
      if (hour === undefined || hour > MAX_HOUR) return [];
      const id = traceId.toLowerCase();
      return bucket(tenant, state, hour).filter((row) => row.traceId === id);
    },
    stats: () => ({ cachedBuckets: cache.size, cachedRows: cache.rows, generatedBuckets }),
  };
}
