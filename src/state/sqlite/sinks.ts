/** The outputs that read the outbox (`sink`): each one's acknowledged sequence and its meta. */
import type Database from 'better-sqlite3';
import { StateStoreError } from '../errors.js';
import type { SinkState } from '../store.js';

export interface SinkRow {
  name: string;
  acked_seq: number;
  meta: string | null;
  updated_at: number;
}

function toSinkState(row: SinkRow): SinkState {
  return {
    name: row.name,
    ackedSeq: row.acked_seq,
    ...(row.meta !== null ? { meta: row.meta } : {}),
    updatedAt: row.updated_at,
  };
}

const COLUMNS = 'name, acked_seq, meta, updated_at';

export class Sinks {
  readonly #get;
  readonly #list;
  readonly #insert;
  readonly #delete;
  readonly #ack;
  readonly #minAcked;

  constructor(db: Database.Database) {
    this.#get = db.prepare<[string], SinkRow>(`SELECT ${COLUMNS} FROM sink WHERE name = ?`);
    this.#list = db.prepare<[], SinkRow>(`SELECT ${COLUMNS} FROM sink ORDER BY name`);
    this.#insert = db.prepare<[string, number, number]>(
      'INSERT OR IGNORE INTO sink (name, acked_seq, meta, updated_at) VALUES (?, ?, NULL, ?)',
    );
    this.#delete = db.prepare<[string]>('DELETE FROM sink WHERE name = ?');
    this.#ack = db.prepare<[number, string | null, number, string]>(
      'UPDATE sink SET acked_seq = ?, meta = ?, updated_at = ? WHERE name = ?',
    );
    this.#minAcked = db.prepare<[], { m: number | null }>('SELECT min(acked_seq) AS m FROM sink');
  }

  get(name: string): SinkState | undefined {
    const row = this.#get.get(name);
    return row === undefined ? undefined : toSinkState(row);
  }

  /** The sink's row; an unknown sink is a bug of the caller. */
  require(name: string): SinkRow {
    const row = this.#get.get(name);
    if (row === undefined) throw new StateStoreError(`unknown sink ${name}`);
    return row;
  }

  list(): SinkState[] {
    return this.#list.all().map(toSinkState);
  }

  /** Register a sink at `ackedSeq`; a known one keeps its cursor. */
  add(name: string, ackedSeq: number, now: number): void {
    this.#insert.run(name, ackedSeq, now);
  }

  /** Cascades to its dead letters, its rounds and the events re-queued for it alone. */
  remove(name: string): void {
    this.#delete.run(name);
  }

  setAcked(name: string, seq: number, meta: string | null, now: number): void {
    this.#ack.run(seq, meta, now, name);
  }

  /** The cursor of the sink furthest behind, or undefined when no sink is registered. */
  minAcked(): number | undefined {
    return this.#minAcked.get()?.m ?? undefined;
  }
}
