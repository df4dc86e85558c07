import { describe, expect, it } from 'vitest';
import { budgetPolicy, createTenantBudget } from '../../src/sources/http/budget.js';
import type { HttpRequest, HttpResponse } from '../../src/http/types.js';
import { createVirtualTime } from './virtual-time.js';

const WINDOW = 300_000;

function request(signal = new AbortController().signal): HttpRequest {
  return { method: 'GET', url: new URL('https://graph.microsoft.com/v1.0/x'), headers: {}, signal };
}

describe('tenant budget', () => {
  it('lets N requests through at once and makes the N+1th wait until the window moves', async () => {
    const time = createVirtualTime();
    const budget = createTenantBudget({ requests: 3, clock: time.now, sleep: time.sleep });
    const start = time.now();
    await budget.acquire();
    time.advance(10_000);
    await budget.acquire();
    await budget.acquire();
    expect(budget.remaining()).toBe(0);
    expect(time.waits).toEqual([]);

    await budget.acquire();
    // The oldest slot (taken at `start`) leaves the rolling window 5 minutes later.
    expect(time.waits).toEqual([start + WINDOW - (start + 10_000)]);
    expect(time.now()).toBe(start + WINDOW);
    expect(budget.remaining()).toBe(0);
  });

  it('defaults to 90 requests per 5 minutes', async () => {
    const time = createVirtualTime();
    const budget = createTenantBudget({ clock: time.now, sleep: time.sleep });
    for (let i = 0; i < 90; i++) await budget.acquire();
    expect(budget.remaining()).toBe(0);
    await budget.acquire();
    expect(time.waits).toEqual([WINDOW]);
  });

  it('is shared: callers of one tenant queue on the same slots', async () => {
    const time = createVirtualTime();
    const budget = createTenantBudget({ requests: 2, clock: time.now, sleep: time.sleep });
    await Promise.all([budget.acquire(), budget.acquire(), budget.acquire(), budget.acquire()]);
    // Two went at once; the other two needed the window to move once.
    expect(time.now() - Date.UTC(2026, 10, 25, 12)).toBe(WINDOW);
  });

  it('a 429 with Retry-After pauses every caller of the tenant until then', async () => {
    const time = createVirtualTime();
    const budget = createTenantBudget({ requests: 50, clock: time.now, sleep: time.sleep });
    const policy = budgetPolicy({ budget, clock: time.now });
    const throttled: HttpResponse = { status: 429, headers: { 'retry-after': '120' }, text: '' };
    const start = time.now();
    const first = await policy.send(request(), () => Promise.resolve(throttled));
    expect(first.status).toBe(429);
    expect(budget.pausedUntil()).toBe(start + 120_000);

    // Another pass of the same tenant (not the one that got the 429) waits for the pause too.
    let sentAt: number | undefined;
    await policy.send(request(), () => {
      sentAt = time.now();
      return Promise.resolve({ status: 200, headers: {}, text: '' });
    });
    expect(sentAt).toBe(start + 120_000);
    expect(time.waits).toEqual([120_000]);
    expect(budget.pausedUntil()).toBeUndefined();
  });

  it('a later pause wins over an earlier one', () => {
    const time = createVirtualTime();
    const budget = createTenantBudget({ clock: time.now, sleep: time.sleep });
    budget.pause(time.now() + 5000);
    budget.pause(time.now() + 1000);
    expect(budget.pausedUntil()).toBe(time.now() + 5000);
  });

  it('a waiting acquire ends when its signal aborts', async () => {
    const budget = createTenantBudget({ requests: 1 });
    await budget.acquire();
    const controller = new AbortController();
    const pending = budget.acquire(controller.signal);
    setTimeout(() => {
      controller.abort(new Error('stop'));
    }, 20);
    await expect(pending).rejects.toThrow('stop');
  });

  it('available() waits out a full window or a pause without taking a slot', async () => {
    const time = createVirtualTime();
    const budget = createTenantBudget({ requests: 2, clock: time.now, sleep: time.sleep });
    const start = time.now();
    await budget.available();
    expect(budget.remaining()).toBe(2);
    await budget.acquire();
    time.advance(10_000);
    await budget.acquire();
    await budget.available();
    // It waited for the oldest slot to leave the window, and took none.
    expect(time.now()).toBe(start + WINDOW);
    expect(budget.remaining()).toBe(1);
    budget.pause(time.now() + 60_000);
    await budget.available();
    expect(time.now()).toBe(start + WINDOW + 60_000);
    // Meanwhile the second slot (taken 10 s after the first) left the window too; none was taken.
    expect(budget.remaining()).toBe(2);
  });

  it('refuses a nonsense size', () => {
    expect(() => createTenantBudget({ requests: 0 })).toThrow(RangeError);
  });
});
