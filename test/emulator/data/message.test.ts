/**
 * message(tenant, traceId): every recipient row of that message, visible or not, found by
 * regenerating the one bucket the id names; nothing for ids the tenant never produced.
 */
import { describe, expect, it } from 'vitest';
import { createTraceData } from '../../../src/emulator/data/index.js';
import type { TraceRow } from '../../../src/emulator/model.js';
import { DAY, MONDAY, snapshot, tenant } from './fixtures.js';

const T = tenant({ messagesPerDay: 4000, seed: 77 });
const FROM = MONDAY - 2 * DAY;
const TO = MONDAY;
const all = [...createTraceData().everyRow(T, FROM, TO)];

describe('message', () => {
  it('returns every recipient row of the trace id, from a cold generator', () => {
    const byId = new Map<string, TraceRow[]>();
    for (const row of all) byId.set(row.traceId, [...(byId.get(row.traceId) ?? []), row]);
    const ids = [...byId.keys()].filter((_, i) => i % 97 === 0);
    // Include the biggest fan-out too.
    const biggest = [...byId].sort((a, b) => b[1].length - a[1].length)[0]?.[0] ?? '';
    for (const id of [...ids, biggest]) {
      const data = createTraceData();
      const rows = data.message(T, id);
      // The message generated alone equals the message generated amid its whole window.
      expect(rows.map(snapshot)).toEqual((byId.get(id) ?? []).map(snapshot));
      // Only the message itself was generated, in its own hour.
      expect(data.stats().generatedBuckets).toBe(1);
      expect(data.stats().generatedRows).toBe(rows.length);
    }
  });

  it('returns rows equal to the walk, invisible ones included, for any case of the id', () => {
    const row = all[all.length - 3];
    expect(row).toBeDefined();
    if (row === undefined) return;
    const found = createTraceData().message(T, row.traceId.toUpperCase());
    expect(found.map(snapshot)).toContainEqual(snapshot(row));
  });

  it('returns nothing for unknown ids, other tenants and non-GUIDs', () => {
    const data = createTraceData();
    const row = all[10];
    if (row === undefined) throw new Error('no rows');
    expect(data.message(tenant({ seed: 78, messagesPerDay: 4000 }), row.traceId)).toEqual([]);
    expect(data.message(T, '00000000-0000-4000-8000-000000000000')).toEqual([]);
    expect(data.message(T, 'ffffffff-ffff-4fff-bfff-ffffffffffff')).toEqual([]);
    expect(data.message(T, 'not-a-guid')).toEqual([]);
    expect(data.message(T, '')).toEqual([]);
  });
});
