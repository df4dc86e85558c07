/**
 * `exotrace doctor` on network faults, against the emulator over HTTPS and real local servers:
 * each cause named (refused, DNS, TLS trust, TLS name, proxy, HTTP status), the host that failed
 * (login or API) and its config key, and the fix. Doctor diagnoses: it does not retry a refused
 * connection until its deadline. `http.timeout` is set to 10 minutes in every config so that a
 * doctor that waits for it would run past the tests' fail-safe timeouts (60 s).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { createCertificate } from '../../src/emulator/tls.js';
import { freePort } from '../helpers/wait.js';
import { runCli, writeConfig, type TenantOverrides } from './collector-helpers.js';

const FAIL_SAFE_MS = 60_000;

let emulator: Emulator;
let folder: string;
let configs = 0;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-doctor-'));
  emulator = await startEmulator({ tenants: 1, messagesPerDay: 50, seed: 12, throttle: { limit: 1000 } });
});

afterAll(async () => {
  await emulator.close();
});

/** A config for contoso with `http.timeout: 10m`; `withoutCa` drops the emulator's tls.caFile. */
function doctorConfig(
  overrides: TenantOverrides = {},
  options: { withoutCa?: boolean; caFile?: string } = {},
): string {
  const file = writeConfig(emulator, path.join(folder, `c${++configs}`), ['contoso'], { contoso: overrides });
  let yaml = readFileSync(file, 'utf8');
  if (options.withoutCa === true) yaml = yaml.replace(/^tls:\n {2}caFile: .*\n/m, '');
  if (options.caFile !== undefined)
    yaml = yaml.replace(/^( {2}caFile: ).*$/m, `$1${JSON.stringify(options.caFile)}`);
  writeFileSync(file, `${yaml}http:\n  timeout: 10m\n`);
  return file;
}

/** doctor, with the environment given (no proxy variables unless the test sets them). */
function doctor(config: string, env: NodeJS.ProcessEnv = {}): ReturnType<typeof runCli> {
  const proxyVariables = /^(https?|no)_proxy$/i;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !proxyVariables.test(key)));
  return runCli(['doctor', '--config', config], { ...clean, ...env });
}

/** A TCP server that counts connections and closes each at once. */
async function countingServer(): Promise<{ server: NetServer; port: number; connections: () => number }> {
  let count = 0;
  const server = createNetServer((socket: Socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, connections: () => count };
}

describe('doctor names network causes', () => {
  it(
    'a refused login host: refused, the host, tenants[0].loginUrl, no retry until the timeout',
    async () => {
      const port = await freePort();
      const config = doctorConfig({ loginUrl: `https://127.0.0.1:${port}` });
      const result = await doctor(config);
      expect(result.code).toBe(3);
      expect(result.stdout).toMatch(
        new RegExp(`tenant contoso .*FAILED .*login host 127\\.0\\.0\\.1:${port} refused the connection`),
      );
      expect(result.stdout).toMatch(/fix: .*tenants\[0\]\.loginUrl/);
      expect(result.stdout).not.toContain('aborted');
    },
    FAIL_SAFE_MS,
  );

  it(
    'a refused API host is named as the API host, with tenants[0].apiUrl',
    async () => {
      const port = await freePort();
      const config = doctorConfig({ apiUrl: `https://127.0.0.1:${port}` });
      const result = await doctor(config);
      expect(result.code).toBe(3);
      expect(result.stdout).toMatch(new RegExp(`API host 127\\.0\\.0\\.1:${port} refused the connection`));
      expect(result.stdout).toMatch(/fix: .*tenants\[0\]\.apiUrl/);
    },
    FAIL_SAFE_MS,
  );

  it(
    'a login host that does not resolve: named as DNS, with the host name',
    async () => {
      const config = doctorConfig({ loginUrl: 'https://login.exotrace-doctor.invalid' });
      const result = await doctor(config);
      expect(result.code).toBe(3);
      expect(result.stdout).toMatch(
        /login host login\.exotrace-doctor\.invalid could not be resolved \(DNS, E[A-Z_]+\)/,
      );
      expect(result.stdout).toMatch(/fix: .*tenants\[0\]\.loginUrl/);
    },
    FAIL_SAFE_MS,
  );

  it(
    'a connection reset at once is tried once, not retried',
    async () => {
      const { server, port, connections } = await countingServer();
      try {
        const config = doctorConfig({ apiUrl: `https://127.0.0.1:${port}` });
        const result = await doctor(config);
        expect(result.code).toBe(3);
        expect(result.stdout).toMatch(new RegExp(`API host 127\\.0\\.0\\.1:${port} `));
        expect(connections()).toBe(1);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    },
    FAIL_SAFE_MS,
  );

  it(
    'persistent 503s from the API: the status and how many times it answered it',
    async () => {
      emulator.faults.enqueue([{ kind: 'status', status: 503, targets: ['graph-list'] }], 20);
      try {
        const result = await doctor(doctorConfig());
        expect(result.code).toBe(3);
        expect(result.stdout).toMatch(/API host .* answered HTTP 503 3 times/);
        expect(result.stdout).toMatch(/fix: .*service health/);
        expect(result.stdout).not.toContain('aborted');
      } finally {
        emulator.faults.clear();
      }
    },
    FAIL_SAFE_MS,
  );

  it(
    'persistent 503s from the login host: the login host named, with the status and the count',
    async () => {
      emulator.faults.enqueue([{ kind: 'status', status: 503, targets: ['token'] }], 20);
      try {
        const result = await doctor(doctorConfig());
        expect(result.code).toBe(3);
        expect(result.stdout).toMatch(
          /FAILED \(transient\) — the login host 127\.0\.0\.1:\d+ answered HTTP 503 3 times in a row/,
        );
        expect(result.stdout).toMatch(/fix: .*service health/);
      } finally {
        emulator.faults.clear();
      }
    },
    FAIL_SAFE_MS,
  );

  it(
    'an API host that takes the connection and never answers: abandoned at http.timeout, the host named, no "sent again"',
    async () => {
      // Headers two minutes late, against an http.timeout of 5 s: past it whatever the machine's load.
      emulator.faults.enqueue([{ kind: 'slow-headers', delayMs: 120_000, targets: ['graph-list'] }], 20);
      try {
        const config = doctorConfig();
        writeFileSync(config, readFileSync(config, 'utf8').replace('timeout: 10m', 'timeout: 5s'));
        const result = await doctor(config);
        expect(result.code).toBe(3);
        expect(result.stdout).toContain('FAILED (request_timeout)');
        expect(result.stdout).toMatch(
          /fix: the API host 127\.0\.0\.1:\d+ \(apiUrl\) took the connection but did not answer in time/,
        );
        expect(result.stdout).not.toContain('the request is sent again');
      } finally {
        emulator.faults.clear();
      }
    },
    FAIL_SAFE_MS,
  );

  it(
    'an untrusted CA: the TLS cause, with tls.caFile and NODE_EXTRA_CA_CERTS as the fix',
    async () => {
      const result = await doctor(doctorConfig({}, { withoutCa: true }));
      expect(result.code).toBe(3);
      expect(result.stdout).toMatch(/TLS certificate of the login host 127\.0\.0\.1:\d+ is not trusted/);
      expect(result.stdout).toMatch(/fix: .*tls\.caFile.*NODE_EXTRA_CA_CERTS/);
    },
    FAIL_SAFE_MS,
  );

  it(
    'a certificate for another host name: says the name does not match',
    async () => {
      const ca = createCertificate({ subject: 'doctor test CA', isCa: true });
      const cert = createCertificate({ subject: 'elsewhere.test', issuer: ca, hosts: ['elsewhere.test'] });
      const caFile = path.join(folder, 'other-ca.pem');
      writeFileSync(caFile, ca.certPem);
      const server: HttpsServer = createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, (_req, res) => {
        res.end('{}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      try {
        const config = doctorConfig({ loginUrl: `https://127.0.0.1:${address.port}` }, { caFile });
        const result = await doctor(config);
        expect(result.code).toBe(3);
        expect(result.stdout).toMatch(
          /TLS certificate of the login host 127\.0\.0\.1:\d+ does not name 127\.0\.0\.1 .*it names DNS:elsewhere\.test/,
        );
        expect(result.stdout).toMatch(/fix: .*tenants\[0\]\.loginUrl/);
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
    FAIL_SAFE_MS,
  );

  it(
    'a refused proxy (HTTPS_PROXY): the proxy named, not the login host',
    async () => {
      const port = await freePort();
      const result = await doctor(doctorConfig(), { HTTPS_PROXY: `http://127.0.0.1:${port}` });
      expect(result.code).toBe(3);
      expect(result.stdout).toMatch(
        new RegExp(`proxy 127\\.0\\.0\\.1:${port} \\(HTTPS_PROXY\\) refused the connection`),
      );
      expect(result.stdout).toMatch(/fix: .*HTTPS_PROXY/);
    },
    FAIL_SAFE_MS,
  );
});

describe('a wrong tenantId', () => {
  const WRONG = '0badc0de-0000-4000-8000-000000000000';

  it(
    'doctor: tenant_not_found naming the tenant id and tenants[0].tenantId',
    async () => {
      const config = doctorConfig({ extra: [`tenantId: ${WRONG}`] });
      const result = await doctor(config);
      expect(result.code).toBe(3);
      expect(result.stdout).toMatch(/tenant contoso .*FAILED \(tenant_not_found\)/);
      expect(result.stdout).toContain(`tenant '${WRONG}' (tenants[0].tenantId) was not found`);
      expect(result.stdout).toContain('AADSTS90002');
      expect(result.stdout).toMatch(/fix: check tenants\[0\]\.tenantId/);
    },
    FAIL_SAFE_MS,
  );
});
