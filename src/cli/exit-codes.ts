/** Exit statuses shared by every command (interface.md). */
export const EXIT_OK = 0;
/** Some input was rejected; everything else was processed. */
export const EXIT_REJECTS = 1;
/** Bad usage, or input/output that could not be read or written. */
export const EXIT_USAGE = 2;
/**
 * `run --once`: everything collected and taken, but an output refused some events for good: they
 * are in the dead letters (`exotrace deadletter list`), said at warn with the reason.
 */
export const EXIT_DEAD_LETTERED = 7;
/** Stopped by SIGINT (^C) before the end: the shell's convention, 128 + the signal's number. */
export const EXIT_INTERRUPTED = 130;
/** Stopped by SIGTERM before the end (`run --once`): 128 + 15, as a shell reports a process it killed. */
export const EXIT_TERMINATED = 143;
