/**
 * Processors after review: what a processor keeps in memory (the commit counters) follows the
 * commit, a throwing processor is named the same way by both stores, and the final flush does not
 * report an output behind for rows re-queued for another one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExotraceError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/observe/log.js';
import { createOutbox } from '../../src/pipeline/outbox/index.js';
import { commitCounters, commitStepsOf, type CommitCounts } from '../../src/pipeline/processors/index.js';
import { createMemorySink } from '../../src/sinks/memory.js';
import { createMemoryStore } from '../../src/state/memory.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import type { StateStore } from '../../src/state/store.js';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

const page = (keys: readonly string[]) => ({
  pass: 'fast' as const,
  checkpoint: { cursor: 500 },
  events: keys.map((k) => ({ key: k, eventId: `id-${k}`, json: `{"k":"${k}"}`, status: 'delivered' })),
  rejects: [],
  now: 1,
  seenTtlMs: 1000,
});

const stores: readonly (readonly [string, () => StateStore])[] = [
  ['memory', () => createMemoryStore()],
  [
    'sqlite',
    () => {
      const folder = mkdtempSync(path.join(tmpdir(), 'exotrace-processors-'));
      folders.push(folder);
      return openSqliteStore(folder);
    },
  ],
];

describe.each(stores)('processors on the %s store', (_name, open) => {
  it('a page whose commit fails is not counted; one that commits is, once', async () => {
    const store = open();
    try {
      const counted: CommitCounts[] = [];
      const counters = commitCounters((_tenant, _pass, counts) => counted.push(counts));
      const failing = {
        name: 'detections',
        process: () => {
          throw new TypeError("Cannot read properties of undefined (reading 'sender')");
        },
      };
      const steps = commitStepsOf([counters, failing]);
      const error: unknown = await store
        .commitPage('t', page(['a', 'b']), steps.hook)
        .catch((e: unknown) => e);
      // The failure names the processor, the same on both stores (not a state error).
      expect(ExotraceError.is(error)).toBe(true);
      expect(error).toMatchObject({ code: 'processor_failed', tenant: 't' });
      expect((error as Error).message).toContain("processor 'detections' failed on a page of tenant 't'");
      expect(await store.outboxHead()).toBe(0);
      expect(counted).toEqual([]);

      const ok = commitStepsOf([counters]);
      await store.commitPage('t', page(['a', 'b']), ok.hook);
      ok.committed();
      expect(counted).toEqual([{ rows: 2, duplicates: 0, rejected: 0, insertedByStatus: { delivered: 2 } }]);
    } finally {
      await store.close();
    }
  });
});

describe('the final flush', () => {
  it('reports no output behind for rows re-queued for another output only', async () => {
    const store = createMemoryStore();
    await store.registerSinks(['a', 'b'], 'beginning');
    await store.commitPage('t', page(['x', 'y']));
    // a refused y for good and b took both; then y is retried for a alone.
    await store.deadLetter('a', 2, 'refused');
    await store.ack('a', 2);
    await store.ack('b', 2);
    await store.pruneOutbox();
    expect(await store.retryDeadLetters('a')).toBe(1);
    const stop = new AbortController();
    const outbox = createOutbox({
      store,
      sinks: [createMemorySink('a'), createMemorySink('b')],
      outputs: [{ name: 'a' }, { name: 'b' }],
      maxEvents: 10_000,
      warnAfterMs: 3_600_000,
      log: silentLogger,
      signal: stop.signal,
      now: Date.now,
      describe: (e) => ({ message: String(e) }),
    });
    await outbox.start();
    const flushed = await outbox.finish(stop.signal);
    await outbox.stop();
    expect(await store.outboxDepth('b')).toBe(0);
    expect(flushed.pending).toEqual({});
    await store.close();
  });
});
