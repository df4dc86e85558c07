/**
 * `run --once` as a user runs it (the built binary against the emulator in this process) when the
 * API misbehaves without end (issue 11, items 7 and 8): it finishes, and says why. The emulator's
 * faults make it misbehave: `trickle-body`, `stuck-next-link`, `empty-next-link`.
 */
import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { readEvents, runCli, writeConfig } from './collector-helpers.js';

let emulator: Emulator;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-cli-bounds-'));
  // More than one Graph page (5,000 rows) in the last 24 hours, so the walk has next links.
  emulator = await startEmulator({ tenants: 1, messagesPerDay: 7000, seed: 11, throttle: { limit: 1000 } });
  emulator.clock.set(Date.now() + 10 * 60_000);
  emulator.clock.freeze(true);
});

afterEach(() => {
  emulator.faults.clear();
});

afterAll(async () => {
  await emulator.close();
});

/** Pages (list requests) the emulator served, whatever their status. */
function listRequests(): number {
  let total = 0;
  for (const byApi of Object.values(emulator.stats.snapshot())) {
    for (const n of Object.values(byApi['graph'] ?? {})) total += n;
  }
  return total;
}

function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('run --once against an API that never ends', () => {
  // http.timeout also bounds every healthy page of the run (5,000 rows, served by the emulator in
  // this process): 15 s leaves them a wide margin on a loaded machine, where 2 s once could
  // fail a healthy page. The trickling page stays far past it: a byte every 100 ms, no gap near
  // 15 s, the whole page (~3 MB) some 80 hours.
  it(
    'a page trickling in is abandoned at http.timeout and read again: exit 0, the events all there',
    { timeout: 120_000 },
    async () => {
      const dir = path.join(folder, 'trickle');
      const config = writeConfig(emulator, dir, ['contoso']);
      appendFileSync(config, 'http:\n  timeout: 15s\n');
      emulator.faults.enqueue([{ kind: 'trickle-body', delayMs: 100, targets: ['graph-list'] }]);
      const result = await runCli(['run', '--config', config, '--once']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('request_timeout');
      expect(result.stderr).toContain('15000 ms (http.timeout)');
      expect(readEvents(path.join(dir, 'events.ndjson')).length).toBeGreaterThan(5000);
    },
  );

  it('next links that bring the same rows again: the window stops with no_progress and run --once ends', async () => {
    const dir = path.join(folder, 'stuck');
    const config = writeConfig(emulator, dir, ['contoso']);
    const before = listRequests();
    // From the first paging request on, every next link is new and leads to the same page.
    emulator.faults.enqueue([{ kind: 'stuck-next-link', targets: ['graph-list'] }]);
    const result = await runCli(['run', '--config', config, '--once']);
    // The tenant failed (exit 3), and the reason is logged with its code and the tenant.
    expect(result.code, result.stderr).toBe(3);
    const failure = logLines(result.stderr).find((line) => JSON.stringify(line).includes('no_progress'));
    expect(failure, result.stderr).toBeDefined();
    expect(JSON.stringify(failure)).toContain('contoso');
    // Page 1, page 2 and its repeat; not the tenant's budget.
    expect(listRequests() - before).toBeLessThan(10);
  });

  it('next links that lead to empty pages for ever: the window stops with no_progress and run --once ends', async () => {
    const dir = path.join(folder, 'empty');
    const config = writeConfig(emulator, dir, ['contoso']);
    const before = listRequests();
    // From the first paging request on, every page is empty and has a new next link: once, this
    // spent the tenant's whole budget, then waited for more, silent, until killed.
    emulator.faults.enqueue([{ kind: 'empty-next-link', targets: ['graph-list'] }]);
    const result = await runCli(['run', '--config', config, '--once']);
    expect(result.code, result.stderr).toBe(3);
    const failure = logLines(result.stderr).find((line) => JSON.stringify(line).includes('no_progress'));
    expect(failure, result.stderr).toBeDefined();
    expect(JSON.stringify(failure)).toContain('contoso');
    expect(JSON.stringify(failure)).toContain('empty');
    // Page 1 and a few empty pages; not the tenant's budget.
    expect(listRequests() - before).toBeLessThan(10);
  });
});
