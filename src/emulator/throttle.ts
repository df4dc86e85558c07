/**
 * Microsoft's message trace quota: per tenant, at most `limit` requests in any running window of
 * `windowMs` ("100 requests per 5 minutes", shared by list and detail calls). Requests over it get
 * 429 with Retry-After: the seconds until the oldest counted request leaves the window.
 */
export interface ThrottleOptions {
  /** Requests allowed per window; default 100. */
  readonly limit: number;
  /** Window length; default 300,000 ms (5 minutes). Tests scale it down. */
  readonly windowMs: number;
  /** Retry-After with decimals (Graph sometimes sends `2.128`) instead of whole seconds. */
  readonly fractionalRetryAfter: boolean;
  /** One quota per (tenant, API kind) instead of one per tenant (a third party's claim). */
  readonly separateDetailQuota: boolean;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  limit: 100,
  windowMs: 300_000,
  fractionalRetryAfter: false,
  separateDetailQuota: false,
};

export type ThrottleDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfter: string };

export interface Throttle {
  /** Counts a request against the tenant's quota, or refuses it. Refused requests do not count. */
  take(tenantId: string, kind: 'list' | 'detail', now: number): ThrottleDecision;
  /** Requests the tenant may still make in the current window. */
  remaining(tenantId: string, kind: 'list' | 'detail', now: number): number;
}

export function createThrottle(options: ThrottleOptions): Throttle {
  // Accepted request times per quota key, oldest first.
  const windows = new Map<string, number[]>();
  const keyOf = (tenantId: string, kind: 'list' | 'detail'): string =>
    options.separateDetailQuota ? `${tenantId}/${kind}` : tenantId;
  const current = (key: string, now: number): number[] => {
    const times = windows.get(key) ?? [];
    let drop = 0;
    while (drop < times.length && (times[drop] ?? 0) <= now - options.windowMs) drop++;
    if (drop > 0) times.splice(0, drop);
    windows.set(key, times);
    return times;
  };
  return {
    take(tenantId, kind, now) {
      const times = current(keyOf(tenantId, kind), now);
      if (times.length < options.limit) {
        times.push(now);
        return { ok: true };
      }
      const waitMs = Math.max(0, (times[0] ?? now) + options.windowMs - now);
      const retryAfter = options.fractionalRetryAfter
        ? (Math.max(waitMs, 1) / 1000).toFixed(3)
        : String(Math.max(1, Math.ceil(waitMs / 1000)));
      return { ok: false, retryAfter };
    },
    remaining(tenantId, kind, now) {
      return Math.max(0, options.limit - current(keyOf(tenantId, kind), now).length);
    },
  };
}
