/** The daily curve: a week averages messagesPerDay in every time zone, and has a working-day shape. */
import { describe, expect, it } from 'vitest';
import { expectedMessages, hourWeight, messageCount } from '../../../src/emulator/data/curve.js';
import { Rng } from '../../../src/emulator/data/prng.js';
import { UTC_OFFSETS } from '../../../src/emulator/data/vocabulary.js';
import { HOUR, MONDAY } from './fixtures.js';

const MONDAY_HOUR = MONDAY / HOUR;

describe('daily curve', () => {
  it('sums to 7 × messagesPerDay over any week, in every time zone', () => {
    for (const offset of UTC_OFFSETS) {
      for (const start of [MONDAY_HOUR, MONDAY_HOUR + 13, MONDAY_HOUR - 1000]) {
        let total = 0;
        for (let h = start; h < start + 7 * 24; h++) total += expectedMessages(10_000, h, offset);
        expect(total).toBeCloseTo(70_000, 6);
      }
    }
  });

  it('is busy in office hours, quiet at night and light at weekends, in local time', () => {
    for (const offset of [-8, 0, 5.5, 9]) {
      // Local 10:00 and 03:00 on the Wednesday, 10:00 on the Saturday.
      const local = (day: number, hour: number): number => MONDAY_HOUR + day * 24 + hour - Math.floor(offset);
      expect(hourWeight(local(2, 10), offset)).toBeGreaterThan(5 * hourWeight(local(2, 3), offset));
      expect(hourWeight(local(5, 10), offset)).toBeLessThan(0.5 * hourWeight(local(2, 10), offset));
    }
  });

  it('draws whole, non-negative counts around the expectation', () => {
    const rng = new Rng(3);
    const counts = Array.from({ length: 2000 }, () => messageCount(rng, 2400, MONDAY_HOUR + 10, 0));
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    const expected = expectedMessages(2400, MONDAY_HOUR + 10, 0);
    expect(counts.every((n) => Number.isInteger(n) && n >= 0)).toBe(true);
    expect(mean).toBeGreaterThan(expected * 0.95);
    expect(mean).toBeLessThan(expected * 1.05);
    expect(messageCount(rng, 0, MONDAY_HOUR, 0)).toBe(0);
    // A quiet tenant's night has zero-message hours, not fractions.
    const quiet = Array.from({ length: 200 }, () => messageCount(rng, 10, MONDAY_HOUR + 3, 0));
    expect(quiet).toContain(0);
  });
});
