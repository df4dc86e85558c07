/**
 * A doorbell for polling loops: `wait` sleeps until the timeout, an abort, or a `ring` — whichever
 * comes first. A ring wakes every waiter; a ring while nobody waits is remembered (for the next
 * wait), so work announced between two waits is never slept through.
 */
export interface Wakeup {
  /** Resolves (never rejects) after `ms`, when the signal aborts, or at the next `ring`. */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
  ring(): void;
}

export function createWakeup(): Wakeup {
  let pending = false;
  const waiters = new Set<() => void>();
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
          waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, ms));
        signal?.addEventListener('abort', done, { once: true });
        waiters.add(done);
      });
    },
    ring() {
      if (waiters.size === 0) {
        pending = true;
        return;
      }
      for (const wake of [...waiters]) wake();
    },
  };
}
