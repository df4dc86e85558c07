/**
 * Retry strategies only decide; the loop in retry.ts waits. Each returns the wait in ms, or
 * undefined to step aside for the next strategy (and when none answers, the loop gives up).
 */
import { ExotraceError } from '../core/errors.js';
import { isTransientError } from './network-error.js';
import { DEFAULT_MAX_RETRY_AFTER_MS, retryAfterMs } from './retry-after.js';
import type { HttpResponse } from './types.js';

/** What a strategy decides about: the attempt's result (`response`) or the error it threw. */
export interface RetryContext<T = HttpResponse> {
  /** Retries done so far: 0 when deciding about the first attempt's outcome. */
  readonly retryCount: number;
  readonly response?: T;
  readonly error?: unknown;
  /** Now, on the injected clock (for HTTP dates). */
  readonly now: number;
}

export type RetryStrategy<T = HttpResponse> = (context: RetryContext<T>) => number | undefined;

export interface ThrottlingStrategyOptions {
  /**
   * A safety cap only, against a nonsense header: default one hour. Throttling delays are
   * honoured in full below it (capping at e.g. 20 s, as Cribl does, burns the quota again).
   */
  readonly maxRetryAfterMs?: number;
  /**
   * The wait a named delay may only lengthen: a hint of 0 or a date already past would otherwise
   * retry a throttled tenant at once, ten times over. Default none (the hint exactly).
   */
  readonly floor?: RetryStrategy;
}

/**
 * 429 and 503 that name a delay: wait that long, or the floor's backoff when that is longer.
 * Others step aside.
 */
export function throttlingStrategy(options: ThrottlingStrategyOptions = {}): RetryStrategy {
  const cap = options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  return (context) => {
    const { response, now } = context;
    if (response === undefined || (response.status !== 429 && response.status !== 503)) return undefined;
    const hinted = retryAfterMs(response.headers, now, cap);
    if (hinted === undefined) return undefined;
    return Math.max(hinted, options.floor?.(context) ?? 0);
  };
}

export interface TransientStrategyOptions {
  /** First backoff ceiling; default 1000 ms. */
  readonly baseDelayMs?: number;
  /** Largest backoff ceiling; default 60 000 ms. */
  readonly maxDelayMs?: number;
  /** In [0, 1); default Math.random. */
  readonly random?: () => number;
}

/**
 * 5xx, 408, a 429 without a delay header, resets, timeouts and retryable errors (a truncated page):
 * capped exponential backoff with full jitter, so many tenants failing at once do not retry in step.
 */
export function transientStrategy(options: TransientStrategyOptions = {}): RetryStrategy {
  const base = options.baseDelayMs ?? 1000;
  const max = options.maxDelayMs ?? 60_000;
  const random = options.random ?? Math.random;
  return ({ retryCount, response, error }) => {
    const retryable =
      response === undefined
        ? isTransientError(error)
        : response.status >= 500 || response.status === 408 || response.status === 429;
    if (!retryable) return undefined;
    const ceiling = Math.min(max, base * 2 ** Math.min(retryCount, 30));
    return Math.floor(random() * ceiling);
  };
}

/**
 * `strategy` for failures that came with an HTTP status only: a refusal, a DNS failure, a TLS
 * problem or a reset is not retried. For diagnosis (`doctor`): retrying those only delays the
 * report of their cause, where a daemon's patience is right.
 */
export function answersOnly(strategy: RetryStrategy): RetryStrategy {
  return (context) => {
    const answered =
      context.response !== undefined ||
      (ExotraceError.is(context.error) && context.error.status !== undefined);
    return answered ? strategy(context) : undefined;
  };
}
