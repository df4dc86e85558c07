/**
 * Where each pass of each tenant stands (`checkpoint`) and the time ranges each tenant has
 * collected (`collected_range`): both written inside the commit of a page.
 */
import type Database from 'better-sqlite3';
import type { Pass } from '../../core/window.js';
import type { Checkpoint, StoredCheckpoint } from '../store.js';
import type { TimeWindow } from '../../core/window.js';
import { toPass } from './decode.js';

interface CheckpointRow {
  tenant: string;
  pass: string;
  cursor: number;
  window_from: number | null;
  window_to: number | null;
  next_link: string | null;
  updated_at: number;
}

function toCheckpoint(row: CheckpointRow): StoredCheckpoint {
  return {
    tenant: row.tenant,
    pass: toPass(row.pass),
    cursor: row.cursor,
    ...(row.window_from !== null && row.window_to !== null
      ? { window: { from: row.window_from, to: row.window_to } }
      : {}),
    ...(row.next_link !== null ? { nextLink: row.next_link } : {}),
    updatedAt: row.updated_at,
  };
}

const COLUMNS = 'tenant, pass, cursor, window_from, window_to, next_link, updated_at';

export class Checkpoints {
  readonly #get;
  readonly #list;
  readonly #listTenant;
  readonly #put;
  readonly #ranges;
  readonly #touchingRanges;
  readonly #deleteRange;
  readonly #insertRange;

  constructor(db: Database.Database) {
    this.#get = db.prepare<[string, string], CheckpointRow>(
      `SELECT ${COLUMNS} FROM checkpoint WHERE tenant = ? AND pass = ?`,
    );
    this.#list = db.prepare<[], CheckpointRow>(`SELECT ${COLUMNS} FROM checkpoint ORDER BY tenant, pass`);
    this.#listTenant = db.prepare<[string], CheckpointRow>(
      `SELECT ${COLUMNS} FROM checkpoint WHERE tenant = ? ORDER BY pass`,
    );
    this.#put = db.prepare<[string, string, number, number | null, number | null, string | null, number]>(
      `INSERT OR REPLACE INTO checkpoint (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#ranges = db.prepare<[string], { from: number; to: number }>(
      'SELECT from_ms AS "from", to_ms AS "to" FROM collected_range WHERE tenant = ? ORDER BY from_ms',
    );
    // The ranges a new one overlaps or touches: they are merged into it.
    this.#touchingRanges = db.prepare<[string, number, number], { from: number; to: number }>(
      'SELECT from_ms AS "from", to_ms AS "to" FROM collected_range WHERE tenant = ? AND from_ms <= ? AND to_ms >= ?',
    );
    this.#deleteRange = db.prepare<[string, number]>(
      'DELETE FROM collected_range WHERE tenant = ? AND from_ms = ?',
    );
    this.#insertRange = db.prepare<[string, number, number]>(
      'INSERT INTO collected_range (tenant, from_ms, to_ms) VALUES (?, ?, ?)',
    );
  }

  get(tenant: string, pass: Pass): StoredCheckpoint | undefined {
    const row = this.#get.get(tenant, pass);
    return row === undefined ? undefined : toCheckpoint(row);
  }

  list(tenant?: string): StoredCheckpoint[] {
    const rows = tenant === undefined ? this.#list.all() : this.#listTenant.all(tenant);
    return rows.map(toCheckpoint);
  }

  /** Replace the pass's checkpoint as a whole. */
  put(tenant: string, pass: Pass, checkpoint: Checkpoint, now: number): void {
    this.#put.run(
      tenant,
      pass,
      checkpoint.cursor,
      checkpoint.window?.from ?? null,
      checkpoint.window?.to ?? null,
      checkpoint.nextLink ?? null,
      now,
    );
  }

  collectedRanges(tenant: string): TimeWindow[] {
    return this.#ranges.all(tenant);
  }

  /** Merges `[from, to]` into the tenant's collected ranges (inside the commit's transaction). */
  addCollected(tenant: string, { from, to }: TimeWindow): void {
    let merged = { from, to };
    for (const r of this.#touchingRanges.all(tenant, to, from)) {
      merged = { from: Math.min(merged.from, r.from), to: Math.max(merged.to, r.to) };
      this.#deleteRange.run(tenant, r.from);
    }
    this.#insertRange.run(tenant, merged.from, merged.to);
  }
}
