/**
 * Virtual time for the HTTP stack's waits: `sleep` moves the clock forward at once and records
 * each wait, so a 120-second Retry-After is asserted exactly without a test taking 120 seconds.
 */
import type { Clock, Sleep } from '../../src/util/abort.js';
import { abortReason } from '../../src/util/abort.js';

export interface VirtualTime {
  now: Clock;
  sleep: Sleep;
  /** Every wait, in order. */
  readonly waits: number[];
  advance(ms: number): void;
}

export function createVirtualTime(
  start = Date.UTC(2026, 10, 25, 12),
  onAdvance?: (ms: number) => void,
): VirtualTime {
  let now = start;
  const waits: number[] = [];
  const advance = (ms: number): void => {
    now += ms;
    onAdvance?.(ms);
  };
  return {
    now: () => now,
    waits,
    advance,
    sleep: async (ms, signal) => {
      if (signal?.aborted === true) throw abortReason(signal);
      waits.push(ms);
      advance(ms);
      // Let other callers run, as a real timer would.
      await Promise.resolve();
    },
  };
}
