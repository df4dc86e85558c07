/**
 * The file output as a user meets it: the built `exotrace` spawned against the emulator, the output
 * file touched between runs the way people touch files (an editor or `sed -i` writes a new file and
 * renames it over the old one; a backup is restored; the state is deleted). Whatever happens to the
 * file, exotrace never destroys what it holds, and says on stderr what it did and why.
 */
import {
  appendFileSync,
  cpSync,
  existsSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { readEvents, runCli, writeConfig } from './collector-helpers.js';

let emulator: Emulator;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-cli-file-'));
  emulator = await startEmulator({ tenants: 1, messagesPerDay: 200, seed: 11, throttle: { limit: 1000 } });
  // Frozen ahead of the wall clock: a second run finds nothing new (every row already seen).
  emulator.clock.set(Date.now() + 10 * 60_000);
  emulator.clock.freeze(true);
});

afterAll(async () => {
  await emulator.close();
  rmSync(folder, { recursive: true, force: true });
});

/** The JSON log lines of a run's stderr. */
function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A fresh folder with a config whose file output is `events.ndjson` there. */
function setup(name: string): { config: string; events: string; dir: string } {
  const dir = path.join(folder, name);
  const config = writeConfig(emulator, dir, [emulator.tenants()[0]?.name ?? 'contoso']);
  return { config, events: path.join(dir, 'events.ndjson'), dir };
}

/** What `sed -i` does: the edited text written to a new file, renamed over the original. */
function editInPlace(file: string, edit: (text: string) => string): string {
  const edited = edit(readFileSync(file, 'utf8'));
  const temp = `${file}.sedtmp`;
  writeFileSync(temp, edited);
  renameSync(temp, file);
  return edited;
}

describe('file output notices reach the log', () => {
  it('appending after content already in the file is a warning on stderr naming the file', async () => {
    const { config, events } = setup('notice');
    writeFileSync(events, 'a line that was there before\n');
    const result = await runCli(['run', '--config', config, '--once']);
    expect(result.code, result.stderr).toBe(0);
    const warning = logLines(result.stderr).find(
      (l) => typeof l.msg === 'string' && l.msg.includes('appending after 29 bytes already in'),
    );
    expect(warning, result.stderr).toBeDefined();
    expect(warning?.level).toBe('warn');
    expect(warning?.output).toBe('file');
    expect(String(warning?.msg)).toContain(events);
  });
});

describe('a file replaced between runs (new inode) is never cut', () => {
  it('sed -i on the output: the edited file is kept whole beside it, a warning says where', async () => {
    const { config, events, dir } = setup('sed');
    const first = await runCli(['run', '--config', config, '--once']);
    expect(first.code, first.stderr).toBe(0);
    const lines = readEvents(events).length;
    expect(lines).toBeGreaterThan(20);
    // The user drops the first line with `sed -i 1d`.
    const edited = editInPlace(events, (text) => text.slice(text.indexOf('\n') + 1));

    const second = await runCli(['run', '--config', config, '--once']);
    expect(second.code, second.stderr).toBe(0);
    const kept = readdirSync(dir).filter((f) => f.startsWith('events.ndjson.kept-'));
    expect(kept).toHaveLength(1);
    expect(readFileSync(path.join(dir, kept[0] ?? ''), 'utf8')).toBe(edited);
    const warning = logLines(second.stderr).find((l) => l.notice === 'replaced');
    expect(warning, second.stderr).toBeDefined();
    expect(warning?.level).toBe('warn');
    expect(String(warning?.msg)).toContain(events);
    expect(String(warning?.msg)).toContain(kept[0]);
    // Nothing new to collect: the new file at the path is empty, and stays ours.
    expect(existsSync(events) ? statSync(events).size : 0).toBe(0);
  });
});

describe('a lost state beside a file output that holds data', () => {
  for (const [how, lose] of [
    [
      'deleted',
      (state: string) => {
        rmSync(state, { recursive: true, force: true });
      },
    ],
    [
      'emptied to 0 bytes',
      (state: string) => {
        writeFileSync(path.join(state, 'exotrace.db'), '');
      },
    ],
  ] as const) {
    it(`state ${how}: exit 2 with the fix, no second copy appended`, async () => {
      const { config, events, dir } = setup(`lost-${how.split(' ')[0] ?? ''}`);
      const first = await runCli(['run', '--config', config, '--once']);
      expect(first.code, first.stderr).toBe(0);
      const before = readFileSync(events, 'utf8');
      expect(readEvents(events).length).toBeGreaterThan(20);
      lose(path.join(dir, 'state'));

      const second = await runCli(['run', '--config', config, '--once']);
      expect(second.code, second.stderr).toBe(2);
      expect(second.stderr).toContain(
        `${events} holds ${Buffer.byteLength(before)} bytes written from another state`,
      );
      expect(second.stderr).toContain(`move ${events} away`);
      expect(readFileSync(events, 'utf8')).toBe(before);
    });
  }
});

describe('a state restored from a backup older than the file output', () => {
  it('the events written after the backup are kept whole beside the file, never cut, and said', async () => {
    const { config, events, dir } = setup('restored');
    const tenantName = emulator.tenants()[0]?.name ?? 'contoso';
    const first = await runCli(['run', '--config', config, '--once']);
    expect(first.code, first.stderr).toBe(0);
    const collected = readEvents(events).length;
    const state = path.join(dir, 'state');
    cpSync(state, `${state}.bak`, { recursive: true });
    const backfill = await runCli(['backfill', '--config', config, '--tenant', tenantName, '--from', '2d']);
    expect(backfill.code, backfill.stderr).toBe(0);
    const written = readFileSync(events, 'utf8');
    expect(readEvents(events).length).toBeGreaterThan(collected);
    // The state is restored from its backup; the output file is not.
    rmSync(state, { recursive: true, force: true });
    cpSync(`${state}.bak`, state, { recursive: true });

    const again = await runCli(['run', '--config', config, '--once']);
    expect(again.code, again.stderr).toBe(0);
    const kept = readdirSync(dir).filter((f) => f.startsWith('events.ndjson.kept-'));
    expect(kept).toHaveLength(1);
    // Everything the backfill delivered is still there, byte for byte.
    expect(readFileSync(path.join(dir, kept[0] ?? ''), 'utf8')).toBe(written);
    const warning = logLines(again.stderr).find((l) => l.notice === 'replaced');
    expect(warning, again.stderr).toBeDefined();
    expect(warning?.level).toBe('warn');
    expect(String(warning?.msg)).toContain(events);
    expect(String(warning?.msg)).toContain(kept[0]);
    expect(again.stderr).not.toContain('they are delivered again');
  });
});

describe('bytes appended to the output file while the collector is stopped', () => {
  it('cat >> on the output: nothing is cut, the file is kept whole beside it, a warning says where', async () => {
    const { config, events, dir } = setup('appended');
    const first = await runCli(['run', '--config', config, '--once']);
    expect(first.code, first.stderr).toBe(0);
    expect(readEvents(events).length).toBeGreaterThan(20);
    appendFileSync(events, readFileSync(events, 'utf8'));
    const merged = readFileSync(events, 'utf8');

    const second = await runCli(['run', '--config', config, '--once']);
    expect(second.code, second.stderr).toBe(0);
    const kept = readdirSync(dir).filter((f) => f.startsWith('events.ndjson.kept-'));
    expect(kept).toHaveLength(1);
    expect(readFileSync(path.join(dir, kept[0] ?? ''), 'utf8')).toBe(merged);
    const warning = logLines(second.stderr).find((l) => l.notice === 'replaced');
    expect(warning, second.stderr).toBeDefined();
    expect(String(warning?.msg)).toContain(kept[0]);
    expect(second.stderr).not.toContain('they are delivered again');
  });
});

describe('a new state beside outputs that cannot tell', () => {
  const NEW_STATE = 'a new state was created at';

  it('run and backfill warn once at start when the state is made new and an output is not a file', async () => {
    const fileOnly = setup('new-state-file');
    const quiet = await runCli(['run', '--config', fileOnly.config, '--once']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toContain(NEW_STATE);

    const { config, dir } = setup('new-state-stdout');
    writeFileSync(
      config,
      readFileSync(config, 'utf8').replace(/outputs:\n[\s\S]*$/, 'outputs:\n  - type: stdout\n'),
    );
    const state = path.join(dir, 'state');
    const warned = (stderr: string): Record<string, unknown>[] =>
      logLines(stderr).filter((l) => String(l.msg).includes(NEW_STATE));

    const first = await runCli(['run', '--config', config, '--once']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.split('\n').length).toBeGreaterThan(20);
    expect(warned(first.stderr)).toHaveLength(1);
    const again = await runCli(['run', '--config', config, '--once']);
    expect(again.code, again.stderr).toBe(0);
    expect(warned(again.stderr)).toHaveLength(0);

    rmSync(state, { recursive: true, force: true });
    const lost = await runCli(['run', '--config', config, '--once']);
    expect(lost.code, lost.stderr).toBe(0);
    const [warning] = warned(lost.stderr);
    expect(warning, lost.stderr).toBeDefined();
    expect(warning?.level).toBe('warn');
    expect(String(warning?.msg)).toContain(`${NEW_STATE} ${state}`);
    expect(String(warning?.msg)).toContain('stdout');
    expect(String(warning?.msg)).toContain('only the file output can detect it');

    writeFileSync(path.join(state, 'exotrace.db'), '');
    const tenantName = emulator.tenants()[0]?.name ?? 'contoso';
    const backfill = await runCli(['backfill', '--config', config, '--tenant', tenantName, '--from', '2d']);
    expect(backfill.code, backfill.stderr).toBe(0);
    expect(warned(backfill.stderr)).toHaveLength(1);
  });
});
