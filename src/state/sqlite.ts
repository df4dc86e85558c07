/**
 * The SQLite backend of the state, split by job under sqlite/: open.ts (files, pragmas, lock),
 * location.ts (the database file and those beside it), migrations.ts (the schema), store.ts (the
 * StateStore over the tables of checkpoints.ts, seen.ts, outbox.ts, sinks.ts, dead-letters.ts,
 * rejects.ts, cycles.ts, with recent-events.ts in memory), errors.ts (its failures in the state's
 * codes). Tests import this file; the code opens the state through index.ts (pipeline/run.ts and
 * cli/backfill.ts still import it until the one assembly lands).
 */
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/open.js';
export { DB_FILE, inspectSqliteState } from './sqlite/location.js';
export { SCHEMA_VERSION } from './sqlite/migrations.js';
export { stateErrorCode as sqliteStateErrorCode } from './sqlite/errors.js';
