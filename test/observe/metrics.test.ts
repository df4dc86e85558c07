/**
 * /metrics: the daemon against the emulator over HTTPS, scraped over HTTP like Prometheus does,
 * and compared with what happened: the 429s and other answers the emulator counted serving, the
 * emulator's ground truth by status, the events the file output holds, an output that is down.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { collectorConfigYaml } from '../../src/emulator/collector-config.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { createCollectorMetrics, errorCodeOf, renderMetricsDoc } from '../../src/observe/metrics.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { silentLogger } from '../../src/observe/log.js';
import { runCollector } from '../../src/pipeline/run.js';
import { freePort, until } from '../helpers/wait.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const MIN_AGE = 5 * 60_000;

/** One sample of the exposition: name, labels, value. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Reads Prometheus' text format (the subset prom-client writes: no timestamps, quoted labels). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?<name>[a-zA-Z_:][\w:]*)(?:\{(?<labels>.*)\})? (?<value>\S+)$/.exec(line);
    if (match?.groups === undefined) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match.groups['labels'] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] ?? ''] = pair[2] ?? '';
    }
    samples.push({ name: match.groups['name'] ?? '', labels, value: Number(match.groups['value']) });
  }
  return samples;
}

/** The sum of a metric's samples whose labels include `where`. */
function sum(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

describe('the metrics registry', () => {
  const readers = {
    lagMs: () => Promise.resolve(90_000),
    outboxDepths: () => Promise.resolve({ a: 7 }),
    budgetRemaining: () => 42,
    backlog: () => Promise.resolve(3),
    deadLetters: () => Promise.resolve(1),
  };

  it('counts what it is told, reads the state when scraped, and starts every counter at zero', async () => {
    const metrics = createCollectorMetrics({
      tenants: [{ name: 'a', api: 'graph' }],
      outputs: ['es'],
      readers,
      processMetrics: false,
    });
    const before = parseExposition((await metrics.exposition()).text);
    expect(sum(before, 'exotrace_throttled_total', { tenant: 'a', api: 'graph' })).toBe(0);
    expect(
      before.some((s) => s.name === 'exotrace_output_delivered_total' && s.labels['output'] === 'es'),
    ).toBe(true);
    const tenant = { name: 'a', api: 'graph' };
    metrics.attempt(tenant, { method: 'GET', host: 'h', path: '/p', status: 429, durationMs: 1, retry: 0 });
    metrics.attempt(tenant, {
      method: 'GET',
      host: 'h',
      path: '/p',
      durationMs: 1,
      retry: 1,
      error: 'ECONNRESET',
    });
    metrics.retry(tenant, { retry: 1, delayMs: 1000, status: 429 });
    metrics.committed('a', 'fast', 5, {
      inserted: 3,
      duplicates: 1,
      rejected: 1,
      insertedByStatus: { Delivered: 2, Failed: 1 },
      headSeq: 3,
    });
    // A status Microsoft does not document is counted, under `other` (the label set stays bounded).
    metrics.committed('a', 'reconcile', 3, {
      inserted: 3,
      duplicates: 0,
      rejected: 0,
      insertedByStatus: { 'Delivered\nFailed': 1, unknownFutureValue: 1, unknown: 1 },
      headSeq: 6,
    });
    metrics.cycle('a', true, 1_700_000_000_000);
    const after = parseExposition((await metrics.exposition()).text);
    expect(sum(after, 'exotrace_requests_total', { status: '429' })).toBe(1);
    expect(sum(after, 'exotrace_requests_total', { status: 'network' })).toBe(1);
    expect(sum(after, 'exotrace_throttled_total')).toBe(1);
    expect(sum(after, 'exotrace_retries_total', { reason: '429' })).toBe(1);
    expect(sum(after, 'exotrace_rows_fetched_total', { pass: 'fast' })).toBe(5);
    expect(sum(after, 'exotrace_events_total', { status: 'other' })).toBe(2);
    expect(sum(after, 'exotrace_events_total', { status: 'unknown' })).toBe(1);
    expect(after.filter((s) => s.name === 'exotrace_events_total').map((s) => s.labels['status'])).toEqual([
      'Delivered',
      'Failed',
      'other',
      'unknown',
    ]);
    expect(sum(after, 'exotrace_events_total', { status: 'Delivered' })).toBe(2);
    expect(sum(after, 'exotrace_events_total', { status: 'Failed' })).toBe(1);
    expect(sum(after, 'exotrace_duplicates_suppressed_total')).toBe(1);
    expect(sum(after, 'exotrace_rows_fetched_total')).toBe(8);
    expect(sum(after, 'exotrace_rows_rejected_total')).toBe(1);
    expect(sum(after, 'exotrace_tenant_last_success_timestamp_seconds')).toBe(1_700_000_000);
    expect(sum(after, 'exotrace_lag_seconds', { tenant: 'a' })).toBe(90);
    expect(sum(after, 'exotrace_outbox_events', { tenant: 'a' })).toBe(7);
    expect(sum(after, 'exotrace_request_budget_remaining', { tenant: 'a' })).toBe(42);
    expect(sum(after, 'exotrace_output_backlog_events', { output: 'es' })).toBe(3);
    expect(sum(after, 'exotrace_output_dead_letters', { output: 'es' })).toBe(1);
  });

  it('shows an output’s last error code while it fails, and drops it once a round succeeds', async () => {
    const metrics = createCollectorMetrics({ tenants: [], outputs: ['es'], readers, processMetrics: false });
    const info = async (): Promise<Sample[]> =>
      parseExposition((await metrics.exposition()).text).filter(
        (s) => s.name === 'exotrace_output_last_error_info',
      );
    metrics.delivery(
      'es',
      { delivered: 0, retried: 2, deadLettered: 0, errorCode: 'output_unreachable' },
      5000,
    );
    metrics.delivery('es', { delivered: 0, retried: 1, deadLettered: 0, errorCode: 'output_auth' }, 6000);
    expect((await info()).map((s) => s.labels['code'])).toEqual(['output_auth']);
    metrics.delivery('es', { delivered: 10, retried: 0, deadLettered: 2 }, 7000);
    expect(await info()).toEqual([]);
    const all = parseExposition((await metrics.exposition()).text);
    expect(sum(all, 'exotrace_output_failures_total', { code: 'output_unreachable' })).toBe(1);
    expect(sum(all, 'exotrace_output_retries_total')).toBe(3);
    expect(sum(all, 'exotrace_output_delivered_total')).toBe(10);
    expect(sum(all, 'exotrace_output_dead_lettered_total')).toBe(2);
    expect(sum(all, 'exotrace_output_last_error_timestamp_seconds')).toBe(6);
    expect(sum(all, 'exotrace_output_last_success_timestamp_seconds')).toBe(7);
  });

  it('is documented: docs/metrics.md is the rendering of this registry (npm run docs:metrics)', () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'metrics.md'), 'utf8');
    expect(doc).toBe(renderMetricsDoc());
    expect(doc).toContain('| `exotrace_throttled_total` | counter | `tenant`, `api` |');
  });

  it('starts a tenant’s last-cycle gauges from the state, without counting a cycle', async () => {
    const metrics = createCollectorMetrics({
      tenants: [{ name: 'a', api: 'graph' }],
      outputs: [],
      readers,
      processMetrics: false,
    });
    metrics.lastCycle('a', true, 1_700_000_000_000);
    const samples = parseExposition((await metrics.exposition()).text);
    expect(sum(samples, 'exotrace_tenant_last_cycle_failed', { tenant: 'a' })).toBe(1);
    expect(sum(samples, 'exotrace_tenant_last_success_timestamp_seconds', { tenant: 'a' })).toBe(
      1_700_000_000,
    );
    expect(sum(samples, 'exotrace_tenant_cycles_total')).toBe(0);
  });

  it('takes an error’s code as its label only when it is a plain word (never a message)', () => {
    expect(errorCodeOf(Object.assign(new Error('x'), { code: 'output_auth' }))).toBe('output_auth');
    expect(errorCodeOf(Object.assign(new Error('x'), { code: 'has spaces and a secret=abc' }))).toBe('Error');
    expect(errorCodeOf(new TypeError('boom'))).toBe('TypeError');
    // A network failure's code is in its cause (the output's own message is about the request).
    const refused = new Error('http output down: POST … failed', {
      cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
    });
    expect(errorCodeOf(refused)).toBe('ECONNREFUSED');
    expect(errorCodeOf('a string')).toBe('unknown');
  });
});

describe('/metrics after a daemon cycle against the emulator', () => {
  let emulator: Emulator;
  let folder: string;
  let agent: Agent;

  beforeAll(async () => {
    folder = mkdtempSync(path.join(tmpdir(), 'exotrace-metrics-'));
    emulator = await startEmulator({ tenants: 2, messagesPerDay: 1500, seed: 11, throttle: { limit: 1000 } });
    emulator.clock.set(NOW);
    emulator.clock.freeze(true);
    agent = new Agent({ connect: { ca: emulator.caCertPem } });
  });
  afterAll(async () => {
    await agent.close();
    await emulator.close();
  });

  const control = async (
    method: 'GET' | 'POST' | 'DELETE',
    route: string,
    body?: unknown,
  ): Promise<unknown> => {
    const res = await request(`${emulator.url}/_emulator${route}`, {
      method,
      dispatcher: agent,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${method} ${route}: ${res.statusCode} ${text}`);
    return JSON.parse(text) as unknown;
  };

  it('equals what happened: answers served, 429s, events by status, deliveries, and a down output', async () => {
    const tenants = ['contoso', 'fabrikam'];
    const metricsPort = await freePort();
    const deadPort = await freePort(); // nothing listens: the http output fails
    const dir = path.join(folder, 'daemon');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'exotrace.yaml');
    writeFileSync(
      file,
      collectorConfigYaml(emulator, { tenants, settings: { minAge: '5m', reconcileLookback: '24h' } }) +
        [
          `  - type: http`,
          `    name: down`,
          `    url: http://127.0.0.1:${deadPort}/intake`,
          `health:`,
          `  listen: 127.0.0.1:${metricsPort}`,
          '',
        ].join('\n'),
    );
    const config = loadConfig(file);
    await control('DELETE', '/stats');
    // Throttling and a failure, each answered once or more while the tenants page.
    await control('POST', '/faults', {
      queue: [{ kind: 'status', status: 429, targets: ['graph-list'], tenant: 'contoso' }],
      times: 3,
    });
    await control('POST', '/faults', {
      queue: [{ kind: 'status', status: 503, targets: ['graph-list'], tenant: 'fabrikam' }],
      times: 2,
    });

    const stop = new AbortController();
    const scrape = async (): Promise<Sample[]> => {
      const res = await request(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/plain');
      return parseExposition(await res.body.text());
    };
    const running = runCollector(config, {
      once: false,
      signal: stop.signal,
      log: silentLogger,
      now: () => NOW,
      pollIntervalMs: 3_600_000,
    });
    try {
      // One cycle each (fast pass, then the first reconcile), and the file output caught up.
      let samples: Sample[] = [];
      await until(
        async () => {
          samples = await scrape().catch(() => []);
          const cycled = tenants.every(
            (t) => sum(samples, 'exotrace_tenant_cycles_total', { tenant: t }) >= 1,
          );
          const fileOutput = samples.find(
            (s) => s.name === 'exotrace_output_backlog_events' && s.labels['output'] !== 'down',
          );
          return cycled && fileOutput?.value === 0 && sum(samples, 'exotrace_output_failures_total') > 0;
        },
        60_000,
        100,
      );
      const served = (await control('GET', '/stats')) as Record<
        string,
        Record<string, Record<string, number>>
      >;
      const lines = readFileSync(path.join(dir, 'events.ndjson'), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { event: { action: string }; organization: { name: string } });
      // The faults were met: three 429s for one tenant, two 503s for the other.
      expect(served['contoso']?.['graph-list']?.['429']).toBe(3);
      expect(served['fabrikam']?.['graph-list']?.['503']).toBe(2);

      for (const tenant of tenants) {
        const answers = served[tenant]?.['graph-list'] ?? {};
        // Every answer the emulator served this tenant is counted, under its status.
        for (const [status, count] of Object.entries(answers)) {
          expect(sum(samples, 'exotrace_requests_total', { tenant, status }), `${tenant} ${status}`).toBe(
            count,
          );
        }
        expect(sum(samples, 'exotrace_requests_total', { tenant })).toBe(
          Object.values(answers).reduce((a, b) => a + b, 0),
        );
        expect(sum(samples, 'exotrace_throttled_total', { tenant })).toBe(answers['429'] ?? 0);
        expect(sum(samples, 'exotrace_retries_total', { tenant })).toBe(
          (answers['429'] ?? 0) + (answers['503'] ?? 0),
        );
        expect(sum(samples, 'exotrace_login_requests_total', { tenant, status: '200' })).toBeGreaterThan(0);
        // Each attempt took a slot of the tenant's budget (the test is far shorter than its window).
        expect(sum(samples, 'exotrace_request_budget_remaining', { tenant })).toBe(
          90 - sum(samples, 'exotrace_requests_total', { tenant }),
        );

        // Events by status: the emulator's ground truth, and what the file output holds.
        const truthRes = await request(
          `${emulator.url}/_emulator/ground-truth?tenant=${tenant}&from=${NOW - 24 * 3_600_000}&to=${NOW - MIN_AGE}&asOf=${NOW}`,
          { dispatcher: agent },
        );
        const truthByStatus: Record<string, number> = {};
        for (const line of (await truthRes.body.text()).split('\n')) {
          if (line === '') continue;
          const status = (JSON.parse(line) as { status: string }).status;
          truthByStatus[status] = (truthByStatus[status] ?? 0) + 1;
        }
        const domain = emulator.tenants().find((t) => t.name === tenant)?.domain;
        const fileByStatus: Record<string, number> = {};
        for (const l of lines.filter((e) => e.organization.name === domain)) {
          fileByStatus[l.event.action] = (fileByStatus[l.event.action] ?? 0) + 1;
        }
        const metricByStatus: Record<string, number> = {};
        for (const s of samples.filter(
          (x) => x.name === 'exotrace_events_total' && x.labels['tenant'] === tenant,
        )) {
          metricByStatus[s.labels['status'] ?? ''] = s.value;
        }
        expect(Object.keys(truthByStatus).length).toBeGreaterThan(1);
        expect(metricByStatus).toEqual(truthByStatus);
        expect(fileByStatus).toEqual(truthByStatus);

        // Every row read is an event, a suppressed duplicate (the reconcile re-read) or a reject.
        const rows = sum(samples, 'exotrace_rows_fetched_total', { tenant });
        const eventsTotal = sum(samples, 'exotrace_events_total', { tenant });
        expect(sum(samples, 'exotrace_rows_fetched_total', { tenant, pass: 'reconcile' })).toBeGreaterThan(0);
        expect(rows).toBe(
          eventsTotal +
            sum(samples, 'exotrace_duplicates_suppressed_total', { tenant }) +
            sum(samples, 'exotrace_rows_rejected_total', { tenant }),
        );
        expect(sum(samples, 'exotrace_tenant_last_success_timestamp_seconds', { tenant })).toBe(NOW / 1000);
        expect(sum(samples, 'exotrace_tenant_last_cycle_failed', { tenant })).toBe(0);
        // The fast checkpoint is minAge behind the (frozen) clock.
        expect(sum(samples, 'exotrace_lag_seconds', { tenant })).toBe(MIN_AGE / 1000);
        // The http output has taken nothing: all of the tenant's events wait for it.
        expect(sum(samples, 'exotrace_outbox_events', { tenant })).toBe(eventsTotal);
      }

      // The login host's answers (the emulator counts them before it knows the tenant).
      expect(sum(samples, 'exotrace_login_requests_total')).toBe(
        Object.values(served['-']?.['token'] ?? {}).reduce((a, b) => a + b, 0),
      );
      const fileOutput = samples.find(
        (s) => s.name === 'exotrace_output_delivered_total' && s.labels['output'] !== 'down',
      );
      expect(fileOutput?.value).toBe(lines.length);
      expect(sum(samples, 'exotrace_output_delivered_total', { output: 'down' })).toBe(0);
      expect(sum(samples, 'exotrace_output_backlog_events', { output: 'down' })).toBe(lines.length);
      expect(sum(samples, 'exotrace_output_failures_total', { output: 'down' })).toBeGreaterThan(0);
      const lastError = samples.filter((s) => s.name === 'exotrace_output_last_error_info');
      expect(lastError.map((s) => s.labels['output'])).toEqual(['down']);
      expect(lastError[0]?.labels['code']).toBe('ECONNREFUSED');
      // /status says why the output is failing, and since when (the daemon's own knowledge).
      const status = (await (await request(`http://127.0.0.1:${metricsPort}/status`)).body.json()) as {
        outputs: { output: string; failingSince?: string; lastError?: { code?: string } }[];
      };
      const down = status.outputs.find((o) => o.output === 'down');
      expect(down?.failingSince).toBe(new Date(NOW).toISOString());
      expect(down?.lastError?.code).toBe(lastError[0]?.labels['code']);
      expect(status.outputs.find((o) => o.output !== 'down')?.lastError).toBeUndefined();
      // Process metrics come along, under the same prefix.
      expect(sum(samples, 'exotrace_process_resident_memory_bytes')).toBeGreaterThan(0);
    } finally {
      stop.abort();
      await running;
    }
  }, 120_000);
});
