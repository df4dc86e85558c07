import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observe/log.js';
import { startDeliveryLoops } from '../../src/pipeline/outbox/loops.js';
import { startSinks } from '../../src/pipeline/outbox/index.js';
import { createMemorySink } from '../../src/sinks/memory.js';
import type { Sink } from '../../src/sinks/types.js';
import { createMemoryStore } from '../../src/state/memory.js';
import { until } from '../helpers/wait.js';

async function storeWith(n: number): Promise<ReturnType<typeof createMemoryStore>> {
  const store = createMemoryStore();
  await store.commitPage('t', {
    pass: 'fast',
    checkpoint: { cursor: 1 },
    events: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, eventId: `id${i}`, json: `{"n":${i}}` })),
    rejects: [],
    now: 1,
    seenTtlMs: 1000,
  });
  return store;
}

describe('the delivery loops', () => {
  it('an output that hangs holds back only itself', async () => {
    const store = await storeWith(5);
    const good = createMemorySink('good');
    let hung = 0;
    const hanging: Sink = {
      ...createMemorySink('hanging'),
      name: 'hanging',
      // Never answers until the run stops (a server that accepts and never replies).
      send: (_batch, signal) =>
        new Promise((_resolve, reject) => {
          hung++;
          signal.addEventListener('abort', () => {
            reject(new Error('stopped'));
          });
        }),
    };
    await startSinks(store, [good, hanging]);
    const stop = new AbortController();
    const loops = startDeliveryLoops({
      store,
      sinks: [good, hanging],
      log: silentLogger,
      signal: stop.signal,
      now: Date.now,
      describe: (e) => ({ message: String(e) }),
    });
    await until(() => good.events().length === 5 && hung === 1);
    // More events: the good output takes them while the other still hangs on its first batch.
    await store.commitPage('t', {
      pass: 'fast',
      checkpoint: { cursor: 2 },
      events: [{ key: 'k9', eventId: 'id9', json: '{}' }],
      rejects: [],
      now: 2,
      seenTtlMs: 1000,
    });
    loops.committed();
    await until(() => good.events().length === 6);
    stop.abort();
    await loops.finish(AbortSignal.timeout(1000));
    expect((await store.sinkState('hanging'))?.ackedSeq).toBe(0);
  });

  it('a Retry-After longer than a round is honoured: the output is not asked again before it ends', async () => {
    const store = await storeWith(2);
    const slow = createMemorySink('slow', { plan: [{ status: 'retryable', retryAfterMs: 120_000 }] });
    await startSinks(store, [slow]);
    const stop = new AbortController();
    const warnings: unknown[] = [];
    const loops = startDeliveryLoops({
      store,
      sinks: [slow],
      log: { ...silentLogger, warn: (message, fields) => warnings.push({ message, ...fields }) },
      signal: stop.signal,
      now: Date.now,
      describe: (e) => ({ message: String(e) }),
    });
    await until(() => slow.sends === 1);
    // Several plain rest periods (1 s each) pass; a second send would mean the delay was shortened.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(slow.sends).toBe(1);
    expect(warnings).toEqual([expect.objectContaining({ output: 'slow', retryAfterSeconds: 120 })]);
    // The end of collection does not wait out the delay: one last round decides (and delivers).
    await loops.finish(AbortSignal.timeout(5000));
    expect(slow.sends).toBe(2);
    expect(slow.events()).toHaveLength(2);
    stop.abort();
  });
});
