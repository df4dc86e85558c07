/**
 * The collector commands as a user runs them: the built `exotrace` binary spawned against the
 * emulator (in this process, over HTTPS): `run --once`, `run` stopped by SIGTERM, `backfill`,
 * `doctor`, `demo`, bad configurations; exit statuses of interface.md; no secret ever printed.
 *
 * The emulator's clock is frozen a few minutes ahead of the wall clock the CLI reads: its data
 * do not change between runs (so counts compare), and every query the CLI makes ends in the
 * emulator's past.
 */
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  writeSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { groundTruthKeys } from '../helpers/emulator-control.js';
import { freePort } from '../helpers/wait.js';
import type { CliResult } from '../helpers/cli.js';
import {
  allSecrets,
  patchTenant,
  readEvents,
  runCli,
  spawnCli,
  type EventLine,
  type Spawned,
  waitFor,
  writeConfig,
} from './collector-helpers.js';

const SP_FIX = 'New-MgServicePrincipal -AppId 8bd644d1-64a1-4d4b-ae52-2e0cbf64e373';
const WRONG_SECRET = 'wrong~secret-value-0123456789abcdefXYZ';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let emulator: Emulator;
let folder: string;
let secrets: string[];
let runCount = 0;

const dirOf = (name: string): string => path.join(folder, name);
const eventsOf = (name: string): string => path.join(dirOf(name), 'events.ndjson');
const orgOf = (tenant: string): string => `${tenant}.onmicrosoft.com`;

/** A file event as the emulator's ground truth names its row: trace id|recipient|status. */
function rowKeyOf(event: EventLine): string {
  const e = event as EventLine & {
    office365: { message_trace: { MessageTraceId: string } };
    email: { to?: { address: string[] } };
  };
  return `${e.office365.message_trace.MessageTraceId}|${(e.email.to?.address[0] ?? '').toLowerCase()}|${e.event.action}`;
}

/** Every run's output is searched for every client secret (and the wrong one tried). */
function assertNoSecret(result: CliResult): void {
  runCount++;
  for (const secret of [...secrets, WRONG_SECRET]) {
    expect(result.stdout.includes(secret), 'a client secret on stdout').toBe(false);
    expect(result.stderr.includes(secret), 'a client secret on stderr').toBe(false);
  }
}

async function cli(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  const result = await runCli(args, env);
  assertNoSecret(result);
  return result;
}

/** Requests the emulator has served, control API aside. */
function requestsServed(): number {
  let total = 0;
  for (const byApi of Object.values(emulator.stats.snapshot())) {
    for (const [api, byStatus] of Object.entries(byApi)) {
      if (api !== 'control') for (const n of Object.values(byStatus)) total += n;
    }
  }
  return total;
}

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-cli-collector-'));
  emulator = await startEmulator({ tenants: 2, messagesPerDay: 400, seed: 5, throttle: { limit: 1000 } });
  emulator.clock.set(Date.now() + 10 * 60_000);
  emulator.clock.freeze(true);
  secrets = allSecrets(emulator);
  expect(secrets.length).toBeGreaterThanOrEqual(2);
});

afterAll(async () => {
  await emulator.close();
});

describe('exotrace run --once', () => {
  it('exits 0 with both tenants events in the file, each event.id once', async () => {
    const config = writeConfig(emulator, dirOf('once'), ['contoso', 'fabrikam']);
    const result = await cli(['run', '--config', config, '--once']);
    expect(result.stderr).not.toMatch(/"level":"error"/);
    expect(result.code).toBe(0);
    const events = readEvents(eventsOf('once'));
    const ids = events.map((e) => e.event.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const tenant of ['contoso', 'fabrikam']) {
      expect(events.filter((e) => e.organization?.name === orgOf(tenant)).length).toBeGreaterThan(50);
    }
  });

  it('an output that takes nothing: exit 6, the other output complete, the events kept for the next run', async () => {
    const config = writeConfig(emulator, dirOf('output-down'), ['contoso']);
    appendFileSync(
      config,
      `  - type: http\n    name: hook\n    url: http://127.0.0.1:${await freePort()}/events\n`,
    );
    const result = await cli(['run', '--config', config, '--once']);
    expect(result.code, result.stderr).toBe(6);
    const warning = result.stderr.split('\n').find((line) => line.includes('output did not take everything'));
    expect(warning).toContain('"output":"hook"');
    expect(readEvents(eventsOf('output-down')).length).toBeGreaterThan(50);
  });

  it('the outbox full and an output down: collection stops, the outputs get their last round, exit 6', async () => {
    const name = 'full-and-down';
    const config = writeConfig(emulator, dirOf(name), ['contoso'], { contoso: { startFrom: '3d' } });
    appendFileSync(
      config,
      `  - type: http\n    name: hook\n    url: http://127.0.0.1:${await freePort()}/events\noutbox:\n  maxEvents: 1000\n`,
    );
    const run = spawnCli(['run', '--config', config, '--once']);
    // Fail-safe only: before the fix it never ended.
    const failSafe = setTimeout(() => run.child.kill('SIGKILL'), 120_000);
    const result = await run.done.finally(() => {
      clearTimeout(failSafe);
    });
    assertNoSecret(result);
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code, result.stderr).toBe(6);
    const stopped = result.stderr.split('\n').find((line) => line.includes('run --once stops collecting'));
    expect(stopped).toContain('"output":"hook"');
    expect(stopped).toContain('ECONNREFUSED');
    expect(result.stderr).not.toContain('"msg":"tenant collected"');
    const behind = result.stderr.split('\n').find((line) => line.includes('output did not take everything'));
    expect(behind).toContain('"output":"hook"');
    // The file output took what was committed before collection stopped.
    expect(readEvents(eventsOf(name)).length).toBeGreaterThanOrEqual(1000);
  }, 150_000);

  it('the outbox full and an output that accepts but never answers: collection stops, the round in flight is cut at the flush deadline, exit 6', async () => {
    const name = 'full-and-hung';
    // A receiver that takes the connection and the request, and never answers.
    const hung = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.resume();
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    try {
      const address = hung.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const config = writeConfig(emulator, dirOf(name), ['contoso'], { contoso: { startFrom: '3d' } });
      // Each request may wait 10 minutes: only cutting the round in flight ends the run in time.
      appendFileSync(
        config,
        `  - type: http\n    name: hook\n    url: http://127.0.0.1:${address.port}/events\n` +
          `outbox:\n  maxEvents: 1000\nhttp:\n  timeout: 10m\n`,
      );
      const run = spawnCli(['run', '--config', config, '--once']);
      // Fail-safe only: before the fix a round of 5 attempts of 10 minutes was waited for.
      const failSafe = setTimeout(() => run.child.kill('SIGKILL'), 170_000);
      const result = await run.done.finally(() => {
        clearTimeout(failSafe);
      });
      assertNoSecret(result);
      expect(result.signal, result.stderr).toBeNull();
      expect(result.code, result.stderr).toBe(6);
      const lines = result.stderr.split('\n');
      const stopped = lines.findIndex((line) => line.includes('run --once stops collecting'));
      expect(stopped, result.stderr).toBeGreaterThanOrEqual(0);
      // No round ended before collection stopped: no acknowledgement while full was enough.
      expect(lines[stopped]).toContain('"output":"hook"');
      expect(lines[stopped]).toMatch(/no acknowledgement/);
      expect(lines.slice(0, stopped).some((line) => line.includes('output failing'))).toBe(false);
      expect(result.stderr).not.toContain('"msg":"tenant collected"');
      const behind = lines.find((line) => line.includes('output did not take everything'));
      expect(behind).toContain('"output":"hook"');
      expect(readEvents(eventsOf(name)).length).toBeGreaterThanOrEqual(1000);
    } finally {
      await new Promise<void>((resolve) => {
        hung.close(() => {
          resolve();
        });
      });
    }
  }, 200_000);

  it('an output refusing one event with 400: only it dead-lettered, said at warn, exit 7', async () => {
    const name = 'dead-letter';
    // A receiver that refuses, as a whole, every batch carrying the first event it was ever sent.
    let poison: string | undefined;
    let accepted = 0;
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const lines = body.split('\n').filter((l) => l !== '');
        poison ??= (JSON.parse(lines[0] ?? '{}') as EventLine).event.id;
        if (lines.some((l) => (JSON.parse(l) as EventLine).event.id === poison)) {
          res.writeHead(400).end('schema mismatch');
        } else {
          accepted += lines.length;
          res.writeHead(200).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const config = writeConfig(emulator, dirOf(name), ['contoso']);
      appendFileSync(
        config,
        `  - type: http\n    name: hook\n    url: http://127.0.0.1:${address.port}/events\n`,
      );
      const result = await cli(['run', '--config', config, '--once']);
      expect(result.code, result.stderr).toBe(7);
      const lines = result.stderr.split('\n').filter((l) => l.includes('output refused events for good'));
      expect(lines).toHaveLength(1);
      const line = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
      expect(line).toMatchObject({ level: 'warn', output: 'hook', events: 1 });
      expect(line['reason']).toMatch(/refused the batch with 400: schema mismatch/);
      // Every other event was taken: the file output's count, less the one refused.
      expect(accepted).toBe(readEvents(eventsOf(name)).length - 1);
      const dead = await cli(['deadletter', 'list', '--config', config, '--output', 'hook']);
      expect(dead.stdout.trim().split('\n')).toHaveLength(1);
      expect(dead.stdout).toContain(poison ?? 'no poison');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a tenant without service principal: exit 3, the other tenant collected, the fix on stderr', async () => {
    const config = writeConfig(emulator, dirOf('no-sp'), ['contoso', 'fabrikam']);
    await patchTenant(emulator, 'fabrikam', { servicePrincipal: false });
    try {
      const result = await cli(['run', '--config', config, '--once']);
      expect(result.code).toBe(3);
      expect(result.stderr).toContain(SP_FIX);
      expect(result.stderr).toContain('fabrikam');
      const events = readEvents(eventsOf('no-sp'));
      expect(events.filter((e) => e.organization?.name === orgOf('contoso')).length).toBeGreaterThan(50);
      expect(events.filter((e) => e.organization?.name === orgOf('fabrikam'))).toEqual([]);
    } finally {
      await patchTenant(emulator, 'fabrikam', { servicePrincipal: true });
    }
  });
});

describe('a bad configuration: exit 2, the key path named, nothing collected', () => {
  const env = { ...process.env };
  delete env['EXOTRACE_TEST_UNSET_SECRET'];
  const cases: { name: string; overrides: Parameters<typeof writeConfig>[3]; expected: RegExp[] }[] = [
    {
      name: 'unknown-key',
      overrides: { fabrikam: { extra: ['    startFrm: 24h'] } },
      expected: [/tenants\[1\]\.startFrm/, /unknown key/],
    },
    {
      name: 'missing-env',
      overrides: { contoso: { clientSecret: '${EXOTRACE_TEST_UNSET_SECRET}' } },
      expected: [/tenants\[0\]\.clientSecret/, /EXOTRACE_TEST_UNSET_SECRET/],
    },
    {
      name: 'http-remote',
      overrides: { contoso: { apiUrl: 'http://graph.example.com' } },
      expected: [/tenants\[0\]\.apiUrl/, /loopback/],
    },
  ];
  for (const { name, overrides, expected } of cases) {
    it(name, async () => {
      const config = writeConfig(emulator, dirOf(name), ['contoso', 'fabrikam'], overrides);
      const before = requestsServed();
      const result = await cli(['run', '--config', config, '--once'], env);
      expect(result.code).toBe(2);
      for (const pattern of expected) expect(result.stderr).toMatch(pattern);
      expect(requestsServed()).toBe(before);
      expect(existsSync(eventsOf(name))).toBe(false);
      expect(existsSync(path.join(dirOf(name), 'state'))).toBe(false);
    });
  }
});

describe('exotrace doctor', () => {
  it('prints OK for each healthy tenant and exits 0', async () => {
    const config = writeConfig(emulator, dirOf('doctor-ok'), ['contoso', 'fabrikam']);
    const result = await cli(['doctor', '--config', config]);
    expect(result.stdout).toMatch(/tenant contoso .*: OK/);
    expect(result.stdout).toMatch(/tenant fabrikam .*: OK/);
    expect(result.stdout).not.toContain('FAILED');
    expect(result.code).toBe(0);
  });

  it('a tenant without service principal: FAILED with the fix, exit 3, the other still OK', async () => {
    const config = writeConfig(emulator, dirOf('doctor-sp'), ['contoso', 'fabrikam']);
    await patchTenant(emulator, 'fabrikam', { servicePrincipal: false });
    try {
      const result = await cli(['doctor', '--config', config]);
      expect(result.code).toBe(3);
      expect(result.stdout).toMatch(/tenant contoso .*: OK/);
      expect(result.stdout).toMatch(/tenant fabrikam .*: FAILED/);
      expect(result.stdout).toContain(SP_FIX);
    } finally {
      await patchTenant(emulator, 'fabrikam', { servicePrincipal: true });
    }
  });

  it('a wrong client secret: FAILED with the fix naming clientSecret, the secret not printed', async () => {
    const config = writeConfig(emulator, dirOf('doctor-secret'), ['contoso', 'fabrikam'], {
      contoso: { clientSecret: JSON.stringify(WRONG_SECRET) },
    });
    const result = await cli(['doctor', '--config', config]);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/tenant contoso .*: FAILED/);
    expect(result.stdout).toMatch(/fix: .*tenants\[0\]\.clientSecret/);
    expect(result.stdout).toMatch(/tenant fabrikam .*: OK/);
  });
});

describe('exotrace backfill', () => {
  it('collects rows older than the run start, and the same range again adds no duplicate', async () => {
    const name = 'backfill';
    const config = writeConfig(emulator, dirOf(name), ['contoso']);
    const run = await cli(['run', '--config', config, '--once']);
    expect(run.code).toBe(0);
    const afterRun = readEvents(eventsOf(name));
    expect(afterRun.length).toBeGreaterThan(50);
    const runOldest = Math.min(...afterRun.map((e) => Date.parse(e['@timestamp'])));
    // The run started 24 h back (startFrom): nothing older.
    expect(runOldest).toBeGreaterThanOrEqual(Date.now() - 24 * HOUR - 60 * 60_000);

    const first = await cli(['backfill', '--config', config, '--tenant', 'contoso', '--from', '3d']);
    expect(first.code).toBe(0);
    const afterBackfill = readEvents(eventsOf(name));
    const older = afterBackfill.filter((e) => Date.parse(e['@timestamp']) < runOldest);
    expect(older.length).toBeGreaterThan(50);
    expect(Math.min(...older.map((e) => Date.parse(e['@timestamp'])))).toBeLessThan(Date.now() - 48 * HOUR);
    let ids = afterBackfill.map((e) => e.event.id);
    expect(new Set(ids).size).toBe(ids.length);

    const again = await cli(['backfill', '--config', config, '--tenant', 'contoso', '--from', '3d']);
    expect(again.code).toBe(0);
    const afterAgain = readEvents(eventsOf(name));
    ids = afterAgain.map((e) => e.event.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(afterAgain.length).toBe(afterBackfill.length);
  });

  it('exits like run --once: 6 when an output did not take everything, 7 when events were dead-lettered', async () => {
    const down = writeConfig(emulator, dirOf('backfill-output-down'), ['contoso']);
    appendFileSync(
      down,
      `  - type: http\n    name: hook\n    url: http://127.0.0.1:${await freePort()}/events\n`,
    );
    const behind = await cli(['backfill', '--config', down, '--tenant', 'contoso', '--from', '2d']);
    expect(behind.code, behind.stderr).toBe(6);
    const warning = behind.stderr.split('\n').find((line) => line.includes('output did not take everything'));
    expect(warning).toContain('"output":"hook"');
    expect(warning).toContain('ECONNREFUSED');
    expect(readEvents(eventsOf('backfill-output-down')).length).toBeGreaterThan(50);

    // A receiver that refuses, as a whole, every batch carrying the first event it was ever sent.
    let poison: string | undefined;
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const lines = body.split('\n').filter((l) => l !== '');
        poison ??= (JSON.parse(lines[0] ?? '{}') as EventLine).event.id;
        const refused = lines.some((l) => (JSON.parse(l) as EventLine).event.id === poison);
        res.writeHead(refused ? 400 : 200).end(refused ? 'schema mismatch' : '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const refusing = writeConfig(emulator, dirOf('backfill-dead-letter'), ['contoso']);
      appendFileSync(
        refusing,
        `  - type: http\n    name: hook\n    url: http://127.0.0.1:${address.port}/events\n`,
      );
      const dead = await cli(['backfill', '--config', refusing, '--tenant', 'contoso', '--from', '2d']);
      expect(dead.code, dead.stderr).toBe(7);
      expect(dead.stderr).toContain('output refused events for good');
    } finally {
      server.close();
    }
  });

  it('a second backfill with an earlier --from collects the days before the first, and logs what it skips', async () => {
    const name = 'backfill-earlier';
    const config = writeConfig(emulator, dirOf(name), ['contoso']);
    const first = await cli(['backfill', '--config', config, '--tenant', 'contoso', '--from', '2d']);
    expect(first.code, first.stderr).toBe(0);
    const afterFirst = readEvents(eventsOf(name));
    expect(afterFirst.length).toBeGreaterThan(50);
    const firstOldest = Math.min(...afterFirst.map((e) => Date.parse(e['@timestamp'])));

    const secondStart = Date.now();
    const second = await cli(['backfill', '--config', config, '--tenant', 'contoso', '--from', '5d']);
    const secondEnd = Date.now();
    expect(second.code, second.stderr).toBe(0);
    const events = readEvents(eventsOf(name));
    const ids = events.map((e) => e.event.id);
    expect(new Set(ids).size).toBe(ids.length);
    // The three days before the first backfill, every row of them, as the emulator's ground truth
    // has them (not a count: whether three days hold more rows than two follows the weekday, and
    // on a Wednesday the weekend among the three made them fewer). The CLI's "5d" starts between
    // secondStart and secondEnd (a second either side for rounding): every row received after the
    // latest start is there, and nothing from before the earliest.
    const older = events.filter((e) => Date.parse(e['@timestamp']) < firstOldest);
    const olderKeys = new Set(older.map(rowKeyOf));
    const truth = (from: number): Promise<string[]> =>
      groundTruthKeys(emulator, 'contoso', from, firstOldest - 1, emulator.clock.now());
    const surely = await truth(secondEnd - 5 * DAY + 1000);
    const atMost = new Set(await truth(secondStart - 5 * DAY - 1000));
    expect(surely.length).toBeGreaterThan(50);
    expect(
      surely.filter((key) => !olderKeys.has(key)),
      'rows of the three days not collected',
    ).toEqual([]);
    expect(
      [...olderKeys].filter((key) => !atMost.has(key)),
      'events that are no row of the three days',
    ).toEqual([]);
    expect(Math.min(...older.map((e) => Date.parse(e['@timestamp'])))).toBeLessThan(
      Date.now() - 4 * 24 * HOUR,
    );
    // It says which part of what it was asked it left out: the first backfill's, up to the last 24 h.
    const skip = second.stderr
      .split('\n')
      .find((l) => l.includes('backfill skips a range already collected'));
    expect(skip, second.stderr).toBeDefined();
    const fields = JSON.parse(skip ?? '{}') as { tenant: string; from: string; to: string };
    expect(fields.tenant).toBe('contoso');
    expect(Date.parse(fields.from)).toBeLessThanOrEqual(firstOldest);
    expect(Date.parse(fields.from)).toBeGreaterThan(Date.now() - 2 * 24 * HOUR - 60 * 60_000);
    expect(Date.parse(fields.to)).toBeLessThanOrEqual(Date.now() - 24 * HOUR);
  });

  it('an unknown tenant is a usage error (exit 2)', async () => {
    const config = writeConfig(emulator, dirOf('backfill-unknown'), ['contoso']);
    const result = await cli(['backfill', '--config', config, '--tenant', 'nope', '--from', '1d']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("no tenant 'nope'");
  });
});

describe('exotrace run (daemon)', () => {
  it('SIGTERM after collecting: exit 0 promptly, every committed event flushed, complete lines only', async () => {
    const name = 'daemon';
    const config = writeConfig(emulator, dirOf(name), ['contoso', 'fabrikam']);
    const daemon = spawnCli(['run', '--config', config]);
    const collected = (): string[] =>
      daemon.stderr().match(/\{[^\n]*"msg":"tenant collected"[^\n]*\}/g) ?? [];
    try {
      // Both tenants' first cycle committed; stop at once, before the next delivery tick.
      await waitFor(() => collected().length >= 2, 20_000, 'both tenants collected');
    } catch (error) {
      daemon.child.kill('SIGKILL');
      throw error;
    }
    const stoppedAt = Date.now();
    daemon.child.kill('SIGTERM');
    const result = await daemon.done;
    assertNoSecret(result);
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    expect(result.stderr).not.toContain('output failing');
    const events = readEvents(eventsOf(name)); // throws on a partial line
    const ids = events.map((e) => e.event.id);
    expect(new Set(ids).size).toBe(ids.length);
    // What the passes committed to the outbox is all in the file: the stop flushed the outputs.
    const inserted = collected()
      .map((line) => JSON.parse(line) as { passes: { inserted: number }[] })
      .reduce((sum, log) => sum + log.passes.reduce((n, p) => n + p.inserted, 0), 0);
    expect(inserted).toBeGreaterThan(100);
    expect(events.length).toBe(inserted);
    for (const tenant of ['contoso', 'fabrikam']) {
      expect(events.filter((e) => e.organization?.name === orgOf(tenant)).length).toBeGreaterThan(50);
    }
  });
});

describe('exotrace run (daemon), stopped with a page in flight', () => {
  it('SIGTERM aborts the slow request: exit 0 promptly; a later --once completes without duplicates', async () => {
    const name = 'daemon-in-flight';
    const config = writeConfig(emulator, dirOf(name), ['contoso'], { contoso: { startFrom: '3d' } });
    // The first page is answered after 15 s: the stop must not wait for it.
    emulator.faults.clear();
    emulator.faults.enqueue([{ kind: 'slow-headers', delayMs: 15_000, targets: ['graph-list'] }]);
    let stoppedAt: number;
    let result: Awaited<Spawned['done']>;
    try {
      const daemon = spawnCli(['run', '--config', config]);
      // The slow fault drawn: the emulator has the first page request, the page is in flight.
      await waitFor(
        () => emulator.faults.queued === 0 || daemon.child.exitCode !== null,
        60_000,
        'a page in flight',
      );
      expect(daemon.child.exitCode).toBeNull();
      stoppedAt = Date.now();
      daemon.child.kill('SIGTERM');
      result = await daemon.done;
    } finally {
      emulator.faults.clear();
    }
    assertNoSecret(result);
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    // Well before the slow page would have been answered.
    expect(Date.now() - stoppedAt).toBeLessThan(8_000);
    expect(readEvents(eventsOf(name))).toBeDefined(); // complete lines only (throws otherwise)

    const again = await cli(['run', '--config', config, '--once']);
    expect(again.code).toBe(0);
    const events = readEvents(eventsOf(name));
    const ids = events.map((e) => e.event.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(Math.min(...events.map((e) => Date.parse(e['@timestamp'])))).toBeLessThan(Date.now() - 48 * HOUR);
  });
});

describe('exotrace run, stopped while it starts', () => {
  /**
   * `run` whose configuration is a named pipe: the CLI opens it to read once every module is
   * loaded and the command has begun, which this test sees (the pipe gets a reader) without timing.
   * Returns the CLI and the write end of the pipe.
   */
  async function runReadingAPipe(dir: string): Promise<{ daemon: Spawned; fifo: string; writer: number }> {
    const fifo = path.join(dir, 'exotrace-fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const daemon = spawnCli(['run', '--config', fifo]);
    let writer: number | undefined;
    try {
      await waitFor(
        () => {
          try {
            // Non-blocking open for writing succeeds only once the CLI has opened the pipe to read.
            writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
            return true;
          } catch {
            return daemon.child.exitCode !== null;
          }
        },
        60_000,
        'the CLI reading its configuration',
      );
    } catch (error) {
      daemon.child.kill('SIGKILL');
      throw error;
    }
    if (writer === undefined) {
      daemon.child.kill('SIGKILL');
      throw new Error(`the CLI ended before reading its configuration: ${daemon.stderr()}`);
    }
    return { daemon, fifo, writer };
  }

  it('SIGTERM before the configuration is read: a clean stop (exit 0), not a death by the signal', async () => {
    const dir = dirOf('early-stop');
    const real = writeConfig(emulator, dir, ['contoso']);
    const { daemon, writer } = await runReadingAPipe(dir);
    try {
      daemon.child.kill('SIGTERM');
      // Only then the configuration: the stop was asked before anything started. The CLI may
      // have gone already (the stop heard before the text came): nobody reads the pipe then.
      try {
        writeSync(writer, readFileSync(real));
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('EPIPE');
      }
    } finally {
      closeSync(writer);
    }
    const result = await daemon.done;
    assertNoSecret(result);
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code, result.stderr).toBe(0);
    // Heard before the text came, or after it and before anything started.
    expect(result.stderr).toMatch(
      /stopped before the configuration was read|stopping: finishing the page in flight, then flushing the outputs/,
    );
    // Nothing was collected: the stop came first.
    expect(readEvents(path.join(dir, 'events.ndjson'))).toEqual([]);
  });

  it('a configuration pipe nobody writes: SIGTERM still ends it at once, saying nothing was started', async () => {
    const dir = dirOf('early-stop-unwritten');
    mkdirSync(dir, { recursive: true });
    const { daemon, writer } = await runReadingAPipe(dir);
    try {
      daemon.child.kill('SIGTERM');
      const result = await daemon.done;
      expect(result.signal, result.stderr).toBeNull();
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('stopped before the configuration was read');
    } finally {
      closeSync(writer);
      daemon.child.kill('SIGKILL');
    }
  });
});

describe('exotrace run (daemon), SIGHUP', () => {
  it('stops cleanly like SIGTERM: exit 0, not a death by the signal, the outputs flushed', async () => {
    const name = 'daemon-hup';
    const config = writeConfig(emulator, dirOf(name), ['contoso']);
    const daemon = spawnCli(['run', '--config', config]);
    try {
      await waitFor(() => daemon.stderr().includes('"msg":"tenant collected"'), 60_000, 'contoso collected');
    } finally {
      daemon.child.kill('SIGHUP');
    }
    const result = await daemon.done;
    assertNoSecret(result);
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('stopping: finishing the page in flight, then flushing the outputs');
    expect(readEvents(eventsOf(name)).length).toBeGreaterThan(0);
  });
});

describe('exotrace backfill, stopped by SIGTERM', () => {
  it('exits 143 saying how to resume, like ^C (130): the supervisor stop is no failure', async () => {
    // Two requests per 5 minutes: after the first windows the backfill waits for its budget.
    const config = writeConfig(emulator, dirOf('backfill-sigterm'), ['contoso'], {
      contoso: { extra: ['requestsPer5Min: 2'] },
    });
    const backfill = spawnCli(['backfill', '--config', config, '--tenant', 'contoso', '--from', '60d']);
    try {
      await waitFor(
        () => backfill.stderr().includes('"msg":"backfill progress"') || backfill.child.exitCode !== null,
        60_000,
        'a window collected',
      );
    } finally {
      backfill.child.kill('SIGTERM');
    }
    const result = await backfill.done;
    assertNoSecret(result);
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code, result.stderr).toBe(143);
    expect(result.stderr).toContain(
      'backfill stopped; run the same command again to resume where it stopped',
    );
  });
});

describe('exotrace run --once, stopped', () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} after the first page: exit ${code}, no "tenant collected", no success recorded`, async () => {
      const name = `once-${signal}`;
      const config = writeConfig(emulator, dirOf(name), ['contoso'], { contoso: { startFrom: '3d' } });
      // Every page slow, so that the stop lands while the cycle still has pages to fetch.
      emulator.faults.setRates({ slowRate: 1, slowMs: 3_000 });
      let result: Awaited<Spawned['done']>;
      try {
        const run = spawnCli(['run', '--config', config, '--once', '--log-level', 'debug']);
        try {
          await waitFor(() => run.stderr().includes('"msg":"page committed"'), 60_000, 'a page committed');
        } catch (error) {
          run.child.kill('SIGKILL');
          throw error;
        }
        run.child.kill(signal);
        result = await run.done;
      } finally {
        emulator.faults.setRates({ slowRate: 0 });
      }
      assertNoSecret(result);
      expect(result.code, result.stderr).toBe(code);
      expect(result.stderr).not.toContain('"msg":"tenant collected"');
      expect(result.stderr).toContain('run it again to resume where it stopped');
      // The state does not say the tenant was collected: status sees no completed cycle.
      const status = await cli(['status', '--config', config, '--json']);
      const report = JSON.parse(status.stdout) as { tenants: { tenant: string; lastSuccessAt?: string }[] };
      expect(report.tenants).toEqual([expect.objectContaining({ tenant: 'contoso' })]);
      expect(report.tenants[0]?.lastSuccessAt).toBeUndefined();
    }, 120_000);
  }
});

describe('exotrace demo', () => {
  it('collects into the folder it is given and prints a summary and sample lines', async () => {
    const dir = dirOf('demo');
    const result = await cli(['demo', '--dir', dir, '--messages-per-day', '600']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/events in /);
    expect(result.stdout).toMatch(/by status/);
    expect(result.stdout).toMatch(/^\s+Delivered\s+\d/m);
    expect(result.stdout).toMatch(/Email from \S+@\S+ was sent to \S+@\S+ with subject .+ — \S+/);
    const entries = readdirSync(dir);
    expect(entries).toEqual(expect.arrayContaining(['exotrace.yaml', 'events.ndjson', 'state']));
    expect(readEvents(path.join(dir, 'events.ndjson')).length).toBeGreaterThan(50);
  });
});

describe('secrets', () => {
  it('every run above was searched for every client secret', () => {
    expect(runCount).toBeGreaterThanOrEqual(12);
  });
});
