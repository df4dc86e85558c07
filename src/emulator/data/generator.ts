/**
 * The data source behind every API handler: a tenant's mail flow cut into one-hour buckets (see
 * bucket.ts), cached in a small LRU, and walked newest first. A walk fetches a bucket only when it
 * reaches it and generates a message only when it reads it, so memory holds the cache and nothing
 * else, and a caller that stops early pays only for what it read.
 */
import {
  compareNewestFirst,
  type EmulatorTenant,
  type RowKey,
  type TraceData,
  type TraceRow,
} from '../model.js';
import { Bucket, MAX_HOUR, tenantState, type TenantState } from './bucket.js';
import { LruCache } from './cache.js';
import { HOUR_MS } from './curve.js';
import { tenantKey } from './directory.js';
import { decodeTraceId } from './ids.js';

export interface TraceDataOptions {
  /** Buckets (tenant-hours) kept after use; 0 disables the cache. Default 256. */
  readonly cacheBuckets?: number;
  /**
   * Rows kept across all cached buckets (default 50,000, about 25 MB of heap): a busy tenant's
   * hour holds thousands of rows, so the bucket bound alone would not bound memory. The bucket a
   * walk is reading is kept whatever its size.
   */
  readonly cacheRows?: number;
}

export interface TraceDataStats {
  readonly cachedBuckets: number;
  readonly cachedRows: number;
  /** Buckets (their arrival schedules) built since creation, cache misses included. */
  readonly generatedBuckets: number;
  /** Rows generated since creation: lets tests prove that walks stop when their callers do. */
  readonly generatedRows: number;
}

export interface GeneratedTraceData extends TraceData {
  stats(): TraceDataStats;
}

// Directories are small (users, lists, domains) but not free to build: keep the latest tenants'.
const MAX_TENANTS = 64;

export function createTraceData(options: TraceDataOptions = {}): GeneratedTraceData {
  const cache = new LruCache<Bucket>(
    options.cacheBuckets ?? 256,
    options.cacheRows ?? 50_000,
    (bucket) => bucket.rowCount,
  );
  const tenants = new Map<string, TenantState>();
  let generatedBuckets = 0;
  let generatedRows = 0;

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

  const bucketOf = (state: TenantState, hour: number): Bucket => {
    const key = `${state.key}#${hour}`;
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const bucket = new Bucket(state, hour);
    generatedBuckets++;
    cache.set(key, bucket);
    return bucket;
  };

  /** A message's rows, counting the ones this call generates. */
  const rowsOf = (bucket: Bucket, index: number): readonly TraceRow[] => {
    const before = bucket.rowCount;
    const rows = bucket.rows(index);
    generatedRows += bucket.rowCount - before;
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
    // Until the first row past `after` (and at or before `toMs`), rows are checked; after it,
    // newest-first order guarantees every later row passes both.
    let skipping = true;
    try {
      for (let hour = Math.min(MAX_HOUR, Math.floor(upper / HOUR_MS)); hour >= lowest; hour--) {
        const bucket = bucketOf(state, hour);
        const count = bucket.messageCount;
        for (let i = skipping ? bucket.firstAtOrBefore(upper) : 0; i < count; i++) {
          for (const row of rowsOf(bucket, i)) {
            if (row.received < fromMs) return;
            if (skipping) {
              if (row.received > toMs || (after !== undefined && compareNewestFirst(row, after) <= 0))
                continue;
              skipping = false;
            }
            if (asOf !== undefined && row.visibleAt > asOf) continue;
            yield row;
          }
        }
        // The bucket grew while read: bring the cache back within its row bound.
        cache.trim();
      }
    } finally {
      cache.trim();
    }
  }

  return {
    rows: (tenant, fromMs, toMs, asOf, after) => walk(tenant, fromMs, toMs, asOf, after),
    everyRow: (tenant, fromMs, toMs) => walk(tenant, fromMs, toMs, undefined, undefined),
    message(tenant, traceId) {
      const state = stateOf(tenant);
      const origin = decodeTraceId(traceId, state.seedLo, state.seedHi);
      if (origin === undefined || origin.hour > MAX_HOUR) return [];
      const bucket = bucketOf(state, origin.hour);
      if (origin.index >= bucket.messageCount) return [];
      const rows = rowsOf(bucket, origin.index);
      cache.trim();
      // Any GUID decodes to some (hour, index): only the message's own id is a match.
      const id = traceId.toLowerCase();
      return rows[0]?.traceId === id ? [...rows] : [];
    },
    stats: () => ({ cachedBuckets: cache.size, cachedRows: cache.weight, generatedBuckets, generatedRows }),
  };
}
