/**
 * Reports every attempt that reaches the wire (inside retry, bearer and budget), for logs and
 * metrics. Only method, host and path are reported: queries carry filters and skip tokens.
 */
import type { Clock } from '../util/abort.js';
import type { HttpPolicy } from './types.js';
import { systemClock } from '../util/abort.js';

export const attemptPolicyName = 'attempt';

export interface AttemptReport {
  readonly method: string;
  readonly host: string;
  /** Without the query. */
  readonly path: string;
  /** Undefined when no response came (reset, timeout, abort). */
  readonly status?: number;
  readonly durationMs: number;
  /** 0 for the first attempt of a call. */
  readonly retry: number;
  /** The error's code or name when no response came. */
  readonly error?: string;
}

export interface AttemptPolicyOptions {
  readonly onAttempt: (report: AttemptReport) => void;
  readonly clock?: Clock;
}

export function attemptPolicy(options: AttemptPolicyOptions): HttpPolicy {
  const clock = options.clock ?? systemClock;
  return {
    name: attemptPolicyName,
    async send(request, next) {
      const retry = request.retry ?? 0;
      const base = { method: request.method, host: request.url.host, path: request.url.pathname, retry };
      const started = clock();
      try {
        const response = await next(request);
        safeReport(options.onAttempt, { ...base, status: response.status, durationMs: clock() - started });
        return response;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        safeReport(options.onAttempt, {
          ...base,
          durationMs: clock() - started,
          error: typeof code === 'string' ? code : error instanceof Error ? error.name : 'unknown',
        });
        throw error;
      }
    },
  };
}

// A broken log sink must not turn a good response into a failure.
function safeReport(report: (r: AttemptReport) => void, value: AttemptReport): void {
  try {
    report(value);
  } catch {
    /* ignored on purpose */
  }
}
