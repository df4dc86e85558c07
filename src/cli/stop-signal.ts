/**
 * SIGINT, SIGTERM and SIGHUP, handled from the process's first instant.
 *
 * Node's default for both is to die at once. The commands that collect (`run`, `backfill`) or
 * serve (`emulator`) stop cleanly instead, but they can only say how once their modules are loaded
 * and their configuration read: a second or more, on a busy machine several, in which a
 * supervisor's SIGTERM or a ^C right after Enter killed the process half-started. So the entry
 * point installs these handlers before it loads anything else (`installEarlyStop`): a stop that
 * comes early is kept, and the command finds it already requested when it takes it (`takeStop`).
 *
 * A command that does not stop cleanly (parse, status, doctor, …) gets Node's default back
 * (`restoreDefaultStop`): a stop kept for it is raised again, and the process dies of it as it
 * would have without us. A second stop while stopping cleanly does the same: the user insists.
 *
 * SIGHUP (the terminal closed, or `systemctl reload`/`kill -HUP` asking for a reload) stops as
 * cleanly as SIGTERM: a run reads its configuration once, so the way to apply a changed one is a
 * clean stop and a start (a supervisor restarts it); dying of it lost the flush.
 *
 * This module does nothing when imported (in-process tests and library users import the commands
 * that use it); only `installEarlyStop` and `takeStop` install handlers.
 */

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignalName = (typeof SIGNALS)[number];

/** A command's hold on the process's stop signals. */
export interface Stop {
  /** Aborted by the first SIGINT/SIGTERM/SIGHUP (also one received before the command took it). */
  readonly signal: AbortSignal;
  /** The signal that asked to stop, once one did. */
  readonly received: () => StopSignalName | undefined;
  /** Calls `listener` when a stop is asked, or at once (next microtask) when it already was. */
  onStop(listener: () => void): void;
  /** The command is done with stopping; handlers it installed itself are removed. */
  release(): void;
}

let installed = false;
/** Installed by the entry point: they stay until the process ends or the command gives them back. */
let installedEarly = false;
/** A command has taken the stop: a kept signal is its business, not to be raised again. */
let taken = false;
let received: StopSignalName | undefined;
let controller = new AbortController();

function onSignal(signal: StopSignalName): void {
  if (received !== undefined) {
    // A second stop: whoever is stopping takes too long for the user; die as Node would.
    uninstall();
    process.kill(process.pid, signal);
    return;
  }
  received = signal;
  controller.abort(new Error(`stopped by ${signal}`));
}

function install(): void {
  if (installed) return;
  for (const name of SIGNALS) process.on(name, onSignal);
  installed = true;
}

function uninstall(): void {
  if (!installed) return;
  for (const name of SIGNALS) process.off(name, onSignal);
  installed = false;
}

/** The entry point's first act: from now on a stop is kept, never fatal, until a command decides. */
export function installEarlyStop(): void {
  install();
  installedEarly = true;
}

/**
 * For a command that stops cleanly: the stop asked so far (maybe already) and from now on.
 * Without `installEarlyStop` (in-process use) the handlers are installed here and removed by
 * `release`.
 */
export function takeStop(): Stop {
  install();
  taken = true;
  const ownHandlers = !installedEarly;
  const { signal } = controller;
  return {
    signal,
    received: () => received,
    onStop(listener) {
      if (signal.aborted) queueMicrotask(listener);
      else signal.addEventListener('abort', listener, { once: true });
    },
    release() {
      if (!ownHandlers) return;
      // In-process: the next command of this process starts with a stop of its own.
      uninstall();
      taken = false;
      received = undefined;
      controller = new AbortController();
    },
  };
}

/**
 * The stop asked so far, for a command still getting ready (reading its configuration, which may
 * be a pipe that blocks): the same signal `takeStop` will give, without taking it yet. Never
 * aborted without `installEarlyStop` (in-process use).
 */
export function stopSoFar(): AbortSignal {
  return installedEarly ? controller.signal : new AbortController().signal;
}

/** The signal that asked to stop so far, if one did. */
export function receivedSoFar(): StopSignalName | undefined {
  return received;
}

let abandoned = false;

/**
 * The command gave up on work it cannot cancel (a read of a pipe nobody writes): the entry point
 * ends the process once the command returns, instead of waiting for that work.
 */
export function abandonPendingWork(): void {
  abandoned = true;
}

export function pendingWorkAbandoned(): boolean {
  return abandoned;
}

/**
 * For a command that does not stop cleanly, and after every command: Node's default again. A stop
 * that came early and that no command took is raised again, so the process dies of it.
 */
export function restoreDefaultStop(): void {
  if (!installedEarly) return;
  uninstall();
  installedEarly = false;
  if (received !== undefined && !taken) process.kill(process.pid, received);
}
