import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { checkStateDir, createStateFile, inspectStateDir, refuseLinkedFiles } from './files.js';
import { PASSES, type Pass } from '../core/window.js';
import {
  StateInUseError,
  StateFullError,
  StateStoreError,
  countStatus,
  validateCommit,
  validateCycle,
  validateOutputRound,
  validateReadOptions,
  type CommitResult,
  type CycleOutcome,
  type OutputRoundOutcome,
  type OutputRounds,
  type DeadLetter,
  type CommitHook,
  type PageCommit,
  type PageEvent,
  type ReadOutboxOptions,
  type SinkStart,
  type SinkState,
  type StateStore,
  type StoredCheckpoint,
  type StoredReject,
  type TenantCycle,
  type TimeWindow,
} from './store.js';
import { type OutboxEvent } from '../core/outbox-event.js';

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

export const DB_FILE = 'exotrace.db';

/** WAL size that triggers a checkpoint (SQLite's default is ~4 MB; a page of events is ~8 MB). */
const WAL_CHECKPOINT_BYTES = 40 * 1024 * 1024;

/**
 * Schema migrations, in order; version N is `MIGRATIONS[N - 1]`. Append only: a released
 * migration is never edited, since databases in the field already ran it.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE checkpoint (
    tenant      TEXT    NOT NULL,
    pass        TEXT    NOT NULL CHECK (pass IN ('fast', 'reconcile', 'backfill')),
    cursor      INTEGER NOT NULL,
    window_from INTEGER,
    window_to   INTEGER,
    next_link   TEXT,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, pass)
  ) WITHOUT ROWID;

  CREATE TABLE seen (
    tenant     TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, key)
  ) WITHOUT ROWID;
  CREATE INDEX seen_expires ON seen (expires_at);

  CREATE TABLE sink (
    name       TEXT    PRIMARY KEY,
    acked_seq  INTEGER NOT NULL,
    meta       TEXT,
    updated_at INTEGER NOT NULL
  );

  -- AUTOINCREMENT: a sequence must never be reused after the tail is pruned, or a sink whose
  -- cursor is past the reused numbers would skip new events.
  CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant     TEXT    NOT NULL,
    pass       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    event_id   TEXT    NOT NULL,
    json       TEXT    NOT NULL,
    bytes      INTEGER NOT NULL,
    -- Set on dead letters moved back: only that sink delivers them again.
    only_sink  TEXT    REFERENCES sink (name) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX outbox_only_sink ON outbox (only_sink, seq) WHERE only_sink IS NOT NULL;

  CREATE TABLE dead_letter (
    sink     TEXT    NOT NULL REFERENCES sink (name) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    tenant   TEXT    NOT NULL,
    pass     TEXT    NOT NULL,
    key      TEXT    NOT NULL,
    event_id TEXT    NOT NULL,
    json     TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (sink, seq)
  );

  CREATE TABLE reject (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT    NOT NULL,
    pass   TEXT    NOT NULL,
    reason TEXT    NOT NULL,
    input  TEXT    NOT NULL,
    at     INTEGER NOT NULL
  );
  CREATE INDEX reject_tenant ON reject (tenant, id);
  `,
  // 2: each tenant's last cycle, for `exotrace status` when no daemon runs. last_error is the
  // sanitized describeError object as JSON (code, message, fix), never a secret.
  `
  CREATE TABLE tenant_cycle (
    tenant            TEXT    PRIMARY KEY,
    last_success_at   INTEGER,
    last_failure_at   INTEGER,
    last_error        TEXT,
    failures_in_a_row INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  `,
  // 3: each tenant's time ranges already collected (windows completed by any pass), merged: a
  // backfill collects what is asked minus these. Written in the transaction of the page that
  // completes a window. A state from before this migration starts with none. IF NOT EXISTS: the
  // upgrade test rebuilds an older schema by dropping only the tables it knows.
  `
  CREATE TABLE IF NOT EXISTS collected_range (
    tenant  TEXT    NOT NULL,
    from_ms INTEGER NOT NULL,
    to_ms   INTEGER NOT NULL,
    PRIMARY KEY (tenant, from_ms)
  ) WITHOUT ROWID;
  `,
  // 4: the state's identity: a random id made with the database (a database upgraded from an earlier
  // version gets one too). A file output records it beside its file, so that a new state (the old
  // one deleted or emptied) finding that file knows it did not write it. One row, never changed.
  // Idempotent (IF NOT EXISTS, WHERE NOT EXISTS), like 3, for the upgrade test's rebuilt schema.
  `
  CREATE TABLE IF NOT EXISTS state_identity (
    id TEXT NOT NULL
  );
  INSERT INTO state_identity (id)
    SELECT lower(hex(randomblob(16))) WHERE NOT EXISTS (SELECT 1 FROM state_identity);
  `,
  // 5: each output's delivery rounds, so that `exotrace status` without the daemon (after `run
  // --once`) knows an output is failing: last success, failing since, the last error (the
  // sanitized describeError object as JSON, never a secret). Forgotten with the sink.
  `
  CREATE TABLE output_round (
    sink            TEXT    PRIMARY KEY REFERENCES sink (name) ON DELETE CASCADE,
    last_success_at INTEGER,
    failing_since   INTEGER,
    last_error      TEXT
  ) WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

interface CheckpointRow {
  tenant: string;
  pass: string;
  cursor: number;
  window_from: number | null;
  window_to: number | null;
  next_link: string | null;
  updated_at: number;
}

interface OutboxRow {
  seq: number;
  tenant: string;
  pass: string;
  key: string;
  event_id: string;
  json: string;
  bytes: number;
}

interface SinkRow {
  name: string;
  acked_seq: number;
  meta: string | null;
  updated_at: number;
}

interface DeadLetterRow {
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

interface TenantCycleRow {
  tenant: string;
  last_success_at: number | null;
  last_failure_at: number | null;
  last_error: string | null;
  failures_in_a_row: number;
}

function toTenantCycle(row: TenantCycleRow): TenantCycle {
  return {
    tenant: row.tenant,
    ...(row.last_success_at !== null ? { lastSuccessAt: row.last_success_at } : {}),
    ...(row.last_failure_at !== null ? { lastFailureAt: row.last_failure_at } : {}),
    ...(row.last_error !== null ? { lastError: JSON.parse(row.last_error) as Record<string, unknown> } : {}),
    failuresInARow: row.failures_in_a_row,
  };
}

interface OutputRoundRow {
  sink: string;
  last_success_at: number | null;
  failing_since: number | null;
  last_error: string | null;
}

function toOutputRounds(row: OutputRoundRow): OutputRounds {
  return {
    output: row.sink,
    ...(row.last_success_at !== null ? { lastSuccessAt: row.last_success_at } : {}),
    ...(row.failing_since !== null ? { failingSince: row.failing_since } : {}),
    ...(row.last_error !== null ? { lastError: JSON.parse(row.last_error) as Record<string, unknown> } : {}),
  };
}

interface RejectRow {
  id: number;
  tenant: string;
  pass: string;
  reason: string;
  input: string;
  at: number;
}

function toPass(value: string): Pass {
  const pass = PASSES.find((p) => p === value);
  if (pass === undefined) throw new StateStoreError(`unknown pass in state: ${value}`);
  return pass;
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

function toSinkState(row: SinkRow): SinkState {
  return {
    name: row.name,
    ackedSeq: row.acked_seq,
    ...(row.meta !== null ? { meta: row.meta } : {}),
    updatedAt: row.updated_at,
  };
}

/** Run synchronous work as a promise: the interface is asynchronous for databases that are. */
function run<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(fn());
  });
}

/** Bring the schema up to date; true when there was none (a new or 0-byte database). */
function migrate(db: Database.Database): boolean {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const current =
    db.prepare<[], { v: number | null }>('SELECT max(version) AS v FROM schema_version').get()?.v ?? 0;
  if (current > MIGRATIONS.length) {
    // Written by a newer exotrace: its tables may mean things this version does not know.
    throw new StateStoreError(
      `state schema version ${current} is newer than this exotrace supports (${MIGRATIONS.length}); upgrade exotrace`,
    );
  }
  const record = db.prepare<[number, number]>(
    'INSERT INTO schema_version (version, applied_at) VALUES (?, ?)',
  );
  for (let version = current + 1; version <= MIGRATIONS.length; version++) {
    const sql = MIGRATIONS[version - 1] ?? '';
    db.transaction(() => {
      db.exec(sql);
      record.run(version, Date.now());
    })();
  }
  return current === 0;
}

function isFull(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'SQLITE_FULL';
}

/**
 * SQLite says only "database or disk is full": the user needs to know which file, where, and what
 * to do. The failed transaction was rolled back, so nothing committed is lost; `waiting` (when it
 * could be counted) says how much the outbox holds, since the outputs taking it frees space.
 * The error keeps SQLite's as its cause, so its code (SQLITE_FULL) is still the error's code.
 */
function diskFullError(error: unknown, dir: string, waiting: number | undefined): StateFullError {
  const held =
    waiting === undefined
      ? ''
      : `; the outbox holds ${waiting} ${waiting === 1 ? 'event' : 'events'} waiting for an output ` +
        '(delivered events are pruned, which frees space inside the database file)';
  return new StateFullError(
    `state database ${join(dir, DB_FILE)} cannot grow: the disk or the filesystem quota of stateDir ` +
      `${dir} is full (SQLite: database or disk is full). Free space there, or move stateDir to a ` +
      `larger filesystem; nothing committed is lost, the work in hand is done again${held}`,
    { cause: error },
  );
}

function isBusy(error: unknown): boolean {
  return (
    error instanceof Error &&
    'code' in error &&
    (error.code === 'SQLITE_BUSY' || error.code === 'SQLITE_LOCKED')
  );
}

/** The database and the files SQLite keeps beside it, by name: the database first. */
function stateFiles(dir: string): string[] {
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

/**
 * Open (creating if needed) the state in `dir/exotrace.db`. The directory is created with mode
 * 0700 and the database file with 0600: the state holds message metadata (addresses, subjects).
 * A directory every local user can write to is refused, and so is a state file that is a link.
 */
export function openSqliteStore(dir: string, options: SqliteStoreOptions = {}): StateStore {
  const clock = options.clock ?? Date.now;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkStateDir(dir);
  const file = join(dir, DB_FILE);
  // Never through a link: SQLite opens the database and its -wal/-shm/-journal by name.
  refuseLinkedFiles(stateFiles(dir));
  // Create the file ourselves: SQLite would create it with the umask (often 0644). Its -wal
  // file then inherits these permissions.
  createStateFile(file);
  const db = new Database(file);
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
    if (mode !== 'wal') throw new StateStoreError(`could not enable WAL on ${file} (got ${String(mode)})`);
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
    if (isBusy(error)) {
      throw new StateInUseError(dir, { cause: error });
    }
    throw error;
  }
  return new SqliteStore(db, clock, created, dir);
}

/**
 * The events of the last commits, kept in memory so that outputs that keep up read them from here
 * instead of back from the database (reading them back cost a third of what writing them did).
 * It holds only a contiguous run of sequences appended by `commitPage`, never a row meant for one
 * sink only, and is bounded in bytes; anything outside it is read from the database as before.
 */
class RecentEvents {
  #events: OutboxEvent[] = [];
  #bytes: number[] = [];
  #total = 0;
  #start = 0;

  constructor(readonly maxBytes: number) {}

  /** Events just committed with sequences `firstSeq`, `firstSeq + 1`… */
  append(firstSeq: number, events: readonly OutboxEvent[], bytes: readonly number[]): void {
    const last = this.#events.at(-1);
    if (last !== undefined && last.seq + 1 !== firstSeq) this.clear();
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (event === undefined) continue;
      this.#events.push(event);
      const size = bytes[i] ?? 0;
      this.#bytes.push(size);
      this.#total += size;
    }
    while (this.#total > this.maxBytes && this.#start < this.#events.length) this.#dropFirst();
    this.#compact();
  }

  /** Events after `afterSeq` as `readOutbox` returns them, or undefined when the run does not start right after it. */
  read(afterSeq: number, limit: number, maxBytes: number): OutboxEvent[] | undefined {
    const first = this.#events[this.#start];
    if (first === undefined || afterSeq + 1 < first.seq) return undefined;
    let index = this.#start + (afterSeq + 1 - first.seq);
    if (index >= this.#events.length) return undefined;
    const out: OutboxEvent[] = [];
    let bytes = 0;
    for (; index < this.#events.length && out.length < limit; index++) {
      const size = this.#bytes[index] ?? 0;
      if (out.length > 0 && bytes + size > maxBytes) break;
      const event = this.#events[index];
      if (event !== undefined) out.push(event);
      bytes += size;
    }
    return out;
  }

  /** Forget what every sink has acknowledged. */
  dropThrough(seq: number): void {
    while (this.#start < this.#events.length && (this.#events[this.#start]?.seq ?? Infinity) <= seq) {
      this.#dropFirst();
    }
    this.#compact();
  }

  clear(): void {
    this.#events = [];
    this.#bytes = [];
    this.#total = 0;
    this.#start = 0;
  }

  #dropFirst(): void {
    this.#total -= this.#bytes[this.#start] ?? 0;
    this.#start++;
  }

  // Dropping from the front moves an index; the arrays are cut when half of them is dropped.
  #compact(): void {
    if (this.#start > 0 && this.#start * 2 >= this.#events.length) {
      this.#events = this.#events.slice(this.#start);
      this.#bytes = this.#bytes.slice(this.#start);
      this.#start = 0;
    }
  }
}

/** About two pages of 5,000 events: an output that keeps up reads nothing back. */
const RECENT_EVENTS_BYTES = 16 * 1024 * 1024;

class SqliteStore implements StateStore {
  readonly #recent = new RecentEvents(RECENT_EVENTS_BYTES);
  #closing: Promise<void> | undefined;
  readonly #db: Database.Database;
  readonly #clock: () => number;
  /** The state directory, for errors that must say where the state is. */
  readonly #dir: string;
  /** Made by this open (no schema was there), not an existing state opened. */
  readonly #created: boolean;

  readonly #getCheckpoint;
  readonly #listCheckpoints;
  readonly #listTenantCheckpoints;
  readonly #putCheckpoint;
  readonly #collectedRanges;
  readonly #touchingRanges;
  readonly #deleteRange;
  readonly #insertRange;
  readonly #getSeen;
  readonly #insertSeen;
  readonly #extendSeen;
  readonly #insertOutbox;
  readonly #insertReject;
  readonly #head;
  readonly #getSink;
  readonly #listSinks;
  readonly #insertSink;
  readonly #deleteSink;
  readonly #ackSink;
  readonly #readOutbox;
  readonly #depth;
  readonly #depthByTenant;
  readonly #deadLetterCount;
  readonly #deadLetterHas;
  readonly #deadLetterNewest;
  readonly #oldest;
  readonly #minAcked;
  readonly #pruneShared;
  readonly #pruneOwned;
  readonly #pruneSeen;
  readonly #seenCount;
  readonly #seenCountTenant;
  readonly #rejects;
  readonly #rejectsTenant;
  readonly #outboxRow;
  readonly #putDeadLetter;
  readonly #deadLetters;
  readonly #deadLettersLimit;
  readonly #deleteDeadLetter;
  readonly #cycleSucceeded;
  readonly #cycleFailed;
  readonly #tenantCycles;
  readonly #roundSucceeded;
  readonly #roundFailed;
  readonly #outputRounds;

  constructor(db: Database.Database, clock: () => number, created: boolean, dir: string) {
    this.#db = db;
    this.#clock = clock;
    this.#created = created;
    this.#dir = dir;
    const cp = 'tenant, pass, cursor, window_from, window_to, next_link, updated_at';
    this.#getCheckpoint = db.prepare<[string, string], CheckpointRow>(
      `SELECT ${cp} FROM checkpoint WHERE tenant = ? AND pass = ?`,
    );
    this.#listCheckpoints = db.prepare<[], CheckpointRow>(
      `SELECT ${cp} FROM checkpoint ORDER BY tenant, pass`,
    );
    this.#listTenantCheckpoints = db.prepare<[string], CheckpointRow>(
      `SELECT ${cp} FROM checkpoint WHERE tenant = ? ORDER BY pass`,
    );
    this.#putCheckpoint = db.prepare<
      [string, string, number, number | null, number | null, string | null, number]
    >(`INSERT OR REPLACE INTO checkpoint (${cp}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.#collectedRanges = db.prepare<[string], { from: number; to: number }>(
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
    this.#getSeen = db.prepare<[string, string], { expires_at: number }>(
      'SELECT expires_at FROM seen WHERE tenant = ? AND key = ?',
    );
    this.#insertSeen = db.prepare<[string, string, number]>(
      'INSERT OR IGNORE INTO seen (tenant, key, expires_at) VALUES (?, ?, ?)',
    );
    this.#extendSeen = db.prepare<[number, string, string]>(
      'UPDATE seen SET expires_at = max(expires_at, ?) WHERE tenant = ? AND key = ?',
    );
    this.#insertOutbox = db.prepare<[string, string, string, string, string, number, string | null, number]>(
      `INSERT INTO outbox (tenant, pass, key, event_id, json, bytes, only_sink, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertReject = db.prepare<[string, string, string, string, number]>(
      'INSERT INTO reject (tenant, pass, reason, input, at) VALUES (?, ?, ?, ?, ?)',
    );
    // sqlite_sequence keeps the highest sequence ever used, even when the outbox is empty.
    this.#head = db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'");
    this.#getSink = db.prepare<[string], SinkRow>(
      'SELECT name, acked_seq, meta, updated_at FROM sink WHERE name = ?',
    );
    this.#listSinks = db.prepare<[], SinkRow>(
      'SELECT name, acked_seq, meta, updated_at FROM sink ORDER BY name',
    );
    this.#insertSink = db.prepare<[string, number, number]>(
      'INSERT OR IGNORE INTO sink (name, acked_seq, meta, updated_at) VALUES (?, ?, NULL, ?)',
    );
    this.#deleteSink = db.prepare<[string]>('DELETE FROM sink WHERE name = ?');
    this.#ackSink = db.prepare<[number, string | null, number, string]>(
      'UPDATE sink SET acked_seq = ?, meta = ?, updated_at = ? WHERE name = ?',
    );
    this.#readOutbox = db.prepare<[number, string], OutboxRow>(
      `SELECT seq, tenant, pass, key, event_id, json, bytes FROM outbox
       WHERE seq > ? AND (only_sink IS NULL OR only_sink = ?) ORDER BY seq`,
    );
    this.#depth = db.prepare<[number, string], { n: number }>(
      'SELECT count(*) AS n FROM outbox WHERE seq > ? AND (only_sink IS NULL OR only_sink = ?)',
    );
    // An event is waiting while a sink it is meant for has not acknowledged it: every sink for the
    // shared ones (so past the lowest cursor), its own sink for one re-queued for a single sink.
    this.#deadLetterCount = db.prepare<[string], { n: number }>(
      'SELECT count(*) AS n FROM dead_letter WHERE sink = ?',
    );
    this.#deadLetterHas = db.prepare<[string, number], { one: number }>(
      'SELECT 1 AS one FROM dead_letter WHERE sink = ? AND seq = ?',
    );
    this.#deadLetterNewest = db.prepare<[string], { at: number | null }>(
      'SELECT max(at) AS at FROM dead_letter WHERE sink = ?',
    );
    this.#depthByTenant = db.prepare<[], { tenant: string; n: number }>(
      `SELECT tenant, count(*) AS n FROM outbox
       WHERE (only_sink IS NULL AND seq > (SELECT coalesce(min(acked_seq), 0) FROM sink))
          OR (only_sink IS NOT NULL AND seq > coalesce((SELECT acked_seq FROM sink WHERE name = only_sink), 0))
       GROUP BY tenant`,
    );
    this.#oldest = db.prepare<[number, string], { created_at: number }>(
      'SELECT created_at FROM outbox WHERE seq > ? AND (only_sink IS NULL OR only_sink = ?) ORDER BY seq LIMIT 1',
    );
    this.#minAcked = db.prepare<[], { m: number | null }>('SELECT min(acked_seq) AS m FROM sink');
    this.#pruneShared = db.prepare<[number]>('DELETE FROM outbox WHERE seq <= ? AND only_sink IS NULL');
    this.#pruneOwned = db.prepare<[]>(
      `DELETE FROM outbox WHERE only_sink IS NOT NULL
       AND seq <= (SELECT acked_seq FROM sink WHERE sink.name = outbox.only_sink)`,
    );
    this.#pruneSeen = db.prepare<[number]>('DELETE FROM seen WHERE expires_at <= ?');
    this.#seenCount = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM seen');
    this.#seenCountTenant = db.prepare<[string], { n: number }>(
      'SELECT count(*) AS n FROM seen WHERE tenant = ?',
    );
    const rj = 'id, tenant, pass, reason, input, at';
    this.#rejects = db.prepare<[number], RejectRow>(`SELECT ${rj} FROM reject ORDER BY id LIMIT ?`);
    this.#rejectsTenant = db.prepare<[string, number], RejectRow>(
      `SELECT ${rj} FROM reject WHERE tenant = ? ORDER BY id LIMIT ?`,
    );
    this.#outboxRow = db.prepare<[number], OutboxRow>(
      'SELECT seq, tenant, pass, key, event_id, json, bytes FROM outbox WHERE seq = ?',
    );
    this.#putDeadLetter = db.prepare<
      [string, number, string, string, string, string, string, string, number]
    >(
      `INSERT OR REPLACE INTO dead_letter (sink, seq, tenant, pass, key, event_id, json, reason, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#deadLetters = db.prepare<[string], DeadLetterRow>(
      'SELECT sink, seq, tenant, pass, key, event_id, json, reason, at FROM dead_letter WHERE sink = ? ORDER BY seq',
    );
    this.#deadLettersLimit = db.prepare<[string, number], DeadLetterRow>(
      'SELECT sink, seq, tenant, pass, key, event_id, json, reason, at FROM dead_letter WHERE sink = ? ORDER BY seq LIMIT ?',
    );
    this.#deleteDeadLetter = db.prepare<[string, number]>(
      'DELETE FROM dead_letter WHERE sink = ? AND seq = ?',
    );
    this.#cycleSucceeded = db.prepare<[string, number]>(
      `INSERT INTO tenant_cycle (tenant, last_success_at, failures_in_a_row) VALUES (?, ?, 0)
       ON CONFLICT (tenant) DO UPDATE SET
         last_success_at = excluded.last_success_at, last_error = NULL, failures_in_a_row = 0`,
    );
    this.#cycleFailed = db.prepare<[string, number, string]>(
      `INSERT INTO tenant_cycle (tenant, last_failure_at, last_error, failures_in_a_row) VALUES (?, ?, ?, 1)
       ON CONFLICT (tenant) DO UPDATE SET
         last_failure_at = excluded.last_failure_at, last_error = excluded.last_error,
         failures_in_a_row = failures_in_a_row + 1`,
    );
    this.#tenantCycles = db.prepare<[], TenantCycleRow>(
      'SELECT tenant, last_success_at, last_failure_at, last_error, failures_in_a_row FROM tenant_cycle ORDER BY tenant',
    );
    this.#roundSucceeded = db.prepare<[string, number]>(
      `INSERT INTO output_round (sink, last_success_at) VALUES (?, ?)
       ON CONFLICT (sink) DO UPDATE SET
         last_success_at = excluded.last_success_at, failing_since = NULL, last_error = NULL`,
    );
    // The first failure of a run of them says since when; later ones only replace the error.
    this.#roundFailed = db.prepare<[string, number, string]>(
      `INSERT INTO output_round (sink, failing_since, last_error) VALUES (?, ?, ?)
       ON CONFLICT (sink) DO UPDATE SET
         failing_since = coalesce(failing_since, excluded.failing_since), last_error = excluded.last_error`,
    );
    this.#outputRounds = db.prepare<[], OutputRoundRow>(
      'SELECT sink, last_success_at, failing_since, last_error FROM output_round ORDER BY sink',
    );
  }

  /** `run`, with a full database explained (where the state is, what to do). */
  #run<T>(fn: () => T): Promise<T> {
    return run(() => {
      try {
        return fn();
      } catch (error) {
        throw isFull(error) ? diskFullError(error, this.#dir, this.#waitingEvents()) : error;
      }
    });
  }

  /** Events the output furthest behind has yet to take, or undefined when they cannot be counted. */
  #waitingEvents(): number | undefined {
    try {
      const minAcked = this.#minAcked.get()?.m;
      return minAcked === null || minAcked === undefined ? undefined : this.#headSeq() - minAcked;
    } catch {
      return undefined;
    }
  }

  #open(): void {
    if (this.#closing !== undefined) throw new StateStoreError('state store is closed');
  }

  #headSeq(): number {
    return this.#head.get()?.seq ?? 0;
  }

  #sink(name: string): SinkRow {
    const row = this.#getSink.get(name);
    if (row === undefined) throw new StateStoreError(`unknown sink ${name}`);
    return row;
  }

  getCheckpoint(tenant: string, pass: Pass): Promise<StoredCheckpoint | undefined> {
    return this.#run(() => {
      this.#open();
      const row = this.#getCheckpoint.get(tenant, pass);
      return row === undefined ? undefined : toCheckpoint(row);
    });
  }

  listCheckpoints(tenant?: string): Promise<StoredCheckpoint[]> {
    return this.#run(() => {
      this.#open();
      const rows =
        tenant === undefined ? this.#listCheckpoints.all() : this.#listTenantCheckpoints.all(tenant);
      return rows.map(toCheckpoint);
    });
  }

  collectedRanges(tenant: string): Promise<TimeWindow[]> {
    return this.#run(() => {
      this.#open();
      return this.#collectedRanges.all(tenant);
    });
  }

  /** Merges `[from, to]` into the tenant's collected ranges (inside the commit's transaction). */
  #addCollected(tenant: string, { from, to }: TimeWindow): void {
    let merged = { from, to };
    for (const r of this.#touchingRanges.all(tenant, to, from)) {
      merged = { from: Math.min(merged.from, r.from), to: Math.max(merged.to, r.to) };
      this.#deleteRange.run(tenant, r.from);
    }
    this.#insertRange.run(tenant, merged.from, merged.to);
  }

  commitPage(tenant: string, page: PageCommit, hook?: CommitHook): Promise<CommitResult> {
    return this.#run(() => {
      this.#open();
      validateCommit(tenant, page);
      const { now, checkpoint } = page;
      const expiresAt = now + page.seenTtlMs;
      const added: OutboxEvent[] = [];
      const addedBytes: number[] = [];
      const result = this.#db.transaction((): CommitResult => {
        let inserted = 0;
        let duplicates = 0;
        const insertedByStatus: Record<string, number> = {};
        const fresh: PageEvent[] = [];
        /** Adds the key to the seen-set, and the event to the outbox when the key was not seen. */
        const commitEvent = (event: PageEvent): boolean => {
          // One statement for the common case (a key never seen); the lookup only for the rest.
          let isNew = this.#insertSeen.run(tenant, event.key, expiresAt).changes === 1;
          if (!isNew) {
            // An expired key that is not yet pruned counts as unseen, so the outcome does not
            // depend on when pruning last ran.
            isNew = (this.#getSeen.get(tenant, event.key)?.expires_at ?? 0) <= now;
            this.#extendSeen.run(expiresAt, tenant, event.key);
          }
          if (!isNew) return false;
          const bytes = Buffer.byteLength(event.json, 'utf8');
          this.#insertOutbox.run(tenant, page.pass, event.key, event.eventId, event.json, bytes, null, now);
          added.push({
            seq: 0,
            tenant,
            pass: page.pass,
            key: event.key,
            eventId: event.eventId,
            json: event.json,
          });
          addedBytes.push(bytes);
          inserted++;
          countStatus(insertedByStatus, event.status);
          return true;
        };
        for (const event of page.events) {
          if (commitEvent(event)) fresh.push(event);
          else duplicates++;
        }
        for (const reject of page.rejects) {
          this.#insertReject.run(tenant, page.pass, reject.reason, reject.input, now);
        }
        this.#putCheckpoint.run(
          tenant,
          page.pass,
          checkpoint.cursor,
          checkpoint.window?.from ?? null,
          checkpoint.window?.to ?? null,
          checkpoint.nextLink ?? null,
          now,
        );
        if (page.collected !== undefined) this.#addCollected(tenant, page.collected);
        // Last, so that only the commit itself may still fail after the hook saw the page.
        if (hook !== undefined) {
          const own = hook({
            tenant,
            pass: page.pass,
            inserted: fresh,
            duplicates,
            rejected: page.rejects.length,
          });
          for (const event of own ?? []) commitEvent(event);
        }
        return {
          inserted,
          duplicates,
          rejected: page.rejects.length,
          insertedByStatus,
          headSeq: this.#headSeq(),
        };
      })();
      // Committed: the page's new events are the last `inserted` sequences (one connection, so
      // nothing else appended in between).
      const firstSeq = result.headSeq - added.length + 1;
      this.#recent.append(
        firstSeq,
        added.map((event, i) => ({ ...event, seq: firstSeq + i })),
        addedBytes,
      );
      return result;
    });
  }

  registerSinks(names: readonly string[], start: SinkStart): Promise<void> {
    return this.#run(() => {
      this.#open();
      for (const name of names) if (name === '') throw new StateStoreError('sink name must not be empty');
      this.#db.transaction(() => {
        const at = start === 'head' ? this.#headSeq() : 0;
        const now = this.#clock();
        for (const name of names) this.#insertSink.run(name, at, now);
      })();
    });
  }

  unregisterSink(name: string): Promise<void> {
    return this.#run(() => {
      this.#open();
      // Cascades to its dead letters and to the events re-queued for it alone.
      this.#deleteSink.run(name);
    });
  }

  sinkState(sink: string): Promise<SinkState | undefined> {
    return this.#run(() => {
      this.#open();
      const row = this.#getSink.get(sink);
      return row === undefined ? undefined : toSinkState(row);
    });
  }

  listSinks(): Promise<SinkState[]> {
    return this.#run(() => {
      this.#open();
      return this.#listSinks.all().map(toSinkState);
    });
  }

  readOutbox(sink: string, options: ReadOutboxOptions): Promise<OutboxEvent[]> {
    return this.#run(() => {
      this.#open();
      validateReadOptions(options);
      const after = options.afterSeq ?? this.#sink(sink).acked_seq;
      const recent = this.#recent.read(after, options.limit, options.maxBytes);
      if (recent !== undefined) return recent;
      const out: OutboxEvent[] = [];
      let bytes = 0;
      // iterate() rather than LIMIT: the byte cap usually stops first, and rows past it are never read.
      for (const row of this.#readOutbox.iterate(after, sink)) {
        if (out.length > 0 && bytes + row.bytes > options.maxBytes) break;
        out.push({
          seq: row.seq,
          tenant: row.tenant,
          pass: toPass(row.pass),
          key: row.key,
          eventId: row.event_id,
          json: row.json,
        });
        bytes += row.bytes;
        if (out.length >= options.limit) break;
      }
      return out;
    });
  }

  ack(sink: string, seq: number, meta?: string): Promise<void> {
    return this.#run(() => {
      this.#open();
      this.#db.transaction(() => {
        const row = this.#sink(sink);
        if (!Number.isSafeInteger(seq) || seq < row.acked_seq) {
          throw new StateStoreError(`ack of ${sink} would go back from ${row.acked_seq} to ${seq}`);
        }
        const head = this.#headSeq();
        if (seq > head) throw new StateStoreError(`ack of ${sink} at ${seq} is past the outbox head ${head}`);
        this.#ackSink.run(seq, meta ?? null, this.#clock(), sink);
      })();
    });
  }

  outboxDepth(sink: string): Promise<number> {
    return this.#run(() => {
      this.#open();
      return this.#depth.get(this.#sink(sink).acked_seq, sink)?.n ?? 0;
    });
  }

  outboxDepthByTenant(): Promise<Record<string, number>> {
    return this.#run(() => {
      this.#open();
      return Object.fromEntries(this.#depthByTenant.all().map((row) => [row.tenant, row.n]));
    });
  }

  outboxOldest(sink: string): Promise<number | undefined> {
    return this.#run(() => {
      this.#open();
      return this.#oldest.get(this.#sink(sink).acked_seq, sink)?.created_at;
    });
  }

  stateId(): Promise<string> {
    return this.#run(() => {
      this.#open();
      const row = this.#db.prepare<[], { id: string }>('SELECT id FROM state_identity').get();
      if (row === undefined)
        throw new StateStoreError('the state has no identity (table state_identity is empty)');
      return row.id;
    });
  }

  createdNew(): Promise<boolean> {
    return this.#run(() => {
      this.#open();
      return this.#created;
    });
  }

  outboxHead(): Promise<number> {
    return this.#run(() => {
      this.#open();
      return this.#headSeq();
    });
  }

  pruneOutbox(): Promise<number> {
    return this.#run(() => {
      this.#open();
      return this.#db.transaction(() => {
        const min = this.#minAcked.get()?.m ?? null;
        if (min === null) return 0;
        this.#recent.dropThrough(min);
        return this.#pruneShared.run(min).changes + this.#pruneOwned.run().changes;
      })();
    });
  }

  pruneSeen(now: number): Promise<number> {
    return this.#run(() => {
      this.#open();
      return this.#pruneSeen.run(now).changes;
    });
  }

  seenCount(tenant?: string): Promise<number> {
    return this.#run(() => {
      this.#open();
      return (tenant === undefined ? this.#seenCount.get() : this.#seenCountTenant.get(tenant))?.n ?? 0;
    });
  }

  rejects(options: { readonly tenant?: string; readonly limit: number }): Promise<StoredReject[]> {
    return this.#run(() => {
      this.#open();
      const rows =
        options.tenant === undefined
          ? this.#rejects.all(options.limit)
          : this.#rejectsTenant.all(options.tenant, options.limit);
      return rows.map((r) => ({ ...r, pass: toPass(r.pass) }));
    });
  }

  deadLetter(sink: string, seq: number, reason: string): Promise<void> {
    return this.#run(() => {
      this.#open();
      this.#db.transaction(() => {
        this.#sink(sink);
        const row = this.#outboxRow.get(seq);
        if (row === undefined)
          throw new StateStoreError(`outbox event ${seq} is gone (acknowledged and pruned?)`);
        this.#putDeadLetter.run(
          sink,
          seq,
          row.tenant,
          row.pass,
          row.key,
          row.event_id,
          row.json,
          reason,
          this.#clock(),
        );
      })();
    });
  }

  deadLetterCount(sink: string): Promise<number> {
    return this.#run(() => {
      this.#open();
      return this.#deadLetterCount.get(sink)?.n ?? 0;
    });
  }

  deadLetterSeqs(sink: string, seqs: readonly number[]): Promise<number[]> {
    return run(() => {
      this.#open();
      // A few numbers typed on a command line: one indexed lookup each.
      return [...new Set(seqs)]
        .filter((seq) => this.#deadLetterHas.get(sink, seq) !== undefined)
        .sort((a, b) => a - b);
    });
  }

  deadLetterNewest(sink: string): Promise<number | undefined> {
    return this.#run(() => {
      this.#open();
      return this.#deadLetterNewest.get(sink)?.at ?? undefined;
    });
  }

  deadLetters(sink: string, limit: number): Promise<DeadLetter[]> {
    return this.#run(() => {
      this.#open();
      return this.#deadLettersLimit.all(sink, limit).map((r) => ({
        sink: r.sink,
        seq: r.seq,
        tenant: r.tenant,
        pass: toPass(r.pass),
        key: r.key,
        eventId: r.event_id,
        json: r.json,
        reason: r.reason,
        at: r.at,
      }));
    });
  }

  retryDeadLetters(sink: string, seqs?: readonly number[]): Promise<number> {
    return this.#run(() => {
      this.#open();
      return this.#db.transaction(() => {
        this.#sink(sink);
        // Rows for one sink only now follow the cached run: later commits start a new one.
        this.#recent.clear();
        const wanted = seqs === undefined ? undefined : new Set(seqs);
        const now = this.#clock();
        let moved = 0;
        for (const r of this.#deadLetters.all(sink)) {
          if (wanted !== undefined && !wanted.has(r.seq)) continue;
          const bytes = Buffer.byteLength(r.json, 'utf8');
          this.#insertOutbox.run(r.tenant, r.pass, r.key, r.event_id, r.json, bytes, sink, now);
          this.#deleteDeadLetter.run(sink, r.seq);
          moved++;
        }
        return moved;
      })();
    });
  }

  recordTenantCycle(tenant: string, outcome: CycleOutcome): Promise<void> {
    return this.#run(() => {
      this.#open();
      validateCycle(tenant, outcome);
      if (outcome.error === undefined) this.#cycleSucceeded.run(tenant, outcome.at);
      else this.#cycleFailed.run(tenant, outcome.at, JSON.stringify(outcome.error));
    });
  }

  tenantCycles(): Promise<TenantCycle[]> {
    return this.#run(() => {
      this.#open();
      return this.#tenantCycles.all().map(toTenantCycle);
    });
  }

  recordOutputRound(sink: string, outcome: OutputRoundOutcome): Promise<void> {
    return this.#run(() => {
      this.#open();
      validateOutputRound(outcome);
      this.#sink(sink);
      if (outcome.error === undefined) this.#roundSucceeded.run(sink, outcome.at);
      else this.#roundFailed.run(sink, outcome.at, JSON.stringify(outcome.error));
    });
  }

  outputRounds(): Promise<OutputRounds[]> {
    return this.#run(() => {
      this.#open();
      return this.#outputRounds.all().map(toOutputRounds);
    });
  }

  close(): Promise<void> {
    this.#closing ??= run(() => {
      this.#db.close();
    });
    return this.#closing;
  }
}
