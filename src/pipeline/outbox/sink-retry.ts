/**
 * The sink strategy for the shared retry loop (http/retry.ts), as the sources have theirs: a send
 * an output may take again is retried with backoff and full jitter; a Retry-After is honoured in
 * full, and one longer than the round's limit ends the round with it (the loops rest that long
 * rather than shorten it: shortening it is how collectors get throttled again). A partial send
 * that got further is no failed attempt: an output that refuses one event per answer (Splunk HEC)
 * would otherwise run out of attempts before the batch is through.
 */
import type { RetryStrategy } from '../../http/retry-strategies.js';

/** One send's outcome as the strategy sees it: tried again, or not. */
export type SendStep =
  | { readonly kind: 'done' }
  | {
      readonly kind: 'again';
      readonly error: Error;
      readonly retryAfterMs?: number;
      readonly progressed: boolean;
    };

export interface SinkRetryOptions {
  /** Sends within one round, the first included (counted again after progress). */
  readonly maxAttempts: number;
  /** First backoff ceiling; doubles per retry. */
  readonly backoffMs: number;
  /** Longest wait within one round; a longer Retry-After ends the round with it. */
  readonly maxDelayMs: number;
  /** In [0, 1). */
  readonly random: () => number;
}

export interface SinkRetry {
  readonly strategy: RetryStrategy<SendStep>;
  /** The Retry-After the output asked for when it ended the round by being longer than the limit. */
  askedToWaitMs(): number | undefined;
}

/** A strategy for the sends of one batch (it counts their attempts: one per batch). */
export function sinkRetry(options: SinkRetryOptions): SinkRetry {
  let attempt = 0;
  let askedToWait: number | undefined;
  return {
    strategy: ({ response }) => {
      // Thrown errors (a bug, a store error) and finished sends are not retried.
      if (response === undefined || response.kind !== 'again') return undefined;
      attempt = response.progressed ? 0 : attempt + 1;
      if (attempt >= options.maxAttempts) return undefined;
      const hinted = response.retryAfterMs;
      if (hinted !== undefined && hinted > options.maxDelayMs) {
        askedToWait = hinted;
        return undefined;
      }
      return (
        hinted ??
        Math.min(
          options.maxDelayMs,
          Math.floor(options.random() * options.backoffMs * 2 ** Math.min(attempt - 1, 30)),
        )
      );
    },
    askedToWaitMs: () => askedToWait,
  };
}
