/**
 * Opening a SQLite state: the folder and file checks (../files.ts), the pragmas that make it
 * durable and fast, the exclusive lock that keeps one collector per state, and the migrations.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { StateStoreError, stateInUse } from '../errors.js';
import { checkStateDir, createStateFile, refuseLinkedFiles } from '../files.js';
import type { StateStore } from '../store.js';
import { diskFullError, isBusy, isFull, toStateError } from './errors.js';
import { DB_FILE, stateFiles } from './location.js';
import { migrate } from './migrations.js';
import { SqliteStore } from './store.js';

export interface SqliteStoreOptions {
  /** Clock for `updatedAt`/`at` of acknowledgements, sinks and dead letters. Default `Date.now`. */
  readonly clock?: () => number;
  /**
   * Hold an exclusive lock on the database for as long as the store is open (default true): one
   * collector per state directory, since two would write the same file output and move the same
   * checkpoints. A second process fails after `busyTimeoutMs` instead of corrupting delivery.
   * The lock is the operating system's, so a killed process releases it.
   */
  readonly exclusive?: boolean;
  /** How long to wait for a lock held by another connection. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /**
   * For tests: SQLite's `max_page_count`, so that the database answers SQLITE_FULL as on a full
   * disk once it would grow past this many pages (1: no growth at all). Default: no limit.
   */
  readonly maxPageCount?: number;
}

/** WAL size that triggers a checkpoint (SQLite's default is ~4 MB; a page of events is ~8 MB). */
const WAL_CHECKPOINT_BYTES = 40 * 1024 * 1024;

/**
 * Open (creating if needed) the state in `dir/exotrace.db`. The directory is created with mode
 * 0700 and the database file with 0600: the state holds message metadata (addresses, subjects).
 * A directory every local user can write to is refused, and so is a state file that is a link.
 */
export function openSqliteStore(dir: string, options: SqliteStoreOptions = {}): StateStore {
  const clock = options.clock ?? Date.now;
  const file = join(dir, DB_FILE);
  let db: Database.Database;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    checkStateDir(dir);
    // Never through a link: SQLite opens the database and its -wal/-shm/-journal by name.
    refuseLinkedFiles(stateFiles(dir));
    // Create the file ourselves: SQLite would create it with the umask (often 0644). Its -wal
    // file then inherits these permissions.
    createStateFile(file);
    db = new Database(file);
  } catch (error) {
    throw toStateError(error);
  }
  let created: boolean;
  try {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    // Pages of 64 KiB instead of 4 KiB: a commit writes a page of events (~8 MB) to the WAL, and
    // with large pages it costs about half as much (fewer frames, headers and checksums). It only
    // applies to a new database (and must come before WAL): an existing one keeps its page size.
    db.pragma('page_size = 65536');
    // Before WAL: in exclusive mode SQLite keeps the WAL index in process memory (no -shm file).
    if (options.exclusive ?? true) db.pragma('locking_mode = EXCLUSIVE');
    const mode: unknown = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') {
      throw new StateStoreError(`could not enable WAL on ${file} (got ${String(mode)})`, {
        code: 'unexpected',
      });
    }
    // FULL: a commit survives power loss too; it costs one more fsync per page, little at poll rates.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // A page of 5,000 events is ~8 MB: a larger page cache and fewer WAL checkpoints (every ~40 MB
    // instead of ~4 MB) cut a commit's cost by about a fifth; durability is unchanged (FULL).
    db.pragma('cache_size = -16384');
    // The threshold is in pages: ~40 MB whatever the database's page size.
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    db.pragma(`wal_autocheckpoint = ${Math.ceil(WAL_CHECKPOINT_BYTES / pageSize)}`);
    db.pragma('temp_store = MEMORY');
    // Take the write lock now (exclusive mode keeps it), so a second collector fails at start.
    db.exec('BEGIN IMMEDIATE; COMMIT');
    created = migrate(db);
    if (options.maxPageCount !== undefined) db.pragma(`max_page_count = ${options.maxPageCount}`);
  } catch (error) {
    db.close();
    if (isFull(error)) throw diskFullError(error, dir, undefined);
    if (isBusy(error)) throw stateInUse(dir, error);
    throw toStateError(error);
  }
  return new SqliteStore(db, clock, created, dir);
}
