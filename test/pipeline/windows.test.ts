import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clampStart,
  DAY,
  fastWindows,
  MAX_WINDOW_MS,
  oldestStart,
  planBackfill,
  reconcileDue,
  reconcileWindows,
} from '../../src/pipeline/windows.js';
import { isoSeconds } from '../../src/core/window.js';

const NOW = Date.parse('2026-11-25T12:00:00.250Z');
const MIN = 60_000;

describe('fast pass windows', () => {
  it('cover [cursor, now − minAge] exactly: contiguous, whole seconds, each ≤ 10 days', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: NOW - 95 * DAY, max: NOW }),
        fc.integer({ min: 0, max: 60 * MIN }),
        fc.integer({ min: 3_600_000, max: MAX_WINDOW_MS }),
        (cursor, minAge, maxWindow) => {
          const windows = fastWindows(cursor, NOW, minAge, maxWindow);
          const end = Math.floor((NOW - minAge) / 1000) * 1000;
          const start = Math.floor(cursor / 1000) * 1000;
          if (start >= end) {
            expect(windows).toEqual([]);
            return;
          }
          expect(windows[0]?.from).toBe(start);
          expect(windows.at(-1)?.to).toBe(end);
          windows.forEach((w, i) => {
            expect(w.from % 1000).toBe(0);
            expect(w.to % 1000).toBe(0);
            expect(w.to).toBeGreaterThan(w.from);
            expect(w.to - w.from).toBeLessThanOrEqual(maxWindow);
            // Consecutive windows share their boundary second (inclusive bounds, no gap).
            if (i > 0) expect(w.from).toBe(windows[i - 1]?.to);
          });
        },
      ),
    );
  });

  it('a 30-day backfill is three windows of 10 days, not thousands of small ones', () => {
    expect(fastWindows(NOW - 30 * DAY, NOW, 0)).toHaveLength(3);
  });
});

describe('history limits', () => {
  it('startFrom beyond 90 days (Graph) or 10 days (Reporting Web Service) is clamped with a margin', () => {
    const graph = clampStart(NOW - 120 * DAY, 'graph', NOW);
    expect(graph.clamped).toBe(true);
    expect(graph.start).toBe(oldestStart('graph', NOW));
    expect(NOW - graph.start).toBeLessThan(90 * DAY);
    expect(NOW - graph.start).toBeGreaterThan(89 * DAY);
    const rws = clampStart(NOW - 20 * DAY, 'reporting', NOW);
    expect(rws.clamped).toBe(true);
    expect(NOW - rws.start).toBeLessThan(10 * DAY);
    expect(clampStart(NOW - DAY, 'graph', NOW)).toEqual({
      start: Math.floor((NOW - DAY) / 1000) * 1000,
      clamped: false,
    });
  });
});

describe('reconcile', () => {
  it('re-reads [now − lookback, now − minAge]', () => {
    const windows = reconcileWindows(NOW, DAY, 5 * MIN, 'graph');
    expect(windows).toEqual([
      { from: Math.floor((NOW - DAY) / 1000) * 1000, to: Math.floor((NOW - 5 * MIN) / 1000) * 1000 },
    ]);
  });
  it('is due every reconcileEvery, and at once the first time', () => {
    expect(reconcileDue(undefined, NOW, 3_600_000)).toBe(true);
    expect(reconcileDue(NOW - 3_599_999, NOW, 3_600_000)).toBe(false);
    expect(reconcileDue(NOW - 3_600_000, NOW, 3_600_000)).toBe(true);
  });
});

it('isoSeconds is Graph’s literal', () => {
  expect(isoSeconds(NOW)).toBe('2026-11-25T12:00:00Z');
});

describe('backfill plan', () => {
  const H = 3_600_000;
  const T = Date.parse('2026-11-25T12:00:00Z');

  it('skips collected ranges older than the late-row horizon and collects the rest, oldest first', () => {
    const collected = [
      { from: T - 9 * DAY, to: T - 7 * DAY },
      { from: T - 2 * DAY, to: T - 5 * MIN },
    ];
    // The horizon (now − reconcileLookback) cuts the second range: its last 24 h are read again.
    expect(planBackfill({ from: T - 10 * DAY, to: T - 5 * MIN }, collected, T - 24 * H + 250)).toEqual({
      skipped: [
        { from: T - 9 * DAY, to: T - 7 * DAY },
        { from: T - 2 * DAY, to: T - 24 * H },
      ],
      gaps: [
        { from: T - 10 * DAY, to: T - 9 * DAY },
        { from: T - 7 * DAY, to: T - 2 * DAY },
        { from: T - 24 * H, to: T - 5 * MIN },
      ],
    });
  });

  it('asked inside a collected range older than the horizon: nothing to collect, all of it skipped', () => {
    const asked = { from: T - 5 * DAY, to: T - 4 * DAY };
    expect(planBackfill(asked, [{ from: T - 9 * DAY, to: T - 2 * DAY }], T - 24 * H)).toEqual({
      skipped: [asked],
      gaps: [],
    });
  });
});
