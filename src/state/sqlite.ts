/**
 * The SQLite backend of the state, split by job under sqlite/: open.ts (files, pragmas, lock),
 * migrations.ts (the schema), store.ts (the StateStore over the tables of checkpoints.ts, seen.ts,
 * outbox.ts, sinks.ts, dead-letters.ts, rejects.ts, cycles.ts), errors.ts (its failures in the
 * state's codes). Outside src/state/ only tests import this file; everything else opens the state
 * through index.ts.
 */
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/open.js';
export { DB_FILE, inspectSqliteState } from './sqlite/files.js';
export { SCHEMA_VERSION } from './sqlite/migrations.js';
export { stateErrorCode as sqliteStateErrorCode } from './sqlite/errors.js';
