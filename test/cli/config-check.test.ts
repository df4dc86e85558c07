/**
 * `exotrace config check --config FILE`: the configuration read and validated as `run` reads it,
 * with nothing contacted and nothing created: a summary and exit 0, or `run`'s messages and 2.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificate } from '../../src/emulator/tls.js';
import { runCli } from './collector-helpers.js';

const SECRET = 'check~secret-value-0123456789abcdefXYZ';
const GUID = '11111111-2222-4333-8444-555555555555';

let folder: string;
let caFile: string;
let listener: Server;
let listenerPort: number;
let connections = 0;
let dirs = 0;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-config-check-'));
  const ca = createCertificate({ subject: 'config check CA', isCa: true });
  caFile = path.join(folder, 'ca.pem');
  writeFileSync(caFile, ca.certPem);
  // Every login and API URL of these configs points here: a connection would be counted.
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  listenerPort = address.port;
});

afterAll(async () => {
  await new Promise((resolve) => listener.close(resolve));
});

interface Written {
  readonly file: string;
  readonly dir: string;
}

/** A config in a folder of its own (mode 600 unless `mode` says otherwise); stateDir ./state. */
function writeYaml(body: string, mode = 0o600): Written {
  const dir = path.join(folder, `c${++dirs}`);
  mkdirSync(dir);
  const file = path.join(dir, 'exotrace.yaml');
  writeFileSync(file, body);
  chmodSync(file, mode);
  return { file, dir };
}

function tenant(name: string, extra: readonly string[] = []): string {
  return [
    `  - name: ${name}`,
    `    tenantId: ${GUID}`,
    `    clientId: ${GUID}`,
    `    clientSecret: "${SECRET}"`,
    `    loginUrl: https://127.0.0.1:${listenerPort}`,
    `    apiUrl: https://127.0.0.1:${listenerPort}`,
    ...extra.map((line) => `    ${line}`),
  ].join('\n');
}

function configYaml(
  tenants: readonly string[],
  outputs = '  - type: file\n    path: ./events.ndjson',
): string {
  return [
    'stateDir: ./state',
    'tls:',
    `  caFile: ${JSON.stringify(caFile)}`,
    'tenants:',
    ...tenants,
    'outputs:',
    outputs,
    '',
  ].join('\n');
}

function check(args: readonly string[], env: NodeJS.ProcessEnv = process.env): ReturnType<typeof runCli> {
  return runCli(['config', 'check', ...args], env);
}

describe('exotrace config check', () => {
  it('a good config: exit 0, a plural-correct summary, nothing contacted, no state created', async () => {
    const { file, dir } = writeYaml(
      configYaml(
        [tenant('contoso'), tenant('fabrikam', ['api: reporting'])],
        '  - type: file\n    path: ./events.ndjson',
      ),
    );
    const before = connections;
    const result = await check(['--config', file]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`configuration ${file}: OK`);
    expect(result.stdout).toMatch(/^ {2}2 tenants: contoso \(graph\), fabrikam \(reporting\)$/m);
    expect(result.stdout).toMatch(/^ {2}1 output: file \(file\)$/m);
    expect(result.stdout).toMatch(/^ {2}state: .*state \(created by the first run\)$/m);
    expect(connections).toBe(before);
    expect(existsSync(path.join(dir, 'state'))).toBe(false);
    expect(result.stdout).not.toContain(SECRET);
  });

  it('hosts that would fail DNS are not looked up: still exit 0', async () => {
    const { file } = writeYaml(
      configYaml([
        tenant('contoso', [
          'loginUrl: https://login.exotrace-check.invalid',
          'apiUrl: https://api.exotrace-check.invalid',
        ]),
      ]).replace(/^( {4}(login|api)Url: https:\/\/127.*)$/gm, ''),
    );
    const result = await check(['--config', file]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ {2}1 tenant: contoso \(graph\)$/m);
  });

  it('--json: the same summary as one JSON document', async () => {
    const { file } = writeYaml(configYaml([tenant('contoso')]));
    const result = await check(['--config', file, '--json']);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({
      ok: true,
      file,
      tenants: [{ name: 'contoso', api: 'graph' }],
      outputs: [{ type: 'file', name: 'file' }],
      warnings: [],
    });
  });

  it('a world-readable config holding a secret: the warning run gives, exit 0', async () => {
    const { file } = writeYaml(configYaml([tenant('contoso')]), 0o644);
    const result = await check(['--config', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^warning: .*holds a secret and is readable by every local user.*chmod 600/m,
    );
  });

  it('an unknown key: exit 2 naming the key path and line, as run does', async () => {
    const { file } = writeYaml(configYaml([tenant('contoso', ['clientSecrte: x'])]));
    const result = await check(['--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/tenants\[0\]\.clientSecrte.*unknown key/);
    const run = await runCli(['run', '--config', file, '--once']);
    expect(run.code).toBe(2);
    expect(result.stderr).toBe(run.stderr);
    const json = await check(['--config', file, '--json']);
    expect(json.code).toBe(2);
    const doc = JSON.parse(json.stdout) as { ok: boolean; file: string; errors: string[] };
    expect(doc.ok).toBe(false);
    expect(doc.file).toBe(file);
    expect(doc.errors).toEqual([
      `${file}: invalid configuration`,
      expect.stringMatching(/^tenants\[0\]\.clientSecrte: unknown key/),
    ]);
  });

  it('an output other than file and no state yet: the new-state warning run would give', async () => {
    const { file } = writeYaml(configYaml([tenant('contoso')], '  - type: stdout'));
    const result = await check(['--config', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^warning: the first run creates a new state at .*: the outputs stdout will receive again/m,
    );
  });

  it('a missing environment variable: exit 2 naming the key and the variable', async () => {
    const { file } = writeYaml(
      configYaml([tenant('contoso').replace(`"${SECRET}"`, '${EXOTRACE_CHECK_NOT_SET}')]),
    );
    const env = { ...process.env };
    delete env['EXOTRACE_CHECK_NOT_SET'];
    const result = await check(['--config', file], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/tenants\[0\]\.clientSecret.*EXOTRACE_CHECK_NOT_SET/);
  });

  it('an unreadable certificate: exit 2 naming certificate.certFile', async () => {
    const lines = tenant('contoso')
      .split('\n')
      .filter((line) => !line.includes('clientSecret'));
    lines.push('    certificate:', '      certFile: ./missing-cert.pem', '      keyFile: ./missing-key.pem');
    const { file } = writeYaml(configYaml([lines.join('\n')]));
    const result = await check(['--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/tenants\[0\]\.certificate\.certFile.*no such file/);
  });

  it('a stateDir run would refuse (writable by every user): exit 2 naming stateDir, nothing created', async () => {
    const { file, dir } = writeYaml(configYaml([tenant('contoso')]));
    const state = path.join(dir, 'state');
    mkdirSync(state);
    chmodSync(state, 0o777);
    const result = await check(['--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/stateDir: state directory .* is writable by every local user/);
    expect(existsSync(path.join(state, 'exotrace.db'))).toBe(false);
  });
});
