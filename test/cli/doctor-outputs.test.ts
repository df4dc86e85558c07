/**
 * `exotrace doctor` checks the outputs too, against real receivers: the Elasticsearch emulator of
 * the sink tests (plain, over TLS, with an API key), an HTTP receiver that answers as Splunk's HEC,
 * a closed port, a server that takes the connection and never answers. Each failure names the
 * config key and the fix; exit 6 when only outputs fail, 3 when a tenant does too.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { generateTlsMaterial, type TlsMaterial } from '../../src/emulator/tls.js';
import { freePort } from '../helpers/wait.js';
import { startEsEmulator, type EsEmulator } from '../sinks/es-emulator.js';
import { startKafkaBroker } from '../sinks/kafka-broker.js';
import { startReceiver, type Receiver } from '../sinks/http-family/receiver.js';
import { runCli, writeConfig } from './collector-helpers.js';

const FAIL_SAFE_MS = 60_000;
const API_KEY = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';
const WRONG_KEY = 'd3Jvbmc6c2VjcmV0LWtleS12YWx1ZQ==';
const HEC_TOKEN = '8d9c6f0e-doctor-hec-token';

let emulator: Emulator;
let folder: string;
let configs = 0;
let es: EsEmulator;
let tls: TlsMaterial;
let esTls: EsEmulator;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-doctor-outputs-'));
  emulator = await startEmulator({ tenants: 1, messagesPerDay: 50, seed: 13, throttle: { limit: 1000 } });
  es = await startEsEmulator({ apiKey: API_KEY });
  tls = await generateTlsMaterial(path.join(folder, 'es-tls'));
  esTls = await startEsEmulator({
    tls: { certPem: tls.serverCertPem, keyPem: tls.serverKeyPem },
    apiKey: API_KEY,
  });
}, FAIL_SAFE_MS);

afterAll(async () => {
  await Promise.all([emulator.close(), es.close(), esTls.close()]);
});

/**
 * A config for contoso (healthy) with the file output writeConfig gives (outputs[0]) and `outputs`
 * after it (outputs[1]…), with `http.timeout` (default 10 minutes: a doctor that waits for it
 * would run past the fail-safe timeout).
 */
function config(outputs: readonly string[], options: { timeout?: string; loginUrl?: string } = {}): string {
  const file = writeConfig(emulator, path.join(folder, `c${++configs}`), ['contoso'], {
    contoso: options.loginUrl === undefined ? {} : { loginUrl: options.loginUrl },
  });
  const yaml = readFileSync(file, 'utf8').replace(/\n*$/, '\n');
  writeFileSync(file, `${yaml}${outputs.join('\n')}\nhttp:\n  timeout: ${options.timeout ?? '10m'}\n`);
  return file;
}

function doctor(file: string): ReturnType<typeof runCli> {
  const proxyVariables = /^(https?|no)_proxy$/i;
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !proxyVariables.test(key)));
  return runCli(['doctor', '--config', file], env);
}

/** The line of output `name` and the fix line under it. */
function report(stdout: string, name: string): { line: string; fix: string } {
  const lines = stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`output ${name} `));
  const fix = lines[at + 1] ?? '';
  return { line: lines[at] ?? '', fix: fix.startsWith('  fix: ') ? fix : '' };
}

const esOutput = (url: string, extra: readonly string[] = []): string =>
  ['  - type: elasticsearch', '    name: es', `    url: ${url}`, ...extra.map((l) => `    ${l}`)].join('\n');

describe('doctor checks the outputs', () => {
  it(
    'healthy outputs: OK each, with what was checked; exit 0',
    async () => {
      const caFile = path.join(folder, 'es-ca.pem');
      writeFileSync(caFile, tls.caCertPem);
      const result = await doctor(
        config([
          esOutput(es.url, [`apiKey: ${API_KEY}`]),
          esOutput(esTls.url, [`apiKey: ${API_KEY}`, `caFile: ${JSON.stringify(caFile)}`]).replace(
            'name: es',
            'name: es-tls',
          ),
        ]),
      );
      expect(result.code, result.stdout).toBe(0);
      expect(result.stdout).toMatch(/^tenant contoso .*: OK/m);
      expect(result.stdout).toMatch(/^output file \(file, .*events\.ndjson\): OK — the folder is writable$/m);
      expect(result.stdout).toMatch(
        /^output es \(elasticsearch, http:\/\/127\.0\.0\.1:\d+\): OK — reachable, TLS, credentials/m,
      );
      expect(result.stdout).toMatch(/^output es-tls \(elasticsearch, https:\/\/127\.0\.0\.1:\d+\): OK/m);
      expect(result.stdout).not.toContain('FAILED');
      expect(result.stdout).not.toContain(API_KEY);
    },
    FAIL_SAFE_MS,
  );

  it(
    'a down output (closed port): refused, outputs[1].url and the fix; exit 6',
    async () => {
      const port = await freePort();
      const result = await doctor(config([esOutput(`http://127.0.0.1:${port}`)]));
      expect(result.code, result.stdout).toBe(6);
      const { line, fix } = report(result.stdout, 'es');
      expect(line).toMatch(
        new RegExp(`FAILED \\(unreachable\\) — the receiver 127\\.0\\.0\\.1:${port} refused the connection`),
      );
      expect(fix).toMatch(/^ {2}fix: outputs\[1\]\.url: check the host and port in outputs\[1\]\.url/);
      // The others are still checked, and said OK.
      expect(result.stdout).toMatch(/^output file .*: OK/m);
    },
    FAIL_SAFE_MS,
  );

  it(
    'an untrusted output (TLS with a CA the config does not name): outputs[1].caFile; exit 6',
    async () => {
      const result = await doctor(config([esOutput(esTls.url, [`apiKey: ${API_KEY}`])]));
      expect(result.code, result.stdout).toBe(6);
      const { line, fix } = report(result.stdout, 'es');
      expect(line).toMatch(/FAILED \(tls_untrusted\) — .*not trusted/);
      expect(fix).toMatch(/^ {2}fix: outputs\[1\]\.caFile: set outputs\[1\]\.caFile to the CA \(PEM\)/);
    },
    FAIL_SAFE_MS,
  );

  it(
    'an unauthorized output (a wrong API key): outputs[1].apiKey, the key never shown; exit 6',
    async () => {
      const result = await doctor(config([esOutput(es.url, [`apiKey: ${WRONG_KEY}`])]));
      expect(result.code, result.stdout).toBe(6);
      const { line, fix } = report(result.stdout, 'es');
      expect(line).toMatch(/FAILED \(unauthorized\) — .*401/);
      expect(fix).toMatch(/^ {2}fix: outputs\[1\]\.apiKey: the cluster refused the API key/);
      expect(result.stdout).not.toContain(WRONG_KEY);
    },
    FAIL_SAFE_MS,
  );

  it(
    'Splunk HEC: healthy, but the token refused (403 code 4): outputs[1].token; exit 6',
    async () => {
      let receiver: Receiver | undefined;
      try {
        receiver = await startReceiver({
          handler: (request) =>
            request.path === '/services/collector/health'
              ? { status: 200, body: '{"text":"HEC is healthy","code":17}' }
              : { status: 403, body: '{"text":"Invalid token","code":4}' },
        });
        const hec = [
          '  - type: splunk-hec',
          '    name: hec',
          `    url: ${receiver.origin}`,
          `    token: ${HEC_TOKEN}`,
        ];
        const result = await doctor(config([hec.join('\n')]));
        expect(result.code, result.stdout).toBe(6);
        const { line, fix } = report(result.stdout, 'hec');
        expect(line).toMatch(/FAILED \(unauthorized\) — .*HEC refused the token \(403: Invalid token\)/);
        expect(fix).toMatch(/^ {2}fix: outputs\[1\]\.token: use an enabled HEC token/);
        expect(result.stdout).not.toContain(HEC_TOKEN);
        // Nothing was written: the token was tried with an empty request.
        expect(receiver.requests.every((r) => r.body === '')).toBe(true);

        // The same receiver taking the token ("No data" to an empty request): OK.
        receiver.handler = (request) =>
          request.path === '/services/collector/health'
            ? { status: 200, body: '{"text":"HEC is healthy","code":17}' }
            : { status: 400, body: '{"text":"No data","code":5}' };
        const good = await doctor(config([hec.join('\n')]));
        expect(good.code, good.stdout).toBe(0);
        expect(report(good.stdout, 'hec').line).toMatch(
          /OK — reachable, TLS, HEC healthy, the token accepted/,
        );
      } finally {
        await receiver?.stop();
      }
    },
    FAIL_SAFE_MS,
  );

  it(
    'an output that takes the connection and never answers: cut at http.timeout, named with the fix',
    async () => {
      // Accepts, reads, never answers: the check ends at http.timeout (2 s), whatever the machine.
      const sockets: Socket[] = [];
      const server: Server = createServer((socket) => {
        sockets.push(socket);
        socket.resume();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      try {
        const http = ['  - type: http', '    name: hook', `    url: http://127.0.0.1:${address.port}/ingest`];
        const result = await doctor(config([http.join('\n')], { timeout: '2s' }));
        expect(result.code, result.stdout).toBe(6);
        const { line, fix } = report(result.stdout, 'hook');
        expect(line).toMatch(/FAILED \(request_timeout\)/);
        expect(fix).toMatch(
          new RegExp(
            `^ {2}fix: http\\.timeout: the receiver 127\\.0\\.0\\.1:${address.port} \\(outputs\\[1\\]\\.url\\) took the connection but did not answer in time`,
          ),
        );
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => server.close(resolve));
      }
    },
    FAIL_SAFE_MS,
  );

  it(
    'a syslog server that refuses: outputs[1].host, no proxy advice (syslog does not use one)',
    async () => {
      const port = await freePort();
      const syslog = ['  - type: syslog', '    name: siem', '    host: 127.0.0.1', `    port: ${port}`];
      const result = await doctor(config([syslog.join('\n')]));
      expect(result.code, result.stdout).toBe(6);
      const { line, fix } = report(result.stdout, 'siem');
      expect(line).toMatch(
        new RegExp(
          `FAILED \\(unreachable\\) — the syslog server 127\\.0\\.0\\.1:${port} refused the connection`,
        ),
      );
      expect(fix).toMatch(/^ {2}fix: outputs\[1\]\.host: check the host and port in outputs\[1\]\.host/);
      expect(fix).not.toContain('proxy');
    },
    FAIL_SAFE_MS,
  );

  it(
    'kafka: a missing topic is named (outputs[1].topic) and not created; an untrusted broker: outputs[1].caFile',
    async () => {
      const broker = await startKafkaBroker({ autoCreateTopics: false });
      const secure = await startKafkaBroker({
        tls: { certPem: tls.serverCertPem, keyPem: tls.serverKeyPem },
      });
      try {
        secure.createTopic('trace');
        const kafka = (address: string, extra: readonly string[] = []): string =>
          [
            '  - type: kafka',
            '    name: bus',
            `    brokers: [${address}]`,
            '    topic: trace',
            ...extra,
          ].join('\n');
        const missing = await doctor(config([kafka(broker.address)]));
        expect(missing.code, missing.stdout).toBe(6);
        const { line, fix } = report(missing.stdout, 'bus');
        expect(line).toMatch(/FAILED \(not_found\)/);
        expect(fix).toMatch(/^ {2}fix: outputs\[1\]\.topic: create the topic trace/);
        expect(broker.records('trace')).toEqual([]);

        const untrusted = await doctor(config([kafka(secure.address, ['    tls: true'])]));
        expect(untrusted.code, untrusted.stdout).toBe(6);
        const report2 = report(untrusted.stdout, 'bus');
        expect(report2.line).toMatch(/FAILED \(tls_untrusted\)/);
        expect(report2.fix).toMatch(/^ {2}fix: outputs\[1\]\.caFile: set outputs\[1\]\.caFile to the CA/);
      } finally {
        await Promise.all([broker.stop(), secure.stop()]);
      }
    },
    FAIL_SAFE_MS,
  );

  it(
    'a tenant failing too: exit 3 (the tenant status first), the output still reported',
    async () => {
      const [loginPort, esPort] = [await freePort(), await freePort()];
      const result = await doctor(
        config([esOutput(`http://127.0.0.1:${esPort}`)], { loginUrl: `https://127.0.0.1:${loginPort}` }),
      );
      expect(result.code, result.stdout).toBe(3);
      expect(result.stdout).toMatch(/^tenant contoso .*FAILED/m);
      expect(report(result.stdout, 'es').line).toMatch(/FAILED \(unreachable\)/);
    },
    FAIL_SAFE_MS,
  );
});
