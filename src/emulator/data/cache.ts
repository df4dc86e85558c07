/**
 * A least-recently-used cache of buckets, bounded twice: by bucket count (the option callers know)
 * and by total rows, because one hour of a 50,000-messages-a-day tenant outweighs a hundred hours
 * of a small one, and memory must stay flat whatever the mix. Buckets grow as walks generate their
 * messages, so the weight is read again at each trim rather than recorded at insertion.
 */
export class LruCache<V> {
  // A Map iterates in insertion order: re-inserting on each hit keeps the oldest use first.
  private readonly entries = new Map<string, V>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxWeight: number,
    private readonly weigh: (value: V) => number,
  ) {}

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, value);
    this.trim();
  }

  /**
   * Evicts the least recently used until both bounds hold, but never the most recent entry: a
   * caller is reading it (so one bucket larger than the row bound still stays while in use).
   */
  trim(): void {
    let weight = this.weight;
    let remaining = this.entries.size;
    for (const [key, value] of this.entries) {
      if (remaining <= 1 || (remaining <= this.maxEntries && weight <= this.maxWeight)) break;
      this.entries.delete(key);
      weight -= this.weigh(value);
      remaining--;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get weight(): number {
    let total = 0;
    for (const value of this.entries.values()) total += this.weigh(value);
    return total;
  }
}
