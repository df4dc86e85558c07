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

export interface RetryOptions {
  /** Retries after the first attempt; default 10. */
  readonly maxRetries?: number;
  /**
   * Total time for one call, first attempt to last, in ms; default one hour. A wait that would
   * end past it is not started: the loop gives up at once with what it has.
   */
  readonly maxElapsedMs?: number;
  /** Default: throttling (Retry-After honoured) then transient (backoff with jitter). */
  readonly strategies?: readonly RetryStrategy[];
  readonly clock?: Clock;
  readonly sleep?: Sleep;
  /** Called before each wait: for logs and metrics. */
  readonly onRetry?: (info: RetryInfo) => void;
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
export async function withRetry(
  attempt: (retry: number) => Promise<HttpResponse>,
  signal: AbortSignal,
  options: RetryOptions = {},
): Promise<HttpResponse> {
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? systemSleep;
  const strategies = options.strategies ?? defaultStrategies();
  const maxRetries = options.maxRetries ?? 10;
  const deadline = clock() + (options.maxElapsedMs ?? 3_600_000);

  for (let retry = 0; ; retry++) {
    if (signal.aborted) throw abortReason(signal);
    let response: HttpResponse | undefined;
    let error: unknown;
    try {
      response = await attempt(retry);
    } catch (caught) {
      // The attempt may have been aborted while in flight: an abort ends the loop, never retries.
      if (isAborted(signal)) throw abortReason(signal);
      error = caught;
    }
    const now = clock();
    let delay: number | undefined;
    if (retry < maxRetries) {
      const context = { retryCount: retry, now, ...(response === undefined ? { error } : { response }) };
      for (const strategy of strategies) {
        delay = strategy(context);
        if (delay !== undefined) break;
      }
    }
    if (delay === undefined || now + delay > deadline) {
      if (response !== undefined) return response;
      throw error;
    }
    options.onRetry?.({
      retry: retry + 1,
      delayMs: delay,
      ...(response === undefined ? { error } : { status: response.status }),
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
