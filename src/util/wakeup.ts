/**
 * A doorbell for a polling loop: `wait` sleeps until the timeout, an abort, or a `ring` — whichever
 * comes first. A ring while nobody waits is remembered, so work announced between two waits is
 * never slept through.
 */
export interface Wakeup {
  /** Resolves (never rejects) after `ms`, when the signal aborts, or at the next `ring`. */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
  ring(): void;
}

export function createWakeup(): Wakeup {
  let pending = false;
  let wake: (() => void) | undefined;
  return {
    wait(ms, signal) {
      if (pending || signal?.aborted === true) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          wake = undefined;
          pending = false;
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, ms));
        signal?.addEventListener('abort', done, { once: true });
        wake = done;
      });
    },
    ring() {
      if (wake === undefined) pending = true;
      else wake();
    },
  };
}
