/**
 * How many messages an hour brings: the tenant's daily average shaped by a working-day curve in
 * the tenant's local time (quiet nights, busy office hours, lighter weekends), with per-hour noise.
 */
import type { Rng } from './prng.js';

export const HOUR_MS = 3_600_000;

// Relative volume per local hour. Nights never reach zero: newsletters, alerts and other
// automated mail keep flowing, and some colleagues are in other time zones.
const WEEKDAY = [
  0.18, 0.14, 0.12, 0.12, 0.14, 0.22, 0.45, 0.9, 1.6, 2.0, 2.05, 1.9, 1.55, 1.75, 1.95, 1.85, 1.55, 1.15,
  0.75, 0.52, 0.4, 0.32, 0.26, 0.21,
] as const;
const WEEKEND_FACTOR = 0.28;

// One week's total weight, so that seven days average `messagesPerDay` whatever the curve.
const WEEK_WEIGHT = WEEKDAY.reduce((sum, w) => sum + w, 0) * (5 + 2 * WEEKEND_FACTOR);

/** The relative weight of UTC hour `hour` (hours since the epoch) for a tenant at `utcOffsetHours`. */
export function hourWeight(hour: number, utcOffsetHours: number): number {
  // Shift to local time in ms so half-hour offsets land in the right local hour.
  const localHour = Math.floor((hour * HOUR_MS + utcOffsetHours * HOUR_MS) / HOUR_MS);
  const hourOfDay = ((localHour % 24) + 24) % 24;
  const day = Math.floor(localHour / 24);
  // 1 January 1970 was a Thursday: day 0 → 4 (Sunday = 0).
  const weekday = (((day + 4) % 7) + 7) % 7;
  const weekend = weekday === 0 || weekday === 6;
  return (WEEKDAY[hourOfDay] ?? 1) * (weekend ? WEEKEND_FACTOR : 1);
}

/** The mean number of messages in that hour. */
export function expectedMessages(messagesPerDay: number, hour: number, utcOffsetHours: number): number {
  // A misconfigured volume (negative, NaN) means no mail rather than an exception mid-walk.
  const perDay = Number.isFinite(messagesPerDay) ? Math.max(0, messagesPerDay) : 0;
  return (perDay * 7 * hourWeight(hour, utcOffsetHours)) / WEEK_WEIGHT;
}

/**
 * The number of messages in that hour: a burst factor (campaigns, outages, quiet hours; mean 1)
 * times Poisson arrivals, so small tenants see whole messages and big ones see hour-to-hour swing.
 */
export function messageCount(rng: Rng, messagesPerDay: number, hour: number, utcOffsetHours: number): number {
  const sigma = 0.18;
  const burst = Math.exp(sigma * rng.normal() - (sigma * sigma) / 2);
  return rng.poisson(expectedMessages(messagesPerDay, hour, utcOffsetHours) * burst);
}
