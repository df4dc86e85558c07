/**
 * One tenant-hour of mail. The bucket's own PRNG, seeded by (tenant seed, hour), decides only how
 * many messages arrive and when; each message is then generated from a PRNG seeded by (tenant
 * seed, hour, index in the hour), on demand. So a walk that stops after 5,000 rows generates about
 * 5,000 rows whatever the size of the hour, a trace id (which carries hour and index) regenerates
 * its one message, and any message comes out the same whatever was generated before it.
 */
import type { EmulatorTenant, TraceRow } from '../model.js';
import { HOUR_MS, messageCount } from './curve.js';
import { buildDirectory, tenantKey, type Directory } from './directory.js';
import { encodeTraceId, MAX_MESSAGES_PER_HOUR } from './ids.js';
import { generateMessage } from './message.js';
import { Rng, seedWords } from './prng.js';

// Salts of the PRNG streams, distinct from the directory's.
const BUCKET_STREAM = 0xb0c4e7;
const MESSAGE_STREAM = 0x3e55a6e;
/** The last hour a Date can represent (8.64e15 ms). */
export const MAX_HOUR = Math.floor(8.64e15 / HOUR_MS);
/** 100-ns ticks in a millisecond. */
const TICKS = 10_000;

/** What every bucket of a tenant needs, built once per tenant. */
export interface TenantState {
  readonly key: string;
  readonly tenant: EmulatorTenant;
  readonly directory: Directory;
  readonly seedLo: number;
  readonly seedHi: number;
}

export function tenantState(tenant: EmulatorTenant): TenantState {
  const [seedLo, seedHi] = seedWords(tenant.seed);
  return { key: tenantKey(tenant), tenant, directory: buildDirectory(tenant), seedLo, seedHi };
}

export class Bucket {
  readonly hour: number;
  /** Message arrival instants as (ms in the hour) × 10⁴ + ticks, newest first, all distinct. */
  private readonly arrivals: Float64Array;
  /** Each message's rows once generated; holes for messages nobody has read yet. */
  private readonly messages: (readonly TraceRow[] | undefined)[];
  private generatedRows = 0;

  constructor(
    private readonly state: TenantState,
    hour: number,
  ) {
    this.hour = hour;
    const valid = Number.isInteger(hour) && hour >= 0 && hour <= MAX_HOUR;
    const rng = new Rng(BUCKET_STREAM, state.seedLo, state.seedHi, hour);
    const count = valid
      ? Math.min(
          MAX_MESSAGES_PER_HOUR,
          messageCount(rng, state.tenant.messagesPerDay, hour, state.directory.utcOffsetHours),
        )
      : 0;
    const arrivals = new Float64Array(count);
    for (let i = 0; i < count; i++) arrivals[i] = rng.int(HOUR_MS) * TICKS + rng.int(TICKS);
    arrivals.sort().reverse();
    // Two messages in the same tick would make their order depend on trace ids; nudge them apart.
    for (let i = 1; i < count; i++) {
      const previous = arrivals[i - 1] ?? 0;
      if ((arrivals[i] ?? 0) >= previous) arrivals[i] = previous - 1;
    }
    // Nudging can push the oldest below the hour's start in theory; such messages are dropped.
    let kept = count;
    while (kept > 0 && (arrivals[kept - 1] ?? 0) < 0) kept--;
    this.arrivals = kept === count ? arrivals : arrivals.slice(0, kept);
    this.messages = new Array<readonly TraceRow[] | undefined>(kept).fill(undefined);
  }

  get messageCount(): number {
    return this.arrivals.length;
  }

  /** Rows generated so far: the bucket's weight in the cache. */
  get rowCount(): number {
    return this.generatedRows;
  }

  /** The index of the newest message received at or before `ms` (messageCount when none). */
  firstAtOrBefore(ms: number): number {
    const limit = (Math.floor(ms) - this.hour * HOUR_MS) * TICKS + (TICKS - 1);
    let lo = 0;
    let hi = this.arrivals.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.arrivals[mid] ?? 0) <= limit) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The rows of message `index` (sorted by recipient), generated on first use. */
  rows(index: number): readonly TraceRow[] {
    const known = this.messages[index];
    if (known !== undefined) return known;
    const arrival = this.arrivals[index];
    if (arrival === undefined) return [];
    const { state, hour } = this;
    const rng = new Rng(MESSAGE_STREAM, state.seedLo, state.seedHi, hour, index);
    const traceId = encodeTraceId(rng, { hour, index }, state.seedLo, state.seedHi);
    const received = hour * HOUR_MS + Math.floor(arrival / TICKS);
    const rows = generateMessage(rng, state.directory, traceId, received, arrival % TICKS);
    this.messages[index] = rows;
    this.generatedRows += rows.length;
    return rows;
  }
}

/**
 * Every row received in UTC hour `hour` (hours since the epoch), newest first. Pure: the same
 * tenant and hour give the same rows whichever buckets were generated before.
 */
export function generateBucket(tenant: EmulatorTenant, hour: number): TraceRow[] {
  const bucket = new Bucket(tenantState(tenant), hour);
  const rows: TraceRow[] = [];
  for (let i = 0; i < bucket.messageCount; i++) rows.push(...bucket.rows(i));
  return rows;
}
