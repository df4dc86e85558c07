/**
 * A small seeded PRNG. Math.random cannot be seeded, and the generator's whole promise is that a
 * (tenant seed, bucket) pair gives the same rows in every run and on every machine, so every draw
 * goes through this, with nothing but 32-bit integer arithmetic (identical on all engines).
 */

/** murmur3's finalizer: spreads every input bit over the output, so neighbouring seeds diverge. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The two 32-bit halves of a tenant seed. Seeds are plain numbers in the model, so a seed above
 * 2^32 or a negative one must still map to distinct words rather than wrap onto another tenant.
 */
export function seedWords(seed: number): readonly [number, number] {
  const whole = Math.trunc(seed);
  return [whole >>> 0, Math.floor(whole / 4294967296) >>> 0];
}

/** sfc32 (Chris Doty-Humphrey's small fast counting generator): fast, and passes PractRand to 2^40+. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /**
   * Seeded by up to five 32-bit words (stream salt, tenant seed halves, hour, message index).
   * Fixed arity rather than rest parameters: one generator is built per message.
   */
  constructor(s0: number, s1 = 0, s2 = 0, s3 = 0, s4 = 0) {
    let h = fmix32(s0 ^ 0x9e3779b9);
    h = fmix32(h ^ (s1 >>> 0));
    h = fmix32(h ^ (s2 >>> 0));
    h = fmix32(h ^ (s3 >>> 0));
    h = fmix32(h ^ (s4 >>> 0));
    this.a = h;
    this.b = fmix32(h ^ 0x6d2b79f5);
    this.c = fmix32(h ^ 0x1b873593);
    this.d = 1;
    // The first outputs of sfc32 still echo the seed; discard them as its author recommends.
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi], both inclusive. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  /**
   * Skewed towards the front of the list (index ~ n·u²): a few users send most of the mail, and a
   * few partner domains dominate inbound, as in real tenants.
   */
  pickSkewed<T>(items: readonly T[]): T {
    const u = this.float();
    const item = items[Math.floor(u * u * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  /** Standard normal (Box–Muller; one of the pair is dropped to keep the state simple). */
  normal(): number {
    const u = 1 - this.float(); // (0, 1]: log(0) would be -Infinity
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }

  /** Log-uniform in [lo, hi]: as many draws between 1 and 10 minutes as between 10 and 100. */
  logUniform(lo: number, hi: number): number {
    return lo * Math.pow(hi / lo, this.float());
  }

  /**
   * Poisson(lambda): exact inversion for small means (quiet tenants get 0, 1, 2… messages an hour,
   * never a fraction), the normal approximation above, where inversion would get slow.
   */
  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda > 60) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.normal()));
    let k = 0;
    let p = Math.exp(-lambda);
    let cumulative = p;
    const u = this.float();
    while (u > cumulative && k < 1000) {
      k++;
      p *= lambda / k;
      cumulative += p;
    }
    return k;
  }
}

/** A seeded `() => number` in [0, 1), for callers that want Math.random's shape (fault injection). */
export function createRandom(seed: number): () => number {
  const rng = new Rng(0xfa017, ...seedWords(seed));
  return () => rng.float();
}
