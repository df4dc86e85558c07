/**
 * Trace ids that carry their own bucket. The first 32 bits of the GUID are the hour index XORed
 * with a hash of the other 90 random bits (and the tenant seed), so `message(tenant, id)` can find
 * the one bucket to regenerate, while the id still looks like any random version-4 GUID: two ids
 * of the same hour share no visible prefix.
 */
import { hash32, type Rng } from './prng.js';

const GUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})([0-9a-f]{8})$/;

// Byte → two hex digits: formatting ids this way is several times faster than toString(16).
const BYTE_HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
const h2 = (byte: number): string => BYTE_HEX[byte & 0xff] ?? '00';
/** Eight hex digits of a 32-bit word. */
export const hex8 = (word: number): string => h2(word >>> 24) + h2(word >>> 16) + h2(word >>> 8) + h2(word);
/** Four hex digits of the low 16 bits. */
export const hex4 = (word: number): string => h2(word >>> 8) + h2(word);

function mask(
  seedLo: number,
  seedHi: number,
  b: number,
  c: number,
  d: number,
  e1: number,
  e2: number,
): number {
  return hash32(seedLo, seedHi, b, c, d, e1, e2);
}

/** A random version-4 GUID (lowercase, 8-4-4-4-12). */
export function randomGuid(rng: Rng): string {
  const b = rng.next();
  const c = rng.next();
  return `${hex8(rng.next())}-${hex4(b >>> 16)}-${hex4(0x4000 | (b & 0x0fff))}-${hex4(0x8000 | (c & 0x3fff))}-${hex4(c >>> 16)}${hex8(rng.next())}`;
}

/** A version-4 GUID whose bits also encode `hour` for this tenant. */
export function encodeTraceId(rng: Rng, hour: number, seedLo: number, seedHi: number): string {
  const b = rng.next() >>> 16;
  const c = 0x4000 | (rng.next() >>> 20); // version 4
  const d = 0x8000 | (rng.next() >>> 18); // RFC 4122 variant (10xx)
  const e1 = rng.next() >>> 16;
  const e2 = rng.next();
  const a = (hour ^ mask(seedLo, seedHi, b, c, d, e1, e2)) >>> 0;
  return `${hex8(a)}-${hex4(b)}-${hex4(c)}-${hex4(d)}-${hex4(e1)}${hex8(e2)}`;
}

/** The hour a trace id was generated for, or undefined when it is no GUID at all. */
export function decodeTraceHour(traceId: string, seedLo: number, seedHi: number): number | undefined {
  const m = GUID.exec(traceId.toLowerCase());
  if (m === null) return undefined;
  const [, a, b, c, d, e1, e2] = m.map((part) => parseInt(part, 16));
  if (a === undefined || b === undefined || c === undefined || d === undefined) return undefined;
  if (e1 === undefined || e2 === undefined) return undefined;
  return (a ^ mask(seedLo, seedHi, b, c, d, e1, e2)) >>> 0;
}
