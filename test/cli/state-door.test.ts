/**
 * `exotrace status` and `deadletter` read the state through its door (src/state/index.ts) and
 * decide by the state's closed error codes, never by SQLite's: a state status may not write, one
 * another process holds, the wording of each code status explains, a state file that is not one.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { unreadable } from '../../src/cli/status.js';
import { StateStoreError, openStateStore } from '../../src/state/index.js';
import { runCli } from '../helpers/cli.js';
import { tenantYaml } from '../config/helpers.js';

const RUN_AS_COLLECTOR = 'run status as the user the collector runs as';
const RESTORE = 'restore it from a backup, or move it away to start over';

let dir: string;
let config: string;
let stateDir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'exotrace-status-door-'));
  config = path.join(dir, 'exotrace.yaml');
  stateDir = path.join(dir, 'state');
  writeFileSync(config, `stateDir: ./state\n${tenantYaml()}\noutputs:\n  - type: stdout\n`);
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('status explains each closed code', () => {
  const file = '/var/lib/exotrace/exotrace.db';

  it('read_only, permission_denied, cannot_open: run it as the collector’s user', () => {
    for (const code of ['read_only', 'permission_denied', 'cannot_open'] as const) {
      const error = new StateStoreError('attempt to write a readonly database', { code });
      expect(unreadable(file, error)).toBe(
        `cannot read the state ${file}: attempt to write a readonly database: ${RUN_AS_COLLECTOR} (it opens the state for writing, as the collector does)`,
      );
    }
  });

  it('not_a_database, corrupt: restore or start over', () => {
    for (const code of ['not_a_database', 'corrupt'] as const) {
      expect(unreadable(file, new StateStoreError('damaged', { code }))).toContain(
        `damaged: the file is not an exotrace state database, or it is damaged; ${RESTORE}`,
      );
    }
  });

  it("the database's own words and code come from the cause, without naming them", () => {
    const cause = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_READ' });
    const error = new StateStoreError(cause.message, { code: 'io_error', cause });
    expect(unreadable(file, error)).toBe(`cannot read the state ${file}: disk I/O error (SQLITE_IOERR_READ)`);
  });

  it('the fallback code adds no hint', () => {
    expect(unreadable(file, new StateStoreError('something else', { code: 'unexpected' }))).toBe(
      `cannot read the state ${file}: something else`,
    );
  });
});

/** Makes `folder` unwritable to this process: chmod, or for root (which chmod does not stop) the immutable flag. */
function makeUnwritable(folder: string): (() => void) | undefined {
  if (process.getuid?.() !== 0) {
    chmodSync(folder, 0o500);
    return () => {
      chmodSync(folder, 0o700);
    };
  }
  try {
    execFileSync('chattr', ['+i', folder], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return () => {
    execFileSync('chattr', ['-i', folder], { stdio: 'ignore' });
  };
}

describe.skipIf(process.platform === 'win32')('status against a state it cannot use', () => {
  it('a state folder it may not write: exit 5, the file, the cause and whose user to run as', async (context) => {
    await openStateStore({ stateDir }).close();
    const restore = makeUnwritable(stateDir);
    if (restore === undefined) {
      context.skip();
      return;
    }
    try {
      const result = await runCli(['status', '--config', config]);
      expect(result.code, result.stderr).toBe(5);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(
        `exotrace status: cannot read the state ${path.join(stateDir, 'exotrace.db')}: `,
      );
      expect(result.stderr).toContain(RUN_AS_COLLECTOR);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    } finally {
      restore();
    }
  });

  it('a state another process holds, without health to ask: exit 4, saying so', async () => {
    const holder = openStateStore({ stateDir });
    try {
      const result = await runCli(['status', '--config', config]);
      expect(result.code, result.stderr).toBe(4);
      expect(result.stderr).toContain(`the state in ${stateDir} is held by a running collector`);
      expect(result.stderr).toContain('has no `health` to ask it');
    } finally {
      await holder.close();
    }
  });
});

describe('deadletter against a state it cannot use', () => {
  it('a state file that is not a database: exit 2 with what is wrong, not "stop the collector"', async () => {
    mkdirSync(stateDir);
    writeFileSync(path.join(stateDir, 'exotrace.db'), 'not a database at all '.repeat(300));
    const result = await runCli(['deadletter', 'list', '--config', config]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toBe(
      `exotrace deadletter: cannot use the state in ${stateDir}: file is not a database\n`,
    );
  });
});
