/**
 * `run --once --reconcile due` (for cron): the reconcile pass re-reads `reconcileLookback` only
 * when `reconcileEvery` has passed since the tenant's last one, read from the state; `always`, the
 * default, re-reads it at every run. The requests are counted at the emulator.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { jsonLines } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';
import { allSecrets, runCli, writeConfig } from './collector-helpers.js';

let emulator: Emulator;
let folder: string;
let lastRunEnd = 0;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-once-reconcile-'));
  emulator = await startEmulator({ tenants: 1, messagesPerDay: 400, seed: 7, throttle: { limit: 1000 } });
  emulator.clock.set(Date.now() + 10 * 60_000);
  emulator.clock.freeze(true);
});

afterAll(async () => {
  await emulator.close();
});

/** Message trace list requests the emulator served for contoso since the last reset. */
function listRequests(): number {
  const byStatus = emulator.stats.snapshot()['contoso']?.['graph-list'] ?? {};
  return Object.values(byStatus).reduce((a, b) => a + b, 0);
}

/** One `run --once` with the extra arguments: the exit status, the passes it logged, its requests. */
async function once(
  config: string,
  extra: readonly string[],
): Promise<{ passes: string[]; requests: number }> {
  // The fast pass asks only for whole seconds past its checkpoint: a run started within the same
  // second as the last one ended has nothing to ask, and its request count would be one short.
  // Wait for the clock to pass the next whole second (an event, not a pause of fixed length).
  const nextSecond = Math.floor(lastRunEnd / 1000) * 1000 + 2000;
  await until(() => Date.now() >= nextSecond, 10_000);
  emulator.stats.reset();
  const result = await runCli(['run', '--config', config, '--once', ...extra]);
  lastRunEnd = Date.now();
  for (const secret of allSecrets(emulator)) expect(result.stderr.includes(secret)).toBe(false);
  expect(result.code, result.stderr).toBe(0);
  const collected = (jsonLines(result.stderr) as Record<string, unknown>[]).find(
    (l) => l.msg === 'tenant collected',
  );
  const passes = (collected?.passes as { pass: string }[] | undefined)?.map((p) => p.pass) ?? [];
  return { passes, requests: listRequests() };
}

describe('exotrace run --once --reconcile', () => {
  it('due: the second run within reconcileEvery makes no reconcile request; always does', async () => {
    const config = writeConfig(emulator, path.join(folder, 'due'), ['contoso'], {
      contoso: { extra: ['reconcileEvery: 1h'] },
    });
    // No reconcile recorded yet: due at once.
    const first = await once(config, ['--reconcile', 'due']);
    expect(first.passes).toEqual(['fast', 'reconcile']);
    // Within the hour: the fast pass alone, one request for its one window.
    const second = await once(config, ['--reconcile', 'due']);
    expect(second.passes).toEqual(['fast']);
    expect(second.requests).toBe(1);
    // The default and `always`: the lookback is read again, its requests on top of the fast pass's.
    const always = await once(config, ['--reconcile', 'always']);
    expect(always.passes).toEqual(['fast', 'reconcile']);
    expect(always.requests).toBeGreaterThan(second.requests);
    const byDefault = await once(config, []);
    expect(byDefault.passes).toEqual(['fast', 'reconcile']);
    expect(byDefault.requests).toBe(always.requests);
  });

  it('is refused without --once, naming the flag', async () => {
    const config = writeConfig(emulator, path.join(folder, 'daemon'), ['contoso']);
    const result = await runCli(['run', '--config', config, '--reconcile', 'due']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--reconcile applies to --once only');
  });
});
