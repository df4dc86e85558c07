/**
 * Permissions as the collector meets them (tests run as root here: root reads and writes anything,
 * so what is checked is exotrace's own rule on the permission bits, not the system's refusal).
 */
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { allSecrets, runCli, writeConfig } from './collector-helpers.js';

let emulator: Emulator;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-cli-perm-'));
  emulator = await startEmulator({ tenants: 1, messagesPerDay: 50, seed: 3, throttle: { limit: 1000 } });
  emulator.clock.set(Date.now() + 10 * 60_000);
  emulator.clock.freeze(true);
});

afterAll(async () => {
  await emulator.close();
  rmSync(folder, { recursive: true, force: true });
});

const tenant = (): string => emulator.tenants()[0]?.name ?? 'contoso';

describe.skipIf(process.platform === 'win32')('permissions', () => {
  it('a world-readable configuration holding a client secret: a warning naming the file and the fix', async () => {
    const config = writeConfig(emulator, path.join(folder, 'readable'), [tenant()]);
    chmodSync(config, 0o644);
    const result = await runCli(['run', '--config', config, '--once']);
    expect(result.code, result.stderr).toBe(0);
    const warning = result.stderr.split('\n').find((l) => l.includes('readable by every local user'));
    expect(warning, result.stderr).toContain('"level":"warn"');
    expect(warning).toContain(`chmod 600 ${config}`);
    for (const secret of allSecrets(emulator)) expect(result.stderr).not.toContain(secret);

    const doctor = await runCli(['doctor', '--config', config]);
    expect(doctor.code, doctor.stdout).toBe(0);
    expect(doctor.stdout).toContain(
      `configuration: WARNING — ${config} holds a secret and is readable by every local user`,
    );

    chmodSync(config, 0o600);
    const quiet = await runCli(['run', '--config', config, '--once']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toContain('readable by every local user');
  });

  it('outputs unencrypted to a remote host: doctor says so once each, naming the key; loopback is silent', async () => {
    const config = writeConfig(emulator, path.join(folder, 'cleartext'), [tenant()]);
    chmodSync(config, 0o600);
    appendFileSync(
      config,
      [
        '  - type: syslog',
        '    name: relay',
        '    host: 192.0.2.10',
        '  - type: kafka',
        '    brokers: [192.0.2.11:9092]',
        '    topic: trace',
        '  - type: syslog',
        '    name: local',
        '    host: 127.0.0.1',
        // doctor checks the outputs too: each is given http.timeout, kept short for these.
        'http:',
        '  timeout: 3s',
        '',
      ].join('\n'),
    );
    // The outputs are unreachable (TEST-NET addresses, nothing on loopback's 514): doctor says so
    // (issue 13: it checked the tenants only, and exited 0) after the same warnings.
    const doctor = await runCli(['doctor', '--config', config]);
    expect(doctor.code, doctor.stdout).toBe(6);
    const warnings = doctor.stdout.split('\n').filter((l) => l.startsWith('configuration: WARNING'));
    expect(warnings, doctor.stdout).toEqual([
      "configuration: WARNING — outputs[1].protocol: syslog output 'relay' sends the events to 192.0.2.10:514 over plain tcp, unencrypted (mail addresses, subjects and IPs readable on the network): set protocol: tls (port 6514) if the receiver accepts it",
      "configuration: WARNING — outputs[2].tls: kafka output 'kafka' produces to 192.0.2.11:9092 without TLS, unencrypted (mail addresses, subjects and IPs readable on the network): set tls: true if the brokers have a TLS listener",
    ]);
  });

  it('a world-writable stateDir is refused: exit 2 naming it and the fix, nothing collected', async () => {
    const dir = path.join(folder, 'writable');
    const config = writeConfig(emulator, dir, [tenant()]);
    const state = path.join(dir, 'state');
    mkdirSync(state);
    chmodSync(state, 0o777);
    const result = await runCli(['run', '--config', config, '--once']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`state directory ${state} is writable by every local user (mode 0777)`);
    expect(result.stderr).toContain(`chmod 700 ${state}`);
    expect(existsSync(path.join(state, 'exotrace.db'))).toBe(false);
    expect(existsSync(path.join(dir, 'events.ndjson'))).toBe(false);
  });
});
