/** Rows that could not be normalized (`reject`), kept with their reason. */
import type Database from 'better-sqlite3';
import type { Pass } from '../../core/window.js';
import type { StoredReject } from '../store.js';
import { toPass } from './decode.js';

interface RejectRow {
  id: number;
  tenant: string;
  pass: string;
  reason: string;
  input: string;
  at: number;
}

const COLUMNS = 'id, tenant, pass, reason, input, at';

export class Rejects {
  readonly #insert;
  readonly #list;
  readonly #listTenant;

  constructor(db: Database.Database) {
    this.#insert = db.prepare<[string, string, string, string, number]>(
      'INSERT INTO reject (tenant, pass, reason, input, at) VALUES (?, ?, ?, ?, ?)',
    );
    this.#list = db.prepare<[number], RejectRow>(`SELECT ${COLUMNS} FROM reject ORDER BY id LIMIT ?`);
    this.#listTenant = db.prepare<[string, number], RejectRow>(
      `SELECT ${COLUMNS} FROM reject WHERE tenant = ? ORDER BY id LIMIT ?`,
    );
  }

  add(tenant: string, pass: Pass, reason: string, input: string, at: number): void {
    this.#insert.run(tenant, pass, reason, input, at);
  }

  list(tenant: string | undefined, limit: number): StoredReject[] {
    const rows = tenant === undefined ? this.#list.all(limit) : this.#listTenant.all(tenant, limit);
    return rows.map((r) => ({ ...r, pass: toPass(r.pass) }));
  }
}
