/**
 * The walks: newest first without duplicates, `after` continues exactly where a page stopped,
 * window bounds are inclusive, rows appear at their visibleAt, generation is lazy and the cache
 * stays within its bounds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTraceData, HOUR_MS } from '../../../src/emulator/data/index.js';
import { compareNewestFirst, type RowKey, type TraceRow } from '../../../src/emulator/model.js';
import { DAY, HOUR, MINUTE, MONDAY, failures, key, snapshot, take, tenant } from './fixtures.js';

const T = tenant({ messagesPerDay: 3000 });
const FROM = MONDAY - 3 * DAY;
const TO = MONDAY;
const all = [...createTraceData().everyRow(T, FROM, TO)];

const keyOf = (row: TraceRow): RowKey => ({
  received: row.received,
  receivedTicks: row.receivedTicks,
  recipient: row.recipient,
  traceId: row.traceId,
});

describe('order', () => {
  it('is strictly newest first, with no (trace id, recipient) twice', () => {
    expect(all.length).toBeGreaterThan(5000);
    const misordered = failures(all.slice(1), (row, i) => compareNewestFirst(all[i] as TraceRow, row) < 0);
    expect(misordered).toEqual([]);
    expect(new Set(all.map(key)).size).toBe(all.length);
  });

  it('is the same for rows() far in the future as for everyRow()', () => {
    const visible = [...createTraceData().rows(T, FROM, TO, TO + 2 * DAY)];
    expect(visible.map(key)).toEqual(all.map(key));
  });
});

describe('after', () => {
  it('continues with the tail of the full walk, for any cut point', () => {
    const data = createTraceData({ cacheBuckets: 4 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: all.length - 1 }), (cut) => {
        const at = all[cut] as TraceRow;
        const tail = take(data.rows(T, FROM, TO, TO + 2 * DAY, keyOf(at)), 50);
        expect(tail.map(key)).toEqual(all.slice(cut + 1, cut + 51).map(key));
      }),
      { numRuns: 200 },
    );
  });

  it('accepts a key that is not a row (between rows, or outside the window)', () => {
    const data = createTraceData();
    const at = all[500] as TraceRow;
    const between = { ...keyOf(at), recipient: `${at.recipient}~` };
    expect(take(data.rows(T, FROM, TO, TO + DAY, between), 5).map(key)).toEqual(all.slice(501, 506).map(key));
    const newer = { ...keyOf(at), received: TO + HOUR };
    expect(take(data.rows(T, FROM, TO, TO + DAY, newer), 3).map(key)).toEqual(all.slice(0, 3).map(key));
    const older = { ...keyOf(at), received: FROM - HOUR };
    expect([...data.rows(T, FROM, TO, TO + DAY, older)]).toEqual([]);
  });

  it('pages through the whole window without loss or repeat, whatever the page size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), (size) => {
        const data = createTraceData({ cacheBuckets: 3 });
        const seen: string[] = [];
        let after: RowKey | undefined;
        for (;;) {
          const page = take(data.rows(T, FROM, TO, TO + DAY, after), size);
          seen.push(...page.map(key));
          const last = page[page.length - 1];
          if (page.length < size || last === undefined) break;
          after = keyOf(last);
        }
        expect(seen).toEqual(all.map(key));
      }),
      { numRuns: 8 },
    );
  });
});

describe('window', () => {
  it('includes both bounds to the millisecond', () => {
    const data = createTraceData();
    for (const row of [all[100], all[5000], all[all.length - 1]] as TraceRow[]) {
      const exact = [...data.everyRow(T, row.received, row.received)];
      expect(exact.map(key)).toContain(key(row));
      expect(exact.every((r) => r.received === row.received)).toBe(true);
      expect([...data.everyRow(T, row.received + 1, row.received + HOUR)].map(key)).not.toContain(key(row));
      expect([...data.everyRow(T, row.received - HOUR, row.received - 1)].map(key)).not.toContain(key(row));
    }
  });

  it('matches filtering the full walk, for random windows', () => {
    const data = createTraceData({ cacheBuckets: 8 });
    fc.assert(
      fc.property(fc.integer({ min: FROM, max: TO }), fc.integer({ min: 0, max: 6 * HOUR }), (from, span) => {
        const to = Math.min(TO, from + span);
        const expected = all.filter((r) => r.received >= from && r.received <= to).map(key);
        expect([...data.everyRow(T, from, to)].map(key)).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });

  it('is empty for an inverted window or one before 1970', () => {
    const data = createTraceData();
    expect([...data.everyRow(T, TO, FROM)]).toEqual([]);
    expect([...data.everyRow(T, -10 * DAY, -1)]).toEqual([]);
    expect([...data.everyRow(T, Number.NaN, TO)]).toEqual([]);
  });
});

describe('visibility', () => {
  it('hides a row until its visibleAt and shows it from then on', () => {
    const data = createTraceData();
    for (let i = 0; i < all.length; i += 997) {
      const row = all[i] as TraceRow;
      const at = (asOf: number): string[] => [...data.rows(T, row.received, row.received, asOf)].map(key);
      expect(at(row.visibleAt - 1)).not.toContain(key(row));
      expect(at(row.visibleAt)).toContain(key(row));
      expect(at(row.visibleAt + DAY)).toContain(key(row));
    }
  });

  it('returns exactly the rows visible at asOf', () => {
    const data = createTraceData();
    const asOf = MONDAY - DAY + 3 * HOUR + 17 * MINUTE;
    const expected = all.filter((r) => r.visibleAt <= asOf).map(key);
    expect([...data.rows(T, FROM, TO, asOf)].map(key)).toEqual(expected);
    // The newest rows of a live window are not visible yet.
    const liveTo = MONDAY - DAY;
    const live = [...data.everyRow(T, liveTo - 5 * MINUTE, liveTo)];
    expect(live.length).toBeGreaterThan(0);
    expect([...data.rows(T, liveTo - 5 * MINUTE, liveTo, liveTo)]).toEqual([]);
  });
});

describe('laziness and memory', () => {
  it('generates only the buckets the caller reaches', () => {
    const data = createTraceData();
    // The newest hour may hold nothing before TO yet: at most one more bucket for five rows,
    // and only the messages read, not the whole hour.
    take(data.everyRow(T, TO - 10 * DAY, TO), 5);
    expect(data.stats().generatedBuckets).toBeLessThanOrEqual(2);
    expect(data.stats().generatedRows).toBeGreaterThanOrEqual(5);
    expect(data.stats().generatedRows).toBeLessThan(5 + 250);
    // Nothing received after asOf can be visible: those hours are never generated.
    take(data.rows(T, TO - 10 * DAY, TO + 10 * DAY, TO), 5);
    expect(data.stats().generatedBuckets).toBeLessThanOrEqual(2);
    expect([...data.rows(T, TO, TO + DAY, TO - 1)]).toEqual([]);
    expect(data.stats().generatedBuckets).toBeLessThanOrEqual(2);
  });

  it('generates about as many rows as a page returns, wherever the page starts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: all.length - 1 }), (cut) => {
        const data = createTraceData();
        const at = all[cut] as TraceRow;
        const page = take(data.rows(T, FROM, TO, TO + DAY, keyOf(at)), 500);
        expect(page.length).toBe(Math.min(500, all.length - cut - 1));
        // Messages have 1..~300 rows: the page may cut one, and `after`'s own message is read.
        expect(data.stats().generatedRows).toBeLessThanOrEqual(page.length + 2 * 300);
      }),
      { numRuns: 50 },
    );
  });

  it('keeps at most cacheBuckets buckets', () => {
    const data = createTraceData({ cacheBuckets: 5 });
    expect([...data.everyRow(T, FROM, TO)].length).toBe(all.length);
    const { cachedBuckets, generatedBuckets } = data.stats();
    expect(cachedBuckets).toBe(5);
    expect(generatedBuckets).toBe(Math.floor(TO / HOUR_MS) - Math.floor(FROM / HOUR_MS) + 1);
    // The cached buckets are the latest used: walking them again generates nothing.
    expect([...data.everyRow(T, FROM, FROM + 4 * HOUR - 1)].length).toBeGreaterThan(0);
    expect(data.stats().generatedBuckets).toBe(generatedBuckets);
  });

  it('keeps at most cacheRows rows (beyond the bucket being read)', () => {
    const data = createTraceData({ cacheRows: 1000 });
    let biggest = 0;
    for (let h = Math.floor(FROM / HOUR_MS); h < Math.floor(TO / HOUR_MS); h++) {
      const rows = [...data.everyRow(T, h * HOUR_MS, (h + 1) * HOUR_MS - 1)].length;
      biggest = Math.max(biggest, rows);
      expect(data.stats().cachedRows).toBeLessThanOrEqual(Math.max(1000, rows));
    }
    expect(biggest).toBeGreaterThan(0);
  });

  it('caches nothing with cacheBuckets 0, and still answers the same', () => {
    const data = createTraceData({ cacheBuckets: 0 });
    const rows = [...data.everyRow(T, FROM, FROM + 5 * HOUR)];
    expect(data.stats().cachedBuckets).toBe(0);
    expect(rows.map(snapshot)).toEqual(all.filter((r) => r.received <= FROM + 5 * HOUR).map(snapshot));
  });
});
