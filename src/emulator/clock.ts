/**
 * The emulator's clock: the real one by default; tests set, advance or freeze it through the
 * control API to make rows become visible, statuses change and tokens expire without waiting.
 */
export interface EmulatorClock {
  now(): number;
  /** Jump to an instant; the clock keeps running from there unless frozen. */
  set(ms: number): void;
  advance(ms: number): void;
  /** Stop the clock where it is (true) or let it run again from there (false). */
  freeze(frozen: boolean): void;
  readonly frozen: boolean;
}

export function createClock(realNow: () => number = Date.now): EmulatorClock {
  let offset = 0;
  let frozenAt: number | undefined;
  const now = (): number => frozenAt ?? realNow() + offset;
  return {
    now,
    set(ms) {
      if (frozenAt !== undefined) frozenAt = ms;
      else offset = ms - realNow();
    },
    advance(ms) {
      this.set(now() + ms);
    },
    freeze(frozen) {
      if (frozen && frozenAt === undefined) frozenAt = now();
      if (!frozen && frozenAt !== undefined) {
        offset = frozenAt - realNow();
        frozenAt = undefined;
      }
    },
    get frozen() {
      return frozenAt !== undefined;
    },
  };
}
