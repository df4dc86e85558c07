/**
 * A least-recently-used cache of generated buckets, bounded twice: by bucket count (the option
 * callers know) and by total rows, because one hour of a 50,000-messages-a-day tenant outweighs
 * a hundred hours of a small one, and memory must stay flat whatever the mix.
 */
export class BucketCache<V extends { readonly length: number }> {
  // A Map iterates in insertion order: re-inserting on each hit keeps the oldest use first.
  private readonly entries = new Map<string, V>();
  private rowCount = 0;

  constructor(
    private readonly maxBuckets: number,
    private readonly maxRows: number,
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
    if (this.maxBuckets <= 0) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.rowCount -= old.length;
    }
    this.entries.set(key, value);
    this.rowCount += value.length;
    // Evict the least recently used, but never the bucket just added: a caller is about to read it.
    for (const [oldest, rows] of this.entries) {
      if (this.entries.size <= this.maxBuckets && this.rowCount <= this.maxRows) break;
      if (oldest === key) break;
      this.entries.delete(oldest);
      this.rowCount -= rows.length;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get rows(): number {
    return this.rowCount;
  }

  clear(): void {
    this.entries.clear();
    this.rowCount = 0;
  }
}
