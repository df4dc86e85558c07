/**
 * A tenant's request budget. Microsoft allows 100 message trace requests per tenant per rolling
 * 5 minutes, shared by list and detail calls and by every app of the tenant; we keep below it
 * (default 90) so our own traffic never causes a 429. Every pass and detail call of a tenant takes
 * its slots from one budget, and a 429 pauses the whole budget until its Retry-After.
 */
import { DEFAULT_MAX_RETRY_AFTER_MS, retryAfterMs } from '../../http/retry-after.js';
import { abortReason, systemClock, systemSleep, type Clock, type Sleep } from '../../util/abort.js';
import { type HttpPolicy } from '../../http/types.js';

export const budgetPolicyName = 'tenantBudget';

export interface TenantBudgetOptions {
  /** Requests per window; default 90 (config `tenants[i].requestsPer5Min`). */
  readonly requests?: number;
  /** Default 5 minutes. */
  readonly windowMs?: number;
  readonly clock?: Clock;
  readonly sleep?: Sleep;
}

export interface TenantBudget {
  /** Waits for a slot (and for any pause to end), then takes it. Rejects when the signal aborts. */
  acquire(signal?: AbortSignal): Promise<void>;
  /**
   * Waits until a slot is free, without taking it: a caller about to hold something scarce while
   * it requests (a place of the page gate) waits here first, so it does not hold it through the
   * budget's wait. Another caller may still take the slot first; `acquire` then waits as usual.
   */
  available(signal?: AbortSignal): Promise<void>;
  /** Slots free right now. */
  remaining(): number;
  /** Epoch ms until which the budget is paused, or undefined. */
  pausedUntil(): number | undefined;
  /** Holds every caller until `untilMs` (a later pause wins over an earlier one). */
  pause(untilMs: number): void;
}

export function createTenantBudget(options: TenantBudgetOptions = {}): TenantBudget {
  const limit = options.requests ?? 90;
  const windowMs = options.windowMs ?? 300_000;
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`budget requests must be a positive integer, got ${limit}`);
  if (!(windowMs > 0)) throw new RangeError(`budget window must be positive, got ${windowMs}`);
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? systemSleep;
  // Start times of the requests inside the window, oldest first.
  const taken: number[] = [];
  let paused = 0;

  const prune = (now: number): void => {
    while (taken.length > 0 && (taken[0] ?? 0) <= now - windowMs) taken.shift();
  };

  /** How long until a slot is free (0: now). */
  const waitFor = (now: number): number => {
    prune(now);
    if (paused > now) return paused - now;
    if (taken.length >= limit) return (taken[0] ?? now) + windowMs - now;
    return 0;
  };

  return {
    async acquire(signal) {
      for (;;) {
        if (signal?.aborted === true) throw abortReason(signal);
        const now = clock();
        const waitMs = waitFor(now);
        if (waitMs <= 0) {
          taken.push(now);
          return;
        }
        // Loop after waking: another caller may have taken the slot, or a new pause begun.
        await sleep(waitMs, signal);
      }
    },
    async available(signal) {
      for (;;) {
        if (signal?.aborted === true) throw abortReason(signal);
        const waitMs = waitFor(clock());
        if (waitMs <= 0) return;
        await sleep(waitMs, signal);
      }
    },
    remaining() {
      prune(clock());
      return Math.max(0, limit - taken.length);
    },
    pausedUntil() {
      return paused > clock() ? paused : undefined;
    },
    pause(untilMs) {
      if (untilMs > paused) paused = untilMs;
    },
  };
}

export interface BudgetPolicyOptions {
  readonly budget: TenantBudget;
  readonly clock?: Clock;
  /** Longest pause one 429 may impose, against a nonsense header; default one hour. */
  readonly maxPauseMs?: number;
}

/** Sits inside retry, so each attempt (retries included) takes a slot, as Microsoft counts them. */
export function budgetPolicy(options: BudgetPolicyOptions): HttpPolicy {
  const clock = options.clock ?? systemClock;
  return {
    name: budgetPolicyName,
    async send(request, next) {
      await options.budget.acquire(request.signal);
      const response = await next(request);
      if (response.status === 429) {
        const now = clock();
        const delay = retryAfterMs(response.headers, now, options.maxPauseMs ?? DEFAULT_MAX_RETRY_AFTER_MS);
        if (delay !== undefined) options.budget.pause(now + delay);
      }
      return response;
    },
  };
}
