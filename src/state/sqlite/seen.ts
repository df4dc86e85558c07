/** Each tenant's dedupe seen-set (`seen`): a key and when it expires. */
import type Database from 'better-sqlite3';

export class SeenSet {
  readonly #get;
  readonly #insert;
  readonly #extend;
  readonly #prune;
  readonly #count;
  readonly #countTenant;

  constructor(db: Database.Database) {
    this.#get = db.prepare<[string, string], { expires_at: number }>(
      'SELECT expires_at FROM seen WHERE tenant = ? AND key = ?',
    );
    this.#insert = db.prepare<[string, string, number]>(
      'INSERT OR IGNORE INTO seen (tenant, key, expires_at) VALUES (?, ?, ?)',
    );
    this.#extend = db.prepare<[number, string, string]>(
      'UPDATE seen SET expires_at = max(expires_at, ?) WHERE tenant = ? AND key = ?',
    );
    this.#prune = db.prepare<[number]>('DELETE FROM seen WHERE expires_at <= ?');
    this.#count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM seen');
    this.#countTenant = db.prepare<[string], { n: number }>(
      'SELECT count(*) AS n FROM seen WHERE tenant = ?',
    );
  }

  /**
   * See `key` until `expiresAt` (extending it when already there); true when it is new: never
   * seen, or seen but expired at `now`.
   */
  see(tenant: string, key: string, now: number, expiresAt: number): boolean {
    // One statement for the common case (a key never seen); the lookup only for the rest.
    if (this.#insert.run(tenant, key, expiresAt).changes === 1) return true;
    // An expired key that is not yet pruned counts as unseen, so the outcome does not depend on
    // when pruning last ran.
    const isNew = (this.#get.get(tenant, key)?.expires_at ?? 0) <= now;
    this.#extend.run(expiresAt, tenant, key);
    return isNew;
  }

  prune(now: number): number {
    return this.#prune.run(now).changes;
  }

  count(tenant?: string): number {
    return (tenant === undefined ? this.#count.get() : this.#countTenant.get(tenant))?.n ?? 0;
  }
}
