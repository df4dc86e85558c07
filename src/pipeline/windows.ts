/**
 * Time windows of the collector (collection.md "Windows"). Pure functions over milliseconds, so
 * that the rules — contiguous, whole seconds, at most 10 days, never newer than now − minAge,
 * never older than the API keeps — are tested on their own.
 *
 * Windows are inclusive at both ends (`ge from and le to`) and consecutive windows share their
 * boundary second: a row received at 12:00:00.5 is inside `le 12:00:00`? No — so the next window
 * must start at 12:00:00, not 12:00:01, or that row would fall between them. Rows exactly on the
 * boundary come twice and the seen-set drops the second.
 */
import { clipRanges, subtractRanges, type Range } from '../util/ranges.js';
import type { TimeWindow } from '../core/window.js';

export const SECOND = 1000;
export const DAY = 86_400_000;
/** Graph's limit for one query. */
export const MAX_WINDOW_MS = 10 * DAY;

export type ApiKind = 'graph' | 'graph-beta' | 'reporting';

/** How far back each API answers: Graph 90 days, the Reporting Web Service 10. */
export function historyMs(api: ApiKind): number {
  return api === 'reporting' ? 10 * DAY : 90 * DAY;
}

/** A margin inside the API's history, so that a request built now is still valid when it lands. */
export const HISTORY_MARGIN_MS = 60 * 60 * 1000;

const floorSecond = (ms: number): number => Math.floor(ms / SECOND) * SECOND;

/** The earliest start the API accepts now (with the margin), in whole seconds. */
export function oldestStart(api: ApiKind, now: number): number {
  return Math.ceil((now - historyMs(api) + HISTORY_MARGIN_MS) / SECOND) * SECOND;
}

/** Clamp a requested start into the API's history; `clamped` says whether it moved (to log it). */
export function clampStart(
  requested: number,
  api: ApiKind,
  now: number,
): { start: number; clamped: boolean } {
  const oldest = oldestStart(api, now);
  return requested < oldest
    ? { start: oldest, clamped: true }
    : { start: floorSecond(requested), clamped: false };
}

/**
 * The fast pass: contiguous windows from the cursor up to now − minAge, each at most
 * `maxWindowMs` long (large windows while catching up: a backfill then costs about one request per
 * 5,000 rows, not one per minute). Empty when the cursor is already there.
 */
export function fastWindows(
  cursor: number,
  now: number,
  minAgeMs: number,
  maxWindowMs = MAX_WINDOW_MS,
): TimeWindow[] {
  const end = floorSecond(now - minAgeMs);
  // Whole seconds: Graph's filter literals have no fractions.
  const step = Math.max(SECOND, floorSecond(maxWindowMs));
  const windows: TimeWindow[] = [];
  for (let from = floorSecond(cursor); from < end;) {
    const to = Math.min(from + step, end);
    windows.push({ from, to });
    from = to;
  }
  return windows;
}

/** `[from, to]` cut into consecutive windows of at most `maxWindowMs`, in whole seconds. */
export function splitWindows(range: TimeWindow, maxWindowMs = MAX_WINDOW_MS): TimeWindow[] {
  // The fast pass's cut, with `to` in place of now − minAge.
  return fastWindows(range.from, range.to, 0, maxWindowMs);
}

/** Where a backfill asked to end at `to` stops: never newer than now − minAge, whole seconds. */
export function backfillEnd(to: number, now: number, minAgeMs: number): number {
  return floorSecond(Math.min(to, now - minAgeMs));
}

/** What a backfill of `asked` collects (`gaps`, oldest first) and what it leaves out as collected. */
export interface BackfillPlan {
  readonly gaps: readonly TimeWindow[];
  readonly skipped: readonly TimeWindow[];
}

/**
 * A backfill collects what is asked minus what the state records as collected (`collected`:
 * sorted, merged) — but only the part of that older than `settledBefore` (now − reconcileLookback)
 * counts as done. Rows appear up to 24 h after they were received: a range read more recently may
 * miss some, and the reconcile pass re-reads it for them; a backfill re-reads that recent part too,
 * which its seen-set keys (alive for reconcileLookback + minAge + a margin) make free of duplicates.
 * Never re-reading anything older is what keeps rows collected longer ago than the seen-set's
 * lifetime from being delivered twice.
 */
export function planBackfill(
  asked: TimeWindow,
  collected: readonly Range[],
  settledBefore: number,
): BackfillPlan {
  const skipped = clipRanges(collected, asked.from, Math.min(asked.to, floorSecond(settledBefore)));
  return { gaps: subtractRanges(asked.from, asked.to, skipped), skipped };
}

/** The reconcile pass: re-read [now − lookback, now − minAge] for late rows and status changes. */
export function reconcileWindows(
  now: number,
  lookbackMs: number,
  minAgeMs: number,
  api: ApiKind,
  maxWindowMs = MAX_WINDOW_MS,
): TimeWindow[] {
  const start = clampStart(now - lookbackMs, api, now).start;
  return fastWindows(start, now, minAgeMs, maxWindowMs);
}

/** Whether the reconcile pass is due. */
export function reconcileDue(lastReconcileAt: number | undefined, now: number, everyMs: number): boolean {
  return lastReconcileAt === undefined || now - lastReconcileAt >= everyMs;
}
