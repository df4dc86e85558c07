/**
 * Trace ids that say where their message comes from. Besides 70 random bits, a version-4 GUID has
 * room for the message's hour (32 bits) and its index in that hour (20 bits); both are XORed with
 * hashes of the random bits and the tenant seed, so `message(tenant, id)` regenerates exactly that
 * message while the id still looks like any random GUID (ids of one hour share no prefix). Distinct
 * (hour, index) pairs give distinct ids, so a tenant's ids never collide.
 *
 * Ids are written into a scratch buffer and decoded once: a template literal would leave a tree of
 * concatenated strings (~400 bytes per id instead of ~60), and every cached row holds two ids.
 */
import { fmix32, type Rng } from './prng.js';

/** Messages an hour a trace id can address (20 bits): 25 million messages a day at the busiest hour. */
export const MAX_MESSAGES_PER_HOUR = 1 << 20;

export interface TraceOrigin {
  readonly hour: number;
  readonly index: number;
}

const GUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})([0-9a-f]{8})$/;
const DIGITS = '0123456789abcdef';
const DASH = 0x2d;
const ASCII = /^[\x20-\x7e]*$/;
// Long enough for `<guid@host>` with any DNS name (at most 253 characters).
const scratch = Buffer.allocUnsafe(512);

/** Two independent 32-bit masks from the tenant seed and the id's random bits. */
function masks(
  seedLo: number,
  seedHi: number,
  c8: number,
  d14: number,
  e1: number,
  e2: number,
): [number, number] {
  let h = fmix32(seedLo ^ 0x7ace1d);
  h = fmix32(h ^ seedHi);
  h = fmix32(h ^ ((c8 << 16) | (d14 << 2)));
  h = fmix32(h ^ e1);
  h = fmix32(h ^ e2);
  return [h, fmix32(h ^ 0x9e3779b9)];
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

/**
 * The trace id of message `index` of `hour` for this tenant. Layout: a = hour ^ mask1;
 * b and the low nibble of c = index ^ mask2 (20 bits); c = version 4 and 8 random bits;
 * d = RFC 4122 variant and 14 random bits; e = 48 random bits.
 */
export function encodeTraceId(rng: Rng, origin: TraceOrigin, seedLo: number, seedHi: number): string {
  const r = rng.next();
  const c8 = r >>> 24;
  const d14 = r & 0x3fff;
  const e1 = rng.next() >>> 16;
  const e2 = rng.next();
  const [m1, m2] = masks(seedLo, seedHi, c8, d14, e1, e2);
  const a = (origin.hour ^ m1) >>> 0;
  const idx = (origin.index ^ m2) & 0xfffff;
  const b = idx >>> 4;
  const c = 0x4000 | (c8 << 4) | (idx & 0xf);
  const d = 0x8000 | d14;
  return scratch.toString('latin1', 0, putGuid(0, a, b, c, d, e1, e2));
}

/** Where a trace id says its message is, or undefined when it is no id of this scheme. */
export function decodeTraceId(traceId: string, seedLo: number, seedHi: number): TraceOrigin | undefined {
  const m = GUID.exec(traceId.toLowerCase());
  if (m === null) return undefined;
  const [a = 0, b = 0, c = 0, d = 0, e1 = 0, e2 = 0] = m.slice(1).map((part) => parseInt(part, 16));
  if (c >>> 12 !== 4 || d >>> 14 !== 2) return undefined;
  const [m1, m2] = masks(seedLo, seedHi, (c >>> 4) & 0xff, d & 0x3fff, e1, e2);
  return { hour: (a ^ m1) >>> 0, index: (((b << 4) | (c & 0xf)) ^ m2) & 0xfffff };
}

/** A random version-4 GUID (lowercase, 8-4-4-4-12). */
function randomGuid(rng: Rng): string {
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
