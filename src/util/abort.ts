/**
 * Time and cancellation primitives every stage uses: an injectable clock and sleep (tests control
 * time), and the error an aborted signal stands for.
 */

/** Milliseconds since the epoch; injected so tests control time. */
export type Clock = () => number;

/** Waits `ms`, rejecting with the signal's reason if it aborts first. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const systemClock: Clock = () => Date.now();

export const systemSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return new DOMException('The operation was aborted', 'AbortError');
}

/** A stop of our own that follows another: aborted with its reason (at once if it already is). */
export interface LinkedAbort {
  readonly signal: AbortSignal;
  /** Stops ours only (the one followed is left as it is). */
  abort(reason: unknown): void;
  /** Stops following and stops ours: nothing keeps listening to the one followed. */
  end(reason: unknown): void;
}

/**
 * A stop that ends with `parent` or earlier, by our own decision (a run that ends, a walk left
 * early), without a listener left on `parent` once it is ended.
 */
export function linkedAbort(parent: AbortSignal): LinkedAbort {
  const controller = new AbortController();
  const follow = (): void => {
    controller.abort(parent.reason);
  };
  parent.addEventListener('abort', follow, { once: true });
  if (parent.aborted) follow();
  return {
    signal: controller.signal,
    abort: (reason) => {
      controller.abort(reason);
    },
    end: (reason) => {
      parent.removeEventListener('abort', follow);
      controller.abort(reason);
    },
  };
}
