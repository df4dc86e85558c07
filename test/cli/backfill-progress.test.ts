/**
 * Backfill progress: the ETA arithmetic of src/observe/progress.ts (the budget term must show: a
 * backfill bounded by `requestsPer5Min` is not done when elapsed time alone says so), then the
 * built CLI against the emulator — one JSON line per window when stderr is a pipe, a cli-progress
 * bar when it is a terminal (a pseudo-terminal from util-linux `script`, when the machine has it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectorConfigYaml } from '../../src/emulator/collector-config.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import {
  BUDGET_WINDOW_MS,
  backfillEtaMs,
  barPayload,
  budgetWaitMs,
  elapsedEtaMs,
  progressFields,
  remainingRequests,
  windowFraction,
  type ProgressSnapshot,
} from '../../src/observe/progress.js';
import { formatDuration } from '../../src/util/duration.js';
import { CLI, jsonLines } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { allSecrets, runCli, waitFor, writeConfig } from './collector-helpers.js';

const MIN = 60_000;

function snapshot(overrides: Partial<ProgressSnapshot> = {}): ProgressSnapshot {
  return {
    windowsDone: 1,
    windowsTotal: 48,
    rows: 5_000,
    requests: 2,
    elapsedMs: 10_000,
    budgetPerWindow: 90,
    budgetFree: 88,
    ...overrides,
  };
}

describe('backfill ETA', () => {
  it('is the elapsed extrapolation while the budget has room', () => {
    // 47 windows × 2 requests = 94 > 88 free: one budget window (5 min) < 470 s extrapolated.
    expect(backfillEtaMs(snapshot())).toBe(470_000);
  });

  it('is the budget time when the remaining requests exceed what the budget allows', () => {
    // 10 requests per window: 470 more, 80 free → ⌈390 / 90⌉ = 5 budget windows = 25 min,
    // against 470 s by elapsed time alone.
    const s = snapshot({ requests: 10, budgetFree: 80 });
    expect(elapsedEtaMs(1, 48, 10_000)).toBe(470_000);
    expect(remainingRequests(1, 48, 10)).toBe(470);
    expect(backfillEtaMs(s)).toBe(25 * MIN);
    expect(barPayload('contoso', s).etaText).toBe('25m 00s');
  });

  it('counts the window in progress as spent, not as a sign of what a window costs', () => {
    // 2 windows took 20 requests (10 each); the third has made 4 so far: 4 × 10 − 4 = 36 left.
    expect(remainingRequests(2, 6, 24, 4)).toBe(36);
    expect(remainingRequests(2, 6, 24)).toBe(48);
    expect(remainingRequests(2, 6, 24, 50)).toBe(0);
    expect(
      backfillEtaMs(
        snapshot({
          windowsDone: 2,
          windowsTotal: 6,
          requests: 24,
          requestsThisWindow: 4,
          budgetPerWindow: 10,
          budgetFree: 0,
        }),
      ),
    ).toBe(4 * BUDGET_WINDOW_MS);
  });

  it('adds a 429 pause to the budget time', () => {
    expect(budgetWaitMs(100, 10, 90, BUDGET_WINDOW_MS, 30_000)).toBe(30_000 + BUDGET_WINDOW_MS);
    expect(budgetWaitMs(5, 10, 90, BUDGET_WINDOW_MS, 30_000)).toBe(30_000);
    expect(budgetWaitMs(0, 0, 90, BUDGET_WINDOW_MS, 30_000)).toBe(0);
  });

  it('every requestsPer5Min requests beyond the free slots cost one 5-minute window', () => {
    expect(budgetWaitMs(90, 90, 90)).toBe(0);
    expect(budgetWaitMs(91, 90, 90)).toBe(BUDGET_WINDOW_MS);
    expect(budgetWaitMs(180, 90, 90)).toBe(BUDGET_WINDOW_MS);
    expect(budgetWaitMs(181, 90, 90)).toBe(2 * BUDGET_WINDOW_MS);
    expect(budgetWaitMs(181, 0, 90)).toBe(3 * BUDGET_WINDOW_MS);
  });

  it('is unknown before the first window, zero after the last', () => {
    expect(backfillEtaMs(snapshot({ windowsDone: 0 }))).toBeUndefined();
    expect(backfillEtaMs(snapshot({ windowsTotal: undefined }))).toBeUndefined();
    expect(backfillEtaMs(snapshot({ windowsDone: 48, requests: 500, budgetFree: 0 }))).toBe(0);
    expect(barPayload('contoso', snapshot({ windowsDone: 0 }))).toMatchObject({
      windows: '0/48',
      etaText: '…',
    });
    // Counted nouns: never "1 requests".
    expect(barPayload('contoso', snapshot({ rows: 1, requests: 1 }))).toMatchObject({
      rows: '1 row',
      requests: '1 request',
    });
  });

  it('never undercuts either bound, and is exactly the larger one (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 0, max: 6 * 3_600_000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        (done, more, requests, elapsedMs, perWindow, free) => {
          const total = done + more;
          const s = snapshot({
            windowsDone: done,
            windowsTotal: total,
            requests,
            elapsedMs,
            budgetPerWindow: perWindow,
            budgetFree: Math.min(free, perWindow),
          });
          const eta = backfillEtaMs(s) ?? Number.NaN;
          const byElapsed = (elapsedMs / done) * more;
          const needed = Math.ceil((requests / done) * more);
          const beyond = needed - Math.min(free, perWindow);
          // The rule restated independently: every perWindow requests past the free slots wait
          // one whole budget window.
          const byBudget = needed > 0 && beyond > 0 ? Math.ceil(beyond / perWindow) * BUDGET_WINDOW_MS : 0;
          expect(eta).toBeGreaterThanOrEqual(byElapsed);
          expect(eta).toBeGreaterThanOrEqual(byBudget);
          expect(eta).toBe(Math.max(byElapsed, byBudget));
        },
      ),
    );
  });

  it('grows with the requests per window even when the windows come fast (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 20 }), (done, left) => {
        const base = { windowsDone: done, windowsTotal: done + left, elapsedMs: 1_000, budgetFree: 0 };
        const light = backfillEtaMs(snapshot({ ...base, requests: done })) ?? 0;
        const heavy = backfillEtaMs(snapshot({ ...base, requests: done * 200 })) ?? 0;
        // 200 requests a window left: over 2 budget windows each, whatever the elapsed time says.
        expect(heavy).toBeGreaterThanOrEqual(left * 2 * BUDGET_WINDOW_MS);
        expect(heavy).toBeGreaterThan(light);
      }),
    );
  });
});

describe('progress display', () => {
  it('formats durations as the bar shows them, rounded up', () => {
    expect(formatDuration(undefined)).toBe('…');
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(1)).toBe('1s');
    expect(formatDuration(45_000)).toBe('45s');
    expect(formatDuration(370_000)).toBe('6m 10s');
    expect(formatDuration(2 * 3_600_000 + 5 * MIN)).toBe('2h 05m');
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe('3d 04h');
  });

  it('bar payload and JSON fields carry windows, rows, requests and the ETA', () => {
    const s = snapshot({
      windowsDone: 12,
      rows: 183_201,
      requests: 41,
      elapsedMs: 12 * 10_000,
      budgetFree: 49,
    });
    expect(barPayload('contoso', s)).toEqual({
      tenant: 'contoso',
      windows: '12/48',
      rows: '183,201 rows',
      requests: '41 requests',
      etaText: '6m 00s',
    });
    expect(progressFields('contoso', s)).toEqual({
      tenant: 'contoso',
      windows: 12,
      windowsTotal: 48,
      rows: 183_201,
      requests: 41,
      etaSeconds: 360,
      eta: '6m 00s',
    });
  });
});

describe('progress within a window', () => {
  const DAY = 86_400_000;
  const window = { from: 0, to: 10 * DAY, pages: 3, rows: 15_000, oldest: 6 * DAY };

  it('the in-window fraction is the part covered, newest first', () => {
    expect(windowFraction(window)).toBe(0.4);
    expect(windowFraction({ from: 0, to: 10 * DAY, pages: 1, rows: 0 })).toBe(0);
    expect(windowFraction(undefined)).toBe(0);
    expect(windowFraction({ ...window, oldest: -DAY })).toBe(1);
  });

  it('gives an ETA before the first window is done, from the part covered', () => {
    // 0.4 of window 1 of 5 in 40 s: 4.6 windows left at 100 s each; 3 requests per 0.4 window →
    // ⌈7.5 × 4.6⌉ = 35 more, within the 88 free.
    const s = snapshot({ windowsDone: 0, windowsTotal: 5, requests: 3, elapsedMs: 40_000, window });
    expect(backfillEtaMs(snapshot({ windowsDone: 0, windowsTotal: 5 }))).toBeUndefined();
    expect(backfillEtaMs(s)).toBeCloseTo(460_000, 6);
    // The budget bounds it as after whole windows: 35 requests, none free, 10 per 5 minutes.
    expect(backfillEtaMs({ ...s, budgetFree: 0, budgetPerWindow: 10 })).toBe(4 * BUDGET_WINDOW_MS);
  });

  it('bar and JSON fields carry the window count, the pages, rows and time covered of the window', () => {
    const s = snapshot({
      windowsDone: 0,
      windowsTotal: 5,
      requests: 3,
      rows: 15_000,
      elapsedMs: 40_000,
      window,
    });
    expect(barPayload('contoso', s)).toMatchObject({
      windows: '0/5',
      inWindow: ' | window: 3 pages, 15,000 rows, 4d 00h of 10d 00h',
    });
    expect(progressFields('contoso', s)).toMatchObject({
      windows: 0,
      windowsTotal: 5,
      windowPages: 3,
      windowRows: 15_000,
      windowFrom: new Date(0).toISOString(),
      windowTo: new Date(10 * DAY).toISOString(),
      coveredFrom: new Date(6 * DAY).toISOString(),
      windowCovered: 0.4,
      etaSeconds: 460,
    });
  });
});

describe('exotrace backfill progress (built CLI, emulator)', () => {
  let emulator: Emulator;
  let folder: string;
  let secrets: string[];

  beforeAll(async () => {
    folder = mkdtempSync(path.join(tmpdir(), 'exotrace-backfill-progress-'));
    emulator = await startEmulator({ tenants: 1, messagesPerDay: 60, seed: 11, throttle: { limit: 1000 } });
    emulator.clock.set(Date.now() + 10 * MIN);
    emulator.clock.freeze(true);
    secrets = allSecrets(emulator);
  });

  afterAll(async () => {
    await emulator.close();
  });

  const noSecret = (text: string): void => {
    for (const secret of secrets) expect(text.includes(secret), 'a client secret printed').toBe(false);
  };

  it('not a terminal: one JSON line per window with windows, rows, requests and the ETA', async () => {
    const config = writeConfig(emulator, path.join(folder, 'pipe'), ['contoso']);
    // 60 days in 10-day windows: 6 (or 7 when the start is not on a whole second) windows.
    const result = await runCli(['backfill', '--config', config, '--tenant', 'contoso', '--from', '60d']);
    noSecret(result.stdout + result.stderr);
    expect(result.code).toBe(0);
    const lines = jsonLines(result.stderr) as Record<string, unknown>[];
    const progress = lines.filter((l) => l.msg === 'backfill progress');
    expect(progress.length).toBeGreaterThanOrEqual(6);
    const total = progress[0]?.windowsTotal;
    expect(progress.map((l) => l.windows)).toEqual(progress.map((_, i) => i + 1));
    let lastRows = 0;
    let lastRequests = 0;
    for (const line of progress) {
      expect(line).toMatchObject({ tenant: 'contoso', windowsTotal: total });
      expect(line.rows).toBeGreaterThanOrEqual(lastRows);
      expect(line.requests).toBeGreaterThan(lastRequests);
      expect(line.etaSeconds).toEqual(expect.any(Number));
      expect(line.eta).toEqual(expect.any(String));
      lastRows = line.rows as number;
      lastRequests = line.requests as number;
    }
    expect(progress.at(-1)).toMatchObject({ windows: total, etaSeconds: 0, eta: '0s' });
    const done = lines.find((l) => l.msg === 'backfill done');
    expect(done?.rows).toBe(lastRows);
    expect(lastRows).toBeGreaterThan(1_000);
  });

  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

  /** The CLI in a pseudo-terminal from `script`, which copies the terminal to its stdout. */
  function inTerminal(args: readonly string[]): {
    output: () => string;
    type: (text: string) => void;
    done: Promise<number | null>;
  } {
    const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
    const command = [process.execPath, CLI, ...args].map(quote).join(' ');
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
      cwd: REPO_ROOT,
      env: { ...process.env, TERM: 'xterm', COLUMNS: '160' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const done = new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    return {
      output: () => out,
      // Typed at the terminal: ^C becomes a SIGINT of the CLI, as for a user.
      type: (text) => child.stdin.write(text),
      done: done.finally(() => child.stdin.destroy()),
    };
  }

  // Each redraw starts with an escape sequence: a line break in its place keeps redraws apart.
  // eslint-disable-next-line no-control-regex
  const plainOf = (out: string): string => out.replace(/\x1b(?:\[[0-9;?]*[A-Za-z]|[78])/g, '\n');
  const BAR =
    /backfill contoso \[([█░]+)\] (\d+)\/(\d+|\?) windows \| ([\d,]+) rows \| ([\d,]+) requests \| ETA (\S+(?: \S+)?)/g;

  it.skipIf(!hasScript)(
    'on a terminal: a bar on stderr, its last state complete, the cursor restored',
    async () => {
      const config = writeConfig(emulator, path.join(folder, 'tty'), ['contoso']);
      const run = inTerminal(['backfill', '--config', config, '--tenant', 'contoso', '--from', '60d']);
      const code = await run.done;
      const out = run.output();
      noSecret(out);
      expect(code, out).toBe(0);
      const plain = plainOf(out);
      const bars = [...plain.matchAll(BAR)];
      expect(bars.length, plain).toBeGreaterThan(0);
      const last = bars.at(-1);
      expect(last?.[1]).toMatch(/^█+$/);
      expect(last?.[2]).toBe(last?.[3]);
      expect(last?.[6]).toBe('0s');
      // No per-window JSON line on a terminal, and the cursor hidden by the bar is shown again.
      expect(plain).not.toContain('backfill progress');
      // The log line after the bar: pretty on a terminal (log.format auto).
      expect(plain).toMatch(/ETA 0s\s*\r?\n\[[\d:.]+\]\s*INFO\s*:\s*backfill done/);
      expect(out.lastIndexOf('\x1b[?25h')).toBeGreaterThan(out.lastIndexOf('\x1b[?25l'));
    },
  );

  it.skipIf(!hasScript)(
    'on a terminal, held by the budget: the ETA counts the budget windows; ^C stops the bar cleanly',
    async () => {
      // 2 requests per 5 minutes, about one request per window: after the first windows the rest
      // need minutes of budget, however fast the emulator answers.
      // The config written directly: writeConfig's extra keys are letters only.
      const dir = path.join(folder, 'tty-budget');
      mkdirSync(dir, { recursive: true });
      const config = path.join(dir, 'exotrace.yaml');
      writeFileSync(
        config,
        collectorConfigYaml(emulator, {
          tenants: ['contoso'],
          tenantSettings: { contoso: { minAge: '5m', requestsPer5Min: '2' } },
        }),
      );
      const run = inTerminal(['backfill', '--config', config, '--tenant', 'contoso', '--from', '60d']);
      const held = (): RegExpExecArray[] =>
        [...plainOf(run.output()).matchAll(BAR)].filter((m) => m[2] !== '0' && /m/.test(m[6] ?? ''));
      try {
        await waitFor(() => held().length > 0, 20_000, 'a bar with an ETA in minutes');
      } finally {
        run.type('\x03');
      }
      const code = await run.done;
      const out = run.output();
      noSecret(out);
      const minutes = Number(/^(\d+)m/.exec(held()[0]?.[6] ?? '')?.[1]);
      // At least one full budget window still to wait: the elapsed time alone says a second.
      expect(minutes).toBeGreaterThanOrEqual(5);
      // Stopped, not failed: 128 + SIGINT, and a line that says how to resume.
      expect(code).toBe(130);
      const plain = plainOf(out);
      // The bar's line is ended before the stop is logged (the terminal may echo ^C between),
      // and the cursor is shown again.
      expect(plain).toMatch(
        /ETA \S+(?: \S+)?\s*(?:\^C\s*)?\r?\n\[[\d:.]+\]\s*WARN\s*:\s*backfill stopped; run the same command again/,
      );
      expect(out.lastIndexOf('\x1b[?25h')).toBeGreaterThan(out.lastIndexOf('\x1b[?25l'));
    },
  );
});

describe('exotrace backfill progress within a window (built CLI, emulator)', () => {
  let emulator: Emulator;
  let folder: string;

  beforeAll(async () => {
    folder = mkdtempSync(path.join(tmpdir(), 'exotrace-backfill-window-'));
    // Enough rows that a 10-day window takes several pages of 5,000.
    emulator = await startEmulator({ tenants: 1, messagesPerDay: 1500, seed: 12, throttle: { limit: 1000 } });
    emulator.clock.set(Date.now() + 10 * MIN);
    emulator.clock.freeze(true);
  });

  afterAll(async () => {
    await emulator.close();
  });

  it('not a terminal: before the first window completes, a line with the window count, pages, rows and time covered', async () => {
    const config = writeConfig(emulator, path.join(folder, 'pipe'), ['contoso']);
    const result = await runCli(['backfill', '--config', config, '--tenant', 'contoso', '--from', '20d']);
    for (const secret of allSecrets(emulator)) expect(result.stderr.includes(secret)).toBe(false);
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stderr) as Record<string, unknown>[];
    const firstWindowDone = lines.findIndex((l) => l.msg === 'backfill progress');
    expect(firstWindowDone).toBeGreaterThan(0);
    const total = lines[firstWindowDone]?.windowsTotal;
    expect(total).toEqual(expect.any(Number));
    const inFirst = lines.slice(0, firstWindowDone).filter((l) => l.msg === 'backfill window progress');
    expect(inFirst.length, result.stderr).toBeGreaterThan(0);
    const first = inFirst[0] ?? {};
    expect(first).toMatchObject({ tenant: 'contoso', windows: 0, windowsTotal: total, windowPages: 1 });
    expect(first.windowRows).toBe(first.rows);
    expect(first.windowRows).toBeGreaterThan(0);
    // Newest first: what is covered runs from the oldest row seen to the window's end.
    const from = Date.parse(String(first.windowFrom));
    const to = Date.parse(String(first.windowTo));
    const covered = Date.parse(String(first.coveredFrom));
    expect(covered).toBeGreaterThan(from);
    expect(covered).toBeLessThan(to);
    expect(first.windowCovered).toBeGreaterThan(0);
    expect(first.windowCovered).toBeLessThan(1);
    // An ETA from the part covered, not `…` for the whole first window.
    expect(first.etaSeconds).toEqual(expect.any(Number));
    expect(first.eta).not.toBe('…');
    // The window's own line still comes once it is done, with every row of its pages.
    expect(lines[firstWindowDone]).toMatchObject({ windows: 1, windowsTotal: total });
    expect(lines[firstWindowDone]?.windowPages).toBeUndefined();
  });
});
