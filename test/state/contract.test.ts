import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/state/memory.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import type { CommittedEvents, PageCommit, PageEvent, StateStore } from '../../src/state/store.js';

// The same behaviour is required of every StateStore: pipeline tests use the memory one and
// trust it to behave like SQLite (and, later, PostgreSQL).
const dirs: string[] = [];
const stores: StateStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const factories: [string, () => StateStore][] = [
  ['memory', () => createMemoryStore({ clock: () => 1000 })],
  [
    'sqlite',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'exotrace-state-'));
      dirs.push(dir);
      return openSqliteStore(join(dir, 'state'), { clock: () => 1000 });
    },
  ],
];

const HOUR = 3_600_000;

function ev(key: string, json = `{"k":"${key}"}`): PageEvent {
  // The key's last part plays the status (as event.action does for the collector's events).
  return { key, eventId: `id-${key}`, json, status: key.split('|').at(-1) ?? '' };
}

function page(events: PageEvent[], over: Partial<PageCommit> = {}): PageCommit {
  return {
    pass: 'fast',
    checkpoint: { cursor: 100 },
    events,
    rejects: [],
    now: 10_000,
    seenTtlMs: HOUR,
    ...over,
  };
}

describe.each(factories)('StateStore contract: %s', (_name, factory) => {
  function open(): StateStore {
    const s = factory();
    stores.push(s);
    return s;
  }

  it('starts empty', async () => {
    const s = open();
    expect(await s.getCheckpoint('t', 'fast')).toBeUndefined();
    expect(await s.listCheckpoints()).toEqual([]);
    expect(await s.outboxHead()).toBe(0);
    expect(await s.listSinks()).toEqual([]);
  });

  it('dedupes: the same key twice gives one outbox row; a status change is a new row', async () => {
    const s = open();
    await s.registerSinks(['out'], 'beginning');
    const r1 = await s.commitPage('t', page([ev('a|x|delivered'), ev('a|y|delivered'), ev('a|x|delivered')]));
    expect(r1).toEqual({
      inserted: 2,
      duplicates: 1,
      rejected: 0,
      insertedByStatus: { delivered: 2 },
      headSeq: 2,
    });
    const r2 = await s.commitPage('t', page([ev('a|x|delivered'), ev('a|x|failed')]));
    expect(r2).toMatchObject({ inserted: 1, duplicates: 1, insertedByStatus: { failed: 1 }, headSeq: 3 });
    const rows = await s.readOutbox('out', { limit: 100, maxBytes: 1e6 });
    expect(rows.map((r) => r.key)).toEqual(['a|x|delivered', 'a|y|delivered', 'a|x|failed']);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(rows[0]).toEqual({
      seq: 1,
      tenant: 't',
      pass: 'fast',
      key: 'a|x|delivered',
      eventId: 'id-a|x|delivered',
      json: '{"k":"a|x|delivered"}',
    });
  });

  it('counts only what a commit inserted by status; an event without one as unknown', async () => {
    const s = open();
    await s.commitPage('t', page([ev('a|x|Delivered')]));
    const again = await s.commitPage('t', page([ev('a|x|Delivered'), ev('a|x|Failed'), ev('b|z|Pending')]));
    expect(again.insertedByStatus).toEqual({ Failed: 1, Pending: 1 });
    const bare = await s.commitPage('t', page([{ key: 'c', eventId: 'c', json: '{}' }]));
    expect(bare.insertedByStatus).toEqual({ unknown: 1 });
  });

  it('a commit hook sees only the new events, and what it adds commits with the page (once)', async () => {
    const s = open();
    await s.registerSinks(['out'], 'beginning');
    await s.commitPage('t', page([ev('a|x|delivered')]));
    const seen: { tenant: string; pass: string; inserted: string[]; duplicates: number; rejected: number }[] =
      [];
    const hook = (committed: CommittedEvents): PageEvent[] => {
      seen.push({
        tenant: committed.tenant,
        pass: committed.pass,
        inserted: committed.inserted.map((e) => e.key),
        duplicates: committed.duplicates,
        rejected: committed.rejected,
      });
      // A "detection" per new event, with a key of its own (stable across re-reads).
      return committed.inserted.map((e) => ev(`alert|${e.key}`));
    };
    const second = page([ev('a|x|delivered'), ev('b|x|failed'), ev('b|x|failed')], {
      pass: 'reconcile',
      rejects: [{ reason: 'no trace id', input: '{}' }],
    });
    const r = await s.commitPage('t', second, hook);
    expect(seen).toEqual([
      { tenant: 't', pass: 'reconcile', inserted: ['b|x|failed'], duplicates: 2, rejected: 1 },
    ]);
    // The hook's event counts like the page's own.
    expect(r).toMatchObject({ inserted: 2, duplicates: 2, headSeq: 3 });
    const rows = await s.readOutbox('out', { limit: 100, maxBytes: 1e6 });
    expect(rows.map((e) => e.key)).toEqual(['a|x|delivered', 'b|x|failed', 'alert|b|x|failed']);
    expect(rows.at(-1)).toMatchObject({ tenant: 't', pass: 'reconcile', eventId: 'id-alert|b|x|failed' });
    // The same page again: nothing new, so the hook sees nothing and adds nothing twice.
    await s.commitPage('t', second, hook);
    expect(seen.at(-1)).toMatchObject({ inserted: [], duplicates: 3 });
    expect(await s.outboxHead()).toBe(3);
  });

  it('a commit hook that throws fails the commit: nothing of the page is stored', async () => {
    const s = open();
    await s.registerSinks(['out'], 'beginning');
    await expect(
      s.commitPage('t', page([ev('a|x|delivered')], { checkpoint: { cursor: 500 } }), () => {
        throw new Error('processor failed');
      }),
    ).rejects.toThrow('processor failed');
    expect(await s.outboxHead()).toBe(0);
    expect(await s.getCheckpoint('t', 'fast')).toBeUndefined();
    // The key was not kept either: the page committed again is new.
    expect(await s.commitPage('t', page([ev('a|x|delivered')]))).toMatchObject({ inserted: 1 });
  });

  it('scopes the seen-set per tenant', async () => {
    const s = open();
    expect((await s.commitPage('t1', page([ev('k')]))).inserted).toBe(1);
    expect((await s.commitPage('t2', page([ev('k')]))).inserted).toBe(1);
    expect(await s.seenCount()).toBe(2);
    expect(await s.seenCount('t1')).toBe(1);
  });

  it('writes the checkpoint with the events and replaces it as a whole', async () => {
    const s = open();
    await s.commitPage(
      't',
      page([ev('a')], {
        pass: 'reconcile',
        checkpoint: { cursor: 5, window: { from: 5, to: 9 }, nextLink: 'n1' },
      }),
    );
    expect(await s.getCheckpoint('t', 'reconcile')).toEqual({
      tenant: 't',
      pass: 'reconcile',
      cursor: 5,
      window: { from: 5, to: 9 },
      nextLink: 'n1',
      updatedAt: 10_000,
    });
    await s.commitPage('t', page([], { pass: 'reconcile', checkpoint: { cursor: 9 }, now: 11_000 }));
    expect(await s.getCheckpoint('t', 'reconcile')).toEqual({
      tenant: 't',
      pass: 'reconcile',
      cursor: 9,
      updatedAt: 11_000,
    });
    await s.commitPage('a', page([]));
    await s.commitPage('t', page([]));
    const list = await s.listCheckpoints();
    expect(list.map((c) => `${c.tenant}/${c.pass}`)).toEqual(['a/fast', 't/fast', 't/reconcile']);
    expect((await s.listCheckpoints('t')).length).toBe(2);
  });

  it('records the window a page completes as collected, merging overlapping and touching ranges per tenant', async () => {
    const s = open();
    expect(await s.collectedRanges('t')).toEqual([]);
    // An intermediate page records nothing; the last one records its window.
    await s.commitPage(
      't',
      page([ev('a')], { checkpoint: { cursor: 0, window: { from: 0, to: 10 }, nextLink: 'n' } }),
    );
    expect(await s.collectedRanges('t')).toEqual([]);
    await s.commitPage('t', page([ev('b')], { checkpoint: { cursor: 10 }, collected: { from: 0, to: 10 } }));
    await s.commitPage(
      't',
      page([], { pass: 'backfill', checkpoint: { cursor: 40 }, collected: { from: 30, to: 40 } }),
    );
    await s.commitPage('u', page([], { checkpoint: { cursor: 20 }, collected: { from: 10, to: 20 } }));
    // A millisecond apart is not touching: rows may lie between.
    await s.commitPage('t', page([], { checkpoint: { cursor: 29 }, collected: { from: 11, to: 29 } }));
    expect(await s.collectedRanges('t')).toEqual([
      { from: 0, to: 10 },
      { from: 11, to: 29 },
      { from: 30, to: 40 },
    ]);
    // Touching both sides and overlapping: one range.
    await s.commitPage(
      't',
      page([], { pass: 'reconcile', checkpoint: { cursor: 30 }, collected: { from: 5, to: 30 } }),
    );
    expect(await s.collectedRanges('t')).toEqual([{ from: 0, to: 40 }]);
    expect(await s.collectedRanges('u')).toEqual([{ from: 10, to: 20 }]);
    await expect(
      s.commitPage('t', page([ev('c')], { checkpoint: { cursor: 50 }, collected: { from: 60, to: 50 } })),
    ).rejects.toThrow(/collected must be/);
    expect(await s.collectedRanges('t')).toEqual([{ from: 0, to: 40 }]);
    expect(await s.seenCount('t')).toBe(2);
  });

  it('rejects an invalid commit without writing any part of it', async () => {
    const s = open();
    await expect(
      s.commitPage('t', page([ev('a')], { checkpoint: { cursor: 1, nextLink: 'x' } })),
    ).rejects.toThrow(/nextLink needs checkpoint.window/);
    await expect(s.commitPage('t', page([ev('a')], { checkpoint: { cursor: 1.5 } }))).rejects.toThrow(
      /cursor/,
    );
    await expect(s.commitPage('', page([ev('a')]))).rejects.toThrow(/tenant/);
    expect(await s.outboxHead()).toBe(0);
    expect(await s.seenCount()).toBe(0);
    expect(await s.getCheckpoint('t', 'fast')).toBeUndefined();
  });

  it('records rejects with their reason, and the page still commits', async () => {
    const s = open();
    const r = await s.commitPage(
      't',
      page([ev('a')], { rejects: [{ reason: 'no trace id', input: '{"x":1}' }], pass: 'backfill' }),
    );
    expect(r.rejected).toBe(1);
    await s.commitPage('u', page([], { rejects: [{ reason: 'bad date', input: '{}' }] }));
    expect(await s.rejects({ limit: 10 })).toEqual([
      { id: 1, tenant: 't', pass: 'backfill', reason: 'no trace id', input: '{"x":1}', at: 10_000 },
      { id: 2, tenant: 'u', pass: 'fast', reason: 'bad date', input: '{}', at: 10_000 },
    ]);
    expect((await s.rejects({ tenant: 'u', limit: 10 })).map((r) => r.reason)).toEqual(['bad date']);
    expect(await s.rejects({ limit: 1 })).toHaveLength(1);
    expect(await s.outboxHead()).toBe(1);
  });

  it('keeps per-sink cursors independent: a lagging sink does not block another', async () => {
    const s = open();
    await s.registerSinks(['fast', 'slow'], 'beginning');
    await s.commitPage('t', page(['a', 'b', 'c', 'd'].map((k) => ev(k))));
    await s.ack('fast', 4, 'offset=400');
    expect(await s.readOutbox('fast', { limit: 10, maxBytes: 1e6 })).toEqual([]);
    expect((await s.readOutbox('slow', { limit: 10, maxBytes: 1e6 })).map((e) => e.seq)).toEqual([
      1, 2, 3, 4,
    ]);
    expect(await s.outboxDepth('fast')).toBe(0);
    expect(await s.outboxDepth('slow')).toBe(4);
    // How long each has held data back: since the commit of its oldest unacknowledged event.
    expect(await s.outboxOldest('fast')).toBeUndefined();
    expect(await s.outboxOldest('slow')).toBe(10_000);
    await s.commitPage('t', page([ev('e')], { now: 20_000 }));
    await s.ack('slow', 4);
    expect(await s.outboxOldest('slow')).toBe(20_000);
    expect(await s.sinkState('fast')).toEqual({
      name: 'fast',
      ackedSeq: 4,
      meta: 'offset=400',
      updatedAt: 1000,
    });
    await s.commitPage('t', page([ev('e')]));
    expect((await s.readOutbox('fast', { limit: 10, maxBytes: 1e6 })).map((e) => e.key)).toEqual(['e']);
    // afterSeq: a second batch in flight before the first is acknowledged.
    expect((await s.readOutbox('slow', { afterSeq: 3, limit: 10, maxBytes: 1e6 })).map((e) => e.seq)).toEqual(
      [4, 5],
    );
  });

  it('acknowledges forward only, with meta stored or cleared', async () => {
    const s = open();
    await s.registerSinks(['f'], 'beginning');
    await s.commitPage('t', page([ev('a'), ev('b')]));
    await s.ack('f', 1, 'm1');
    await s.ack('f', 1, 'm1b');
    expect((await s.sinkState('f'))?.meta).toBe('m1b');
    await expect(s.ack('f', 0)).rejects.toThrow(/go back/);
    await expect(s.ack('f', 3)).rejects.toThrow(/past the outbox head/);
    await expect(s.ack('nope', 1)).rejects.toThrow(/unknown sink/);
    await s.ack('f', 2);
    expect(await s.sinkState('f')).toEqual({ name: 'f', ackedSeq: 2, updatedAt: 1000 });
    await expect(s.readOutbox('nope', { limit: 1, maxBytes: 1 })).rejects.toThrow(/unknown sink/);
  });

  it('caps readOutbox by count and by bytes, always returning at least one event', async () => {
    const s = open();
    await s.registerSinks(['o'], 'beginning');
    // 10 bytes each; the last is 9 bytes, as é is two bytes in UTF-8.
    await s.commitPage('t', page(['1', '2', '3', '4', '5'].map((k) => ev(k, `"${k}abcdefg"`))));
    await s.commitPage('t', page([ev('big', 'x'.repeat(100)), ev('6', '"éabcde"')]));
    expect((await s.readOutbox('o', { limit: 2, maxBytes: 1e6 })).map((e) => e.key)).toEqual(['1', '2']);
    expect((await s.readOutbox('o', { limit: 100, maxBytes: 30 })).map((e) => e.key)).toEqual([
      '1',
      '2',
      '3',
    ]);
    expect((await s.readOutbox('o', { limit: 100, maxBytes: 29 })).map((e) => e.key)).toEqual(['1', '2']);
    expect((await s.readOutbox('o', { afterSeq: 5, limit: 100, maxBytes: 10 })).map((e) => e.key)).toEqual([
      'big',
    ]);
    expect((await s.readOutbox('o', { afterSeq: 6, limit: 100, maxBytes: 9 })).map((e) => e.key)).toEqual([
      '6',
    ]);
    expect(await s.readOutbox('o', { afterSeq: 7, limit: 100, maxBytes: 9 })).toEqual([]);
    await expect(s.readOutbox('o', { limit: 0, maxBytes: 10 })).rejects.toThrow(/limit/);
  });

  it('prunes only what every registered sink acknowledged, and never reuses a sequence', async () => {
    const s = open();
    await s.commitPage('t', page([ev('a'), ev('b'), ev('c')]));
    expect(await s.pruneOutbox()).toBe(0); // no sink yet: keep everything
    await s.registerSinks(['x', 'y'], 'beginning');
    await s.ack('x', 3);
    await s.ack('y', 1);
    expect(await s.pruneOutbox()).toBe(1);
    expect((await s.readOutbox('x', { afterSeq: 0, limit: 10, maxBytes: 1e6 })).map((e) => e.seq)).toEqual([
      2, 3,
    ]);
    await s.ack('y', 3);
    expect(await s.pruneOutbox()).toBe(2);
    expect(await s.outboxHead()).toBe(3);
    await s.commitPage('t', page([ev('d')]));
    expect((await s.readOutbox('x', { limit: 10, maxBytes: 1e6 })).map((e) => e.seq)).toEqual([4]);
  });

  it('registers a new sink at the head or at the beginning; known sinks keep their cursor', async () => {
    const s = open();
    await s.registerSinks(['old'], 'beginning');
    await s.commitPage('t', page([ev('a'), ev('b')]));
    await s.ack('old', 1);
    await s.registerSinks(['old', 'fromHead'], 'head');
    await s.registerSinks(['fromStart'], 'beginning');
    expect((await s.sinkState('old'))?.ackedSeq).toBe(1);
    expect((await s.sinkState('fromHead'))?.ackedSeq).toBe(2);
    expect(await s.outboxDepth('fromStart')).toBe(2);
    expect((await s.listSinks()).map((x) => x.name)).toEqual(['fromHead', 'fromStart', 'old']);
    // A removed sink no longer holds back pruning.
    await s.ack('fromHead', 2);
    await s.ack('old', 2);
    await s.unregisterSink('fromStart');
    expect(await s.sinkState('fromStart')).toBeUndefined();
    expect(await s.pruneOutbox()).toBe(2);
  });

  it('expires seen keys: an expired key is new again, pruned or not; seeing a key extends it', async () => {
    const s = open();
    await s.commitPage('t', page([ev('a'), ev('b')], { now: 0, seenTtlMs: 100 }));
    // 'a' seen again at 50: a duplicate, and its expiry moves to 150.
    expect(await s.commitPage('t', page([ev('a')], { now: 50, seenTtlMs: 100 }))).toMatchObject({
      duplicates: 1,
    });
    // At 100, 'b' has expired (not yet pruned): new again. 'a' still seen.
    expect(await s.commitPage('t', page([ev('a'), ev('b')], { now: 100, seenTtlMs: 100 }))).toMatchObject({
      inserted: 1,
      duplicates: 1,
    });
    expect(await s.pruneSeen(199)).toBe(0);
    expect(await s.pruneSeen(200)).toBe(2);
    expect(await s.seenCount()).toBe(0);
    expect((await s.commitPage('t', page([ev('a')], { now: 300, seenTtlMs: 100 }))).inserted).toBe(1);
  });

  it('counts per tenant the events some sink has yet to take', async () => {
    const s = open();
    // Nobody registered: nothing was taken.
    await s.commitPage('t', page([ev('a'), ev('b')]));
    expect(await s.outboxDepthByTenant()).toEqual({ t: 2 });
    await s.registerSinks(['es', 'file'], 'beginning');
    await s.commitPage('u', page([ev('c')]));
    expect(await s.outboxDepthByTenant()).toEqual({ t: 2, u: 1 });
    // The slowest sink counts: 'file' has everything, 'es' only the first event.
    await s.ack('file', 3);
    await s.ack('es', 1);
    expect(await s.outboxDepthByTenant()).toEqual({ t: 1, u: 1 });
    // A dead letter sent again waits for its own sink only.
    await s.deadLetter('es', 2, 'bad');
    await s.ack('es', 3);
    expect(await s.outboxDepthByTenant()).toEqual({});
    await s.retryDeadLetters('es');
    expect(await s.outboxDepthByTenant()).toEqual({ t: 1 });
    await s.ack('es', 4);
    expect(await s.outboxDepthByTenant()).toEqual({});
  });

  it('dead-letters per sink, lists them, and moves them back for that sink only', async () => {
    const s = open();
    await s.registerSinks(['es', 'file'], 'beginning');
    await s.commitPage('t', page([ev('a'), ev('b'), ev('c')]));
    await s.deadLetter('es', 2, 'mapper_parsing_exception');
    await s.deadLetter('es', 2, 'mapper_parsing_exception'); // idempotent after a crash and resend
    await s.ack('es', 3);
    await s.ack('file', 3);
    expect(await s.pruneOutbox()).toBe(3);
    await expect(s.deadLetter('es', 1, 'x')).rejects.toThrow(/gone/);
    const dead = await s.deadLetters('es', 10);
    expect(dead).toEqual([
      {
        sink: 'es',
        seq: 2,
        tenant: 't',
        pass: 'fast',
        key: 'b',
        eventId: 'id-b',
        json: '{"k":"b"}',
        reason: 'mapper_parsing_exception',
        at: 1000,
      },
    ]);
    expect(await s.deadLetters('file', 10)).toEqual([]);
    expect(await s.deadLetterCount('es')).toBe(1);
    expect(await s.deadLetterCount('file')).toBe(0);
    expect(await s.deadLetterNewest('es')).toBe(1000);
    expect(await s.deadLetterNewest('file')).toBeUndefined();
    expect(await s.retryDeadLetters('es')).toBe(1);
    expect(await s.deadLetterCount('es')).toBe(0);
    // Retried, it is no longer held: no longer new either.
    expect(await s.deadLetterNewest('es')).toBeUndefined();
    expect(await s.deadLetters('es', 10)).toEqual([]);
    expect((await s.readOutbox('es', { limit: 10, maxBytes: 1e6 })).map((e) => [e.seq, e.key])).toEqual([
      [4, 'b'],
    ]);
    expect(await s.readOutbox('file', { limit: 10, maxBytes: 1e6 })).toEqual([]);
    expect(await s.outboxDepth('file')).toBe(0);
    expect(await s.outboxDepth('es')).toBe(1);
    // 'file' is at 3 and has nothing to deliver; the row is pruned once 'es' acknowledges it.
    expect(await s.pruneOutbox()).toBe(0);
    await s.ack('es', 4);
    expect(await s.pruneOutbox()).toBe(1);
  });

  it('retries only the chosen dead letters; unregistering drops the rest', async () => {
    const s = open();
    await s.registerSinks(['es'], 'beginning');
    await s.commitPage('t', page([ev('a'), ev('b')]));
    await s.deadLetter('es', 1, 'r1');
    await s.deadLetter('es', 2, 'r2');
    expect(await s.deadLetterSeqs('es', [99, 2, 1, 2])).toEqual([1, 2]);
    expect(await s.deadLetterSeqs('file', [1, 2])).toEqual([]);
    expect(await s.retryDeadLetters('es', [2])).toBe(1);
    expect(await s.deadLetterSeqs('es', [1, 2])).toEqual([1]);
    expect((await s.deadLetters('es', 10)).map((d) => d.seq)).toEqual([1]);
    await s.unregisterSink('es');
    await s.registerSinks(['es'], 'beginning');
    expect(await s.deadLetters('es', 10)).toEqual([]);
    expect((await s.readOutbox('es', { limit: 10, maxBytes: 1e6 })).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('records tenant cycles: a failure keeps the last success, a success clears the error', async () => {
    const s = open();
    expect(await s.tenantCycles()).toEqual([]);
    const error = {
      code: 'invalid_client_secret',
      message: 'AADSTS7000215: Invalid client secret',
      fix: 'x',
    };
    await s.recordTenantCycle('t', { at: 1_000, error });
    await s.recordTenantCycle('t', { at: 2_000, error: { message: 'again' } });
    await s.recordTenantCycle('a', { at: 1_500 });
    expect(await s.tenantCycles()).toEqual([
      { tenant: 'a', lastSuccessAt: 1_500, failuresInARow: 0 },
      { tenant: 't', lastFailureAt: 2_000, lastError: { message: 'again' }, failuresInARow: 2 },
    ]);
    await s.recordTenantCycle('t', { at: 3_000 });
    await s.recordTenantCycle('a', { at: 3_500, error });
    expect(await s.tenantCycles()).toEqual([
      { tenant: 'a', lastSuccessAt: 1_500, lastFailureAt: 3_500, lastError: error, failuresInARow: 1 },
      { tenant: 't', lastSuccessAt: 3_000, lastFailureAt: 2_000, failuresInARow: 0 },
    ]);
  });

  it('keeps a copy of a cycle error and refuses an invalid cycle without writing it', async () => {
    const s = open();
    const error: Record<string, unknown> = { code: 'x' };
    await s.recordTenantCycle('t', { at: 1, error });
    error['code'] = 'changed';
    expect((await s.tenantCycles())[0]?.lastError).toEqual({ code: 'x' });
    await expect(s.recordTenantCycle('', { at: 2 })).rejects.toThrow(/tenant/);
    await expect(s.recordTenantCycle('t', { at: 2.5 })).rejects.toThrow(/at must be/);
    expect(await s.tenantCycles()).toEqual([
      { tenant: 't', lastFailureAt: 1, lastError: { code: 'x' }, failuresInARow: 1 },
    ]);
  });

  it('a state just made says it was created new', async () => {
    expect(await open().createdNew()).toBe(true);
  });

  it('has an id of its own: stable while it lives, different for every new state', async () => {
    const a = open();
    const id = await a.stateId();
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(await a.stateId()).toBe(id);
    expect(await open().stateId()).not.toBe(id);
  });

  it('records output rounds: failing since the first failure, the last error, cleared by a success', async () => {
    const s = open();
    await s.registerSinks(['es', 'hook'], 'head');
    const refused: Record<string, unknown> = { code: 'ECONNREFUSED', message: 'connect refused' };
    await s.recordOutputRound('hook', { at: 1_000, error: refused });
    refused['code'] = 'changed'; // a copy was kept
    await s.recordOutputRound('hook', { at: 2_000, error: { code: 'timeout', message: 'slow' } });
    await s.recordOutputRound('es', { at: 1_500 });
    expect(await s.outputRounds()).toEqual([
      { output: 'es', lastSuccessAt: 1_500 },
      { output: 'hook', failingSince: 1_000, lastError: { code: 'timeout', message: 'slow' } },
    ]);
    await s.recordOutputRound('hook', { at: 3_000 });
    await s.recordOutputRound('es', { at: 3_500, error: refused });
    expect(await s.outputRounds()).toEqual([
      {
        output: 'es',
        lastSuccessAt: 1_500,
        failingSince: 3_500,
        lastError: { code: 'changed', message: 'connect refused' },
      },
      { output: 'hook', lastSuccessAt: 3_000 },
    ]);
    await expect(s.recordOutputRound('nope', { at: 4_000 })).rejects.toThrow(/unknown sink nope/);
    await expect(s.recordOutputRound('es', { at: 4.5 })).rejects.toThrow(/at must be/);
    // Forgotten with the sink.
    await s.unregisterSink('es');
    expect((await s.outputRounds()).map((r) => r.output)).toEqual(['hook']);
  });

  it('closes idempotently and refuses use after close', async () => {
    const s = factory();
    const first = s.close();
    expect(s.close()).toBe(first);
    await first;
    await expect(s.outboxHead()).rejects.toThrow(/closed/);
  });

  it('property: the outbox holds each distinct live key exactly once, in first-seen order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { maxLength: 6 }), { maxLength: 8 }),
        async (pages) => {
          const s = factory();
          try {
            await s.registerSinks(['o'], 'beginning');
            let duplicates = 0;
            for (const keys of pages) {
              duplicates += (await s.commitPage('t', page(keys.map((k) => ev(k))))).duplicates;
            }
            const all = pages.flat();
            const distinct = [...new Set(all)];
            const rows = await s.readOutbox('o', { limit: 1000, maxBytes: 1e9 });
            expect(rows.map((r) => r.key)).toEqual(distinct);
            expect(duplicates).toBe(all.length - distinct.length);
          } finally {
            await s.close();
          }
        },
      ),
      { numRuns: 25, seed: 42 },
    );
  });
});
