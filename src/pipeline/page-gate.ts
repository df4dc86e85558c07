/**
 * How many pages the collector holds at once, over every tenant: a page is taken before it is
 * fetched and given back once committed (or abandoned). Each tenant works one page ahead, so
 * without a bound the memory grew with the number of tenants (~60 MB per tenant, three pages of
 * text, rows and events); commits go one at a time into one database anyway, so a few pages in
 * hand are all the speed there is to have.
 */
import { abortReason } from '../util/abort.js';

export interface PageGate {
  /** Waits for a free place, then takes it; the function gives it back (a second call is a no-op). */
  acquire(signal?: AbortSignal): Promise<() => void>;
  /** Places taken right now. */
  inUse(): number;
}

const isAborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

/** Enough for two tenants to each commit one page while the next is fetched and normalized. */
export const DEFAULT_PAGES_IN_HAND = 4;

export function createPageGate(places = DEFAULT_PAGES_IN_HAND): PageGate {
  if (!Number.isInteger(places) || places < 2) {
    // One place would stop a tenant from fetching its next page while it commits this one.
    throw new RangeError(`a page gate needs at least 2 places, got ${places}`);
  }
  let taken = 0;
  // First come, first served: a place given back goes straight to the oldest waiter, so that
  // nobody arriving later can take it in between and nobody waits while a place is free.
  const waiting: (() => void)[] = [];
  const give = (): void => {
    const next = waiting.shift();
    if (next === undefined) taken--;
    else next();
  };
  const releaser = (): (() => void) => {
    let given = false;
    return () => {
      if (given) return;
      given = true;
      give();
    };
  };
  return {
    async acquire(signal) {
      if (signal?.aborted === true) throw abortReason(signal);
      if (taken < places) {
        taken++;
        return releaser();
      }
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const index = waiting.indexOf(wake);
          if (index >= 0) waiting.splice(index, 1);
          reject(abortReason(signal));
        };
        const wake = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        waiting.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      // The place was handed over to us; stopped in the meantime, we pass it on. (A call, so that
      // the compiler does not take `aborted` for the value it had before the wait.)
      if (isAborted(signal)) {
        give();
        throw abortReason(signal);
      }
      return releaser();
    },
    inUse: () => taken,
  };
}
