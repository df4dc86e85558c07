/**
 * Trace ids that carry their own bucket. The first 32 bits of the GUID are the hour index XORed
 * with a hash of the other 90 random bits (and the tenant seed), so `message(tenant, id)` can find
 * the one bucket to regenerate, while the id still looks like any random version-4 GUID: two ids
 * of the same hour share no visible prefix.
 *
 * Ids are written into a scratch buffer and decoded once: a template literal would leave a tree of
 * concatenated strings (~400 bytes per id instead of ~60), and every cached row holds two ids.
 */
import { hash32, type Rng } from './prng.js';

const GUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})([0-9a-f]{8})$/;
const DIGITS = '0123456789abcdef';
const DASH = 0x2d;
const ASCII = /^[\x20-\x7e]*$/;
// Long enough for `<guid@host>` with any DNS name (at most 253 characters).
const scratch = Buffer.allocUnsafe(512);

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

/** Writes the low `digits` hex digits of `word` at `offset`; returns the offset after them. */
function putHex(offset: number, word: number, digits: number): number {
  for (let i = digits - 1; i >= 0; i--) {
    scratch[offset + i] = DIGITS.charCodeAt(word & 15);
    word >>>= 4;
  }
  return offset + digits;
}

/** Writes a GUID (8-4-4-4-12) from its fields at `offset`; returns the offset after it. */
function putGuid(offset: number, a: number, b: number, c: number, d: number, e1: number, e2: number): number {
  let o = putHex(offset, a, 8);
  scratch[o++] = DASH;
  o = putHex(o, b, 4);
  scratch[o++] = DASH;
  o = putHex(o, c, 4);
  scratch[o++] = DASH;
  o = putHex(o, d, 4);
  scratch[o++] = DASH;
  o = putHex(o, e1, 4);
  return putHex(o, e2, 8);
}

/** A version-4 GUID whose bits also encode `hour` for this tenant. */
export function encodeTraceId(rng: Rng, hour: number, seedLo: number, seedHi: number): string {
  const b = rng.next() >>> 16;
  const c = 0x4000 | (rng.next() >>> 20); // version 4
  const d = 0x8000 | (rng.next() >>> 18); // RFC 4122 variant (10xx)
  const e1 = rng.next() >>> 16;
  const e2 = rng.next();
  const a = (hour ^ mask(seedLo, seedHi, b, c, d, e1, e2)) >>> 0;
  return scratch.toString('latin1', 0, putGuid(0, a, b, c, d, e1, e2));
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

/** A random version-4 GUID (lowercase, 8-4-4-4-12). */
export function randomGuid(rng: Rng): string {
  return scratch.toString('latin1', 0, putRandomGuid(rng, 0));
}

/** An Internet Message-ID, `<random-guid@host>`. */
export function randomMessageId(rng: Rng, host: string): string {
  // Hosts come from tenant configuration too: anything but short ASCII takes the slow path.
  if (host.length > scratch.length - 40 || !ASCII.test(host)) return `<${randomGuid(rng)}@${host}>`;
  scratch[0] = 0x3c; // <
  let o = putRandomGuid(rng, 1);
  scratch[o++] = 0x40; // @
  o += scratch.write(host, o, 'latin1');
  scratch[o++] = 0x3e; // >
  return scratch.toString('latin1', 0, o);
}

function putRandomGuid(rng: Rng, offset: number): number {
  const b = rng.next();
  const c = rng.next();
  return putGuid(
    offset,
    rng.next(),
    b >>> 16,
    0x4000 | (b & 0x0fff),
    0x8000 | (c & 0x3fff),
    c >>> 16,
    rng.next(),
  );
}
