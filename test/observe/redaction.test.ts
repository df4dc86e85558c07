/**
 * "No secret in logs across every error path": the built CLI, at debug level, driven into every
 * failure we can cause with real, distinctive secrets configured, and each of them (and its base64
 * where an output sends Basic or ApiKey auth) searched for in stdout, stderr, the state database
 * files and the dead-letter listing.
 *
 * The emulator runs in this process over HTTPS with its own CA; outputs fail against a local HTTP
 * server that answers 401 and echoes the request headers back (the worst upstream we can imagine),
 * and against closed ports; the configured proxy is a local one that records what it is sent and
 * answers 407.
 */
import { createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { createCertificate } from '../../src/emulator/tls.js';
import type { CliResult } from '../helpers/cli.js';
import { freePort } from '../helpers/wait.js';
import { patchTenant, runCli, spawnCli, waitFor } from '../cli/collector-helpers.js';

const CLIENT_SECRET = 's3cr3t-CLIENT-SECRET-7f2a';
const WRONG_SECRET = 's3cr3t-WRONG-CLIENT-SECRET-91c4';
const PASSPHRASE = 'KEY-PASSPHRASE-a8d3-secret';
const WRONG_PASSPHRASE = 'KEY-PASSPHRASE-wrong-77e1';
const ES_API_KEY = 'es-API-KEY-id-4b1e:es-API-KEY-value-9c0d';
const ES_PASSWORD = 'es-PASSWORD-5e6f-basic';
const HEC_TOKEN = 'hec-TOKEN-0a1b2c3d-4e5f';
const SEKOIA_KEY = 'sekoia-INTAKE-KEY-6a7b8c';
const KAFKA_PASSWORD = 'kafka-SASL-PASSWORD-3d4e';
const HTTP_AUTH = 'Bearer http-OUTPUT-TOKEN-8f9a0b';
const PROXY_PASSWORD = 'proxy-PASSWORD-1c2d';
const URL_SECRET = 'url-SECRET-in-config-2e3f';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** Every secret and the wire forms an output would send. */
const SECRETS = [
  CLIENT_SECRET,
  WRONG_SECRET,
  PASSPHRASE,
  WRONG_PASSPHRASE,
  ES_API_KEY,
  b64(ES_API_KEY),
  'es-API-KEY-value-9c0d',
  ES_PASSWORD,
  b64(`elastic:${ES_PASSWORD}`),
  HEC_TOKEN,
  SEKOIA_KEY,
  KAFKA_PASSWORD,
  HTTP_AUTH,
  'http-OUTPUT-TOKEN-8f9a0b',
  PROXY_PASSWORD,
  b64(`puser:${PROXY_PASSWORD}`),
  URL_SECRET,
];

const ENV = {
  ...process.env,
  RT_CLIENT_SECRET: CLIENT_SECRET,
  RT_PASSPHRASE: PASSPHRASE,
  RT_ES_API_KEY: ES_API_KEY,
  RT_ES_PASSWORD: ES_PASSWORD,
  RT_HEC: HEC_TOKEN,
  RT_SEKOIA: SEKOIA_KEY,
  RT_KAFKA: KAFKA_PASSWORD,
  RT_HTTP_AUTH: HTTP_AUTH,
  RT_PROXY_PASSWORD: PROXY_PASSWORD,
  RT_URL_SECRET: URL_SECRET,
};

let emulator: Emulator;
let folder: string;
/** Answers 401 to everything, with the request's headers in the body. */
let echo: Server;
let echoUrl: string;
let closedPort: number;
let otherCaFile: string;
let certPem: string;
let keyPem: string;
let checked = 0;

function expectClean(where: string, text: string): void {
  for (const secret of SECRETS) expect(text.includes(secret), `${secret} in ${where}`).toBe(false);
}

/** Every file under dir (the state database, its WAL), searched byte for byte. */
function expectCleanFiles(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) expectCleanFiles(file);
    else expectClean(file, readFileSync(file).toString('latin1'));
  }
}

async function expectCleanRun(dir: string, result: CliResult): Promise<void> {
  checked++;
  expectClean('stdout', result.stdout);
  expectClean('stderr', result.stderr);
  expectCleanFiles(path.join(dir, 'state'));
  if (existsSync(path.join(dir, 'state'))) {
    const listing = await runCli(['deadletter', 'list', '--config', path.join(dir, 'exotrace.yaml')], ENV);
    expectClean('deadletter list', listing.stdout + listing.stderr);
  }
}

interface TenantOptions {
  name?: string;
  tenantId?: string;
  credential?: string[];
  extra?: string[];
}

function tenantYaml(o: TenantOptions = {}): string {
  const tenant = emulator.tenants().find((t) => t.name === (o.name ?? 'contoso'));
  const app = tenant?.apps[0];
  if (tenant === undefined || app === undefined) throw new Error('no tenant');
  return [
    `  - name: ${tenant.name}`,
    `    tenantId: ${o.tenantId ?? tenant.tenantId}`,
    `    clientId: ${app.clientId}`,
    ...(o.credential ?? ['    clientSecret: ${RT_CLIENT_SECRET}']),
    `    loginUrl: ${emulator.url}`,
    `    apiUrl: ${emulator.url}`,
    `    organization: ${tenant.domain}`,
    '    startFrom: 2h',
    '    minAge: 5m',
    ...(o.extra ?? []),
  ].join('\n');
}

function writeYaml(
  name: string,
  options: { tenants?: string[]; outputs?: string; top?: string; files?: Record<string, string> } = {},
): string {
  const dir = path.join(folder, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(options.files ?? {})) writeFileSync(path.join(dir, file), text);
  const yaml = [
    'stateDir: ./state',
    'tls:',
    `  caFile: ${JSON.stringify(emulator.caFile)}`,
    ...(options.top === undefined ? [] : [options.top]),
    'tenants:',
    ...(options.tenants ?? [tenantYaml()]),
    'outputs:',
    options.outputs ?? '  - type: file\n    path: ./events.ndjson',
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'exotrace.yaml'), yaml);
  return dir;
}

/** `run --once` at debug level, JSON logs; returns the result after checking it for secrets. */
async function runOnce(dir: string, extra: string[] = []): Promise<CliResult> {
  const result = await runCli(
    ['run', '--config', path.join(dir, 'exotrace.yaml'), '--once', '--log-level', 'debug', ...extra],
    ENV,
  );
  await expectCleanRun(dir, result);
  return result;
}

/**
 * The daemon at debug level until `until` holds (or timeoutMs), then stopped. With `healthPort`,
 * its /status, /readyz and /metrics are read before the stop and checked for secrets too.
 */
async function runDaemon(
  dir: string,
  until: (stderr: string) => boolean,
  timeoutMs: number,
  healthPort?: number,
) {
  const daemon = spawnCli(
    ['run', '--config', path.join(dir, 'exotrace.yaml'), '--log-level', 'debug', '--log-format', 'json'],
    ENV,
  );
  await waitFor(() => until(daemon.stderr()), timeoutMs, 'the failures logged').catch(() => undefined);
  if (healthPort !== undefined) {
    for (const route of ['/status', '/readyz', '/metrics']) {
      const res = await request(`http://127.0.0.1:${healthPort}${route}`);
      const body = await res.body.text();
      expect(body.length, route).toBeGreaterThan(0);
      expectClean(route, body);
    }
  }
  daemon.child.kill('SIGTERM');
  // Failing outputs may hold the stop for its flush deadline: nothing more is needed from them.
  const killer = setTimeout(() => daemon.child.kill('SIGKILL'), 3_000);
  const result = await daemon.done;
  clearTimeout(killer);
  await expectCleanRun(dir, result);
  return result;
}

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-redaction-'));
  const cert = createCertificate({ subject: 'exotrace redaction test' });
  certPem = cert.certPem;
  keyPem = cert.keyPem;
  emulator = await startEmulator({
    tenants: [
      { name: 'contoso', clientSecret: CLIENT_SECRET, certificates: [certPem] },
      { name: 'fabrikam', clientSecret: CLIENT_SECRET, graphRoles: [] },
    ],
    messagesPerDay: 200,
    seed: 7,
    throttle: { limit: 1000 },
  });
  emulator.clock.set(Date.now() + 10 * 60_000);
  emulator.clock.freeze(true);
  echo = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'unauthorized', youSent: req.headers }));
    });
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const address = echo.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  echoUrl = `http://127.0.0.1:${address.port}`;
  closedPort = await freePort();
  const otherCa = createCertificate({ subject: 'not the emulator CA' });
  otherCaFile = path.join(folder, 'other-ca.pem');
  writeFileSync(otherCaFile, otherCa.certPem);
}, 30_000);

afterAll(async () => {
  await emulator.close();
  await new Promise((resolve) => echo.close(resolve));
  // Guards against a test that silently checked nothing.
  expect(checked).toBeGreaterThanOrEqual(12);
});

describe('identity and API failures (run --once, debug)', () => {
  it('a wrong client secret (AADSTS7000215)', async () => {
    const dir = writeYaml('wrong-secret', {
      tenants: [tenantYaml({ credential: [`    clientSecret: "${WRONG_SECRET}"`] })],
    });
    const result = await runOnce(dir);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('bad_secret');
  });

  it('an unknown tenant', async () => {
    const dir = writeYaml('unknown-tenant', {
      tenants: [tenantYaml({ tenantId: '0badc0de-0000-4000-8000-000000000000' })],
    });
    const result = await runOnce(dir);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('"code":"tenant_not_found"');
    expect(result.stderr).toContain(
      "the tenant '0badc0de-0000-4000-8000-000000000000' (tenants[0].tenantId) was not found",
    );
    expect(result.stderr).toMatch(/"fix":"check tenants\[0\]\.tenantId/);
  });

  it('an app without the permission (403)', async () => {
    const dir = writeYaml('no-permission', { tenants: [tenantYaml({ name: 'fabrikam' })] });
    const result = await runOnce(dir);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('permission_missing');
  });

  it('the service principal removed (401)', async () => {
    const dir = writeYaml('no-sp');
    await patchTenant(emulator, 'contoso', { servicePrincipal: false });
    try {
      const result = await runOnce(dir);
      expect(result.code).toBe(3);
      expect(result.stderr).toContain('service_principal_missing');
    } finally {
      await patchTenant(emulator, 'contoso', { servicePrincipal: true });
    }
  });

  it('a token endpoint answering 500', async () => {
    emulator.faults.enqueue([{ kind: 'status', status: 500, targets: ['token'] }], 3);
    try {
      const result = await runOnce(writeYaml('token-500'));
      expect([0, 3]).toContain(result.code);
    } finally {
      emulator.faults.clear();
    }
  });

  it('throttling (429) and 5xx, retried then passed', async () => {
    emulator.faults.enqueue(
      [
        { kind: 'status', status: 429 },
        { kind: 'status', status: 503 },
        { kind: 'status', status: 500 },
      ],
      1,
    );
    const dir = writeYaml('throttled');
    const result = await runOnce(dir);
    expect(result.code).toBe(0);
  });

  it('an API host whose certificate is not trusted (wrong CA)', async () => {
    const dir = writeYaml('wrong-ca');
    const yaml = readFileSync(path.join(dir, 'exotrace.yaml'), 'utf8').replace(
      JSON.stringify(emulator.caFile),
      JSON.stringify(otherCaFile),
    );
    writeFileSync(path.join(dir, 'exotrace.yaml'), yaml);
    const result = await runOnce(dir);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/not trusted|CERT|certificate/i);
  });

  it('a proxy that refuses our credentials (407), with user:password in its URL', async () => {
    // A local "proxy" that records what it was sent, and answers 407 to each request.
    const heads: string[] = [];
    const proxy = createNetServer((socket) => {
      let head = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        head += chunk;
        if (!head.includes('\r\n\r\n')) return;
        heads.push(head);
        head = '';
        socket.end(
          'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
        );
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const address = proxy.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    try {
      const dir = writeYaml('proxy', {
        top: `http:\n  proxy: http://puser:\${RT_PROXY_PASSWORD}@127.0.0.1:${address.port}\n  timeout: 2s`,
      });
      const daemon = spawnCli(
        ['run', '--config', path.join(dir, 'exotrace.yaml'), '--log-level', 'debug', '--log-format', 'json'],
        ENV,
      );
      let result: CliResult;
      try {
        // A strict wait: a proxy never contacted fails the test. A 407 is not retried (only the
        // configuration can fix it): the tenant fails at once, naming http.proxy.
        await waitFor(
          () => heads.length >= 1 && daemon.stderr().includes('"msg":"tenant failed"'),
          10_000,
          'the proxy asked, and the tenant failed',
        );
      } finally {
        daemon.child.kill('SIGTERM');
        const killer = setTimeout(() => daemon.child.kill('SIGKILL'), 3_000);
        result = await daemon.done;
        clearTimeout(killer);
      }
      expect(result.stderr).toContain('"msg":"done"');
      const failed = result.stderr.split('\n').find((line) => line.includes('"msg":"tenant failed"')) ?? '';
      expect(failed).toContain('the proxy refused the tunnel with 407');
      expect(failed).toContain('"configKey":"http.proxy"');
      await expectCleanRun(dir, result);
      // Nothing leaked (checked above), and not for want of a secret: the proxy was sent it.
      expect(heads[0]).toMatch(/^CONNECT 127\.0\.0\.1:\d+ HTTP\/1\.1\r\n/);
      expect(heads.join('')).toMatch(
        new RegExp(`^proxy-authorization: Basic ${b64(`puser:${PROXY_PASSWORD}`)}\\r$`, 'im'),
      );
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  }, 30_000);
});

describe.concurrent('certificate credentials', () => {
  const encrypted = (): string =>
    createPrivateKey(keyPem)
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE })
      .toString();
  const certificate = (passphrase: string): string[] => [
    `    certificate: { certFile: app.pem, keyFile: app-key.pem, passphrase: "${passphrase}" }`,
  ];

  it('the right passphrase: collected, the decrypted key never printed', async () => {
    const dir = writeYaml('cert-ok', {
      tenants: [tenantYaml({ credential: certificate('${RT_PASSPHRASE}') })],
      files: { 'app.pem': certPem, 'app-key.pem': encrypted() },
    });
    const result = await runOnce(dir);
    expect(result.code).toBe(0);
    expectClean('stderr (key)', result.stderr.replace(/\s/g, ''));
    expect(result.stderr).not.toContain(keyPem.split('\n')[1] ?? 'unreachable');
  });

  it('a wrong passphrase: a config error (exit 2) that does not echo it', async () => {
    const dir = writeYaml('cert-wrong-pass', {
      tenants: [tenantYaml({ credential: certificate(WRONG_PASSPHRASE) })],
      files: { 'app.pem': certPem, 'app-key.pem': encrypted() },
    });
    const result = await runOnce(dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/passphrase/);
  });

  it('a bad key file: a config error (exit 2)', async () => {
    const dir = writeYaml('cert-bad-key', {
      tenants: [tenantYaml({ credential: certificate('${RT_PASSPHRASE}') })],
      files: {
        'app.pem': certPem,
        'app-key.pem': `-----BEGIN PRIVATE KEY-----\n${b64(PASSPHRASE)}\n-----END PRIVATE KEY-----\n`,
      },
    });
    const result = await runOnce(dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/keyFile/);
  });
});

describe('every network output failing, credentials configured (daemon, debug)', () => {
  it('elasticsearch (apiKey, username/password), splunk-hec, sekoia, http, kafka SASL, syslog', async () => {
    const outputs = [
      '  - type: elasticsearch',
      '    name: es-key',
      `    url: ${echoUrl}`,
      '    apiKey: ${RT_ES_API_KEY}',
      '  - type: elasticsearch',
      '    name: es-basic',
      `    url: ${echoUrl}`,
      '    username: elastic',
      '    password: ${RT_ES_PASSWORD}',
      '  - type: splunk-hec',
      `    url: ${echoUrl}`,
      '    token: ${RT_HEC}',
      '  - type: sekoia',
      `    url: ${echoUrl}`,
      '    intakeKey: ${RT_SEKOIA}',
      '  - type: http',
      `    url: ${echoUrl}/in`,
      '    headers: { Authorization: "${RT_HTTP_AUTH}" }',
      '  - type: kafka',
      `    brokers: [127.0.0.1:${closedPort}]`,
      '    topic: trace',
      '    sasl: { username: kuser, password: "${RT_KAFKA}" }',
      '  - type: syslog',
      '    host: 127.0.0.1',
      `    port: ${closedPort}`,
      '    protocol: tcp',
    ].join('\n');
    const names = ['es-key', 'es-basic', 'splunk-hec', 'sekoia', 'http', 'kafka', 'syslog'];
    const healthPort = await freePort();
    const dir = writeYaml('outputs', { outputs, top: `health:\n  listen: 127.0.0.1:${healthPort}` });
    const failing = (stderr: string): string[] =>
      names.filter((name) =>
        stderr
          .split('\n')
          .some((line) => line.includes('output failing') && line.includes(`"output":"${name}"`)),
      );
    const result = await runDaemon(
      dir,
      (stderr) => failing(stderr).length === names.length,
      20_000,
      healthPort,
    );
    // Each output's failure was logged, so each had its chance to leak.
    expect(failing(result.stderr).sort()).toEqual([...names].sort());
  }, 40_000);
});

// Each case its own folder and process: they run side by side.
describe.concurrent('configuration errors with a secret in the wrong place (exit 2, nothing echoed)', () => {
  const cases: { name: string; outputs?: string; tenantExtra?: string[]; top?: string }[] = [
    {
      name: 'secret-in-url',
      outputs: `  - type: elasticsearch\n    url: https://elastic:\${RT_URL_SECRET}@es.example.com\n    apiKey: \${RT_ES_API_KEY}`,
    },
    {
      name: 'secret-as-malformed-url',
      outputs: `  - type: http\n    url: "\${RT_URL_SECRET}"\n    headers: { Authorization: "\${RT_HTTP_AUTH}" }`,
    },
    { name: 'secret-in-a-duration', tenantExtra: ['    reconcileLookback: ${RT_URL_SECRET}'] },
    { name: 'secret-in-a-number', tenantExtra: ['    requestsPer5Min: ${RT_URL_SECRET}'] },
    { name: 'secret-as-a-tenant-id' },
    {
      name: 'secret-in-a-list',
      outputs: `  - type: splunk-hec\n    url: https://splunk.example.com\n    token: [\${RT_HEC}]`,
    },
    { name: 'secret-as-log-level', top: 'log:\n  level: ${RT_URL_SECRET}' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const tenant =
        c.name === 'secret-as-a-tenant-id'
          ? tenantYaml({ tenantId: '${RT_URL_SECRET}' })
          : tenantYaml({ extra: c.tenantExtra ?? [] });
      const dir = writeYaml(c.name, {
        tenants: [tenant],
        ...(c.outputs === undefined ? {} : { outputs: c.outputs }),
        ...(c.top === undefined ? {} : { top: c.top }),
      });
      const result = await runOnce(dir);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/invalid configuration/);
      // A value from the environment is named by its variable, never shown.
      if (c.name === 'secret-in-a-duration') expect(result.stderr).toContain('${RT_URL_SECRET}');
    });
  }
});
