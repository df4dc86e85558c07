/**
 * `run`'s progress while a tenant catches up (src/observe/catch-up.ts), against the emulator over
 * HTTPS: a first run of 25 days (three windows of several pages) logs `tenant catching up` at info
 * with its counters, then `tenant caught up`; a pass shorter than `log.progressEvery` says nothing.
 * The interval runs on a clock the test moves at each committed page: nothing depends on speed.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/load.js';
import { collectorConfigYaml } from '../../src/emulator/collector-config.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import type { Logger } from '../../src/observe/log.js';
import { runCollector } from '../../src/pipeline/run.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');

let emulator: Emulator;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-catch-up-'));
  emulator = await startEmulator({ tenants: 1, messagesPerDay: 600, seed: 21, throttle: { limit: 1000 } });
  emulator.clock.set(NOW);
  emulator.clock.freeze(true);
});
afterAll(async () => {
  await emulator.close();
});

function writeConfig(name: string): Config {
  const dir = path.join(folder, name);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'exotrace.yaml');
  writeFileSync(
    file,
    collectorConfigYaml(emulator, {
      tenants: ['contoso'],
      settings: { minAge: '5m', reconcileLookback: '24h', startFrom: '25d' },
    }),
  );
  return loadConfig(file);
}

type Line = { level: string; msg: string } & Record<string, unknown>;

function capture(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}): void => {
      lines.push({ ...fields, level, msg });
    };
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

describe('run: progress while a tenant catches up', () => {
  it('a multi-window first run logs its windows, rows, requests and ETA at info, then one line when caught up', async () => {
    const config = writeConfig('first');
    const { log, lines } = capture();
    // 31 s pass at every committed page: past the 30 s default, so each page's next event says so.
    let clock = 0;
    const summary = await runCollector(config, {
      once: true,
      signal: new AbortController().signal,
      log,
      now: () => NOW,
      progressClock: () => clock,
      events: {
        onPage() {
          clock += 31_000;
        },
      },
    });
    expect(summary.failed).toBe(false);
    const fast = summary.tenants[0]?.passes.find((p) => p.pass === 'fast');
    expect(fast?.windows).toBe(3);
    expect(fast?.pages).toBeGreaterThan(3);

    const collected = lines.findIndex((l) => l.msg === 'tenant collected');
    const progress = lines.filter(
      (l, i) => l.msg === 'tenant catching up' && l.pass === 'fast' && i < collected,
    );
    expect(progress.length).toBeGreaterThanOrEqual(3);
    let last = { windows: 0, rows: 0, requests: 0, pages: 0 };
    for (const line of progress) {
      expect(line).toMatchObject({ level: 'info', tenant: 'contoso', pass: 'fast', windowsTotal: 3 });
      for (const key of ['windows', 'rows', 'requests', 'pages'] as const) {
        expect(line[key]).toBeGreaterThanOrEqual(last[key]);
      }
      expect(line.requests).toBeGreaterThanOrEqual(line.pages as number);
      expect(line.etaSeconds).toEqual(expect.any(Number));
      expect(line.eta).toEqual(expect.any(String));
      last = line as unknown as typeof last;
    }
    // Lines inside a window, before it is done, say what of it is covered.
    const inWindow = progress.find((l) => l.windowPages !== undefined);
    expect(typeof inWindow?.windows).toBe('number');
    expect(inWindow?.windowRows).toBeGreaterThan(0);
    expect(Date.parse(String(inWindow?.coveredFrom))).toBeGreaterThan(
      Date.parse(String(inWindow?.windowFrom)),
    );
    // And lines between windows name the checkpoint reached.
    expect(progress.some((l) => typeof l.collectedTo === 'string' && (l.windows as number) >= 1)).toBe(true);

    const done = lines.filter((l) => l.msg === 'tenant caught up' && l.pass === 'fast');
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({
      level: 'info',
      tenant: 'contoso',
      windows: 3,
      windowsTotal: 3,
      rows: fast?.rows,
      pages: fast?.pages,
      etaSeconds: 0,
    });
    expect(lines.indexOf(done[0] as Line)).toBeLessThan(collected);
  });

  it('the daemon catching up says so too, and its next, short cycle says nothing', async () => {
    const config = writeConfig('daemon');
    const lines: Line[] = [];
    const stop = new AbortController();
    let clock = 0;
    let cycles = 0;
    let advancing = true;
    const at =
      (level: string) =>
      (msg: string, fields: Record<string, unknown> = {}): void => {
        lines.push({ ...fields, level, msg });
        if (msg !== 'tenant collected') return;
        // The first cycle was the catch-up; the second, from its checkpoint, is a steady poll.
        cycles++;
        advancing = false;
        if (cycles === 2) stop.abort();
      };
    const run = runCollector(config, {
      once: false,
      signal: stop.signal,
      log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
      now: () => NOW,
      // A short poll: the second cycle comes at once.
      pollIntervalMs: 10,
      progressClock: () => clock,
      events: {
        onPage() {
          if (advancing) clock += 31_000;
        },
      },
    });
    const failSafe = setTimeout(() => {
      stop.abort();
    }, 120_000);
    await run.finally(() => {
      clearTimeout(failSafe);
    });
    expect(cycles).toBe(2);
    const firstCycleEnd = lines.findIndex((l) => l.msg === 'tenant collected');
    const during = lines.slice(0, firstCycleEnd);
    expect(during.filter((l) => l.msg === 'tenant catching up' && l.pass === 'fast').length).toBeGreaterThan(
      0,
    );
    expect(during.filter((l) => l.msg === 'tenant caught up' && l.pass === 'fast')).toHaveLength(1);
    const after = lines.slice(firstCycleEnd + 1);
    expect(after.filter((l) => /catching up|caught up|catch-up/.test(l.msg))).toEqual([]);
  });

  it('a pass shorter than log.progressEvery says nothing (a steady daemon stays quiet)', async () => {
    const config = writeConfig('quiet');
    const { log, lines } = capture();
    const summary = await runCollector(config, {
      once: true,
      signal: new AbortController().signal,
      log,
      now: () => NOW,
      // The clock stands still: no pass ever reaches the interval.
      progressClock: () => 0,
    });
    expect(summary.failed).toBe(false);
    expect(summary.tenants[0]?.passes.find((p) => p.pass === 'fast')?.windows).toBe(3);
    expect(lines.filter((l) => /catching up|caught up|catch-up/.test(l.msg))).toEqual([]);
  });
});
