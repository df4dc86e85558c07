/**
 * The door to the state: everything outside src/state/ opens, checks and reads it from here, and
 * knows nothing of the database behind it (no driver, no table, no driver's error code). Failures
 * are `StateStoreError`s with a code of the closed list `STATE_ERROR_CODES`.
 *
 * Today the backend is SQLite in `stateDir` (sqlite.ts); a PostgreSQL one shared by several
 * collectors would be chosen here from the configuration, behind the same `StateStore`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/load.js';
import { openSqliteStore } from './sqlite/open.js';
import { DB_FILE, inspectSqliteState } from './sqlite/location.js';
import type { StateStore } from './store.js';

export * from './store.js';
export { createMemoryStore, type MemoryStoreOptions } from './memory.js';

/** The part of the configuration that says where the state is. */
export type StateConfig = Pick<Config, 'stateDir'>;

export interface OpenStateOptions {
  /**
   * How long to wait while another process holds the state before failing with `in_use`. Default
   * 5 s (the collector: a second one fails at start). `status` waits less and asks the daemon
   * instead; `deadletter` says to stop the collector.
   */
  readonly lockWaitMs?: number;
  /** Clock for `updatedAt`/`at` of acknowledgements, sinks and dead letters. Default `Date.now`. */
  readonly clock?: () => number;
}

/**
 * Open the state, creating it when there is none, held by this process until `close()` (one
 * collector per state). Throws a `StateStoreError`: `in_use` when another process holds it,
 * `unsafe_location` for a folder others could plant links in, `full`, `not_a_database`, …
 */
export function openStateStore(config: StateConfig, options: OpenStateOptions = {}): StateStore {
  return openSqliteStore(config.stateDir, {
    ...(options.lockWaitMs === undefined ? {} : { busyTimeoutMs: options.lockWaitMs }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}

/** Whether there is a state to read, and if not, what is missing (for messages). */
export type StatePresence =
  | {
      readonly exists: true;
      /** Where the state is, as messages name it (the database file). */
      readonly location: string;
    }
  | {
      readonly exists: false;
      readonly location: string;
      /** `stateDir`: the folder itself is missing; `state`: the folder holds no state. */
      readonly missing: 'stateDir' | 'state';
      /** What the folder lacks, in words (`no exotrace.db`). */
      readonly lacking: string;
    };

/** Is there a state? Found without creating, opening or locking anything. */
export function stateExists(config: StateConfig): StatePresence {
  const location = join(config.stateDir, DB_FILE);
  if (!existsSync(config.stateDir)) {
    return { exists: false, location, missing: 'stateDir', lacking: `no ${config.stateDir}` };
  }
  if (!existsSync(location)) return { exists: false, location, missing: 'state', lacking: `no ${DB_FILE}` };
  return { exists: true, location };
}

/**
 * What opening the state would refuse, found without creating or writing anything (`config
 * check`): throws the `StateStoreError` opening would; returns whether a state exists already.
 */
export function inspectState(config: StateConfig): { readonly exists: boolean } {
  return inspectSqliteState(config.stateDir);
}
