import { describe, expect, it } from 'vitest';
import { createRetentionCheck, RETENTION_WARNING_EVERY_MS } from '../../src/pipeline/outbox/retention.js';
import { createMemoryStore } from '../../src/state/memory.js';

const HOUR = 3_600_000;

describe('outbox retention', () => {
  it('warns about an output holding events past warnAfter, every ten minutes, and never about one that keeps up', async () => {
    const store = createMemoryStore();
    await store.registerSinks(['es', 'file'], 'beginning');
    await store.commitPage('t', {
      pass: 'fast',
      checkpoint: { cursor: 1 },
      events: [{ key: 'k', eventId: 'id', json: '{}' }],
      rejects: [],
      now: 0,
      seenTtlMs: 1000,
    });
    await store.ack('file', 1);
    const retention = createRetentionCheck(store, HOUR);
    expect(await retention.check(['es', 'file'], HOUR - 1)).toEqual([]);
    expect(await retention.check(['es', 'file'], HOUR)).toEqual([
      {
        output: 'es',
        oldestEventCommitted: new Date(0).toISOString(),
        waitingMinutes: 60,
        eventsWaiting: 1,
        configKey: 'outbox.warnAfter',
      },
    ]);
    // Not again right away; again once the repeat interval has passed.
    expect(await retention.check(['es'], HOUR + 1000)).toEqual([]);
    expect(await retention.check(['es'], HOUR + RETENTION_WARNING_EVERY_MS)).toHaveLength(1);
    // Taken: no more warnings.
    await store.ack('es', 1);
    expect(await retention.check(['es'], 10 * HOUR)).toEqual([]);
  });
});
