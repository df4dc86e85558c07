/**
 * `exotrace deadletter list|retry` on a state with dead letters, through the built binary.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStateStore } from '../../src/state/index.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { tenantYaml } from '../config/helpers.js';

let dir: string;
let config: string;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'exotrace-deadletter-'));
  config = path.join(dir, 'exotrace.yaml');
  writeFileSync(
    config,
    `stateDir: ./state\n${tenantYaml()}\noutputs:\n  - type: file\n    path: ./events.ndjson\n  - type: stdout\n    name: console\n`,
  );
  // Three events; the file output refused two of them for good and acknowledged the batch.
  const store = openStateStore({ stateDir: path.join(dir, 'state') });
  await store.registerSinks(['file', 'console'], 'beginning');
  await store.commitPage('contoso', {
    pass: 'fast',
    checkpoint: { cursor: 1 },
    events: [1, 2, 3].map((n) => ({
      key: `k${n}`,
      eventId: `id-${n}`,
      json: JSON.stringify({ event: { id: `id-${n}` }, n }),
    })),
    rejects: [],
    now: Date.parse('2026-11-25T10:00:00Z'),
    seenTtlMs: 60_000,
  });
  await store.deadLetter('file', 1, 'mapper_parsing_exception: [n] failed to parse');
  await store.deadLetter('file', 3, 'event too large');
  await store.ack('file', 3);
  await store.close();
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('exotrace deadletter', () => {
  it('list prints one JSON line per dead letter with its reason and the event', async () => {
    const result = await runCli(['deadletter', 'list', '--config', config]);
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout) as {
      output: string;
      seq: number;
      reason: string;
      event: { n: number };
    }[];
    expect(lines.map((l) => [l.output, l.seq, l.event.n])).toEqual([
      ['file', 1, 1],
      ['file', 3, 3],
    ]);
    expect(lines[0]?.reason).toMatch(/mapper_parsing_exception/);
    expect(result.stderr).toContain('2 dead letters');
    const none = await runCli(['deadletter', 'list', '--config', config, '--output', 'console']);
    expect(jsonLines(none.stdout)).toEqual([]);
  });

  it('retry re-queues them for that output alone, and they leave the dead letters', async () => {
    const result = await runCli([
      'deadletter',
      'retry',
      '--config',
      config,
      '--output',
      'file',
      '--seq',
      '3',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("1 dead letter re-queued for output 'file'");
    const store = openStateStore({ stateDir: path.join(dir, 'state') });
    try {
      expect((await store.deadLetters('file', 10)).map((d) => d.seq)).toEqual([1]);
      // Back in the outbox after the file output's cursor; the console output never sees it again.
      const forFile = await store.readOutbox('file', { limit: 10, maxBytes: 1 << 20 });
      expect(forFile.map((e) => e.eventId)).toEqual(['id-3']);
      const forConsole = await store.readOutbox('console', { limit: 10, maxBytes: 1 << 20 });
      expect(forConsole.map((e) => e.eventId)).toEqual(['id-1', 'id-2', 'id-3']);
    } finally {
      await store.close();
    }
  });

  it('retry --seq names the numbers that are not dead letters of the output, exits 1, and re-queues the others', async () => {
    const partly = await runCli([
      'deadletter',
      'retry',
      '--config',
      config,
      '--output',
      'file',
      '--seq',
      '3',
      '99999',
    ]);
    expect(partly.code).toBe(1);
    expect(partly.stderr).toContain(
      "exotrace deadletter retry: output 'file' has no dead letter with --seq 99999 (`deadletter list --output file` shows those it holds)",
    );
    expect(partly.stderr).toContain("1 dead letter re-queued for output 'file'");
    const none = await runCli([
      'deadletter',
      'retry',
      '--config',
      config,
      '--output',
      'file',
      '--seq',
      '2',
      '3',
    ]);
    expect(none.code).toBe(1);
    // 2 was never dead-lettered, 3 was just retried.
    expect(none.stderr).toContain("output 'file' has no dead letters with --seq 2 3");
    expect(none.stderr).toContain("0 dead letters re-queued for output 'file'\n");
    const store = openStateStore({ stateDir: path.join(dir, 'state') });
    try {
      expect((await store.deadLetters('file', 10)).map((d) => d.seq)).toEqual([1]);
    } finally {
      await store.close();
    }
  });

  it('an unknown output or a bad --seq is a usage error; a busy state says to stop the collector', async () => {
    const unknown = await runCli(['deadletter', 'list', '--config', config, '--output', 'es']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no output 'es'");
    const badSeq = await runCli([
      'deadletter',
      'retry',
      '--config',
      config,
      '--output',
      'file',
      '--seq',
      'x',
    ]);
    expect(badSeq.code).toBe(2);
    expect(badSeq.stderr).toContain("--seq must be a whole number from 1 to 9007199254740991 (got 'x')");
    const badLimit = await runCli(['deadletter', 'list', '--config', config, '--limit', '10abc']);
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain(
      "--limit must be a whole number from 1 to 9007199254740991 (got '10abc')",
    );
    const store = openStateStore({ stateDir: path.join(dir, 'state') });
    try {
      const busy = await runCli(['deadletter', 'list', '--config', config]);
      expect(busy.code).toBe(4);
      expect(busy.stderr).toMatch(/in use by another exotrace process: stop the collector first/);
    } finally {
      await store.close();
    }
  });
});
