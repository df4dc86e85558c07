/**
 * The generator's promise: a tenant's seed alone decides its mail. Two generators agree, a bucket
 * is the same whether generated alone, first, last or amid others, and different seeds differ.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTraceData, generateBucket, HOUR_MS } from '../../../src/emulator/data/index.js';
import { DAY, MONDAY, snapshot, tenant } from './fixtures.js';

const FROM = MONDAY - 2 * DAY;
const TO = MONDAY;

describe('determinism', () => {
  it('gives two generators the same rows, details included', () => {
    const a = [...createTraceData().everyRow(tenant(), FROM, TO)];
    const b = [...createTraceData({ cacheBuckets: 0 }).everyRow(tenant(), FROM, TO)];
    expect(a.length).toBeGreaterThan(1000);
    expect(b.map(snapshot)).toEqual(a.map(snapshot));
  });

  it('does not depend on the tenant object, only on what it says', () => {
    const a = [...createTraceData().everyRow(tenant(), FROM, FROM + 6 * HOUR_MS)];
    const renamed = { ...tenant(), name: 'renamed', tenantId: '00000000-0000-4000-8000-000000000000' };
    const b = [...createTraceData().everyRow(renamed, FROM, FROM + 6 * HOUR_MS)];
    expect(b.map(snapshot)).toEqual(a.map(snapshot));
  });

  it('generates a bucket identically alone or amid others, in any order', () => {
    const t = tenant({ messagesPerDay: 500 });
    const first = Math.floor(FROM / HOUR_MS);
    const hours = Array.from({ length: 12 }, (_, i) => first + i);
    const alone = new Map(hours.map((h) => [h, generateBucket(t, h).map(snapshot)]));
    fc.assert(
      fc.property(fc.shuffledSubarray(hours, { minLength: 1 }), (order) => {
        const data = createTraceData({ cacheBuckets: 2 });
        for (const h of order) {
          const rows = [...data.everyRow(t, h * HOUR_MS, (h + 1) * HOUR_MS - 1)].map(snapshot);
          expect(rows).toEqual(alone.get(h));
        }
      }),
      { numRuns: 25 },
    );
  });

  it('gives different seeds different mail', () => {
    const ids = (seed: number): Set<string> =>
      new Set([...createTraceData().everyRow(tenant({ seed }), FROM, TO)].map((r) => r.traceId));
    const base = ids(1234);
    for (const seed of [1235, 1234 + 2 ** 32, -1234, 7]) {
      const other = ids(seed);
      expect(other.size).toBeGreaterThan(0);
      expect([...other].filter((id) => base.has(id))).toEqual([]);
    }
  });

  it('gives different seeds different people, volumes and times', () => {
    const rows = (seed: number) => [...createTraceData().everyRow(tenant({ seed }), FROM, TO)];
    const a = rows(1);
    const b = rows(2);
    expect(a.length).not.toBe(b.length);
    const sendersA = new Set(a.map((r) => r.sender));
    const sendersB = new Set(b.map((r) => r.sender));
    expect([...sendersA].filter((s) => sendersB.has(s)).length).toBeLessThan(sendersA.size);
  });
});
