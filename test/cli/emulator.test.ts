/**
 * `exotrace emulator` as a user runs it: the built binary in its own process, its banner, a real
 * HTTPS request trusting the CA it printed, the credentials it printed, and a clean stop on
 * SIGTERM. Bad flags and configuration files end it with status 2 and a message naming the flag.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/wait.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

const GUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const BANNER_END = 'Ctrl-C stops it.\n';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Running {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  exited: Promise<Exit>;
}

function spawnCli(args: readonly string[], timeoutMs = 15_000): Running {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it)`);
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  // A process that should have ended but did not must not outlive the test.
  const guard = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
  };
}

/** Waits until the banner is printed in full; fails with what was printed if the process ends first. */
async function banner(running: Running, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const state = { ended: false };
  void running.exited.then(() => {
    state.ended = true;
  });
  while (!running.stdout.includes(BANNER_END)) {
    if (state.ended || Date.now() > deadline) {
      throw new Error(`no banner; stdout: ${running.stdout}\nstderr: ${running.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return running.stdout;
}

async function stopWith(running: Running, signal: NodeJS.Signals): Promise<Exit> {
  running.child.kill(signal);
  return running.exited;
}

interface BannerTenant {
  name: string;
  tenantId: string;
  domain: string;
  acceptedDomains: string[];
  messagesPerDay: number;
  clientId: string;
  clientSecret: string;
}
interface ParsedBanner {
  url: string;
  caFile: string;
  tenants: BannerTenant[];
  config: unknown;
}

function must(match: RegExpExecArray | null, what: string): RegExpExecArray {
  if (match === null) throw new Error(`the banner has no ${what}`);
  return match;
}

function parseBanner(text: string): ParsedBanner {
  const url =
    must(/^exotrace emulator listening on (https:\/\/127\.0\.0\.1:\d+)$/m.exec(text), 'URL')[1] ?? '';
  const caFile = must(/^ {2}CA certificate to trust: (\S+)$/m.exec(text), 'CA file')[1] ?? '';
  const tenantLine = new RegExp(
    `^ {2}([a-z][a-z0-9-]*): tenantId (${GUID}) \\(or (\\S+)\\), accepted domains (.+), (\\d+) messages/day\\n` +
      ` {4}clientId (${GUID}) {2}clientSecret (\\S+)$`,
    'gm',
  );
  const tenants = [...text.matchAll(tenantLine)].map((m) => ({
    name: m[1] ?? '',
    tenantId: m[2] ?? '',
    domain: m[3] ?? '',
    acceptedDomains: (m[4] ?? '').split(', '),
    messagesPerDay: Number(m[5]),
    clientId: m[6] ?? '',
    clientSecret: m[7] ?? '',
  }));
  const snippet = must(
    /^exotrace configuration for these tenants:\n((?: {2}.*\n)+)/m.exec(text),
    'config snippet',
  );
  return { url, caFile, tenants, config: parseYaml(snippet[1] ?? '') };
}

/** The snippet an exotrace configuration file can take as it is. */
function expectedSnippet(parsed: ParsedBanner): unknown {
  return {
    stateDir: './state',
    tls: { caFile: parsed.caFile },
    tenants: parsed.tenants.map((t) => ({
      name: t.name,
      tenantId: t.tenantId,
      clientId: t.clientId,
      clientSecret: t.clientSecret,
      loginUrl: parsed.url,
      apiUrl: parsed.url,
      organization: t.domain,
      acceptedDomains: t.acceptedDomains,
      startFrom: '24h',
    })),
    outputs: [{ type: 'file', path: './events.ndjson' }],
  };
}

async function httpsJson(
  agent: Agent,
  url: string,
  init: { method?: 'GET' | 'POST'; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: unknown }> {
  const res = await request(url, {
    method: init.method ?? 'GET',
    body: init.body ?? null,
    headers: init.headers ?? {},
    dispatcher: agent,
  });
  return { status: res.statusCode, body: await res.body.json() };
}

// ---------------------------------------------------------------------------------------------

describe('exotrace emulator', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'exotrace-cli-emulator-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints its URL, CA file, tenants and a config snippet; serves HTTPS with that CA; stops on SIGTERM', async () => {
    const certDir = path.join(dir, 'certs');
    const running = spawnCli(['emulator', '--port', '0', '--seed', '7', '--tenants', '2', '--dir', certDir]);
    try {
      const parsed = parseBanner(await banner(running));
      expect(parsed.caFile).toBe(path.join(certDir, 'ca.pem'));
      expect(readFileSync(parsed.caFile, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect(parsed.tenants.map((t) => [t.name, t.domain, t.acceptedDomains, t.messagesPerDay])).toEqual([
        ['contoso', 'contoso.onmicrosoft.com', ['contoso.com'], 2000],
        ['fabrikam', 'fabrikam.onmicrosoft.com', ['fabrikam.com'], 2000],
      ]);
      expect(new Set(parsed.tenants.map((t) => t.tenantId)).size).toBe(2);
      expect(parsed.config).toEqual(expectedSnippet(parsed));
      // apiUrl is the base, as the configuration key means; the Graph path is labelled as a path.
      expect(running.stdout).toContain(`  login (loginUrl):            ${parsed.url}\n`);
      expect(running.stdout).toContain(`  API base (apiUrl):           ${parsed.url}\n`);
      expect(running.stdout).toContain(
        `  Graph message trace:         ${parsed.url}/v1.0/admin/exchange/tracing/messageTraces  (also /beta)\n`,
      );
      expect(running.stdout).not.toMatch(/apiUrl\):\s+\S+\/v1\.0/);
      for (const line of ['Reporting Web Service:', 'control API (emulator only):']) {
        expect(running.stdout).toContain(line);
      }
      expect(running.stdout).toContain(`${parsed.url}/ecp/ReportingWebService/Reporting.svc/MessageTrace`);

      const agent = new Agent({ connect: { ca: readFileSync(parsed.caFile, 'utf8') } });
      try {
        const root = await httpsJson(agent, `${parsed.url}/_emulator`);
        expect(root.status).toBe(200);
        expect(root.body).toMatchObject({
          caFile: parsed.caFile,
          loginUrl: parsed.url,
          tenants: parsed.tenants.map((t) => ({
            name: t.name,
            tenantId: t.tenantId,
            apps: [{ clientId: t.clientId }],
          })),
        });
        // The printed credentials are the ones the identity platform takes.
        for (const t of parsed.tenants) {
          const token = await httpsJson(agent, `${parsed.url}/${t.tenantId}/oauth2/v2.0/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              grant_type: 'client_credentials',
              client_id: t.clientId,
              client_secret: t.clientSecret,
              scope: 'https://graph.microsoft.com/.default',
            }).toString(),
          });
          expect(token.status).toBe(200);
          expect(token.body).toMatchObject({ token_type: 'Bearer' });
        }
      } finally {
        await agent.close();
      }
      // Without the CA the server's certificate is not trusted.
      const stranger = new Agent();
      try {
        await expect(request(`${parsed.url}/_emulator`, { dispatcher: stranger })).rejects.toThrow();
      } finally {
        await stranger.close();
      }
    } finally {
      const exit = await stopWith(running, 'SIGTERM');
      expect(exit.signal).toBeNull();
      expect(exit.code).toBe(0);
      expect(exit.stderr).toContain('exotrace emulator: stopped');
    }
  });

  it('the configuration it prints is accepted as it is: saved to a file, `run --once` collects into its output', async () => {
    const running = spawnCli([
      'emulator',
      '--port',
      '0',
      '--seed',
      '3',
      '--dir',
      path.join(dir, 'copied-certs'),
    ]);
    try {
      const text = await banner(running);
      const block = must(
        /^exotrace configuration for these tenants:\n((?: {2}.*\n)+)/m.exec(text),
        'config snippet',
      )[1];
      const folder = path.join(dir, 'copied');
      await mkdir(folder, { recursive: true });
      // Copied as a user would: the indented block, pasted into a file.
      const file = path.join(folder, 'exotrace.yaml');
      await writeFile(file, block ?? '');
      const run = await runCli(['run', '--config', file, '--once']);
      expect(run.stderr).not.toMatch(/invalid configuration/);
      expect(run.code).toBe(0);
      const events = readFileSync(path.join(folder, 'events.ndjson'), 'utf8').split('\n').filter(Boolean);
      expect(events.length).toBeGreaterThan(0);
      const first = JSON.parse(events[0] ?? '{}') as { organization?: { name?: string } };
      expect(first.organization?.name).toBe('contoso.onmicrosoft.com');
    } finally {
      const exit = await stopWith(running, 'SIGTERM');
      expect(exit.code).toBe(0);
    }
  }, 60_000);

  it('the same seed prints the same tenant ids and secrets; another seed, others', async () => {
    const runs = [7, 7, 8].map((seed) =>
      spawnCli([
        'emulator',
        '--port',
        '0',
        '--seed',
        String(seed),
        '--tenants',
        '2',
        '--dir',
        path.join(dir, `seed-${seed}-${Math.random()}`),
      ]),
    );
    try {
      const [a, b, c] = await Promise.all(runs.map(async (run) => parseBanner(await banner(run))));
      if (a === undefined || b === undefined || c === undefined) throw new Error('three runs');
      const credentials = (p: ParsedBanner): string[][] =>
        p.tenants.map((t) => [t.name, t.tenantId, t.clientId, t.clientSecret]);
      expect(credentials(a)).toHaveLength(2);
      expect(credentials(b)).toEqual(credentials(a));
      expect(a.url).not.toBe(b.url);
      const other = credentials(c);
      expect(other.map((t) => t[0])).toEqual(['contoso', 'fabrikam']);
      for (const [i, tenant] of other.entries()) {
        const same = credentials(a)[i] ?? [];
        expect(tenant[1]).not.toBe(same[1]);
        expect(tenant[2]).not.toBe(same[2]);
        expect(tenant[3]).not.toBe(same[3]);
      }
    } finally {
      const exits = await Promise.all(runs.map((run) => stopWith(run, 'SIGINT')));
      expect(exits.map((e) => e.code)).toEqual([0, 0, 0]);
    }
  });

  describe('refuses bad flags with status 2 and a message naming the flag', () => {
    it.each([
      [['--host', '0.0.0.0'], /loopback only .*refused host 0\.0\.0\.0/],
      [['--host', '10.1.2.3'], /loopback only .*refused host 10\.1\.2\.3/],
      [['--throttle', 'nonsense'], /--throttle must look like 100\/5m .*'nonsense'/],
      [['--throttle', '10/0s'], /--throttle must look like 100\/5m/],
      [['--port', '70000'], /--port must be a whole number from 0 to 65535 \(got '70000'\)/],
      [['--port', 'http'], /--port must be a whole number/],
      [['--graph-mode', 'loose'], /--graph-mode must be observed or strict \(got 'loose'\)/],
      [['--tenants', '0'], /--tenants must be a whole number from 1 to 1000/],
      [['--fault-rate', '2'], /--fault-rate must be a number from 0 to 1/],
      [['--token-lifetime', 'forever'], /--token-lifetime must be a duration/],
      [['--time', 'yesterday'], /--time must be an ISO 8601 instant \(got 'yesterday'\)/],
    ])('%j', async (args, message) => {
      const exit = await spawnCli(['emulator', ...args, '--dir', path.join(dir, 'never')], 10_000).exited;
      expect(exit.code).toBe(2);
      expect(exit.stdout).toBe('');
      expect(exit.stderr).toMatch(message);
      expect(exit.stderr.startsWith('exotrace emulator: ')).toBe(true);
      // Refused before anything was written.
      expect(existsSync(path.join(dir, 'never'))).toBe(false);
    });
  });

  describe('--config FILE', () => {
    it('takes tenants, host and port from a YAML file', async () => {
      const port = await freePort();
      const file = path.join(dir, 'emulator.yaml');
      await writeFile(
        file,
        [
          'host: 127.0.0.1',
          `port: ${port}`,
          'seed: 3',
          'tenants:',
          '  - name: acme',
          '    tenantId: 0f0e0d0c-0b0a-4909-8807-060504030201',
          '    clientId: 11111111-2222-4333-8444-555555555555',
          '    clientSecret: acme-emulator-secret',
          '    acceptedDomains: [acme.example, acme.test]',
          '    messagesPerDay: 300',
          '  - name: globex',
          'api:',
          '  reportingPageSize: 100',
          '',
        ].join('\n'),
      );
      const running = spawnCli(['emulator', '--config', file, '--dir', path.join(dir, 'config-certs')]);
      try {
        const parsed = parseBanner(await banner(running));
        expect(parsed.url).toBe(`https://127.0.0.1:${port}`);
        expect(parsed.tenants[0]).toEqual({
          name: 'acme',
          tenantId: '0f0e0d0c-0b0a-4909-8807-060504030201',
          domain: 'acme.onmicrosoft.com',
          acceptedDomains: ['acme.example', 'acme.test'],
          messagesPerDay: 300,
          clientId: '11111111-2222-4333-8444-555555555555',
          clientSecret: 'acme-emulator-secret',
        });
        expect(parsed.tenants.map((t) => t.name)).toEqual(['acme', 'globex']);
        expect(parsed.config).toEqual(expectedSnippet(parsed));
      } finally {
        expect((await stopWith(running, 'SIGTERM')).code).toBe(0);
      }
    });

    it('flags override the file', async () => {
      const file = path.join(dir, 'override.yaml');
      await writeFile(file, 'tenants:\n  - name: acme\n');
      const running = spawnCli([
        'emulator',
        '--config',
        file,
        '--tenants',
        '3',
        '--dir',
        path.join(dir, 'o'),
      ]);
      try {
        const parsed = parseBanner(await banner(running));
        expect(parsed.tenants.map((t) => t.name)).toEqual(['contoso', 'fabrikam', 'northwind']);
      } finally {
        expect((await stopWith(running, 'SIGTERM')).code).toBe(0);
      }
    });

    it.each([
      [
        'an unknown key',
        'tenants:\n  - name: contoso\n    colour: blue\n',
        /tenants\.0\.colour: Unrecognized key: "colour"/,
      ],
      ['an unknown top-level key', 'tennants: 2\n', /tennants: Unrecognized key: "tennants"/],
      ['a bad value', 'throttle:\n  limit: lots\n', /throttle\.limit: /],
      ['a bad duration', 'api:\n  nextLinkTtl: soon\n', /api\.nextLinkTtl: not a duration: soon/],
      ['a non-loopback host', 'host: 0.0.0.0\n', /loopback only .*refused host 0\.0\.0\.0/],
      ['broken YAML', 'tenants: [\n', /bad\.yaml: /],
    ])('refuses %s with status 2 naming the key path', async (_what, text, message) => {
      const file = path.join(dir, 'bad.yaml');
      await writeFile(file, text);
      const exit = await spawnCli(['emulator', '--config', file, '--dir', path.join(dir, 'never')], 10_000)
        .exited;
      expect(exit.code).toBe(2);
      expect(exit.stdout).toBe('');
      expect(exit.stderr).toMatch(message);
    });

    it('refuses a missing file with status 2', async () => {
      const exit = await spawnCli(['emulator', '--config', path.join(dir, 'absent.yaml')], 10_000).exited;
      expect(exit.code).toBe(2);
      expect(exit.stderr).toMatch(/absent\.yaml: ENOENT/);
    });
  });
});
