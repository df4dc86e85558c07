/** Trace ids carry their hour and index for the tenant that made them, and look like random GUIDs. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeTraceId,
  encodeTraceId,
  MAX_MESSAGES_PER_HOUR,
  randomMessageId,
} from '../../../src/emulator/data/ids.js';
import { Rng, seedWords } from '../../../src/emulator/data/prng.js';

const GUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MAX_HOUR = Math.floor(8.64e15 / 3_600_000);

describe('trace ids', () => {
  it('decode to the hour and index they were made for, with the seed that made them', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_HOUR }),
        fc.integer({ min: 0, max: MAX_MESSAGES_PER_HOUR - 1 }),
        fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
        fc.integer(),
        (hour, index, seed, stream) => {
          const [lo, hi] = seedWords(seed);
          const id = encodeTraceId(new Rng(stream), { hour, index }, lo, hi);
          expect(id).toMatch(GUID_V4);
          expect(decodeTraceId(id, lo, hi)).toEqual({ hour, index });
          expect(decodeTraceId(id.toUpperCase(), lo, hi)).toEqual({ hour, index });
          const [otherLo, otherHi] = seedWords(seed + 1);
          expect(decodeTraceId(id, otherLo, otherHi)?.hour).not.toBe(hour);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reject what is not a version-4 GUID', () => {
    for (const bad of [
      '',
      'x',
      '{6f1c2b7e-0d4a-4c55-9a3e-3b1f9d2c8a10}',
      '6f1c2b7e0d4a4c559a3e3b1f9d2c8a10',
      '6f1c2b7e-0d4a-1c55-9a3e-3b1f9d2c8a10',
      '6f1c2b7e-0d4a-4c55-7a3e-3b1f9d2c8a10',
    ]) {
      expect(decodeTraceId(bad, 1, 0)).toBeUndefined();
    }
  });

  it('spread over every hex digit in every random-looking position, even within one hour', () => {
    const rng = new Rng(1);
    const ids = Array.from({ length: 2000 }, (_, index) =>
      encodeTraceId(rng, { hour: 493_000, index }, 1, 0),
    );
    for (const position of [0, 1, 7, 9, 12, 16, 20, 35]) {
      expect(new Set(ids.map((id) => id.charAt(position))).size).toBe(16);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('message ids', () => {
  it('are <guid@host>, with a fallback for non-ASCII hosts', () => {
    const rng = new Rng(2);
    expect(randomMessageId(rng, 'contoso.com')).toMatch(/^<[0-9a-f-]{36}@contoso\.com>$/);
    expect(randomMessageId(rng, 'bücher.example')).toMatch(/^<[0-9a-f-]{36}@bücher\.example>$/);
  });
});
