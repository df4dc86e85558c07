import { describe, expect, it } from 'vitest';
import { createPageGate } from '../../src/pipeline/page-gate.js';

describe('createPageGate', () => {
  it('holds the third page until one of two is given back', async () => {
    const gate = createPageGate(2);
    const first = await gate.acquire();
    await gate.acquire();
    let third = false;
    const waiting = gate.acquire().then((release) => {
      third = true;
      return release;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(third).toBe(false);
    expect(gate.inUse()).toBe(2);
    first();
    first(); // giving back twice frees one place only
    (await waiting)();
    expect(third).toBe(true);
    expect(gate.inUse()).toBe(1);
  });

  it('a waiter whose walk stops leaves the queue without a place', async () => {
    const gate = createPageGate(2);
    const a = await gate.acquire();
    await gate.acquire();
    const stop = new AbortController();
    const waiting = gate.acquire(stop.signal);
    stop.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
    a();
    expect(gate.inUse()).toBe(1);
    await gate.acquire();
    expect(gate.inUse()).toBe(2);
  });

  it('refuses fewer than two places (a tenant fetches its next page while it commits)', () => {
    expect(() => createPageGate(1)).toThrow(/at least 2/);
  });
});

describe('createPageGate hand-over', () => {
  it('a place given back goes to the oldest waiter, not to a later caller', async () => {
    const gate = createPageGate(2);
    const a = await gate.acquire();
    await gate.acquire();
    const order: string[] = [];
    const first = gate.acquire().then((release) => {
      order.push('first');
      return release;
    });
    a();
    // Arrives after the place was given back, before the waiter ran: it must wait its turn.
    const late = gate.acquire().then((release) => {
      order.push('late');
      return release;
    });
    (await first)();
    (await late)();
    expect(order).toEqual(['first', 'late']);
  });

  it('a woken waiter stopped before it ran passes the place on instead of losing it', async () => {
    const gate = createPageGate(2);
    const a = await gate.acquire();
    await gate.acquire();
    const stop = new AbortController();
    const b = gate.acquire(stop.signal);
    const c = gate.acquire();
    // In the same tick: the place goes to b, then b's walk stops (as a collector's finally does).
    a();
    stop.abort(new Error('stopped'));
    await expect(b).rejects.toThrow('stopped');
    const releaseC = await c;
    expect(gate.inUse()).toBe(2);
    releaseC();
    expect(gate.inUse()).toBe(1);
  });
});
