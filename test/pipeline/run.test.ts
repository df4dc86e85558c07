/**
 * The collector end to end against the emulator over HTTPS: several tenants in one process, file
 * output, compared with the emulator's ground truth. Nothing lost, nothing duplicated.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config, type TenantConfig } from '../../src/config/load.js';
import type { MessageTraceSource } from '../../src/sources/source.js';
import { collectorConfigYaml } from '../../src/emulator/collector-config.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { silentLogger } from '../../src/observe/log.js';
import { freePort, until } from '../helpers/wait.js';
import { describeError, failingTenantDelay, runCollector } from '../../src/pipeline/run.js';
import { ExotraceError } from '../../src/core/errors.js';
import { createMemorySink } from '../../src/sinks/memory.js';
import { createSource } from '../../src/sources/create.js';
import { openSqliteStore } from '../../src/state/sqlite.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const MIN_AGE = 5 * 60_000;

let emulator: Emulator;
let folder: string;

function writeConfig(name: string, tenants: readonly string[]): Config {
  const dir = path.join(folder, name);
  const file = path.join(dir, 'exotrace.yaml');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    file,
    collectorConfigYaml(emulator, { tenants, settings: { minAge: '5m', reconcileLookback: '24h' } }),
  );
  return loadConfig(file);
}

interface EventLine {
  event: { id: string; action: string };
  office365: { message_trace: { MessageTraceId: string } };
  email: { to?: { address: string[] } };
  organization?: { name: string };
}

function events(config: Config): EventLine[] {
  const file = path.join(path.dirname(config.file), 'events.ndjson');
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as EventLine);
}

async function truth(tenant: string, from: number, to: number, asOf: number): Promise<Set<string>> {
  const { request, Agent } = await import('undici');
  const agent = new Agent({ connect: { ca: emulator.caCertPem } });
  const res = await request(
    `${emulator.url}/_emulator/ground-truth?tenant=${tenant}&from=${from}&to=${to}&asOf=${asOf}`,
    {
      dispatcher: agent,
    },
  );
  const text = await res.body.text();
  await agent.close();
  return new Set(
    text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as { id: string; recipient: string; status: string })
      .map((r) => `${r.id}|${r.recipient.toLowerCase()}|${r.status}`),
  );
}

const keyOf = (e: EventLine): string =>
  `${e.office365.message_trace.MessageTraceId}|${(e.email.to?.address[0] ?? '').toLowerCase()}|${e.event.action}`;

/** The emulator's control API. */
async function control(method: 'PATCH' | 'POST' | 'DELETE', route: string, body?: unknown): Promise<void> {
  const { request, Agent } = await import('undici');
  const agent = new Agent({ connect: { ca: emulator.caCertPem } });
  try {
    const res = await request(`${emulator.url}/_emulator${route}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      dispatcher: agent,
    });
    await res.body.text();
  } finally {
    await agent.close();
  }
}

/** A tenant with or without Exchange's service principal. */
const setServicePrincipal = (tenant: string, value: boolean): Promise<void> =>
  control('PATCH', `/tenants/${tenant}`, { servicePrincipal: value });

/** GET on the daemon's health server. */
async function getHealth(
  listen: string,
  route: string,
): Promise<{ status: number; body: { ready?: boolean; reasons?: string[] } }> {
  const { request } = await import('undici');
  const res = await request(`http://${listen}${route}`);
  return { status: res.statusCode, body: (await res.body.json()) as { ready?: boolean; reasons?: string[] } };
}

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-run-'));
  emulator = await startEmulator({ tenants: 2, messagesPerDay: 1500, seed: 3, throttle: { limit: 1000 } });
  emulator.clock.set(NOW);
  emulator.clock.freeze(true);
});
afterAll(async () => {
  await emulator.close();
});

describe('exotrace run --once', () => {
  it('collects two tenants concurrently into one file: every row once, equal to the ground truth', async () => {
    const config = writeConfig('two', ['contoso', 'fabrikam']);
    const summary = await runCollector(config, {
      once: true,
      signal: new AbortController().signal,
      log: silentLogger,
      now: () => NOW,
    });
    expect(summary.failed).toBe(false);
    const out = events(config);
    const ids = out.map((e) => e.event.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const tenant of ['contoso', 'fabrikam']) {
      const mine = out.filter((e) => e.organization?.name === `${tenant}.onmicrosoft.com`).map(keyOf);
      const expected = await truth(tenant, NOW - 24 * 3_600_000, NOW - MIN_AGE, NOW);
      expect(mine.length).toBeGreaterThan(100);
      expect(new Set(mine)).toEqual(expected);
    }
  });

  it('a later run delivers late rows and status changes once each, and nothing twice', async () => {
    const config = writeConfig('later', ['contoso']);
    const first = await runCollector(config, {
      once: true,
      signal: new AbortController().signal,
      log: silentLogger,
      now: () => NOW,
    });
    expect(first.failed).toBe(false);
    const before = events(config).length;
    emulator.clock.set(NOW + 2 * 3_600_000);
    try {
      const later = NOW + 2 * 3_600_000;
      await runCollector(config, {
        once: true,
        signal: new AbortController().signal,
        log: silentLogger,
        now: () => later,
      });
      const out = events(config);
      const ids = out.map((e) => e.event.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(out.length).toBeGreaterThan(before);
      // Every row visible now, in its current status, is there (older statuses stay as history).
      const expected = await truth('contoso', NOW - 24 * 3_600_000, later - MIN_AGE, later);
      const got = new Set(out.map(keyOf));
      for (const key of expected) expect(got.has(key), key).toBe(true);
    } finally {
      emulator.clock.set(NOW);
    }
  });

  it('one tenant failing (no service principal) does not stop the other', async () => {
    const config = writeConfig('failing', ['contoso', 'fabrikam']);
    const patch = (value: boolean): Promise<void> => setServicePrincipal('fabrikam', value);
    await patch(false);
    try {
      const summary = await runCollector(config, {
        once: true,
        signal: new AbortController().signal,
        log: silentLogger,
        now: () => NOW,
      });
      expect(summary.failed).toBe(true);
      const failed = summary.tenants.find((t) => t.tenant === 'fabrikam');
      expect(failed?.error?.code).toBe('service_principal_missing');
      expect(String(failed?.error?.fix)).toContain(
        'New-MgServicePrincipal -AppId 8bd644d1-64a1-4d4b-ae52-2e0cbf64e373',
      );
      expect(summary.tenants.find((t) => t.tenant === 'contoso')?.error).toBeUndefined();
      expect(events(config).length).toBeGreaterThan(100);
    } finally {
      await patch(true);
    }
  });

  it('the daemon keeps trying a failing tenant: fixed meanwhile, it is collected on a later cycle', async () => {
    const config = writeConfig('daemon-retry', ['fabrikam']);
    const patch = (value: boolean): Promise<void> => setServicePrincipal('fabrikam', value);
    await patch(false);
    const stop = new AbortController();
    const failures: unknown[] = [];
    const log = {
      ...silentLogger,
      error(message: string, fields?: Record<string, unknown>) {
        failures.push({ message, ...fields });
        // The admin creates the service principal after the first failure.
        if (failures.length === 1) void patch(true);
      },
      info(message: string) {
        if (message === 'tenant collected') stop.abort();
      },
    };
    try {
      const summary = await runCollector(config, {
        once: false,
        signal: stop.signal,
        log,
        now: () => NOW,
        pollIntervalMs: 50,
      });
      // Usually one failure; two if the fix lands after the first retry (timing, not behaviour).
      expect(failures.length).toBeGreaterThanOrEqual(1);
      expect(failures[0]).toMatchObject({ message: 'tenant failed', retryInSeconds: 0 });
      // Stopped after a good cycle: no failure left to report.
      expect(summary.failed).toBe(false);
      expect(events(config).length).toBeGreaterThan(100);
    } finally {
      await patch(true);
    }
  });
});

describe('health endpoints (daemon)', () => {
  it('/readyz turns unready when a tenant stalls and ready when it recovers; /healthz always answers', async () => {
    const base = writeConfig('health', ['fabrikam']);
    const listen = `127.0.0.1:${await freePort()}`;
    const config: Config = { ...base, health: { listen } };
    await setServicePrincipal('fabrikam', false);
    const stop = new AbortController();
    const running = runCollector(config, {
      once: false,
      signal: stop.signal,
      log: silentLogger,
      now: () => NOW,
      pollIntervalMs: 50,
    });
    const get = (route: string): ReturnType<typeof getHealth> => getHealth(listen, route);
    try {
      await until(async () => {
        const ready = await get('/readyz').catch(() => undefined);
        return (
          ready?.status === 503 &&
          (ready.body.reasons ?? []).some((r) => r.includes('service_principal_missing'))
        );
      });
      expect((await get('/healthz')).status).toBe(200);
      await setServicePrincipal('fabrikam', true);
      await until(async () => (await get('/readyz')).status === 200);
      const status = await get('/status');
      expect(status.body).toMatchObject({
        current: true,
        tenants: [{ tenant: 'fabrikam' }],
        outputs: [{ output: 'file' }],
      });
    } finally {
      await setServicePrincipal('fabrikam', true);
      stop.abort();
      await running;
    }
  });
});

describe('what it logs', () => {
  it('a 429 retried at info (another app spends the quota), pages and rounds at debug', async () => {
    const config = writeConfig('logged', ['contoso']);
    const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
    const at =
      (level: string) =>
      (message: string, fields: Record<string, unknown> = {}): void => {
        lines.push({ level, message, fields });
      };
    const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    await control('POST', '/faults', {
      queue: [{ kind: 'status', status: 429, targets: ['graph-list'], tenant: 'contoso' }],
    });
    let pages = 0;
    const summary = await runCollector(config, {
      once: true,
      signal: new AbortController().signal,
      log,
      now: () => NOW,
      events: {
        onPage() {
          pages++;
        },
      },
    });
    expect(summary.failed).toBe(false);
    const retried = lines.filter((l) => l.message === 'request retried');
    expect(retried).toEqual([
      {
        level: 'info',
        message: 'request retried',
        fields: { tenant: 'contoso', retry: 1, delaySeconds: 1, status: 429 },
      },
    ]);
    const committed = lines.filter((l) => l.message === 'page committed');
    expect(committed).toHaveLength(pages);
    expect(committed.every((l) => l.level === 'debug' && l.fields['tenant'] === 'contoso')).toBe(true);
    const rounds = lines.filter((l) => l.message === 'delivery round');
    expect(rounds.reduce((n, l) => n + Number(l.fields['delivered']), 0)).toBe(
      committed.reduce((n, l) => n + Number(l.fields['inserted']), 0),
    );
  });
});

describe('rows that cannot be normalized', () => {
  it('are said at warn with the reason (naming the field), counted, kept; the other rows delivered', async () => {
    const config = writeConfig('rejects', ['contoso']);
    const warnings: { message: string; fields: Record<string, unknown> }[] = [];
    const log = {
      ...silentLogger,
      warn(message: string, fields: Record<string, unknown> = {}) {
        warnings.push({ message, fields });
      },
    };
    // The API's answer, with the first row of each page missing its received time.
    const sourceFor = (tenant: TenantConfig): MessageTraceSource => {
      const real = createSource(tenant, config);
      return {
        api: real.api,
        probe: (signal) => real.probe(signal),
        close: () => real.close(),
        async *pages(window, options) {
          for await (const page of real.pages(window, options)) {
            yield { ...page, text: page.text.replace('"receivedDateTime":', '"receivedAt":') };
          }
        },
      };
    };
    const store = openSqliteStore(path.join(folder, 'rejects', 'state'));
    const summary = await runCollector(config, {
      once: true,
      signal: new AbortController().signal,
      log,
      now: () => NOW,
      store,
      sourceFor,
    });
    expect(summary.failed).toBe(false);
    const said = warnings.filter((w) => w.message.startsWith('rows could not be normalized'));
    expect(said.length).toBeGreaterThan(0);
    expect(said[0]?.fields).toMatchObject({ tenant: 'contoso', pass: 'fast', rejected: 1 });
    expect(String(said[0]?.fields['reason'])).toMatch(/receivedDateTime/);
    const rejected = summary.tenants[0]?.passes.reduce((n, p) => n + p.rejected, 0) ?? 0;
    expect(rejected).toBe(said.reduce((n, w) => n + Number(w.fields['rejected']), 0));
    expect((await store.rejects({ tenant: 'contoso', limit: 1000 })).length).toBe(rejected);
    expect(events(config).length).toBeGreaterThan(100);
    await store.close();
  });
});

describe('the daemon, whatever goes wrong', () => {
  it('/readyz turns unready when a tenant stalls without any error (its lag past the bound), ready when it catches up', async () => {
    const base = writeConfig('stall', ['contoso']);
    const listen = `127.0.0.1:${await freePort()}`;
    const config: Config = { ...base, health: { listen } };
    let current = NOW;
    const stop = new AbortController();
    const running = runCollector(config, {
      once: false,
      signal: stop.signal,
      log: silentLogger,
      now: () => current,
      pollIntervalMs: 100,
    });
    try {
      await until(async () => (await getHealth(listen, '/readyz').catch(() => undefined))?.status === 200);
      // Every answer slow from now on: a cycle takes seconds, nothing fails. Two hours pass.
      await control('POST', '/faults', {
        queue: [{ kind: 'slow-headers', delayMs: 1500, targets: ['graph-list'] }],
        times: 1000,
      });
      current = NOW + 2 * 3_600_000;
      emulator.clock.set(current);
      await until(async () => {
        const ready = await getHealth(listen, '/readyz');
        return (
          ready.status === 503 && (ready.body.reasons ?? []).some((r) => /contoso: \d+ min behind/.test(r))
        );
      }, 20_000);
      // No error anywhere: the tenant is only behind, and stays so while its answers are slow.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const stalled = await getHealth(listen, '/readyz');
      expect(stalled.status).toBe(503);
      expect((stalled.body.reasons ?? []).filter((r) => r.includes('failed'))).toEqual([]);
      await control('DELETE', '/faults');
      await until(async () => (await getHealth(listen, '/readyz')).status === 200, 30_000);
    } finally {
      await control('DELETE', '/faults');
      emulator.clock.set(NOW);
      stop.abort();
      await running;
    }
  }, 60_000);

  it('a health port in use stops the run at once, and nothing of it keeps running', async () => {
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const config: Config = {
      ...writeConfig('port-taken', ['contoso']),
      health: { listen: `127.0.0.1:${address.port}` },
    };
    const lines: string[] = [];
    const log = {
      debug: (m: string) => lines.push(m),
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
      error: (m: string) => lines.push(m),
    };
    try {
      await expect(
        runCollector(config, { once: false, signal: new AbortController().signal, log, now: () => NOW }),
      ).rejects.toThrow(
        `health.listen 127.0.0.1:${address.port}: address already in use (another process, or another exotrace) (EADDRINUSE)`,
      );
      const after = lines.length;
      // A delivery loop left running on the closed state would say so every second.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(lines.slice(after)).toEqual([]);
    } finally {
      taken.close();
    }
  });

  it('a state that cannot record a cycle: the tenant failure is still logged and the run ends cleanly', async () => {
    const config = writeConfig('record-fails', ['fabrikam']);
    const store = openSqliteStore(path.join(folder, 'record-fails', 'state'));
    // The real store, but recording a cycle fails (a full disk would fail the commit first).
    const broken = new Proxy(store, {
      get(target, property) {
        if (property === 'recordTenantCycle')
          return () => Promise.reject(new Error('SQLITE_FULL: database or disk is full'));
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const errors: string[] = [];
    const log = { ...silentLogger, error: (m: string) => errors.push(m) };
    await setServicePrincipal('fabrikam', false);
    try {
      const summary = await runCollector(config, {
        once: true,
        signal: new AbortController().signal,
        log,
        now: () => NOW,
        store: broken,
      });
      expect(summary.failed).toBe(true);
      expect(summary.tenants[0]?.error?.code).toBe('service_principal_missing');
      expect(errors).toEqual(['tenant failed', 'could not record the tenant cycle in the state']);
    } finally {
      await setServicePrincipal('fabrikam', true);
      await store.close();
    }
  });
});

describe('a full disk', () => {
  it("the tenant failure names the state file, its stateDir and the fix, with SQLite's code", async () => {
    const config = writeConfig('disk-full', ['contoso']);
    const dir = path.join(folder, 'disk-full', 'state');
    // SQLite's max_page_count answers SQLITE_FULL as a full filesystem would, at the first page.
    const store = openSqliteStore(dir, { maxPageCount: 1 });
    const failures: unknown[] = [];
    const log = {
      ...silentLogger,
      error: (m: string, fields?: Record<string, unknown>) => {
        if (m === 'tenant failed') failures.push(fields?.['error']);
      },
    };
    try {
      const summary = await runCollector(config, {
        once: true,
        signal: new AbortController().signal,
        log,
        now: () => NOW,
        store,
      });
      expect(summary.failed).toBe(true);
      expect(failures).toHaveLength(1);
      const error = failures[0] as { code?: string; message?: string };
      expect(error.code).toBe('SQLITE_FULL');
      expect(error.message).toContain(`state database ${path.join(dir, 'exotrace.db')} cannot grow`);
      expect(error.message).toContain(`stateDir ${dir} is full`);
      expect(error.message).toContain('Free space there, or move stateDir to a larger filesystem');
    } finally {
      await store.close();
    }
  });
});

describe('stopping', () => {
  it('a stop during the final flush of --once gives the outputs their 30 s: nothing is cut, nothing left', async () => {
    const config = writeConfig('stop-in-flush', ['contoso']);
    const store = openSqliteStore(path.join(folder, 'stop-in-flush', 'state'));
    // The output refuses everything while the tenant is collected, then takes it slowly.
    const memory = createMemorySink('file', { plan: [{ status: 'retryable', times: Infinity }] });
    const stop = new AbortController();
    let collected = false;
    let stoppedDuringSend = false;
    const slow: typeof memory = Object.assign(Object.create(memory) as typeof memory, {
      async send(batch: Parameters<typeof memory.send>[0], signal: AbortSignal) {
        if (collected && !stop.signal.aborted) {
          stop.abort(); // ^C while the last round sends
          stoppedDuringSend = true;
        }
        if (collected) {
          await new Promise((resolve, reject) => {
            const timer = setTimeout(resolve, 300);
            signal.addEventListener('abort', () => {
              clearTimeout(timer);
              reject(new Error('send cut by the stop'));
            });
          });
        }
        return memory.send(batch, signal);
      },
    });
    const log = {
      ...silentLogger,
      info(message: string) {
        if (message === 'tenant collected') {
          collected = true;
          memory.setPlan([]);
        }
      },
    };
    const summary = await runCollector(config, {
      once: true,
      signal: stop.signal,
      log,
      now: () => NOW,
      store,
      sinks: [slow],
    });
    expect(stoppedDuringSend).toBe(true);
    expect(summary.pending).toEqual({});
    const expected = await truth('contoso', NOW - 24 * 3_600_000, NOW - MIN_AGE, NOW);
    expect(memory.events()).toHaveLength(expected.size);
    await store.close();
  });
});

describe('a stop during --once', () => {
  it('cuts the cycle short: no "tenant collected", no success recorded, the run says it was interrupted', async () => {
    const config = writeConfig('stop-mid-cycle', ['contoso']);
    const store = openSqliteStore(path.join(folder, 'stop-mid-cycle', 'state'));
    const stop = new AbortController();
    const infos: string[] = [];
    const log = {
      ...silentLogger,
      info(message: string) {
        infos.push(message);
      },
    };
    const summary = await runCollector(config, {
      once: true,
      signal: stop.signal,
      log,
      now: () => NOW,
      store,
      // ^C as soon as the first page is committed: the pass stops before its next window.
      events: {
        onPage() {
          stop.abort();
        },
      },
    });
    expect(infos).not.toContain('tenant collected');
    expect(await store.tenantCycles()).toEqual([]);
    expect(summary.interrupted).toBe(true);
    expect(summary.failed).toBe(false);
    expect(summary.tenants).toEqual([expect.objectContaining({ tenant: 'contoso', cutShort: true })]);
    // What was committed stays: the checkpoint resumes it.
    expect(await store.getCheckpoint('contoso', 'fast')).toBeDefined();
    await store.close();
  });
});

describe('back pressure', () => {
  it('an output down: collection pauses near outbox.maxEvents, then resumes and delivers everything once', async () => {
    const base = writeConfig('pressure', ['contoso']);
    const config: Config = { ...base, outbox: { maxEvents: 1000, warnAfterMs: 3_600_000 } };
    const store = openSqliteStore(path.join(folder, 'pressure', 'state'));
    const sink = createMemorySink('file', { plan: [{ status: 'retryable', times: Infinity }] });
    const lines: string[] = [];
    const log = {
      ...silentLogger,
      info(message: string) {
        lines.push(message);
      },
      warn(message: string) {
        lines.push(message);
      },
    };
    const tenant = config.tenants[0];
    if (tenant === undefined) throw new Error('no tenant');
    const running = runCollector(config, {
      once: true,
      signal: new AbortController().signal,
      log,
      now: () => NOW,
      store,
      sinks: [sink],
      // Pages of 200 rows, so that the bound of 1,000 is crossed early in the window.
      sourceFor: (t) => createSource(t, config, {}, { pageSize: 200 }),
    });
    try {
      await until(() => lines.some((l) => l.startsWith('outbox full')));
      const paused = await store.outboxHead();
      // Over the bound by at most the pages already in hand (each tenant works one page ahead).
      expect(paused).toBeGreaterThanOrEqual(1000);
      expect(paused).toBeLessThanOrEqual(1000 + 3 * 200);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await store.outboxHead()).toBe(paused);
    } finally {
      sink.setPlan([]);
    }
    const summary = await running;
    expect(summary.failed).toBe(false);
    expect(lines).toContain('outbox has room again: collection resumes');
    const keys = sink.events().map((e) => e.eventId);
    expect(new Set(keys).size).toBe(keys.length);
    const expected = await truth('contoso', NOW - 24 * 3_600_000, NOW - MIN_AGE, NOW);
    expect(keys.length).toBe(expected.size);
    expect(keys.length).toBeGreaterThan(1600);
    await store.close();
  });
});

describe('failingTenantDelay', () => {
  it('doubles per failure in a row from the poll interval, up to 15 minutes (or the interval)', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => failingTenantDelay(60_000, n))).toEqual([
      60_000, 120_000, 240_000, 480_000, 900_000, 900_000,
    ]);
    expect(failingTenantDelay(3_600_000, 3)).toBe(3_600_000);
  });
});

describe('describeError', () => {
  it('keeps code and message, and replaces the configuration’s secrets even where no pattern would', () => {
    const secret = 'Zq8~plainLookingSecretValue';
    const plain = Object.assign(new Error(`output answered: bad key ${secret}`), { code: 'http_401' });
    expect(describeError(plain, [secret])).toEqual({
      code: 'http_401',
      message: 'output answered: bad key REDACTED',
    });
    const ours = new ExotraceError({
      code: 'bad_secret',
      message: `login refused for ${secret}`,
      fix: 'check the secret',
      retryable: false,
    });
    const described = describeError(ours, [secret]);
    expect(described['code']).toBe('bad_secret');
    expect(JSON.stringify(described)).not.toContain(secret);
    expect(describeError(new Error('plain'))).toEqual({ message: 'plain' });
  });
});
