/**
 * How a failure reaches a person at a terminal: with the pretty format (what `auto` gives on a
 * TTY) one line with the message and the fix, the details (cause chain, retryable, the nested
 * error) at debug only; with JSON every structured field stays on the record.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { jsonLines } from '../helpers/cli.js';
import { allSecrets, runCli, writeConfig } from './collector-helpers.js';

const WRONG_SECRET = 'wrong~secret-value-0123456789abcdefXYZ';

let emulator: Emulator;
let folder: string;
let config: string;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-error-lines-'));
  emulator = await startEmulator({ tenants: 1, messagesPerDay: 60, seed: 4, throttle: { limit: 1000 } });
  config = writeConfig(emulator, path.join(folder, 'wrong-secret'), ['contoso'], {
    contoso: { clientSecret: JSON.stringify(WRONG_SECRET) },
  });
});

afterAll(async () => {
  await emulator.close();
});

// eslint-disable-next-line no-control-regex
const plain = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, '');

function noSecret(text: string): void {
  for (const secret of [...allSecrets(emulator), WRONG_SECRET]) expect(text.includes(secret)).toBe(false);
}

describe('a failure on stderr', () => {
  it('pretty: one line with the message and the fix, no dump of the error object', async () => {
    const result = await runCli(['run', '--config', config, '--once', '--log-format', 'pretty']);
    noSecret(result.stderr);
    expect(result.code).toBe(3);
    const lines = plain(result.stderr).split('\n');
    const at = lines.findIndex((l) => /ERROR.*tenant failed/.test(l));
    expect(at, result.stderr).toBeGreaterThanOrEqual(0);
    const line = lines[at] ?? '';
    expect(line).toMatch(/tenant failed: .*client secret/i);
    expect(line).toMatch(/— fix: /);
    expect(line).toMatch(/tenants\[0\]\.clientSecret/);
    expect(line).toMatch(/\[tenant=contoso code=bad_secret\]/);
    // Nothing of the record follows on lines of its own (pino-pretty indents fields by 4).
    expect(lines[at + 1] ?? '').not.toMatch(/^\s{4}\S/);
    expect(result.stderr).not.toMatch(/retryable|cause:|\n\s+at /);
  });

  it('pretty at debug: the details follow, after the one line', async () => {
    const result = await runCli([
      'run',
      '--config',
      config,
      '--once',
      '--log-format',
      'pretty',
      '--log-level',
      'debug',
    ]);
    noSecret(result.stderr);
    expect(result.code).toBe(3);
    const text = plain(result.stderr);
    expect(text).toMatch(/ERROR.*tenant failed: .*— fix: /);
    expect(text).toMatch(/DEBUG.*tenant failed \(details\)\n(?:\s{4}.*\n)*\s{4}error: \{/);
    expect(text).toMatch(/"retryable": false/);
  });

  it('json: the structured fields stay on the record', async () => {
    const result = await runCli(['run', '--config', config, '--once', '--log-format', 'json']);
    noSecret(result.stderr);
    expect(result.code).toBe(3);
    const failed = (jsonLines(result.stderr) as Record<string, unknown>[]).find(
      (l) => l.msg === 'tenant failed',
    );
    expect(failed).toMatchObject({
      level: 'error',
      tenant: 'contoso',
      error: { code: 'bad_secret', retryable: false },
    });
    const error = failed?.error as { message?: unknown; fix?: unknown } | undefined;
    expect(error?.message).toMatch(/client secret is wrong/);
    // The fix names the key to change.
    expect(error?.fix).toMatch(/tenants\[0\]\.clientSecret/);
  });
});
