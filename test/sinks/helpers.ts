import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createMemoryStore } from '../../src/state/memory.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import type { OutboxEvent } from '../../src/core/outbox-event.js';
import type { PageEvent, StateStore } from '../../src/state/store.js';

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'exotrace-sinks-'));
  return {
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A store kind: `open` returns the store of `dir`; `reopen` simulates a restart (the memory store
 * is the same object, since it cannot survive a process anyway; SQLite is closed and opened again).
 */
export interface StoreKind {
  readonly kind: string;
  open(dir: string): StateStore;
  reopen(store: StateStore, dir: string): Promise<StateStore>;
}

export const STORE_KINDS: readonly StoreKind[] = [
  { kind: 'memory', open: () => createMemoryStore(), reopen: (store) => Promise.resolve(store) },
  {
    kind: 'sqlite',
    open: (dir) => openSqliteStore(join(dir, 'state')),
    reopen: async (store, dir) => {
      await store.close();
      return openSqliteStore(join(dir, 'state'));
    },
  },
];

let cursor = 0;

/** Commit `count` new events (distinct keys) to the outbox; returns their json lines. */
export async function addEvents(store: StateStore, count: number, tenant = 'contoso'): Promise<string[]> {
  const events: PageEvent[] = [];
  for (let i = 0; i < count; i++) {
    cursor += 1;
    const id = `e${cursor}`;
    // Non-ASCII text, so byte offsets and character counts differ.
    events.push({ key: `k${cursor}`, eventId: id, json: JSON.stringify({ id, subject: `héllo ${cursor}` }) });
  }
  await store.commitPage(tenant, {
    pass: 'fast',
    checkpoint: { cursor },
    events,
    rejects: [],
    now: 1_000_000,
    seenTtlMs: 60_000,
  });
  return events.map((e) => e.json);
}

export function ndjson(lines: readonly string[]): string {
  return lines.map((l) => l + '\n').join('');
}

export function fakeEvents(from: number, count: number): OutboxEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    seq: from + i,
    tenant: 'contoso',
    pass: 'fast' as const,
    key: `k${from + i}`,
    eventId: `e${from + i}`,
    json: JSON.stringify({ seq: from + i }),
  }));
}

export const noSleep = (): Promise<void> => Promise.resolve();
