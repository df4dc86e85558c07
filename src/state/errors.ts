/**
 * The one error the state raises, whatever database is behind it: a code from a closed list, a
 * message that names the place (the file, the folder) and, where there is one, the fix. Callers
 * decide by the code (`status` maps it to its exit codes), never by a database's own error codes:
 * those stay behind the door, on the error's `cause`, where logs and metrics still show them.
 */

/**
 * What went wrong with the state. Closed: a backend maps every failure it meets to one of these,
 * and anything it cannot name becomes `unexpected` (its own code stays on the cause).
 */
export const STATE_ERROR_CODES = [
  /** Another process holds the state (one collector per state at a time): exit 4. */
  'in_use',
  /** An operation waited for a lock past its wait, after the state was opened. */
  'busy',
  /** A lock conflict inside this process (SQLite: a table locked by another statement). */
  'locked',
  /** The state cannot grow: its disk or quota is full. Nothing committed is lost: exit 5. */
  'full',
  /** The database or its folder cannot be written (a read-only file, mount or grant). */
  'read_only',
  /** This user may not open, create or write the state's files. */
  'permission_denied',
  /** The database could not be opened (a missing folder, a file it cannot create). */
  'cannot_open',
  /** The file is not a database of the kind this backend reads. */
  'not_a_database',
  /** The database is damaged. */
  'corrupt',
  /** Written by a newer exotrace: its schema may mean things this version does not know. */
  'too_new',
  /** There is no state where one was required. */
  'not_found',
  /**
   * The place of the state was refused before anything was opened: a folder others can write to
   * or that belongs to another user, state files that are links or not regular files.
   */
  'unsafe_location',
  /** The operating system failed to read or write the database. */
  'io_error',
  /** The store was used after `close()`. */
  'closed',
  /** A bug in how the store is used (an unknown sink, an ack going backwards, an invalid commit). */
  'misuse',
  /** The fallback: a failure the backend has no code for (its own code is on the cause). */
  'unexpected',
] as const;

export type StateErrorCode = (typeof STATE_ERROR_CODES)[number];

export interface StateStoreErrorOptions {
  /** Default `misuse`: most errors raised by the store's own checks are bugs of the caller. */
  readonly code?: StateErrorCode;
  readonly fix?: string;
  readonly cause?: unknown;
}

export class StateStoreError extends Error {
  override readonly name = 'StateStoreError';
  /**
   * The closed code. Not called `code`: logs and metrics label a failure by the first `code` in its
   * chain of causes, and they keep showing the database's own (`SQLITE_FULL`), as they always did.
   */
  readonly stateCode: StateErrorCode;
  /** What a person can do about it, when there is something. */
  readonly fix: string | undefined;

  constructor(message: string, options: StateStoreErrorOptions = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.stateCode = options.code ?? 'misuse';
    this.fix = options.fix;
  }

  /** Matches by name too, so an error from another copy of this module is still recognised. */
  static is(value: unknown, code?: StateErrorCode): value is StateStoreError {
    const matches =
      value instanceof StateStoreError ||
      (value instanceof Error && value.name === 'StateStoreError' && 'stateCode' in value);
    return matches && (code === undefined || (value as StateStoreError).stateCode === code);
  }

  /**
   * What the database or the file system said, with its own code when its message lacks it
   * (`file is not a database (SQLITE_NOTADB)`): the words a person can look up. This error's own
   * message when it wraps no such failure.
   */
  get detail(): string {
    const cause = this.cause instanceof Error ? this.cause : this;
    const code = 'code' in cause ? String(cause.code) : undefined;
    return code === undefined || cause.message.includes(code) ? cause.message : `${cause.message} (${code})`;
  }
}

/** The state directory is held by another process: one collector at a time moves checkpoints. */
export function stateInUse(stateDir: string, cause?: unknown): StateStoreError {
  return new StateStoreError(`state directory ${stateDir} is in use by another exotrace process`, {
    code: 'in_use',
    fix: 'stop it first (one process holds a state directory at a time), or give this one another stateDir',
    cause,
  });
}
