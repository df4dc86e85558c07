import { constants as osConstants } from 'node:os';

/** Exit statuses shared by every command (interface.md). */
export const EXIT_OK = 0;
/** Some input was rejected; everything else was processed. */
export const EXIT_REJECTS = 1;
/** Bad usage, or input/output that could not be read or written. */
export const EXIT_USAGE = 2;
/**
 * The state directory is held by another exotrace process (the daemon, a backfill): not a bad
 * configuration, so not 2. The same status as `status` when the daemon holds the state and cannot
 * be asked: one condition, one number, for every command.
 */
export const EXIT_STATE_IN_USE = 4;
/**
 * The state database exists but cannot be read or written: permissions, not a database, corrupt,
 * or its disk full. The message names the file and the cause.
 */
export const EXIT_STATE_UNUSABLE = 5;
/**
 * `run --once`: everything collected and taken, but an output refused some events for good: they
 * are in the dead letters (`exotrace deadletter list`), said at warn with the reason.
 */
export const EXIT_DEAD_LETTERED = 7;
/** Stopped by SIGINT (^C) before the end: the shell's convention, 128 + the signal's number. */
export const EXIT_INTERRUPTED = 130;

/**
 * The status of a command stopped cleanly before its end by a signal: the shell's convention of
 * 128 + the signal's number (130 for ^C, 143 for SIGTERM, 129 for SIGHUP), so that a script tells
 * a stop from a failure.
 */
export function exitStatusOfStop(signal: NodeJS.Signals | undefined): number {
  const number = signal === undefined ? undefined : osConstants.signals[signal];
  return number === undefined ? EXIT_INTERRUPTED : 128 + number;
}
