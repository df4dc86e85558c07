/**
 * SQLite's and the file system's failures in the state's words: each mapped to a code of the
 * closed list (`STATE_ERROR_CODES`), the original kept as the cause. This file is the only place
 * that reads a `SQLITE_*` code.
 */
import { ExotraceError } from '../../core/errors.js';
import { join } from 'node:path';
import { StateStoreError, type StateErrorCode } from '../errors.js';
import { DB_FILE } from './location.js';

/** SQLite's primary result codes (the part before a second `_`: `SQLITE_IOERR_WRITE` is `SQLITE_IOERR`). */
const SQLITE_CODES: Readonly<Record<string, StateErrorCode>> = {
  SQLITE_BUSY: 'busy',
  SQLITE_LOCKED: 'locked',
  SQLITE_FULL: 'full',
  SQLITE_READONLY: 'read_only',
  SQLITE_PERM: 'permission_denied',
  SQLITE_AUTH: 'permission_denied',
  SQLITE_CANTOPEN: 'cannot_open',
  SQLITE_NOTADB: 'not_a_database',
  SQLITE_CORRUPT: 'corrupt',
  SQLITE_IOERR: 'io_error',
};

/** What opening the files may meet before SQLite does (mkdir, the 0600 create, lstat). */
const SYSTEM_CODES: Readonly<Record<string, StateErrorCode>> = {
  EACCES: 'permission_denied',
  EPERM: 'permission_denied',
  EROFS: 'read_only',
  ENOSPC: 'full',
  EDQUOT: 'full',
  ENOENT: 'not_found',
  ENOTDIR: 'cannot_open',
  EIO: 'io_error',
};

function codeOf(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** The closed code for a driver's or the system's code; `unexpected` for any other (documented fallback). */
export function stateErrorCode(code: string | undefined): StateErrorCode {
  if (code === undefined) return 'unexpected';
  const primary = code.startsWith('SQLITE_') ? code.split('_').slice(0, 2).join('_') : code;
  return SQLITE_CODES[primary] ?? SYSTEM_CODES[primary] ?? 'unexpected';
}

export function isFull(error: unknown): boolean {
  return codeOf(error) === 'SQLITE_FULL';
}

/** Another connection holds the lock (at open: another process holds the state). */
export function isBusy(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

/**
 * Any failure as a `StateStoreError`: ours as they are, a driver's or the system's with its code
 * mapped and its message kept (the original is the cause, so logs still show its code).
 */
export function toStateError(error: unknown): Error {
  if (StateStoreError.is(error)) return error;
  // Not the database's: a processor's failure inside a commit (pipeline/processors) is said as
  // itself, naming the processor, exactly as the memory store says it.
  if (ExotraceError.is(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StateStoreError(message, { code: stateErrorCode(codeOf(error)), cause: error });
}

/**
 * SQLite says only "database or disk is full": the user needs to know which file, where, and what
 * to do. The failed transaction was rolled back, so nothing committed is lost; `waiting` (when it
 * could be counted) says how much the outbox holds, since the outputs taking it frees space.
 * The error keeps SQLite's as its cause, so its code (SQLITE_FULL) is still the one logs show.
 */
export function diskFullError(error: unknown, dir: string, waiting: number | undefined): StateStoreError {
  const held =
    waiting === undefined
      ? ''
      : `; the outbox holds ${waiting} ${waiting === 1 ? 'event' : 'events'} waiting for an output ` +
        '(delivered events are pruned, which frees space inside the database file)';
  return new StateStoreError(
    `state database ${join(dir, DB_FILE)} cannot grow: the disk or the filesystem quota of stateDir ` +
      `${dir} is full (SQLite: database or disk is full). Free space there, or move stateDir to a ` +
      `larger filesystem; nothing committed is lost, the work in hand is done again${held}`,
    { code: 'full', fix: 'free space under stateDir, or move stateDir to a larger filesystem', cause: error },
  );
}
