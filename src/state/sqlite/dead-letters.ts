/** Events a sink refused for good (`dead_letter`), kept per sink with the reason. */
import type Database from 'better-sqlite3';
import type { DeadLetter } from '../store.js';
import { toPass } from './decode.js';
import type { OutboxRow } from './outbox.js';

export interface DeadLetterRow {
  sink: string;
  seq: number;
  tenant: string;
  pass: string;
  key: string;
  event_id: string;
  json: string;
  reason: string;
  at: number;
}

function toDeadLetter(r: DeadLetterRow): DeadLetter {
  return {
    sink: r.sink,
    seq: r.seq,
    tenant: r.tenant,
    pass: toPass(r.pass),
    key: r.key,
    eventId: r.event_id,
    json: r.json,
    reason: r.reason,
    at: r.at,
  };
}

const COLUMNS = 'sink, seq, tenant, pass, key, event_id, json, reason, at';

export class DeadLetters {
  readonly #put;
  readonly #all;
  readonly #limited;
  readonly #delete;
  readonly #count;
  readonly #has;
  readonly #newest;

  constructor(db: Database.Database) {
    this.#put = db.prepare<[string, number, string, string, string, string, string, string, number]>(
      `INSERT OR REPLACE INTO dead_letter (${COLUMNS})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#all = db.prepare<[string], DeadLetterRow>(
      `SELECT ${COLUMNS} FROM dead_letter WHERE sink = ? ORDER BY seq`,
    );
    this.#limited = db.prepare<[string, number], DeadLetterRow>(
      `SELECT ${COLUMNS} FROM dead_letter WHERE sink = ? ORDER BY seq LIMIT ?`,
    );
    this.#delete = db.prepare<[string, number]>('DELETE FROM dead_letter WHERE sink = ? AND seq = ?');
    this.#count = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM dead_letter WHERE sink = ?');
    this.#has = db.prepare<[string, number], { one: number }>(
      'SELECT 1 AS one FROM dead_letter WHERE sink = ? AND seq = ?',
    );
    this.#newest = db.prepare<[string], { at: number | null }>(
      'SELECT max(at) AS at FROM dead_letter WHERE sink = ?',
    );
  }

  /** Put the outbox row aside for `sink`; idempotent per (sink, seq). */
  put(sink: string, row: OutboxRow, reason: string, at: number): void {
    this.#put.run(sink, row.seq, row.tenant, row.pass, row.key, row.event_id, row.json, reason, at);
  }

  /** Every dead letter of the sink as stored, oldest first (to move them back). */
  rows(sink: string): DeadLetterRow[] {
    return this.#all.all(sink);
  }

  list(sink: string, limit: number): DeadLetter[] {
    return this.#limited.all(sink, limit).map(toDeadLetter);
  }

  remove(sink: string, seq: number): void {
    this.#delete.run(sink, seq);
  }

  count(sink: string): number {
    return this.#count.get(sink)?.n ?? 0;
  }

  has(sink: string, seq: number): boolean {
    return this.#has.get(sink, seq) !== undefined;
  }

  newest(sink: string): number | undefined {
    return this.#newest.get(sink)?.at ?? undefined;
  }
}
