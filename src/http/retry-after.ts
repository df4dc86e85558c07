/**
 * The one reader of a server's "not before" delay, for the sources (throttling strategy, budget)
 * and the outputs (Elasticsearch, the HTTP family, Splunk HEC) alike. `Retry-After` is
 * delta-seconds (RFC 9110 says integer; Graph sends `2.128` and Elasticsearch proxies `1.5`, so a
 * fraction is read as one) or an HTTP date; Microsoft adds `retry-after-ms` and
 * `x-ms-retry-after-ms`. Never negative (a past date or a negative number means now), and capped:
 * a nonsense header must not park a tenant or an output for days.
 */

/** The cap when the caller names none: one hour (throttling delays are honoured in full below it). */
export const DEFAULT_MAX_RETRY_AFTER_MS = 3_600_000;

const SECONDS = /^-?\d+(\.\d+)?$/;
const MILLISECONDS = /^\d+(\.\d+)?$/;

/**
 * One `Retry-After` value in ms from `now`: delta-seconds (fractions allowed) or an HTTP date,
 * at most `capMs`. Undefined when absent, empty or unreadable.
 */
export function parseRetryAfter(
  value: string | undefined,
  now: number,
  capMs: number = DEFAULT_MAX_RETRY_AFTER_MS,
): number | undefined {
  const raw = value?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (SECONDS.test(raw)) return cap(Math.ceil(Number(raw) * 1000), capMs);
  // Date.parse reads loose text (`1.5.2`, a bare year): only an HTTP date's shape is taken.
  if (!/[a-z]/i.test(raw)) return undefined;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : cap(date - now, capMs);
}

/**
 * The delay a response's headers ask for, in the order Azure core reads them: `retry-after-ms`,
 * `x-ms-retry-after-ms`, then `Retry-After`. Undefined when none parses.
 */
export function retryAfterMs(
  headers: Readonly<Record<string, string | undefined>>,
  now: number,
  capMs: number = DEFAULT_MAX_RETRY_AFTER_MS,
): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const raw = headers[name]?.trim();
    if (raw !== undefined && MILLISECONDS.test(raw)) return cap(Math.ceil(Number(raw)), capMs);
  }
  return parseRetryAfter(headers['retry-after'], now, capMs);
}

function cap(ms: number, capMs: number): number {
  return Math.min(Math.max(0, ms), capMs);
}
