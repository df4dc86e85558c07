/**
 * The schema and how a database gets to it: one migration per version, applied in order, each in
 * its own transaction with its row in `schema_version`.
 */
import type Database from 'better-sqlite3';
import { StateStoreError } from '../errors.js';

/**
 * Schema migrations, in order; version N is `MIGRATIONS[N - 1]`. Append only: a released
 * migration is never edited, since databases in the field already ran it.
 */
export const MIGRATIONS: readonly string[] = [
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

/** Bring the schema up to date; true when there was none (a new or 0-byte database). */
export function migrate(db: Database.Database): boolean {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const current =
    db.prepare<[], { v: number | null }>('SELECT max(version) AS v FROM schema_version').get()?.v ?? 0;
  if (current > MIGRATIONS.length) {
    // Written by a newer exotrace: its tables may mean things this version does not know.
    throw new StateStoreError(
      `state schema version ${current} is newer than this exotrace supports (${MIGRATIONS.length}); upgrade exotrace`,
      { code: 'too_new', fix: 'upgrade exotrace' },
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
