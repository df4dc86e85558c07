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
