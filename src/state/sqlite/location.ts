/** Where a SQLite state lives (its database and the files beside it), and what opening them would refuse. */
import { join } from 'node:path';
import { inspectStateDir } from '../files.js';

export const DB_FILE = 'exotrace.db';

/** The database and the files SQLite keeps beside it, by name: the database first. */
export function stateFiles(dir: string): string[] {
  const file = join(dir, DB_FILE);
  return [file, `${file}-wal`, `${file}-shm`, `${file}-journal`];
}

/**
 * What `openSqliteStore(dir)` would refuse, found without creating or writing anything (for
 * `config check`); whether a state exists there already.
 */
export function inspectSqliteState(dir: string): { readonly exists: boolean } {
  return inspectStateDir(dir, stateFiles(dir));
}
