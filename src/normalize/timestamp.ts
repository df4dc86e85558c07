/**
 * Received times in every spelling the APIs use, turned into one UTC instant that keeps the
 * source's sub-millisecond digits (the Reporting Web Service's JSON light dialect sends seven).
 *
 * - `/Date(1658751973240)/` (OData verbose; the milliseconds are UTC), also with the backslashes of
 *   a doubly escaped row (`\/Date(…)\/`) and with an informational offset (`/Date(ms+0100)/`);
 * - ISO 8601 with `Z` or an offset; **without a zone the value is UTC** (JSON light `Received`);
 * - PowerShell 5.1's `{"value": "/Date(…)/", "DateTime": "…"}` wrapper around a date.
 */

/** An instant as whole UTC seconds since the epoch plus the fraction-of-second digits as given. */
export interface Instant {
  readonly epochSeconds: number;
  /** Decimal digits of the fraction of a second, as the source wrote them (may be empty). */
  readonly fraction: string;
}

export type InstantResult = { ok: true; instant: Instant } | { ok: false; reason: string };

// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range a four-digit year can print.
const MIN_EPOCH_SECONDS = -62_167_219_200;
const MAX_EPOCH_SECONDS = 253_402_300_799;
const MS_DATE = /^\\?\/Date\((-?\d{1,16})(?:[+-]\d{4})?\)\\?\/$/;

export function parseInstant(value: unknown): InstantResult {
  if (typeof value === 'string') return parseInstantText(value.trim());
  if (value !== null && typeof value === 'object' && 'value' in value) {
    const inner = value.value;
    if (typeof inner === 'string') return parseInstantText(inner.trim());
  }
  if (value === null || value === undefined) return { ok: false, reason: 'is missing' };
  return { ok: false, reason: `is not a date string (got ${typeof value})` };
}

function parseInstantText(text: string): InstantResult {
  if (text.length === 0) return { ok: false, reason: 'is empty' };
  const iso = parseIso(text);
  if (iso !== undefined) return iso;
  const ms = MS_DATE.exec(text);
  if (ms) return fromEpochMs(Number(ms[1]), text);
  return { ok: false, reason: `is not a date: ${JSON.stringify(text)}` };
}

function fromEpochMs(ms: number, text: string): InstantResult {
  const epochSeconds = Math.floor(ms / 1000);
  if (!inRange(epochSeconds)) return outOfRange(text);
  const millis = ms - epochSeconds * 1000;
  return { ok: true, instant: { epochSeconds, fraction: String(millis).padStart(3, '0') } };
}

/** The value of `length` decimal digits at `at`, or -1 when any of them is not a digit. */
function digits(text: string, at: number, length: number): number {
  let value = 0;
  for (let i = at; i < at + length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (!(d >= 0 && d <= 9)) return -1; // also past the end, where charCodeAt is NaN
    value = value * 10 + d;
  }
  return value;
}

/**
 * `YYYY-MM-DD[T ]HH:MM[:SS[.fraction]][Z|±HH[:]MM]`, scanned by hand (every event has one, and a
 * regular expression with eight captures costs several times as much). Undefined when the text
 * is not shaped like ISO 8601 at all; a reject reason when it is, but names no real instant.
 */
function parseIso(text: string): InstantResult | undefined {
  const n = text.length;
  if (n < 16 || text[4] !== '-' || text[7] !== '-' || text[13] !== ':') return undefined;
  const sep = text[10];
  if (sep !== 'T' && sep !== ' ') return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0) return undefined;
  let i = 16;
  let second = 0;
  let fraction = '';
  if (text[i] === ':') {
    second = digits(text, i + 1, 2);
    if (second < 0) return undefined;
    i += 3;
    if (text[i] === '.' || text[i] === ',') {
      const start = ++i;
      while (i < n && digits(text, i, 1) >= 0) i++;
      if (i === start) return undefined;
      fraction = text.slice(start, i);
    }
  }
  let offsetSeconds = 0;
  if (i < n) {
    const zone = text[i];
    if ((zone === 'Z' || zone === 'z') && i + 1 === n) {
      // UTC
    } else if (zone === '+' || zone === '-') {
      const rest = text.slice(i + 1);
      const compact = rest.length === 5 && rest[2] === ':' ? rest.slice(0, 2) + rest.slice(3) : rest;
      if (compact.length !== 2 && compact.length !== 4) return undefined;
      const offsetHours = digits(compact, 0, 2);
      const offsetMinutes = compact.length === 4 ? digits(compact, 2, 2) : 0;
      if (offsetHours < 0 || offsetMinutes < 0) return undefined;
      if (offsetHours > 23 || offsetMinutes > 59) {
        return { ok: false, reason: `has an invalid UTC offset: ${JSON.stringify(text)}` };
      }
      offsetSeconds = (zone === '-' ? -1 : 1) * (offsetHours * 3600 + offsetMinutes * 60);
    } else {
      return undefined;
    }
  }
  // No zone at all means UTC (the Reporting Web Service's JSON light `Received`).
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return { ok: false, reason: `has no such day: ${JSON.stringify(text)}` };
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return { ok: false, reason: `has no such time of day: ${JSON.stringify(text)}` };
  }
  const epochSeconds =
    daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds;
  if (!inRange(epochSeconds)) return outOfRange(text);
  return { ok: true, instant: { epochSeconds, fraction } };
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function inRange(epochSeconds: number): boolean {
  return epochSeconds >= MIN_EPOCH_SECONDS && epochSeconds <= MAX_EPOCH_SECONDS;
}

function outOfRange(text: string): InstantResult {
  return { ok: false, reason: `is outside the years 0000–9999: ${JSON.stringify(text)}` };
}

/**
 * `@timestamp` as the seed shows it: UTC, exactly six fractional digits, extra digits truncated
 * (never rounded: rounding could carry into the next second, minute or year).
 */
export function formatTimestamp(instant: Instant): string {
  const f = instant.fraction;
  const micros = f.length >= 6 ? f.slice(0, 6) : f + '000000'.slice(f.length);
  return `${formatUtcSeconds(instant.epochSeconds)}.${micros}Z`;
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

/**
 * `YYYY-MM-DDTHH:MM:SS` by integer arithmetic (Hinnant's days-to-civil): on the hot path of every
 * event, and several times cheaper than `new Date(…).toISOString()` and slicing.
 */
function formatUtcSeconds(epochSeconds: number): string {
  const days = Math.floor(epochSeconds / 86_400);
  const secondOfDay = epochSeconds - days * 86_400;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(secondOfDay / 3600);
  const minute = Math.floor((secondOfDay - hour * 3600) / 60);
  const second = secondOfDay - hour * 3600 - minute * 60;
  return (
    String(year).padStart(4, '0') +
    '-' +
    (TWO_DIGITS[month] as string) +
    '-' +
    (TWO_DIGITS[day] as string) +
    'T' +
    (TWO_DIGITS[hour] as string) +
    ':' +
    (TWO_DIGITS[minute] as string) +
    ':' +
    (TWO_DIGITS[second] as string)
  );
}
