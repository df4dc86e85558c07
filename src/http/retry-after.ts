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

// Each pattern reads the first value only: a header sent twice arrives joined (`120, 120`), and
// an IMF-fixdate holds a comma of its own, so the value is matched from the start, not split.
const SECONDS = /^(-?\d+(?:\.\d+)?)\s*(?:,|$)/;
const MILLISECONDS = /^(\d+(?:\.\d+)?)\s*(?:,|$)/;
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
const END = '\\s*(?:,|$)';
// The three HTTP-date forms of RFC 9110 §5.6.7, and nothing else: Date.parse alone reads loose
// text ("wait 60", "May 5", "Tue 3") as a date in 2001, which is a delay of 0.
const IMF_FIXDATE = new RegExp(`^(${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT)${END}`);
const RFC850_DATE = new RegExp(`^(${LONG_DAY}, \\d{2}-${MONTH}-\\d{2} ${TIME} GMT)${END}`);
// asctime names no zone; HTTP means GMT, and Date.parse would read local time.
const ASCTIME_DATE = new RegExp(`^(${DAY} ${MONTH} (?: \\d|\\d{2}) ${TIME} \\d{4})${END}`);

/** An HTTP date in ms since the epoch, or undefined when `raw` does not start with one. */
function parseHttpDate(raw: string): number | undefined {
  const fixed = IMF_FIXDATE.exec(raw) ?? RFC850_DATE.exec(raw);
  const asctime = fixed === null ? ASCTIME_DATE.exec(raw) : null;
  const text = fixed?.[1] ?? (asctime?.[1] === undefined ? undefined : `${asctime[1]} GMT`);
  if (text === undefined) return undefined;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : date;
}

/**
 * One `Retry-After` value in ms from `now`: delta-seconds (fractions allowed) or an HTTP date,
 * at most `capMs`. Undefined when absent, empty or unreadable. Of a repeated header, the first.
 */
export function parseRetryAfter(
  value: string | undefined,
  now: number,
  capMs: number = DEFAULT_MAX_RETRY_AFTER_MS,
): number | undefined {
  const raw = value?.trim();
  if (raw === undefined || raw === '') return undefined;
  const seconds = SECONDS.exec(raw)?.[1];
  if (seconds !== undefined) return cap(Math.ceil(Number(seconds) * 1000), capMs);
  const date = parseHttpDate(raw);
  return date === undefined ? undefined : cap(date - now, capMs);
}

/**
 * The delay a response's headers ask for, in the order Azure core reads them: `retry-after-ms`,
 * `x-ms-retry-after-ms`, then `Retry-After`. Undefined when none parses. The one entry point for
 * a response: every caller reads the same headers.
 */
export function retryAfterMs(
  headers: Readonly<Record<string, string | undefined>>,
  now: number,
  capMs: number = DEFAULT_MAX_RETRY_AFTER_MS,
): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = MILLISECONDS.exec(headers[name]?.trim() ?? '')?.[1];
    if (ms !== undefined) return cap(Math.ceil(Number(ms)), capMs);
  }
  return parseRetryAfter(headers['retry-after'], now, capMs);
}

function cap(ms: number, capMs: number): number {
  return Math.min(Math.max(0, ms), capMs);
}
