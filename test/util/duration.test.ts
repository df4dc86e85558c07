import { describe, expect, it } from 'vitest';

import { formatDuration, parseDuration } from '../../src/util/duration.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe('formatDuration: one formatter, each caller’s text', () => {
  it('config: the exact value, spelled so that parseDuration reads it back unchanged', () => {
    for (const [ms, text] of [
      [500, '500ms'],
      [1500, '1500ms'],
      [30_000, '30s'],
      [5 * MIN, '5m'],
      [DAY, '24h'],
      [90 * DAY, '90d'],
      [0, '0ms'],
    ] as const) {
      expect(formatDuration(ms, 'config')).toBe(text);
      expect(parseDuration(text)).toBe(ms);
    }
  });

  it('lag: a glance, rounded, hours up to two days', () => {
    expect(formatDuration(40_400, 'lag')).toBe('40s');
    expect(formatDuration(5 * MIN + 20_000, 'lag')).toBe('5m');
    expect(formatDuration(2 * HOUR + 5 * MIN, 'lag')).toBe('2h 5m');
    expect(formatDuration(25 * HOUR, 'lag')).toBe('25h');
    expect(formatDuration(3 * DAY + 4 * HOUR, 'lag')).toBe('3d 4h');
    expect(formatDuration(2 * DAY, 'lag')).toBe('2d');
  });

  it('eta (the default): two units, zero-padded, rounded up; unknown is …', () => {
    expect(formatDuration(undefined)).toBe('…');
    expect(formatDuration(1)).toBe('1s');
    expect(formatDuration(2 * HOUR + 5 * MIN, 'eta')).toBe('2h 05m');
  });

  it('lag and config: unknown is a dash, never "undefined" or "NaN"', () => {
    expect(formatDuration(undefined, 'lag')).toBe('-');
    expect(formatDuration(Number.NaN, 'lag')).toBe('-');
    expect(formatDuration(undefined, 'config')).toBe('-');
    expect(formatDuration(Number.POSITIVE_INFINITY, 'eta')).toBe('…');
  });
});
