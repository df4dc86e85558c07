/**
 * Crash safety (issue 4, "Tests that must exist"): the built CLI (`exotrace run --once`) is killed
 * with SIGKILL at 20 or more random points across a multi-page run and restarted each time, then
 * run to completion. The kills are landed by progress, never by time (a busy machine only makes
 * the runs slower): at once, after the emulator served the token or the n-th page of this run, or
 * once the output file grew by some bytes (between a write and its acknowledgement). The file output must then equal the emulator's ground truth exactly: every
 * row once, no duplicate `event.id`, no torn line, and the outbox fully acknowledged.
 *
 * The emulator runs in this process with a frozen clock; the child's `Date.now` is pinned to the
 * same instant (a `--import` of a data: URL), so that every restart computes the same windows and
 * the ground truth is one fixed set.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groundTruthKeys } from '../helpers/emulator-control.js';
import { collectorConfigYaml } from '../../src/emulator/collector-config.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import { createRandom } from '../../src/emulator/data/prng.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const HOUR = 3_600_000;
const START = NOW - 48 * HOUR;
const MIN_AGE = 5 * 60_000;
const KILLS = 20;
/** Bound of the kill loop: attempts (a run may finish before its kill lands). */
const MAX_ATTEMPTS = 60;
/** How often a kill's condition is looked at while the child runs. */
const POLL_MS = 2;
const SEED = 0x5eed_c0de;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'dist/cli/main.js');
/** Pins the child's clock to the emulator's frozen instant. */
const FROZEN_CLOCK = `data:text/javascript,Date.now=()=>${NOW};`;

let emulator: Emulator;
let folder: string;

/** A config in its own folder (state in ./state, output in ./events.ndjson); returns its path. */
function writeConfig(name: string): string {
  const dir = path.join(folder, name);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'exotrace.yaml');
  writeFileSync(
    file,
    collectorConfigYaml(emulator, { settings: { startFrom: '48h', minAge: '5m', reconcileLookback: '6h' } }),
  );
  return file;
}

interface RunResult {
  /** Exit code, or null when killed. */
  readonly code: number | null;
  readonly killed: boolean;
  readonly ms: number;
  readonly stderr: string;
}

/**
 * Runs `exotrace run --config FILE --once`; SIGKILLs it as soon as `killWhen` holds (looked at
 * from the spawn on, every few ms), if it is still running then. `killWhen` = 'now' kills at once.
 */
function runCli(config: string, killWhen?: 'now' | (() => boolean)): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      ['--import', FROZEN_CLOCK, CLI, 'run', '--config', config, '--once'],
      {
        cwd: path.dirname(config),
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    let killed = false;
    if (killWhen === 'now') killed = child.kill('SIGKILL');
    const watcher =
      killWhen === undefined || killWhen === 'now'
        ? undefined
        : setInterval(() => {
            if (!killed && child.exitCode === null && killWhen()) killed = child.kill('SIGKILL');
          }, POLL_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(watcher);
      resolve({ code, killed: killed && signal === 'SIGKILL', ms: performance.now() - started, stderr });
    });
  });
}

/** Responses the emulator completed so far: tokens and message trace pages (any status). */
function served(): { tokens: number; pages: number } {
  let tokens = 0;
  let pages = 0;
  for (const byApi of Object.values(emulator.stats.snapshot())) {
    for (const [api, byStatus] of Object.entries(byApi)) {
      const n = Object.values(byStatus).reduce((sum, count) => sum + count, 0);
      if (api === 'token') tokens += n;
      if (api === 'graph-list') pages += n;
    }
  }
  return { tokens, pages };
}

interface EventLine {
  event: { id: string; action: string };
  office365: { message_trace: { MessageTraceId: string } };
  email: { to?: { address: string[] } };
}

const keyOf = (e: EventLine): string =>
  `${e.office365.message_trace.MessageTraceId}|${(e.email.to?.address[0] ?? '').toLowerCase()}|${e.event.action}`;

function groundTruth(): Promise<string[]> {
  const tenant = emulator.tenants()[0]?.name ?? '';
  return groundTruthKeys(emulator, tenant, START, NOW - MIN_AGE, NOW);
}

function fileSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

/** The byte offset the file output has acknowledged in the state (0 before the first ack). */
async function ackedOffset(stateDir: string): Promise<number> {
  if (!existsSync(stateDir)) return 0;
  const store = openSqliteStore(stateDir);
  try {
    const meta = (await store.listSinks())[0]?.meta;
    return meta === undefined ? 0 : ((JSON.parse(meta) as { offset?: number }).offset ?? 0);
  } finally {
    await store.close();
  }
}

/** Counts of each key. */
function multiset(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

/** Keys whose count differs, with both counts (a few, for a readable failure). */
function difference(got: Map<string, number>, want: Map<string, number>): string[] {
  const out: string[] = [];
  for (const key of new Set([...got.keys(), ...want.keys()])) {
    const g = got.get(key) ?? 0;
    const w = want.get(key) ?? 0;
    if (g !== w) out.push(`${key}: file ${g}, truth ${w}`);
  }
  return out;
}

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-crash-'));
  // 16,000 messages a day over 48 h (about 90,000 rows, one per recipient): some 18 pages of
  // 5,000 rows for the fast pass alone, and a few more for the reconcile pass.
  emulator = await startEmulator({
    tenants: 1,
    messagesPerDay: 16_000,
    seed: 11,
    throttle: { limit: 100_000 },
  });
  emulator.clock.set(NOW);
  emulator.clock.freeze(true);
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
});
afterAll(async () => {
  await emulator.close();
  rmSync(folder, { recursive: true, force: true });
});

describe('exotrace run --once under SIGKILL', () => {
  it('killed at 20+ random points and restarted, the file output equals the ground truth exactly', async () => {
    const truth = await groundTruth();
    // Enough rows for many pages ($top=5000) in the fast pass and more in the reconcile pass.
    expect(truth.length).toBeGreaterThan(10 * 5000);

    // One clean run elsewhere: how many bytes a whole run writes, to size the kills by growth.
    const clean = await runCli(writeConfig('clean'));
    expect(clean.code, clean.stderr).toBe(0);
    const cleanBytes = fileSize(path.join(folder, 'clean', 'events.ndjson'));
    expect(cleanBytes).toBeGreaterThan(0);

    const config = writeConfig('crash');
    const dir = path.dirname(config);
    const output = path.join(dir, 'events.ndjson');
    const random = createRandom(SEED);
    const loopStarted = performance.now();
    /** What ended each killed run, with the file size and acknowledged offset it left. */
    const after: { trigger: string; size: number; acked: number }[] = [];
    let attempts = 0;
    while (after.length < KILLS && attempts < MAX_ATTEMPTS) {
      attempts++;
      // Each kill waits for a point of progress of its own run, drawn at random: start-up (at
      // once: nothing written yet is a point to prove too), a token or the n-th page served
      // (a page fetched, maybe being normalized or committed), or the file output grown by up
      // to a twentieth of a whole run (a page being written, or written and not acknowledged).
      // Each restart gets a little further, so the kills walk the whole run.
      const base = served();
      const sizeAtStart = fileSize(output);
      const draw = random();
      let trigger: string;
      let killWhen: 'now' | (() => boolean);
      if (attempts === 1 || draw < 0.1) {
        trigger = 'start-up';
        killWhen = 'now';
      } else if (draw < 0.2) {
        trigger = 'token served';
        killWhen = () => served().tokens > base.tokens;
      } else if (draw < 0.55) {
        const nth = 1 + Math.floor(random() * 4);
        trigger = `page ${nth} served`;
        killWhen = () => served().pages >= base.pages + nth;
      } else {
        const growth = 1 + Math.floor((random() * cleanBytes) / 20);
        trigger = `output grown by ${growth} bytes`;
        killWhen = () => fileSize(output) >= sizeAtStart + growth;
      }
      const result = await runCli(config, killWhen);
      if (!result.killed) {
        // Finished before its kill: that must have been a clean exit.
        expect(result.code, result.stderr).toBe(0);
        continue;
      }
      after.push({ trigger, size: fileSize(output), acked: await ackedOffset(path.join(dir, 'state')) });
    }
    const kills = after.length;
    expect(kills, `only ${kills} kills in ${attempts} attempts`).toBeGreaterThanOrEqual(KILLS);
    // The kills landed across the run: some before anything was written, some after output grew.
    expect(after.some((k) => k.size === 0)).toBe(true);
    expect(after.some((k) => k.size > 0)).toBe(true);
    expect(new Set(after.map((k) => k.size)).size).toBeGreaterThan(2);
    const torn = after.filter((k) => k.size > k.acked).length;

    const final = await runCli(config);
    expect(final.code, final.stderr).toBe(0);

    // Every line parses (no torn line) and the file ends with a newline.
    const text = readFileSync(output, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    const events = lines.map((line, i) => {
      try {
        return JSON.parse(line) as EventLine;
      } catch {
        throw new Error(`line ${i + 1} of ${output} does not parse: ${line.slice(0, 200)}`);
      }
    });

    // No duplicate event.id.
    const ids = new Set(events.map((e) => e.event.id));
    expect(events.length - ids.size, 'duplicate event.id').toBe(0);

    // The multiset of (trace id, recipient, status) equals the ground truth.
    const diff = difference(multiset(events.map(keyOf)), multiset(truth));
    expect(diff.slice(0, 10), `${diff.length} keys differ`).toEqual([]);
    expect(events.length).toBe(truth.length);

    // The state: every outbox event acknowledged by the file output, at the file's end.
    const store = openSqliteStore(path.join(dir, 'state'));
    try {
      const head = await store.outboxHead();
      expect(head).toBe(truth.length);
      const sinks = await store.listSinks();
      expect(sinks.map((s) => s.name)).toEqual(['file']);
      for (const sink of sinks) {
        expect(sink.ackedSeq).toBe(head);
        expect(await store.outboxDepth(sink.name)).toBe(0);
        expect((JSON.parse(sink.meta ?? '{}') as { offset?: number }).offset).toBe(
          Buffer.byteLength(text, 'utf8'),
        );
      }
    } finally {
      await store.close();
    }
    console.log(
      `crash test: ${kills} kills (${torn} left an unacknowledged tail) in ${attempts} runs, ` +
        `clean run ${cleanBytes} bytes, loop ${Math.round(performance.now() - loopStarted)} ms, ` +
        `${events.length} events`,
    );
  }, 600_000);
});
