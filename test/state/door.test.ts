/**
 * The door to the state (src/state/index.ts): opening, "is there a state?", and every failure as
 * a `StateStoreError` with a code from the closed list, the database's own code kept on the cause.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  STATE_ERROR_CODES,
  StateStoreError,
  inspectState,
  openStateStore,
  stateExists,
  type StateErrorCode,
} from '../../src/state/index.js';
import { DB_FILE, SCHEMA_VERSION, openSqliteStore, sqliteStateErrorCode } from '../../src/state/sqlite.js';

let root: string;
let stateDir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'exotrace-door-'));
  stateDir = join(root, 'state');
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** What `fn` threw, as a StateStoreError (the test fails when it threw anything else). */
function thrown(fn: () => unknown): StateStoreError {
  try {
    fn();
  } catch (error) {
    expect(StateStoreError.is(error), String(error)).toBe(true);
    return error as StateStoreError;
  }
  throw new Error('nothing was thrown');
}

async function rejected(promise: Promise<unknown>): Promise<StateStoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(StateStoreError.is(error), String(error)).toBe(true);
  return error as StateStoreError;
}

describe('the closed list of state error codes', () => {
  it("maps SQLite's primary and extended codes, and the system's, to the list", () => {
    const cases: [string, StateErrorCode][] = [
      ['SQLITE_BUSY', 'busy'],
      ['SQLITE_BUSY_SNAPSHOT', 'busy'],
      ['SQLITE_LOCKED', 'locked'],
      ['SQLITE_LOCKED_SHAREDCACHE', 'locked'],
      ['SQLITE_FULL', 'full'],
      ['SQLITE_READONLY', 'read_only'],
      ['SQLITE_READONLY_DBMOVED', 'read_only'],
      ['SQLITE_CANTOPEN', 'cannot_open'],
      ['SQLITE_NOTADB', 'not_a_database'],
      ['SQLITE_CORRUPT', 'corrupt'],
      ['SQLITE_CORRUPT_INDEX', 'corrupt'],
      ['SQLITE_IOERR_WRITE', 'io_error'],
      ['SQLITE_PERM', 'permission_denied'],
      ['EACCES', 'permission_denied'],
      ['EPERM', 'permission_denied'],
      ['EROFS', 'read_only'],
      ['ENOSPC', 'full'],
    ];
    for (const [code, expected] of cases) expect(sqliteStateErrorCode(code), code).toBe(expected);
  });

  it('maps any code it does not know to the documented fallback, unexpected', () => {
    for (const code of [
      'SQLITE_SCHEMA',
      'SQLITE_MISMATCH',
      'SQLITE_SOMETHING_NEW',
      'EWHATEVER',
      '',
      undefined,
    ]) {
      expect(sqliteStateErrorCode(code), String(code)).toBe('unexpected');
    }
    expect(STATE_ERROR_CODES).toContain('unexpected');
  });

  it('every code has a place in the list, and errors without one are misuse', () => {
    expect(new Set(STATE_ERROR_CODES).size).toBe(STATE_ERROR_CODES.length);
    expect(new StateStoreError('ack of x would go back').stateCode).toBe('misuse');
  });
});

describe('stateExists', () => {
  it('says what is missing, and creates nothing', () => {
    const none = stateExists({ stateDir });
    expect(none).toMatchObject({ exists: false, missing: 'stateDir' });
    expect(existsSync(stateDir)).toBe(false);
    mkdirSync(stateDir);
    expect(stateExists({ stateDir })).toEqual({
      exists: false,
      location: join(stateDir, DB_FILE),
      missing: 'state',
      lacking: `no ${DB_FILE}`,
    });
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('finds a state that was opened once', async () => {
    await openStateStore({ stateDir }).close();
    expect(stateExists({ stateDir })).toEqual({ exists: true, location: join(stateDir, DB_FILE) });
    expect(inspectState({ stateDir })).toEqual({ exists: true });
  });
});

describe('openStateStore failures, in closed codes', () => {
  it('a file that is not a database: not_a_database, with what SQLite said', () => {
    mkdirSync(stateDir);
    writeFileSync(join(stateDir, DB_FILE), 'not a database at all '.repeat(300));
    const error = thrown(() => openStateStore({ stateDir }));
    expect(error.stateCode).toBe('not_a_database');
    expect(error.detail).toBe('file is not a database (SQLITE_NOTADB)');
    expect((error.cause as { code?: string }).code).toBe('SQLITE_NOTADB');
  });

  it('a state another process holds: in_use, with the fix, after the lock wait', async () => {
    const holder = openStateStore({ stateDir });
    try {
      const error = thrown(() => openStateStore({ stateDir }, { lockWaitMs: 50 }));
      expect(error.stateCode).toBe('in_use');
      expect(error.message).toBe(`state directory ${stateDir} is in use by another exotrace process`);
      expect(error.fix).toMatch(/stop it first/);
    } finally {
      await holder.close();
    }
  });

  it('a state from a newer exotrace: too_new', async () => {
    await openStateStore({ stateDir }).close();
    const db = new Database(join(stateDir, DB_FILE));
    db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, 0)').run(SCHEMA_VERSION + 1);
    db.close();
    const error = thrown(() => openStateStore({ stateDir }));
    expect(error.stateCode).toBe('too_new');
    expect(error.fix).toBe('upgrade exotrace');
  });

  it.skipIf(process.platform === 'win32')(
    'a folder every user can write to, or another user owns: unsafe_location',
    () => {
      mkdirSync(stateDir);
      // Not through mkdir's mode: the umask would take the bits off.
      chmodSync(stateDir, 0o777);
      const world = thrown(() => openStateStore({ stateDir }));
      expect(world.stateCode).toBe('unsafe_location');
      if (process.getuid?.() === 0) {
        const foreign = join(root, 'foreign');
        mkdirSync(foreign, { mode: 0o700 });
        chownSync(foreign, 4242, 4242);
        expect(thrown(() => openStateStore({ stateDir: foreign })).stateCode).toBe('unsafe_location');
      }
    },
  );

  it("a full database: full, naming the file, SQLite's code on the cause", async () => {
    await openStateStore({ stateDir }).close();
    const store = openSqliteStore(stateDir, { maxPageCount: 1 });
    try {
      const error = await rejected(
        store.commitPage('t', {
          pass: 'fast',
          checkpoint: { cursor: 1 },
          events: Array.from({ length: 50 }, (_, i) => ({
            key: `k${String(i)}`,
            eventId: `e${String(i)}`,
            json: JSON.stringify({ pad: 'x'.repeat(5000) }),
          })),
          rejects: [],
          now: 1,
          seenTtlMs: 10,
        }),
      );
      expect(error.stateCode).toBe('full');
      expect(error.message).toContain(`state database ${join(stateDir, DB_FILE)} cannot grow`);
      expect((error.cause as { code?: string }).code).toBe('SQLITE_FULL');
    } finally {
      await store.close();
    }
  });

  it('a store used after close: closed', async () => {
    const store = openStateStore({ stateDir });
    await store.close();
    expect((await rejected(store.outboxHead())).stateCode).toBe('closed');
  });

  it('a misuse of the store: misuse', async () => {
    const store = openStateStore({ stateDir });
    try {
      expect((await rejected(store.ack('nobody', 1))).stateCode).toBe('misuse');
    } finally {
      await store.close();
    }
  });
});
