import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addRange, clipRanges, subtractRanges, type Range } from '../../src/util/ranges.js';

/** Arbitrary ranges over a small integer line, so that they often overlap and touch. */
const rangeArb = fc
  .tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 20 }))
  .map(([from, len]) => ({ from, to: from + len }));

const covers = (ranges: readonly Range[], x: number): boolean => ranges.some((r) => r.from <= x && x <= r.to);

describe('time range sets', () => {
  it('addRange merges overlapping and touching ranges, keeps the rest apart and sorted', () => {
    expect(addRange([], { from: 5, to: 9 })).toEqual([{ from: 5, to: 9 }]);
    expect(
      addRange(
        [
          { from: 0, to: 5 },
          { from: 9, to: 12 },
        ],
        { from: 5, to: 9 },
      ),
    ).toEqual([{ from: 0, to: 12 }]);
    expect(addRange([{ from: 0, to: 5 }], { from: 6, to: 9 })).toEqual([
      { from: 0, to: 5 },
      { from: 6, to: 9 },
    ]);
    fc.assert(
      fc.property(fc.array(rangeArb, { maxLength: 12 }), (adds) => {
        const set = adds.reduce<Range[]>((acc, r) => addRange(acc, r), []);
        for (let i = 1; i < set.length; i++) {
          // Sorted and apart: touching ranges would have been one.
          expect((set[i]?.from ?? 0) > (set[i - 1]?.to ?? 0)).toBe(true);
        }
        for (let x = 0; x <= 120; x++) expect(covers(set, x)).toBe(covers(adds, x));
      }),
    );
  });

  it('subtractRanges leaves exactly the gaps, sharing their boundaries with the ranges', () => {
    expect(
      subtractRanges(0, 100, [
        { from: 20, to: 30 },
        { from: 50, to: 120 },
      ]),
    ).toEqual([
      { from: 0, to: 20 },
      { from: 30, to: 50 },
    ]);
    expect(subtractRanges(0, 10, [{ from: 0, to: 10 }])).toEqual([]);
    fc.assert(
      fc.property(
        fc.array(rangeArb, { maxLength: 8 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 1, max: 60 }),
        (adds, from, len) => {
          const set = adds.reduce<Range[]>((acc, r) => addRange(acc, r), []);
          const to = from + len;
          const gaps = subtractRanges(from, to, set);
          for (const g of gaps) expect(g.from < g.to && g.from >= from && g.to <= to).toBe(true);
          // Every point of [from, to] is in the set or in a gap; a gap's inside is never in the set.
          for (let x = from; x <= to; x++) expect(covers(set, x) || covers(gaps, x)).toBe(true);
          for (const g of gaps) for (let x = g.from + 1; x < g.to; x++) expect(covers(set, x)).toBe(false);
        },
      ),
    );
  });

  it('clipRanges keeps the parts inside the bounds, dropping empty ones', () => {
    expect(
      clipRanges(
        [
          { from: 0, to: 10 },
          { from: 20, to: 30 },
        ],
        5,
        20,
      ),
    ).toEqual([{ from: 5, to: 10 }]);
  });
});
