/**
 * An output's `batchSize` (issue 12, item 14): the collector (the built CLI, `run --once`) against
 * the Microsoft emulator over HTTPS, delivering to a local Elasticsearch `_bulk` endpoint that
 * refuses bodies over its `http.max_content_length` with 413, as a cluster (or a proxy) does. The
 * default batch is over the limit and never goes through; lowering `batchSize` works around it.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { readEvents, runCli, writeConfig } from '../cli/collector-helpers.js';
import { startEsEmulator, type EsEmulator } from './es-emulator.js';

/** About 60 events of ~1.5 KB: far under the default batch (5000 events, 8 MiB). */
const LIMIT_BYTES = 96 * 1024;
const BATCH = 25;

let emulator: Emulator;
let es: EsEmulator;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-batch-size-'));
  emulator = await startEmulator({ tenants: 1, messagesPerDay: 400, seed: 12, throttle: { limit: 1000 } });
  // The CLI runs on the real clock: the emulator's is a little ahead, so no request is in its future.
  emulator.clock.set(Date.now() + 10 * 60_000);
  emulator.clock.freeze(true);
  es = await startEsEmulator({ maxContentLength: LIMIT_BYTES });
});
afterAll(async () => {
  await es.close();
  await emulator.close();
  rmSync(folder, { recursive: true, force: true });
});

/** Events in each `_bulk` request the cluster took (an action line and a source line each). */
function eventsPerAcceptedBulk(): number[] {
  return es.requests
    .filter((r) => r.path === '/_bulk' && Buffer.byteLength(r.text) <= LIMIT_BYTES)
    .map((r) => r.text.split('\n').filter((line) => line !== '').length / 2);
}

describe('batchSize per output', () => {
  it('a 413 for the default batch names batchSize; lowered, every batch holds at most that many events and all get through', async () => {
    const dir = path.join(folder, 'run');
    const config = writeConfig(emulator, dir, [emulator.tenants()[0]?.name ?? 'contoso']);
    appendFileSync(config, `  - type: elasticsearch\n    name: es\n    url: ${es.url}\n`);

    const refused = await runCli(['run', '--config', config, '--once']);
    // Everything collected, nothing taken by the cluster: the run says so (exit 6) and how to fix it.
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stderr).toContain('lower the batchSize (or batchBytes) of output es');
    expect(es.documents()).toEqual([]);
    expect(es.requests.filter((r) => r.path === '/_bulk').length).toBeGreaterThan(0);

    appendFileSync(config, `    batchSize: ${BATCH}\n`);
    const lowered = await runCli(['run', '--config', config, '--once']);
    expect(lowered.code, lowered.stderr).toBe(0);
    const expected = readEvents(path.join(dir, 'events.ndjson')).map((e) => e.event.id);
    expect(expected.length).toBeGreaterThan(3 * BATCH);
    expect(
      es
        .documents()
        .map((d) => d.id)
        .sort(),
    ).toEqual([...expected].sort());
    const sizes = eventsPerAcceptedBulk();
    expect(Math.max(...sizes)).toBe(BATCH);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(expected.length);
  }, 120_000);
});
