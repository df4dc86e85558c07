/**
 * Small traps a new user met (issue 12, item 12), through the built binary: numeric options that
 * were silently replaced, an emulator port in use told late and raw, a state directory in use
 * exiting like a bad configuration, and the demo's wording.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectorConfigYaml } from '../../src/emulator/collector-config.js';
import { startEmulator } from '../../src/emulator/server.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import { CLI, runCli, type CliResult } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { tenantYaml } from '../config/helpers.js';

/**
 * The built binary, killed if it is still running after a generous fail-safe: an emulator that
 * took the bad value would otherwise serve for ever and outlive the test.
 */
function runBounded(args: readonly string[], failSafeMs = 20_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const guard = setTimeout(() => child.kill('SIGKILL'), failSafeMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'exotrace-first-steps-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('numeric options are read one way: a bad value is a usage error naming the option', () => {
  it.each([
    [
      ['demo', '--messages-per-day', 'abc'],
      "exotrace demo: --messages-per-day must be a whole number from 1 to 10000000 (got 'abc')",
    ],
    [
      ['demo', '--messages-per-day', '0'],
      "exotrace demo: --messages-per-day must be a whole number from 1 to 10000000 (got '0')",
    ],
    [['emulator', '--port', ''], "exotrace emulator: --port must be a whole number from 0 to 65535 (got '')"],
    [
      ['emulator', '--tenants', '0x2'],
      "exotrace emulator: --tenants must be a whole number from 1 to 1000 (got '0x2')",
    ],
    [
      ['emulator', '--seed', '1e3'],
      "exotrace emulator: --seed must be a whole number from 0 to 2147483647 (got '1e3')",
    ],
    [
      ['emulator', '--messages-per-day', 'abc'],
      "exotrace emulator: --messages-per-day must be a whole number from 0 to 10000000 (got 'abc')",
    ],
    [
      ['emulator', '--fault-rate', ' '],
      "exotrace emulator: --fault-rate must be a number from 0 to 1 (got ' ')",
    ],
  ])('%j', async (args, message) => {
    const never = path.join(dir, `never-${Math.random()}`);
    const result = await runBounded([...args, '--dir', never]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`${message}\n`);
    expect(result.stdout).toBe('');
    expect(existsSync(never)).toBe(false);
  });
});

describe('exotrace emulator on a port in use', () => {
  let taken: Server;
  let port: number;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    port = typeof address === 'object' && address !== null ? address.port : 0;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) =>
      taken.close(() => {
        resolve();
      }),
    );
  });

  it('says so in one line naming the address and the option, exit 2, before writing any certificate', async () => {
    const certs = path.join(dir, 'port-in-use');
    const result = await runBounded(['emulator', '--port', String(port), '--dir', certs]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `exotrace emulator: --port ${port}: cannot listen on 127.0.0.1:${port}: address already in use (another process, or another emulator) (EADDRINUSE)\n`,
    );
    // Refused before the certificates were made (the slow part it used to do first).
    expect(existsSync(certs)).toBe(false);
  });
});

describe('a state directory in use by another exotrace process', () => {
  it('exits 4 (not 2, a bad configuration) for run --once, backfill and deadletter, saying what to do', async () => {
    const folder = path.join(dir, 'busy');
    const config = path.join(folder, 'exotrace.yaml');
    rmSync(folder, { recursive: true, force: true });
    const store = openSqliteStore(path.join(folder, 'state'));
    try {
      writeFileSync(
        config,
        `stateDir: ./state\n${tenantYaml('loginUrl: https://127.0.0.1:1\napiUrl: https://127.0.0.1:1')}\noutputs:\n  - type: file\n    path: ./events.ndjson\n`,
        { mode: 0o600 },
      );
      const held = `state directory ${path.join(folder, 'state')} is in use by another exotrace process`;
      for (const args of [
        ['run', '--config', config, '--once'],
        ['backfill', '--config', config, '--tenant', 'contoso', '--from', '2d'],
      ]) {
        const result = await runCli(args);
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(4);
        expect(result.stderr).toContain(
          `exotrace: ${held}: stop it first (one process holds a state directory at a time), or give this one another stateDir\n`,
        );
      }
      const deadletter = await runCli(['deadletter', 'list', '--config', config]);
      expect(deadletter.code).toBe(4);
      expect(deadletter.stderr).toContain(`${held}: stop the collector first`);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('exotrace demo', () => {
  it('says what the rows read again are, and its next step runs from the checkout (npx)', async () => {
    const demo = path.join(dir, 'demo');
    const result = await runCli(['demo', '--dir', demo, '--messages-per-day', '300']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /^ {2}contoso: [\d,]+ rows? read again on purpose \(reconcile pass, window overlaps\), recognised and not delivered twice$/m,
    );
    expect(result.stdout).not.toContain('seen twice');
    expect(result.stdout).toContain('start from examples/exotrace.yaml');
    expect(result.stdout).toContain(`\n  npx exotrace status --config ${path.join(demo, 'exotrace.yaml')}\n`);
    expect(result.stdout).toMatch(/^[\d,]+ events? in /m);
    expect(readFileSync(path.join(demo, 'events.ndjson'), 'utf8').length).toBeGreaterThan(0);
  }, 120_000);
});

describe('counted nouns where people read them', () => {
  it('doctor: "1 tenant, 1 output", not "1 tenants, 1 outputs"', async () => {
    const emulator = await startEmulator({ dir: path.join(dir, 'doctor-emulator'), seed: 5 });
    try {
      const folder = path.join(dir, 'doctor');
      rmSync(folder, { recursive: true, force: true });
      mkdirSync(folder);
      const config = path.join(folder, 'exotrace.yaml');
      writeFileSync(config, collectorConfigYaml(emulator), { mode: 0o600 });
      const result = await runCli(['doctor', '--config', config]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`configuration ${config}: OK (1 tenant, 1 output)\n`);
    } finally {
      await emulator.close();
    }
  }, 60_000);
});
