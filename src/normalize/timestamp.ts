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
// Date.UTC reads years 0–99 as 1900–1999; shift such years by 400 (one Gregorian cycle) and back.
const SECONDS_IN_400_YEARS = 146_097 * 86_400;

const MS_DATE = /^\\?\/Date\((-?\d{1,16})(?:[+-]\d{4})?\)\\?\/$/;
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

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
  const ms = MS_DATE.exec(text);
  if (ms) return fromEpochMs(Number(ms[1]), text);
  const iso = ISO_DATE.exec(text);
  if (iso) return fromIsoParts(iso, text);
  return { ok: false, reason: `is not a date: ${JSON.stringify(text)}` };
}

function fromEpochMs(ms: number, text: string): InstantResult {
  const epochSeconds = Math.floor(ms / 1000);
  if (!inRange(epochSeconds)) return outOfRange(text);
  const millis = ms - epochSeconds * 1000;
  return { ok: true, instant: { epochSeconds, fraction: String(millis).padStart(3, '0') } };
}

function fromIsoParts(parts: RegExpExecArray, text: string): InstantResult {
  const [, y, mo, d, h, mi, s, fraction, zone] = parts;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = s === undefined ? 0 : Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return { ok: false, reason: `has no such day: ${JSON.stringify(text)}` };
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return { ok: false, reason: `has no such time of day: ${JSON.stringify(text)}` };
  }
  const offsetSeconds = zoneOffsetSeconds(zone);
  if (offsetSeconds === undefined) {
    return { ok: false, reason: `has an invalid UTC offset: ${JSON.stringify(text)}` };
  }
  const shift = year < 100 ? 400 : 0;
  const localSeconds =
    Date.UTC(year + shift, month - 1, day, hour, minute, second) / 1000 -
    (shift === 0 ? 0 : SECONDS_IN_400_YEARS);
  const epochSeconds = localSeconds - offsetSeconds;
  if (!inRange(epochSeconds)) return outOfRange(text);
  return { ok: true, instant: { epochSeconds, fraction: fraction ?? '' } };
}

/** Seconds east of UTC; no zone at all means UTC (the Reporting Web Service's `Received`). */
function zoneOffsetSeconds(zone: string | undefined): number | undefined {
  if (zone === undefined || zone === 'Z' || zone === 'z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (hours > 23 || minutes > 59) return undefined;
  return sign * (hours * 3600 + minutes * 60);
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
  const whole = new Date(instant.epochSeconds * 1000).toISOString().slice(0, 19);
  const f = instant.fraction;
  const micros = f.length >= 6 ? f.slice(0, 6) : f + '000000'.slice(f.length);
  return `${whole}.${micros}Z`;
}
