import { describe, expect, it } from 'vitest';
import { createWakeup } from '../../src/util/wakeup.js';

const elapsed = async (work: Promise<void>): Promise<number> => {
  const started = performance.now();
  await work;
  return performance.now() - started;
};

describe('createWakeup', () => {
  it('a ring wakes the waiter long before its timeout', async () => {
    const wakeup = createWakeup();
    const waiting = wakeup.wait(60_000);
    setTimeout(() => {
      wakeup.ring();
    }, 10);
    expect(await elapsed(waiting)).toBeLessThan(30_000);
  });

  it('a ring while nobody waits is kept for the next wait, once', async () => {
    const wakeup = createWakeup();
    wakeup.ring();
    wakeup.ring();
    expect(await elapsed(wakeup.wait(60_000))).toBeLessThan(30_000);
    // Both rings were one piece of news: the next wait sleeps until its timeout.
    expect(await elapsed(wakeup.wait(50))).toBeGreaterThanOrEqual(40);
  });

  it('ends at the timeout without a ring, and at once when the signal aborts', async () => {
    const wakeup = createWakeup();
    expect(await elapsed(wakeup.wait(50))).toBeGreaterThanOrEqual(40);
    const stop = new AbortController();
    const waiting = wakeup.wait(60_000, stop.signal);
    stop.abort();
    expect(await elapsed(waiting)).toBeLessThan(30_000);
    expect(await elapsed(wakeup.wait(60_000, stop.signal))).toBeLessThan(30_000);
  });
});

describe('createWakeup with several waiters', () => {
  it('a ring wakes all of them', async () => {
    const wakeup = createWakeup();
    const waits = [wakeup.wait(60_000), wakeup.wait(60_000), wakeup.wait(60_000)];
    setTimeout(() => {
      wakeup.ring();
    }, 10);
    const started = performance.now();
    await Promise.all(waits);
    expect(performance.now() - started).toBeLessThan(30_000);
  });
});
