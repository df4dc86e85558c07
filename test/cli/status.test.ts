/**
 * `exotrace status` as a user runs it: the built binary, after `run --once` (from the state), after
 * a failing tenant, while a daemon runs (from its /status), after the daemon was killed (from the
 * state again), against a daemon without health, against a /status answer past its ceiling, and
 * against a mistyped stateDir.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { request } from 'undici';
import { statusReport, type StatusReport } from '../../src/cli/status.js';
import { loadConfig } from '../../src/config/load.js';
import { snapshotOfReport } from '../../src/observe/status-report.js';
import { BODY_LIMITS } from '../../src/http/bounded-request.js';
import { openStateStore } from '../../src/state/index.js';
import type { CliResult } from '../helpers/cli.js';
import { allSecrets, runCli, spawnCli, waitFor, writeConfig } from './collector-helpers.js';
import { until } from '../helpers/wait.js';

const WRONG_SECRET = 'wrong~secret-value-0123456789abcdefXYZ';

let emulator: Emulator;
let folder: string;
let secrets: string[];

const dirOf = (name: string): string => path.join(folder, name);

async function cli(args: readonly string[]): Promise<CliResult> {
  const result = await runCli(args);
  for (const secret of [...secrets, WRONG_SECRET]) {
    expect(result.stdout.includes(secret), 'a client secret on stdout').toBe(false);
    expect(result.stderr.includes(secret), 'a client secret on stderr').toBe(false);
  }
  return result;
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Every `…At`, `…Since`, `cursor`, `from` and `to` in a document, with its path. */
function instantsOf(value: unknown, at = ''): [string, unknown][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => instantsOf(v, `${at}[${String(i)}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]): [string, unknown][] =>
    /(At|Since)$|^(cursor|from|to)$/.test(k) && at !== '' ? [[`${at}.${k}`, v]] : instantsOf(v, `${at}.${k}`),
  );
}

async function statusJson(config: string): Promise<{ code: number | null; report: StatusReport }> {
  const result = await cli(['status', '--config', config, '--json']);
  expect(result.stdout, result.stderr).toMatch(/^\{/);
  return { code: result.code, report: JSON.parse(result.stdout) as StatusReport };
}

/** A loopback port nothing listens on (for a failing output, or the health server). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-cli-status-'));
  emulator = await startEmulator({ tenants: 2, messagesPerDay: 200, seed: 7, throttle: { limit: 1000 } });
  emulator.clock.set(Date.now() + 10 * 60_000);
  emulator.clock.freeze(true);
  secrets = allSecrets(emulator);
});

afterAll(async () => {
  await emulator.close();
  rmSync(folder, { recursive: true, force: true });
});

describe('exotrace status from the state', () => {
  it('after a successful run --once: exit 0, each tenant with its checkpoints, zero backlog', async () => {
    const config = writeConfig(emulator, dirOf('ok'), ['contoso', 'fabrikam']);
    expect((await cli(['run', '--config', config, '--once'])).code).toBe(0);

    const { code, report } = await statusJson(config);
    expect(code, JSON.stringify(report.reasons)).toBe(0);
    expect(report).toMatchObject({ source: 'state', current: true, reasons: [] });
    expect(report.tenants.map((t) => t.tenant)).toEqual(['contoso', 'fabrikam']);
    for (const t of report.tenants) {
      expect(t).toMatchObject({ api: 'graph', neverCollected: false, failuresInARow: 0 });
      expect(t.lastError).toBeUndefined();
      expect(Date.parse(t.lastSuccessAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
      // The fast pass ends minAge (5 min) before the run: that is the lag.
      expect(t.lagMs).toBeGreaterThanOrEqual(5 * 60_000);
      expect(t.lagMs).toBeLessThan(t.maxLagMs);
      expect(Date.parse(t.checkpoints?.fast?.cursor ?? '')).toBeLessThan(Date.now());
      expect(t.checkpoints?.reconcile?.cursor).toBeDefined();
    }
    // Its rounds are kept in the state: the last success, no failure.
    expect(report.outputs).toEqual([
      {
        output: 'file',
        type: 'file',
        backlog: 0,
        deadLetters: 0,
        lastSuccessAt: expect.stringMatching(ISO) as string,
      },
    ]);

    const human = await cli(['status', '--config', config]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^TENANT +API +FAST CHECKPOINT +LAG +LAST SUCCESS +LAST ERROR$/m);
    expect(human.stdout).toMatch(/^contoso +graph +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +\d+m +\S+ +-$/m);
    expect(human.stdout).toMatch(/^file +file +0 +0 +-$/m);
    expect(human.stdout).toContain('current: every tenant');
  });

  it('after run --once and a bounded backfill: the ranges collected, with the gap between them', async () => {
    const config = writeConfig(emulator, dirOf('ranges'), ['contoso']);
    expect((await cli(['run', '--config', config, '--once'])).code).toBe(0);
    const backfill = await cli([
      'backfill',
      '--config',
      config,
      '--tenant',
      'contoso',
      '--from',
      '3d',
      '--to',
      '2d',
    ]);
    expect(backfill.code, backfill.stderr).toBe(0);

    const { report } = await statusJson(config);
    const collected = report.tenants[0]?.collected ?? [];
    // The backfill's day, then the run's 24 h (startFrom) up to now − minAge: two ranges, a day apart.
    expect(collected).toHaveLength(2);
    const [older, newer] = collected.map((r) => ({ from: Date.parse(r.from), to: Date.parse(r.to) }));
    const DAY = 24 * 3_600_000;
    expect(older?.to).toBeLessThan(newer?.from ?? 0);
    expect((older?.to ?? 0) - (older?.from ?? 0)).toBe(DAY);
    // Up to now − minAge: the fast pass's cursor, or the reconcile pass's end a little after it.
    expect(newer?.to).toBeGreaterThanOrEqual(Date.parse(report.tenants[0]?.checkpoints?.fast?.cursor ?? ''));
    expect(newer?.to).toBeLessThanOrEqual(Date.now() - 5 * 60_000);

    const human = await cli(['status', '--config', config]);
    const [a, b] = collected.map((r) => ({
      from: r.from.replace(/\.\d{3}Z$/, 'Z'),
      to: r.to.replace(/\.\d{3}Z$/, 'Z'),
    }));
    expect(human.stdout).toContain(`contoso: collected ${a?.from} → ${a?.to}, ${b?.from} → ${b?.to}\n`);
    expect(human.stdout).not.toContain('backfill collected up to');
  });

  it('after a failing tenant: exit 1, its last error with its code and fix', async () => {
    const config = writeConfig(emulator, dirOf('failing'), ['contoso', 'fabrikam'], {
      fabrikam: { clientSecret: JSON.stringify(WRONG_SECRET) },
    });
    expect((await cli(['run', '--config', config, '--once'])).code).toBe(3);

    const { code, report } = await statusJson(config);
    expect(code).toBe(1);
    expect(report.current).toBe(false);
    const fabrikam = report.tenants.find((t) => t.tenant === 'fabrikam');
    expect(fabrikam).toMatchObject({ failuresInARow: 1, lastError: { code: 'bad_secret' } });
    expect(fabrikam?.lastSuccessAt).toBeUndefined();
    expect(fabrikam?.lastFailureAt).toBeDefined();
    expect(report.reasons).toContain('tenant fabrikam: last cycle failed (bad_secret)');
    expect(report.tenants.find((t) => t.tenant === 'contoso')?.lastError).toBeUndefined();

    const human = await cli(['status', '--config', config]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^fabrikam +graph .* bad_secret$/m);
    expect(human.stdout).toMatch(/^fabrikam: last cycle failed at \S+: bad_secret: .*AADSTS/m);
    expect(human.stdout).toMatch(/^ {2}fix: .*clientSecret/m);
    expect(human.stdout).toContain('NOT CURRENT:');
  });

  it('after a run --once whose output was down (exit 6): exit 1, the output failing with its error', async () => {
    const config = writeConfig(emulator, dirOf('output-down'), ['contoso']);
    appendFileSync(
      config,
      `  - type: http\n    name: hook\n    url: http://127.0.0.1:${await freePort()}/events\n`,
    );
    const before = Date.now();
    expect((await cli(['run', '--config', config, '--once'])).code).toBe(6);

    const { code, report } = await statusJson(config);
    expect(code, JSON.stringify(report.reasons)).toBe(1);
    expect(report.current).toBe(false);
    // The tenants are current; the output is not keeping up, as the daemon would say.
    expect(report.reasons).toEqual([expect.stringMatching(/^output hook: failing for .* \(ECONNREFUSED\)$/)]);
    const hook = report.outputs.find((o) => o.output === 'hook');
    expect(hook?.backlog).toBeGreaterThan(0);
    expect(hook?.lastError?.['code']).toBe('ECONNREFUSED');
    expect(Date.parse(hook?.failingSince ?? '')).toBeGreaterThanOrEqual(before);
    expect(report.outputs.find((o) => o.output === 'file')?.failingSince).toBeUndefined();
    const human = await cli(['status', '--config', config]);
    expect(human.stdout).toMatch(/^hook +http +[1-9]\d* +0 +ECONNREFUSED$/m);
    expect(human.stdout).toMatch(
      /^hook: failing since \S+Z: http output hook: POST .* failed \(ECONNREFUSED\): nothing accepts connections at \S+; check the url of output hook and that the receiver is running$/m,
    );
    expect(human.stdout).toContain('NOT CURRENT:');
  });

  it('a tenant never collected and an output holding dead letters and a full backlog: exit 1, each named', async () => {
    const dir = dirOf('backlog');
    const config = writeConfig(emulator, dir, ['contoso']);
    appendFileSync(config, 'outbox:\n  maxEvents: 1000\n');
    // The state as an earlier run left it: 1,000 events the file output never acknowledged, one dead-lettered.
    const store = openStateStore({ stateDir: path.join(dir, 'state') });
    await store.registerSinks(['file'], 'beginning');
    await store.commitPage('other', {
      pass: 'fast',
      checkpoint: { cursor: 1 },
      events: Array.from({ length: 1000 }, (_, i) => i + 1).map((n) => ({
        key: `k${n}`,
        eventId: `id-${n}`,
        json: `{"n":${n}}`,
      })),
      rejects: [],
      now: Date.now(),
      seenTtlMs: 60_000,
    });
    await store.deadLetter('file', 1, 'refused');
    await store.close();

    const { code, report } = await statusJson(config);
    expect(code).toBe(1);
    expect(report.tenants).toEqual([
      expect.objectContaining({ tenant: 'contoso', neverCollected: true, checkpoints: {} }),
    ]);
    expect(report.outputs).toEqual(
      [{ output: 'file', type: 'file', backlog: 1000, deadLetters: 1 }].map((o) => ({
        ...o,
        oldestWaitingAt: report.outputs[0]?.oldestWaitingAt,
        newestDeadLetterAt: report.outputs[0]?.newestDeadLetterAt,
      })),
    );
    expect(Date.parse(report.outputs[0]?.oldestWaitingAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
    // When the dead letter was put aside (readiness counts new ones).
    expect(Date.parse(report.outputs[0]?.newestDeadLetterAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect(report.reasons).toEqual([
      'tenant contoso: no cycle completed yet',
      'output file: 1000 events waiting (bound 1000)',
      expect.stringMatching(
        /^output file: 1 dead letter \(exotrace deadletter list --config .* --output file\)$/,
      ),
    ]);
    const human = await cli(['status', '--config', config]);
    expect(human.stdout).toMatch(/^contoso +graph +never collected +- +- +-$/m);
    expect(human.stdout).toMatch(/^file +file +1000 +1 +-$/m);
  });

  it('an output that has taken nothing for longer than outbox.warnAfter: exit 1, its oldest event named', async () => {
    const dir = dirOf('stalled-output');
    const config = writeConfig(emulator, dir, ['contoso']);
    const now = Date.now();
    // contoso collected a minute ago, current; the file output has taken nothing for 3 hours.
    const store = openStateStore({ stateDir: path.join(dir, 'state') });
    await store.registerSinks(['file'], 'beginning');
    await store.commitPage('contoso', {
      pass: 'fast',
      checkpoint: { cursor: now - 3 * 3_600_000 },
      events: [{ key: 'k1', eventId: 'id-1', json: '{"n":1}' }],
      rejects: [],
      now: now - 3 * 3_600_000,
      seenTtlMs: 60_000,
    });
    await store.commitPage('contoso', {
      pass: 'fast',
      checkpoint: { cursor: now - 6 * 60_000 },
      events: [],
      rejects: [],
      now: now - 60_000,
      seenTtlMs: 60_000,
    });
    await store.recordTenantCycle('contoso', { at: now - 60_000 });
    await store.close();

    const { code, report } = await statusJson(config);
    expect(code).toBe(1);
    expect(report.outputs).toEqual([
      {
        output: 'file',
        type: 'file',
        backlog: 1,
        deadLetters: 0,
        oldestWaitingAt: new Date(now - 3 * 3_600_000).toISOString(),
      },
    ]);
    // Only the output: one event is far below maxEvents, and the tenant is current.
    expect(report.reasons).toEqual([
      'output file: its oldest event has waited 180 min (bound outbox.warnAfter, 60 min)',
    ]);
  });

  it('--max-lag replaces the lag bound (an hourly cron run --once); a bad value is a usage error', async () => {
    const dir = dirOf('max-lag');
    const config = writeConfig(emulator, dir, ['contoso']);
    const now = Date.now();
    const store = openStateStore({ stateDir: path.join(dir, 'state') });
    await store.commitPage('contoso', {
      pass: 'fast',
      checkpoint: { cursor: now - 3_600_000 },
      events: [],
      rejects: [],
      now,
      seenTtlMs: 60_000,
    });
    await store.recordTenantCycle('contoso', { at: now });
    await store.close();

    // An hour behind: past minAge (5 min) + 2 polls + 15 min.
    const strict = await statusJson(config);
    expect(strict.code).toBe(1);
    expect(strict.report.reasons).toEqual(['tenant contoso: 60 min behind (bound 22 min)']);

    const relaxed = await cli(['status', '--config', config, '--max-lag', '2h', '--json']);
    expect(relaxed.code, relaxed.stdout + relaxed.stderr).toBe(0);
    const report = JSON.parse(relaxed.stdout) as StatusReport;
    expect(report).toMatchObject({ current: true, reasons: [] });
    expect(report.tenants[0]?.maxLagMs).toBe(2 * 3_600_000);

    // 30m is shorter than the lag: not current, by the bound given.
    const tight = await cli(['status', '--config', config, '--max-lag', '30m']);
    expect(tight.code).toBe(1);
    expect(tight.stdout).toContain('tenant contoso: 60 min behind (bound 30 min)');

    for (const bad of ['2 hours', '90', '0m']) {
      const result = await cli(['status', '--config', config, '--max-lag', bad]);
      expect(result.code, bad).toBe(2);
      expect(result.stderr).toContain(`--max-lag "${bad}" is not a duration`);
      expect(result.stdout).toBe('');
    }
  });

  it('a state with checkpoints but no recorded cycle (its first cycle never finished): not current, as /readyz says', async () => {
    const dir = dirOf('no-cycles');
    const config = writeConfig(emulator, dir, ['contoso', 'fabrikam']);
    const now = Date.now();
    const store = openStateStore({ stateDir: path.join(dir, 'state') });
    // The fast pass of each committed (contoso within its bound, fabrikam 2 hours behind), then the
    // run was stopped during the reconcile pass: no cycle recorded.
    for (const [tenant, lag] of [
      ['contoso', 6 * 60_000],
      ['fabrikam', 2 * 3_600_000],
    ] as const) {
      await store.commitPage(tenant, {
        pass: 'fast',
        checkpoint: { cursor: now - lag },
        events: [],
        rejects: [],
        now,
        seenTtlMs: 60_000,
      });
    }
    await store.close();

    const { code, report } = await statusJson(config);
    expect(code).toBe(1);
    expect(report.reasons).toEqual([
      'tenant contoso: no cycle completed yet',
      'tenant fabrikam: no cycle completed yet',
      'tenant fabrikam: 120 min behind (bound 22 min)',
    ]);
    for (const t of report.tenants) {
      expect(t).toMatchObject({ neverCollected: false });
      expect(t.lastSuccessAt).toBeUndefined();
    }
    const human = await cli(['status', '--config', config]);
    expect(human.stdout).toMatch(/^contoso +graph +\S+Z +6m +never +-$/m);
    // A larger lag bound does not make a cycle that never finished current.
    const relaxed = await cli(['status', '--config', config, '--max-lag', '3h']);
    expect(relaxed.code, relaxed.stdout).toBe(1);
    expect(relaxed.stdout).not.toContain('min behind');
  });

  it('a state file that is not a database: exit 5, naming the file and the cause', async () => {
    const dir = dirOf('garbage');
    const config = writeConfig(emulator, dir, ['contoso']);
    mkdirSync(path.join(dir, 'state'));
    const file = path.join(dir, 'state', 'exotrace.db');
    writeFileSync(file, 'this is not a SQLite database, just some text '.repeat(200));
    const result = await cli(['status', '--config', config]);
    expect(result.code, result.stderr).toBe(5);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`exotrace status: cannot read the state ${file}: file is not a database`);
    expect(result.stderr).toContain('restore it from a backup');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('a stateDir without state: exit 2, naming stateDir and the path, and nothing created', async () => {
    const dir = dirOf('typo');
    const config = writeConfig(emulator, dir, ['contoso']);
    writeFileSync(config, readFileSync(config, 'utf8').replace('stateDir: ./state', 'stateDir: ./stat'));
    const result = await cli(['status', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`stateDir ${path.join(dir, 'stat')} does not exist`);
    expect(existsSync(path.join(dir, 'stat'))).toBe(false);
  });
});

describe('exotrace status while the daemon runs', () => {
  it('answers from the daemon /status, with the same tenants; after a kill, from the state', async () => {
    const dir = dirOf('daemon');
    const config = writeConfig(emulator, dir, ['contoso', 'fabrikam']);
    const [healthPort, closedPort] = [await freePort(), await freePort()];
    appendFileSync(
      config,
      `  - type: http\n    name: hook\n    url: http://127.0.0.1:${closedPort}/events\nhealth:\n  listen: 127.0.0.1:${healthPort}\n`,
    );
    const daemon = spawnCli(['run', '--config', config]);
    try {
      const collected = (): number => (daemon.stderr().match(/"msg":"tenant collected"/g) ?? []).length;
      await waitFor(() => collected() >= 2, 30_000, 'both tenants collected');

      const { report } = await statusJson(config);
      // Every tenant current; only the hook, whose output is down, may be named (once a round gave up).
      expect(report.reasons.filter((r) => !r.startsWith('output hook: failing'))).toEqual([]);
      expect(report.source).toBe('daemon');
      expect(report.from).toBe(`http://127.0.0.1:${healthPort}/status`);
      expect(report.tenants.map((t) => t.tenant)).toEqual(['contoso', 'fabrikam']);
      for (const t of report.tenants) {
        expect(t.api).toBe('graph');
        expect(t.lastSuccessAt).toBeDefined();
        expect(t.checkpoints?.fast?.cursor).toMatch(/^\d{4}-\d\d-\d\dT/);
      }
      // The http output has nowhere to deliver: its events wait, the file's do not.
      const hook = report.outputs.find((o) => o.output === 'hook');
      expect(hook?.type).toBe('http');
      expect(hook?.backlog).toBeGreaterThan(0);
      // Why, as the daemon saw it (once a round of it has given up): its last error, since when.
      let failing = hook;
      await until(async () => {
        failing = (await statusJson(config)).report.outputs.find((o) => o.output === 'hook');
        return failing?.lastError !== undefined;
      }, 30_000);
      expect(failing?.lastError?.['code']).toBe('ECONNREFUSED');
      expect(Date.parse(failing?.failingSince ?? '')).toBeGreaterThan(0);
      // The daemon's /status is the document status --json prints: its keys, ISO instants, and
      // read back and built again by the same function, the same document.
      const direct = (await (
        await request(`http://127.0.0.1:${healthPort}/status`)
      ).body.json()) as StatusReport;
      expect(Object.keys(direct).sort()).toEqual([
        'at',
        'current',
        'from',
        'outputs',
        'reasons',
        'source',
        'tenants',
      ]);
      expect(direct.source).toBe('daemon');
      expect(direct.from).toBe(`http://127.0.0.1:${healthPort}/status`);
      expect(instantsOf(direct).length).toBeGreaterThan(4);
      for (const [key, value] of instantsOf(direct)) expect(value, key).toMatch(ISO);
      expect(direct.outputs.find((o) => o.output === 'hook')?.failingSince).toMatch(ISO);
      const rebuilt = statusReport(
        loadConfig(config),
        snapshotOfReport(direct as unknown as Parameters<typeof snapshotOfReport>[0]),
        { kind: 'daemon', from: direct.from },
        Date.parse(direct.at),
      );
      expect(rebuilt).toEqual(direct);
      // A failing output is not keeping up, the daemon says so at once (not after 15 minutes).
      const failingStatus = await statusJson(config);
      expect(failingStatus.code).toBe(1);
      expect(failingStatus.report.reasons).toEqual([
        expect.stringMatching(/^output hook: failing for .* \(ECONNREFUSED\)$/),
      ]);
      const human = await cli(['status', '--config', config]);
      expect(human.stdout).toContain(`from the running collector at http://127.0.0.1:${healthPort}/status`);
      expect(human.stdout).toMatch(/^hook +http +[1-9]\d* +0 +ECONNREFUSED$/m);
      expect(human.stdout).toMatch(
        /^hook: failing since \S+Z: http output hook: POST .* failed \(ECONNREFUSED\): nothing accepts connections at \S+; check the url of output hook and that the receiver is running$/m,
      );
    } finally {
      // Killed, as a crash would: the outputs get no flush (the hook could never take it anyway).
      daemon.child.kill('SIGKILL');
      await daemon.done;
    }

    const { report } = await statusJson(config);
    expect(report.source).toBe('state');
    expect(report.tenants.map((t) => [t.tenant, t.lastSuccessAt !== undefined])).toEqual([
      ['contoso', true],
      ['fabrikam', true],
    ]);
    expect(report.outputs.find((o) => o.output === 'hook')?.backlog).toBeGreaterThan(0);
  });

  it('a /status answer past its ceiling is abandoned there: exit 4, naming the ceiling', async () => {
    // Whatever answers on the health port (here a local server, the state held by this process as
    // a collector holds it) is read within BODY_LIMITS.statusDocument, never whole into memory.
    const dir = dirOf('huge-status');
    const port = await freePort();
    const config = writeConfig(emulator, dir, ['contoso']);
    appendFileSync(config, `health:\n  listen: 127.0.0.1:${port}\n`);
    const limit = BODY_LIMITS.statusDocument;
    let sent = 0;
    const server = createHttpServer((_req, res) => {
      // Chunked (no length announced), a quarter past the ceiling, then an end: bounded even
      // when the client reads it all, as it did before.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"tenants":[],"outputs":[],"pad":"');
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const more = (): void => {
        while (sent < limit * 1.25 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', more);
            return;
          }
        }
        if (!res.destroyed) res.end('"}');
      };
      more();
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const store = openStateStore({ stateDir: path.join(dir, 'state') });
    try {
      const result = await cli(['status', '--config', config]);
      expect(result.code, result.stderr).toBe(4);
      expect(result.stderr).toContain('is held by a running collector');
      expect(result.stderr).toContain(`/status answered more than ${limit} bytes`);
      expect(result.stdout).toBe('');
    } finally {
      await store.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    }
  });

  it('a daemon without health: exit 4, saying the collector holds the state and to enable health', async () => {
    const config = writeConfig(emulator, dirOf('no-health'), ['contoso']);
    const daemon = spawnCli(['run', '--config', config]);
    try {
      await waitFor(() => daemon.stderr().includes('"msg":"tenant collected"'), 30_000, 'contoso collected');
      const result = await cli(['status', '--config', config]);
      expect(result.code).toBe(4);
      expect(result.stderr).toContain('is held by a running collector');
      expect(result.stderr).toContain('health: { listen: 127.0.0.1:9464 }');
      expect(result.stdout).toBe('');
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.done;
    }
  });
});
