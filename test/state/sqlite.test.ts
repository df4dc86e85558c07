import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE, SCHEMA_VERSION, openSqliteStore } from '../../src/state/sqlite.js';
import type { PageCommit, StateStore } from '../../src/state/store.js';

let root: string;
let dir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'exotrace-sqlite-'));
  dir = join(root, 'state');
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('openSqliteStore', () => {
  it('creates the directory 0700 and the database 0600', async () => {
    const s = openSqliteStore(dir);
    await s.close();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, DB_FILE)).mode & 0o777).toBe(0o600);
  });

  it('keeps everything across a reopen', async () => {
    const s = openSqliteStore(dir, { clock: () => 7 });
    await s.registerSinks(['file', 'es'], 'beginning');
    await s.commitPage('t', {
      pass: 'backfill',
      checkpoint: { cursor: 10, window: { from: 10, to: 20 }, nextLink: 'https://graph/next?skip=1' },
      events: [
        { key: 'a', eventId: 'ia', json: '{"a":1}' },
        { key: 'b', eventId: 'ib', json: '{"b":1}' },
      ],
      rejects: [{ reason: 'bad', input: 'x' }],
      now: 100,
      seenTtlMs: 1000,
    });
    await s.ack('file', 2, '{"offset":16}');
    await s.ack('es', 1);
    await s.deadLetter('es', 2, 'rejected');
    await s.close();

    const r = openSqliteStore(dir);
    try {
      expect(await r.getCheckpoint('t', 'backfill')).toEqual({
        tenant: 't',
        pass: 'backfill',
        cursor: 10,
        window: { from: 10, to: 20 },
        nextLink: 'https://graph/next?skip=1',
        updatedAt: 100,
      });
      expect(await r.sinkState('file')).toEqual({
        name: 'file',
        ackedSeq: 2,
        meta: '{"offset":16}',
        updatedAt: 7,
      });
      expect((await r.readOutbox('es', { limit: 10, maxBytes: 1e6 })).map((e) => e.key)).toEqual(['b']);
      expect(await r.rejects({ limit: 10 })).toHaveLength(1);
      expect(await r.deadLetters('es', 10)).toHaveLength(1);
      expect(await r.seenCount('t')).toBe(2);
      // The seen-set survived: the same keys are still duplicates.
      const again = await r.commitPage('t', {
        pass: 'backfill',
        checkpoint: { cursor: 20 },
        events: [{ key: 'a', eventId: 'ia', json: '{"a":1}' }],
        rejects: [],
        now: 200,
        seenTtlMs: 1000,
      });
      expect(again).toEqual({ inserted: 0, duplicates: 1, rejected: 0, insertedByStatus: {}, headSeq: 2 });
    } finally {
      await r.close();
    }
  });

  it('uses WAL and records the schema version', async () => {
    const s = openSqliteStore(dir);
    await s.close();
    const db = new Database(join(dir, DB_FILE), { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const versions = db.prepare<[], { version: number }>('SELECT version FROM schema_version').all();
      expect(versions.map((v) => v.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    } finally {
      db.close();
    }
    // Reopening runs no migration twice.
    await openSqliteStore(dir).close();
    const db2 = new Database(join(dir, DB_FILE), { readonly: true });
    expect(db2.prepare('SELECT count(*) AS n FROM schema_version').get()).toEqual({ n: SCHEMA_VERSION });
    db2.close();
  });

  it('upgrades a version 1 database: tenant cycles added, checkpoints kept', async () => {
    const s = openSqliteStore(dir);
    await s.commitPage('t', {
      pass: 'fast',
      checkpoint: { cursor: 42 },
      events: [],
      rejects: [],
      now: 1,
      seenTtlMs: 1000,
    });
    await s.close();
    // What exotrace before tenant cycles left: schema version 1 only (every later table dropped).
    const db = new Database(join(dir, DB_FILE));
    const V1_TABLES = ['checkpoint', 'seen', 'sink', 'outbox', 'dead_letter', 'reject', 'schema_version'];
    const later = db
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
      )
      .all()
      .map((t) => t.name)
      .filter((name) => !V1_TABLES.includes(name));
    for (const name of later) db.exec(`DROP TABLE ${name}`);
    db.exec('DELETE FROM schema_version WHERE version > 1');
    db.close();
    const upgraded = openSqliteStore(dir);
    try {
      expect((await upgraded.getCheckpoint('t', 'fast'))?.cursor).toBe(42);
      await upgraded.recordTenantCycle('t', { at: 5 });
      expect(await upgraded.tenantCycles()).toEqual([{ tenant: 't', lastSuccessAt: 5, failuresInARow: 0 }]);
      // Every later migration ran: output rounds too.
      await upgraded.registerSinks(['o'], 'head');
      await upgraded.recordOutputRound('o', { at: 6, error: { code: 'ECONNREFUSED' } });
      expect(await upgraded.outputRounds()).toEqual([
        { output: 'o', failingSince: 6, lastError: { code: 'ECONNREFUSED' } },
      ]);
    } finally {
      await upgraded.close();
    }
  });

  it('says whether it was created by this open: new, reopened, emptied to 0 bytes, deleted', async () => {
    const s = openSqliteStore(dir);
    expect(await s.createdNew()).toBe(true);
    await s.close();
    const reopened = openSqliteStore(dir);
    expect(await reopened.createdNew()).toBe(false);
    await reopened.close();
    writeFileSync(join(dir, DB_FILE), '');
    const emptied = openSqliteStore(dir);
    expect(await emptied.createdNew()).toBe(true);
    await emptied.close();
    rmSync(dir, { recursive: true });
    const recreated = openSqliteStore(dir);
    expect(await recreated.createdNew()).toBe(true);
    await recreated.close();
  });

  it('keeps its id across a reopen; a deleted or emptied database is a new state with a new id', async () => {
    const s = openSqliteStore(dir);
    const id = await s.stateId();
    await s.close();
    const reopened = openSqliteStore(dir);
    expect(await reopened.stateId()).toBe(id);
    await reopened.close();
    // A 0-byte file is opened as an empty database: a new state, which must say so by its id.
    writeFileSync(join(dir, DB_FILE), '');
    const emptied = openSqliteStore(dir);
    const emptiedId = await emptied.stateId();
    await emptied.close();
    expect(emptiedId).not.toBe(id);
    rmSync(dir, { recursive: true });
    const recreated = openSqliteStore(dir);
    expect(await recreated.stateId()).not.toBe(emptiedId);
    await recreated.close();
  });

  it.skipIf(process.platform === 'win32')(
    'refuses a stateDir every local user can write to, naming it and the fix (also as root)',
    () => {
      mkdirSync(dir, { mode: 0o700 });
      chmodSync(dir, 0o1777);
      expect(() => openSqliteStore(dir)).toThrow(
        `state directory ${dir} is writable by every local user (mode 1777)`,
      );
      expect(() => openSqliteStore(dir)).toThrow(`chmod 700 ${dir}`);
      expect(existsSync(join(dir, DB_FILE))).toBe(false);
    },
  );

  it.skipIf(process.platform === 'win32' || process.getuid?.() !== 0)(
    'refuses a stateDir another user owns (its owner can plant links whatever the mode), as root too',
    async () => {
      mkdirSync(dir, { mode: 0o700 });
      // Owned by nobody (65534): as root this test can give the folder away.
      chownSync(dir, 65534, 65534);
      expect(() => openSqliteStore(dir)).toThrow(
        `state directory ${dir} belongs to another user (uid 65534, this process runs as uid 0)`,
      );
      expect(existsSync(join(dir, DB_FILE))).toBe(false);
      // Root's own folder, or this process's: accepted.
      chownSync(dir, 0, 0);
      await openSqliteStore(dir).close();
    },
  );

  it.skipIf(process.platform === 'win32')(
    'never opens a state file through a link: a symlinked database or WAL, a hard-linked database',
    async () => {
      const target = join(root, 'elsewhere');
      writeFileSync(target, 'not yours\n');
      mkdirSync(dir, { mode: 0o700 });
      symlinkSync(target, join(dir, DB_FILE));
      expect(() => openSqliteStore(dir)).toThrow(`${join(dir, DB_FILE)} is a symbolic link`);
      expect(readFileSync(target, 'utf8')).toBe('not yours\n');

      // A real database, and a link planted where SQLite puts its write-ahead log.
      rmSync(join(dir, DB_FILE));
      const s = openSqliteStore(dir);
      await s.close();
      symlinkSync(target, join(dir, `${DB_FILE}-wal`));
      expect(() => openSqliteStore(dir)).toThrow(`${join(dir, DB_FILE)}-wal is a symbolic link`);
      expect(readFileSync(target, 'utf8')).toBe('not yours\n');

      rmSync(join(dir, `${DB_FILE}-wal`));
      rmSync(join(dir, DB_FILE));
      linkSync(target, join(dir, DB_FILE));
      expect(() => openSqliteStore(dir)).toThrow(`${join(dir, DB_FILE)} has 2 hard links`);
      expect(readFileSync(target, 'utf8')).toBe('not yours\n');
    },
  );

  it('refuses a database written by a newer exotrace', async () => {
    await openSqliteStore(dir).close();
    const db = new Database(join(dir, DB_FILE));
    db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, 0)').run(SCHEMA_VERSION + 1);
    db.close();
    expect(() => openSqliteStore(dir)).toThrow(/newer than this exotrace supports/);
  });

  it('lets only one collector use a state directory at a time', async () => {
    const s = openSqliteStore(dir);
    expect(() => openSqliteStore(dir, { busyTimeoutMs: 50 })).toThrow(/in use by another exotrace process/);
    await s.close();
    const again = openSqliteStore(dir, { busyTimeoutMs: 50 });
    await again.close();
  });
});

describe('events read back while they are recent', () => {
  // The store serves outputs that keep up from the events of its last commits, in memory. Whatever
  // it serves must be exactly what the database holds: compared here with a reopened store, which
  // has nothing in memory and reads the database.
  const page = (n: number, from: number): PageCommit => ({
    pass: 'fast',
    checkpoint: { cursor: from },
    events: Array.from({ length: n }, (_, i) => {
      const k = `2026-11-20T00:00:${String(from + i).padStart(6, '0')}|id${from + i}`;
      return {
        key: k,
        eventId: `id${from + i}`,
        json: JSON.stringify({ n: from + i, pad: 'é'.repeat((from + i) % 7) }),
      };
    }),
    rejects: [],
    now: 1,
    seenTtlMs: 1000,
  });
  const reads = async (s: StateStore, sink: string): Promise<unknown[]> => {
    const out: unknown[] = [];
    for (const options of [
      { limit: 1000, maxBytes: 1 << 20 },
      { limit: 3, maxBytes: 1 << 20 },
      { limit: 1000, maxBytes: 40 },
      { afterSeq: 5, limit: 1000, maxBytes: 1 << 20 },
      { afterSeq: 12, limit: 4, maxBytes: 1 << 20 },
      { afterSeq: 0, limit: 1000, maxBytes: 1 << 20 },
    ]) {
      out.push(await s.readOutbox(sink, options));
    }
    return out;
  };

  it('are the events the database holds, through acks, prunes, duplicates and dead letters moved back', async () => {
    const s = openSqliteStore(dir);
    await s.registerSinks(['file', 'es'], 'beginning');
    await s.commitPage('t', page(10, 0));
    await s.commitPage('t', page(10, 5)); // half of it seen already: the new half follows
    await s.ack('file', 4);
    await s.ack('es', 2);
    await s.pruneOutbox();
    await s.deadLetter('es', 3, 'refused');
    await s.ack('es', 6);
    await s.retryDeadLetters('es'); // a row for es alone after the cached run
    await s.commitPage('t', page(6, 100));
    const live = { file: await reads(s, 'file'), es: await reads(s, 'es') };
    expect((live.file[0] as unknown[]).length).toBeGreaterThan(10);
    await s.close();
    const reopened = openSqliteStore(dir);
    expect({ file: await reads(reopened, 'file'), es: await reads(reopened, 'es') }).toEqual(live);
    await reopened.close();
  });
});

describe('a full disk', () => {
  it('names the state file, its stateDir, the fix and the events waiting; nothing is half-committed', async () => {
    const page = (n: number, from: number, size: number): PageCommit => ({
      pass: 'fast',
      checkpoint: { cursor: from + n },
      events: Array.from({ length: n }, (_, i) => ({
        key: `k${String(from + i)}`,
        eventId: `e${String(from + i)}`,
        json: JSON.stringify({ pad: 'x'.repeat(size) }),
      })),
      rejects: [],
      now: 100,
      seenTtlMs: 1000,
    });
    const first = openSqliteStore(dir);
    await first.registerSinks(['file'], 'beginning');
    await first.commitPage('t', page(3, 0, 10));
    await first.close();

    // max_page_count makes SQLite answer SQLITE_FULL where a full filesystem would.
    const full = openSqliteStore(dir, { maxPageCount: 1 });
    const failure = await full.commitPage('t', page(200, 3, 2000)).then(
      () => undefined,
      (error: unknown) => error,
    );
    await full.close();
    expect(failure).toBeInstanceOf(Error);
    const error = failure as Error & { cause?: { code?: string } };
    expect(error.message).toBe(
      `state database ${join(dir, DB_FILE)} cannot grow: the disk or the filesystem quota of stateDir ${dir} ` +
        'is full (SQLite: database or disk is full). Free space there, or move stateDir to a larger ' +
        'filesystem; nothing committed is lost, the work in hand is done again; the outbox holds 3 events ' +
        'waiting for an output (delivered events are pruned, which frees space inside the database file)',
    );
    expect(error.cause?.code).toBe('SQLITE_FULL');

    const after = openSqliteStore(dir);
    try {
      expect((await after.getCheckpoint('t', 'fast'))?.cursor).toBe(3);
      expect(await after.outboxDepth('file')).toBe(3);
    } finally {
      await after.close();
    }
  });
});
