/**
 * The one retry loop: it owns counting, waiting, the abort signal and the overall deadline, and
 * gives up with the last response (or throws the last error). Strategies decide the waits.
 */
import { ExotraceError } from '../core/errors.js';
import { safeUrl } from '../core/redact.js';
import {
  throttlingStrategy,
  transientStrategy,
  type RetryStrategy,
  type ThrottlingStrategyOptions,
  type TransientStrategyOptions,
} from './retry-strategies.js';
import { abortReason, systemClock, systemSleep, type Clock, type Sleep } from '../util/abort.js';
import { type HttpPolicy, type HttpResponse } from './types.js';

export const retryPolicyName = 'retry';

export interface RetryInfo {
  /** 1 for the first retry. */
  readonly retry: number;
  readonly delayMs: number;
  readonly status?: number;
  readonly error?: unknown;
}

/** The loop's options for any kind of attempt (an HTTP request, a batch sent to an output). */
export interface RetryLoopOptions<T> {
  /** Retries after the first attempt; default 10. */
  readonly maxRetries?: number;
  /**
   * Total time for one call, first attempt to last, in ms; default one hour. A wait that would
   * end past it is not started: the loop gives up at once with what it has.
   */
  readonly maxElapsedMs?: number;
  /** Asked in order after each attempt; the first that answers a wait decides it. */
  readonly strategies: readonly RetryStrategy<T>[];
  readonly clock?: Clock;
  readonly sleep?: Sleep;
  /** Called before each wait: for logs and metrics. */
  readonly onRetry?: (info: RetryInfo) => void;
  /** The HTTP status an attempt's result stands for, for `onRetry` (HTTP: the response's). */
  readonly statusOf?: (result: T) => number | undefined;
}

export interface RetryOptions extends Omit<RetryLoopOptions<HttpResponse>, 'strategies' | 'statusOf'> {
  /** Default: throttling (Retry-After honoured) then transient (backoff with jitter). */
  readonly strategies?: readonly RetryStrategy[];
}

export interface DefaultStrategiesOptions
  extends Omit<ThrottlingStrategyOptions, 'floor'>, TransientStrategyOptions {}

/**
 * Throttling then transient backoff; the backoff is also the throttling's floor, so a server's
 * delay lengthens the jittered wait and never shortens it.
 */
export function defaultStrategies(options: DefaultStrategiesOptions = {}): RetryStrategy[] {
  const backoff = transientStrategy(options);
  return [throttlingStrategy({ ...options, floor: backoff }), backoff];
}

/**
 * Runs `attempt` until it returns a response no strategy wants to retry, or throws an error none
 * wants to retry. Aborts end waits at once and are rethrown, never retried.
 */
export function withRetry(
  attempt: (retry: number) => Promise<HttpResponse>,
  signal: AbortSignal,
  options: RetryOptions = {},
): Promise<HttpResponse> {
  return retryLoop(attempt, signal, {
    ...options,
    strategies: options.strategies ?? defaultStrategies(),
    statusOf: (response) => response.status,
  });
}

/**
 * The loop itself, over any attempt: runs it until its result is one no strategy wants to try
 * again (returned), or it throws an error none wants to retry (thrown). Aborts end waits at once
 * and are rethrown, never retried.
 */
export async function retryLoop<T>(
  attempt: (retry: number) => Promise<T>,
  signal: AbortSignal,
  options: RetryLoopOptions<T>,
): Promise<T> {
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? systemSleep;
  const { strategies } = options;
  const maxRetries = options.maxRetries ?? 10;
  const deadline = clock() + (options.maxElapsedMs ?? 3_600_000);

  for (let retry = 0; ; retry++) {
    if (signal.aborted) throw abortReason(signal);
    let result: { value: T } | undefined;
    let error: unknown;
    try {
      result = { value: await attempt(retry) };
    } catch (caught) {
      // The attempt may have been aborted while in flight: an abort ends the loop, never retries.
      if (isAborted(signal)) throw abortReason(signal);
      error = caught;
    }
    const now = clock();
    let delay: number | undefined;
    if (retry < maxRetries) {
      const context = {
        retryCount: retry,
        now,
        ...(result === undefined ? { error } : { response: result.value }),
      };
      for (const strategy of strategies) {
        delay = strategy(context);
        if (delay !== undefined) break;
      }
    }
    if (delay === undefined || now + delay > deadline) {
      if (result !== undefined) return result.value;
      throw error;
    }
    const status = result === undefined ? undefined : options.statusOf?.(result.value);
    options.onRetry?.({
      retry: retry + 1,
      delayMs: delay,
      ...(result === undefined ? { error } : status === undefined ? {} : { status }),
    });
    await sleep(delay, signal);
  }
}

export type RetryPolicyOptions = RetryOptions;

/**
 * The outermost policy: every attempt goes through the policies inside it again (a current token,
 * a budget slot). A request's `validate` runs on 2xx answers inside the loop, so a truncated page
 * is fetched again instead of failing the window.
 */
export function retryPolicy(options: RetryPolicyOptions = {}): HttpPolicy {
  return {
    name: retryPolicyName,
    send(request, next) {
      return withRetry(
        async (retry) => {
          const response = await next({ ...request, retry });
          if (response.status >= 200 && response.status < 300 && request.validate !== undefined) {
            try {
              request.validate(response);
            } catch (error) {
              if (ExotraceError.is(error)) throw error;
              throw new ExotraceError({
                code: 'transient',
                message: `${request.method} ${safeUrl(request.url)} returned a body that could not be read`,
                fix: 'none needed if it passes: the page is fetched again',
                retryable: true,
                status: response.status,
                cause: error,
              });
            }
          }
          return response;
        },
        request.signal,
        options,
      );
    },
  };
}

// A function, so the compiler does not assume `aborted` kept the value it had before an await.
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
