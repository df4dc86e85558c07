/**
 * Sources as the collector builds them (createSource: dispatcher, msal, budget, policies, poller)
 * against the emulator over real HTTPS. The emulator's clock is frozen and moved only by the
 * stack's waits (virtual time), so every walk is compared with the emulator's ground truth.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import type { Config, TenantConfig } from '../../src/config/index.js';
import type { Api } from '../../src/config/index.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { createNormalizer } from '../../src/normalize/normalizer.js';
import { createPageGate } from '../../src/pipeline/page-gate.js';
import { dedupeKey, pageEventsFn } from '../../src/pipeline/page-events.js';
import { isoSeconds, type TimeWindow } from '../../src/core/window.js';
import { createSource, createSourceBudget, type SourceOptions } from '../../src/sources/create.js';
import type { AttemptReport } from '../../src/http/attempt.js';
import { ExotraceError } from '../../src/core/errors.js';
import type { HttpResponse } from '../../src/http/types.js';
import { graphAdapter } from '../../src/sources/graph.js';
import { createPollingSource, type MessageTraceSource, type Page } from '../../src/sources/source.js';
import { createVirtualTime, type VirtualTime } from './virtual-time.js';

const HOUR = 3_600_000;
let emulator: Emulator;
let agent: Agent;
let now: number;
let window: TimeWindow;
const sources: MessageTraceSource[] = [];

beforeAll(async () => {
  emulator = await startEmulator({
    messagesPerDay: 400,
    tenants: [{ name: 'contoso' }, { name: 'nosp', servicePrincipal: false }],
    // Small RWS pages and relative next links, as the real service sends them.
    api: { reportingPageSize: 150, relativeNextLinks: true },
  });
  // A fixed instant, not today's: how many rows the window holds follows the emulator's
  // working-day curve, and the walks below need several pages (more than 400 rows) whatever the
  // hour the suite runs at (on a Monday evening the window is the weekend and held 140 rows).
  now = Date.UTC(2026, 10, 20, 12, 0, 0); // a Friday; the window is Wednesday
  emulator.clock.set(now);
  emulator.clock.freeze(true);
  // Old enough that every row is visible and final: the walk is compared with ground truth exactly.
  window = { from: now - 60 * HOUR, to: now - 40 * HOUR };
  agent = new Agent({ connect: { ca: emulator.caCertPem } });
});

afterEach(async () => {
  emulator.faults.clear();
  await Promise.all(sources.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await agent.close();
  await emulator.close();
});

function tenantConfig(name: string, api: Api): TenantConfig {
  const tenant = emulator.tenants().find((t) => t.name === name);
  const app = tenant?.apps[0];
  if (tenant === undefined || app === undefined) throw new Error(`no tenant ${name}`);
  return {
    name,
    tenantId: tenant.tenantId,
    clientId: app.clientId,
    credential: { kind: 'secret', clientSecret: app.secrets[0]?.value ?? '' },
    api,
    loginUrl: emulator.url,
    apiUrl: emulator.url,
    acceptedDomains: [],
    startFrom: { kind: 'ago', ms: 24 * HOUR },
    minAgeMs: 300_000,
    reconcileLookbackMs: 24 * HOUR,
    reconcileEveryMs: HOUR,
    requestsPer5Min: 90,
    details: false,
  };
}

interface Made {
  source: MessageTraceSource;
  attempts: AttemptReport[];
  time: VirtualTime;
  tenant: TenantConfig;
}

function make(name: string, api: Api, options: SourceOptions = {}): Made {
  const tenant = tenantConfig(name, api);
  const config: Config = {
    file: '/dev/null',
    stateDir: '/tmp',
    tls: { caFile: emulator.caFile, caPem: emulator.caCertPem },
    http: { timeoutMs: 10_000 },
    tenants: [tenant],
    outputs: [],
  };
  const time = createVirtualTime(emulator.clock.now(), (ms) => {
    emulator.clock.advance(ms);
  });
  const attempts: AttemptReport[] = [];
  const source = createSource(
    tenant,
    config,
    { onAttempt: (r) => attempts.push(r), clock: time.now, sleep: time.sleep, random: () => 0.5, env: {} },
    options,
  );
  sources.push(source);
  return { source, attempts, time, tenant };
}

async function walk(source: MessageTraceSource, nextLink?: string): Promise<Page[]> {
  const pages: Page[] = [];
  const signal = new AbortController().signal;
  for await (const page of source.pages(window, {
    signal,
    ...(nextLink === undefined ? {} : { nextLink }),
  })) {
    pages.push(page);
  }
  return pages;
}

/** `id|recipient` of every row, sorted: duplicates would show twice. */
function keys(pages: readonly Page[]): string[] {
  return pages
    .flatMap((p) => p.rows)
    .map(
      (r) =>
        `${String(r['id'] ?? r['MessageTraceId'])}|${String(r['recipientAddress'] ?? r['RecipientAddress'])}`,
    )
    .sort();
}

async function groundTruth(tenant = 'contoso'): Promise<string[]> {
  const query = new URLSearchParams({
    tenant,
    from: isoSeconds(window.from),
    to: isoSeconds(window.to),
    asOf: new Date(emulator.clock.now()).toISOString(),
  });
  const res = await request(`${emulator.url}/_emulator/ground-truth?${query.toString()}`, {
    dispatcher: agent,
  });
  const text = await res.body.text();
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { id: string; recipient: string })
    .map((row) => `${row.id}|${row.recipient}`)
    .sort();
}

async function caught(promise: Promise<unknown>): Promise<ExotraceError> {
  try {
    await promise;
  } catch (error) {
    if (ExotraceError.is(error)) return error;
    throw error;
  }
  throw new Error('expected an ExotraceError');
}

describe('Graph source', () => {
  it('walks a multi-page window: every row once, equal to the ground truth', async () => {
    const { source, attempts } = make('contoso', 'graph', { pageSize: 200 });
    const pages = await walk(source);
    expect(pages.length).toBeGreaterThan(2);
    expect(pages.at(-1)?.nextLink).toBeUndefined();
    for (const page of pages.slice(0, -1))
      expect(page.nextLink).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\.0\//);
    const truth = await groundTruth();
    expect(truth.length).toBeGreaterThan(400);
    expect(keys(pages)).toEqual(truth);
    expect(attempts.map((a) => a.status)).toEqual(pages.map(() => 200));
    expect(source.api).toBe('graph');
  });

  it('resumes from a stored next link exactly after that page', async () => {
    const { source } = make('contoso', 'graph', { pageSize: 200 });
    const pages = await walk(source);
    const stored = pages[0]?.nextLink;
    expect(stored).toBeDefined();
    const resumed = await walk(source, stored);
    expect(keys(resumed)).toEqual(keys(pages.slice(1)));
    expect([...keys(pages.slice(0, 1)), ...keys(resumed)].sort()).toEqual(await groundTruth());
  });

  it('reads Graph beta the same way', async () => {
    const { source } = make('contoso', 'graph-beta', { pageSize: 250 });
    const pages = await walk(source);
    expect(source.api).toBe('graph-beta');
    expect(pages.length).toBeGreaterThan(1);
    expect(keys(pages)).toEqual(await groundTruth());
  });

  it('fetches a truncated page again and still returns the whole window', async () => {
    const { source, attempts } = make('contoso', 'graph', { pageSize: 200 });
    emulator.faults.enqueue([{ kind: 'truncate', targets: ['graph-list'] }]);
    const pages = await walk(source);
    expect(keys(pages)).toEqual(await groundTruth());
    expect(attempts[0]?.retry).toBe(0);
    expect(attempts[1]?.retry).toBe(1);
    expect(attempts).toHaveLength(pages.length + 1);
  });

  it('rides out a 503 storm, then completes the walk', async () => {
    const { source, attempts, time } = make('contoso', 'graph', { pageSize: 200 });
    emulator.faults.enqueue([{ kind: 'status', status: 503, targets: ['graph-list'] }], 4);
    const pages = await walk(source);
    expect(keys(pages)).toEqual(await groundTruth());
    expect(attempts.slice(0, 5).map((a) => a.status)).toEqual([503, 503, 503, 503, 200]);
    expect(time.waits).toEqual([500, 1000, 2000, 4000]);
  });

  it('refuses a stored next link to a foreign host before any request', async () => {
    const { source, attempts } = make('contoso', 'graph');
    const error = await caught(
      walk(source, 'https://graph.evil.example/v1.0/admin/exchange/tracing/messageTraces?$skiptoken=abc'),
    );
    expect(error.code).toBe('foreign_next_link');
    expect(error.configKey).toBe('tenants[0].apiUrl');
    expect(error.message).not.toContain('skiptoken');
    expect(attempts).toEqual([]);
  });

  it('shares one budget between the sources of a tenant', async () => {
    const time = createVirtualTime(emulator.clock.now());
    const tenant = tenantConfig('contoso', 'graph');
    const budget = createSourceBudget(tenant, { clock: time.now, sleep: time.sleep });
    const config: Config = {
      file: '/dev/null',
      stateDir: '/tmp',
      tls: { caFile: emulator.caFile, caPem: emulator.caCertPem },
      http: { timeoutMs: 10_000 },
      tenants: [tenant],
      outputs: [],
    };
    const hooks = { clock: time.now, sleep: time.sleep, budget, env: {} };
    const a = createSource(tenant, config, hooks);
    const b = createSource(tenant, config, hooks);
    sources.push(a, b);
    const signal = new AbortController().signal;
    await a.probe(signal);
    await b.probe(signal);
    expect(budget.remaining()).toBe(88);
  });
});

describe('a page whose next link points elsewhere', () => {
  it('is refused, and the page is not handed over to be stored with that link', async () => {
    const apiUrl = 'https://graph.example.com';
    const sent: string[] = [];
    const source = createPollingSource({
      adapter: graphAdapter({ apiUrl }),
      apiUrl,
      context: { tenant: 'contoso', configPath: 'tenants[0]' },
      now: () => Date.UTC(2026, 0, 20),
      client: {
        send(req): Promise<HttpResponse> {
          sent.push(req.url.host);
          const text = JSON.stringify({
            value: [{ id: 'a' }],
            '@odata.nextLink': 'https://evil.example/next',
          });
          const response = { status: 200, headers: {}, text };
          req.validate?.(response);
          return Promise.resolve(response);
        },
      },
    });
    const seen: Page[] = [];
    // The page took a place (the collector's page gate); never handed over, the walk gives it back.
    const gate = createPageGate(2);
    const error = await caught(
      (async () => {
        for await (const page of source.pages(window, {
          signal: new AbortController().signal,
          acquirePage: (held) => gate.acquire(held),
        }))
          seen.push(page);
      })(),
    );
    expect(error.code).toBe('foreign_next_link');
    expect(seen).toEqual([]);
    expect(sent).toEqual(['graph.example.com']);
    expect(gate.inUse()).toBe(0);
  });
});

describe('the places pages take (acquirePage)', () => {
  it('a walk stopped after a page gives back the page fetched ahead; the caller releases its own', async () => {
    const { source } = make('contoso', 'graph', { pageSize: 200 });
    const gate = createPageGate(3);
    let first: Page | undefined;
    for await (const page of source.pages(window, {
      signal: new AbortController().signal,
      acquirePage: (held) => gate.acquire(held),
    })) {
      first = page;
      break;
    }
    // Let the prefetch settle (aborted or arrived) and give its place back.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(gate.inUse()).toBe(1);
    first?.release();
    first?.release();
    expect(gate.inUse()).toBe(0);
  });

  it('a walk asked for after the stop sends nothing', async () => {
    const { source, attempts } = make('contoso', 'graph');
    const stop = new AbortController();
    stop.abort(new Error('stopped'));
    await expect(
      (async () => {
        for await (const page of source.pages(window, { signal: stop.signal })) page.release();
      })(),
    ).rejects.toThrow();
    expect(attempts).toEqual([]);
  });
});

describe('Reporting Web Service source', () => {
  for (const dialect of ['verbose', 'light'] as const) {
    it(`walks a multi-page window in ${dialect} JSON with relative next links`, async () => {
      const { source, attempts } = make('contoso', 'reporting', { reportingDialect: dialect });
      const pages = await walk(source);
      expect(source.api).toBe('reporting');
      expect(pages.length).toBeGreaterThan(2);
      // The emulator sent `../../ReportingWebService/…`: resolved against the page's own URL.
      for (const page of pages.slice(0, -1)) {
        expect(page.nextLink).toContain(
          `${emulator.url}/ecp/ReportingWebService/Reporting.svc/MessageTrace?`,
        );
      }
      expect(keys(pages)).toEqual(await groundTruth());
      expect(attempts.every((a) => a.status === 200)).toBe(true);
      // A stored (resolved) link resumes this dialect too.
      const resumed = await walk(source, pages[1]?.nextLink);
      expect(keys(resumed)).toEqual(keys(pages.slice(2)));
    });
  }
});

describe('probe', () => {
  it('succeeds with one request for a healthy tenant, on each API', async () => {
    for (const api of ['graph', 'graph-beta', 'reporting'] as const) {
      const { source, attempts } = make('contoso', api);
      await source.probe(new AbortController().signal);
      expect(attempts.map((a) => a.status)).toEqual([200]);
    }
  });

  it('throws service_principal_missing with the fix for a tenant without one', async () => {
    const { source } = make('nosp', 'graph');
    const error = await caught(source.probe(new AbortController().signal));
    expect(error.code).toBe('service_principal_missing');
    expect(error.fix).toContain('New-MgServicePrincipal -AppId 8bd644d1-64a1-4d4b-ae52-2e0cbf64e373');
    expect(error.tenant).toBe('nosp');
  });
});

describe("a page's text", () => {
  // The collector normalizes a page from its text (on a worker thread), not from `rows`: both must
  // give the same events, for every API and dialect, or the worker would store other events.
  const cases: [string, Api, SourceOptions][] = [
    ['Graph v1.0', 'graph', { pageSize: 300 }],
    ['Graph beta', 'graph-beta', { pageSize: 300 }],
    ['Reporting Web Service, verbose', 'reporting', { reportingDialect: 'verbose' }],
    ['Reporting Web Service, JSON light', 'reporting', { reportingDialect: 'light' }],
  ];
  for (const [name, api, options] of cases) {
    it(`normalizes to the events of its rows one by one: ${name}`, async () => {
      const { source, tenant } = make('contoso', api, options);
      const pages = await walk(source);
      expect(pages.length).toBeGreaterThan(1);
      const normalizeOptions = { organization: 'contoso.example', acceptedDomains: tenant.acceptedDomains };
      const fromText = pageEventsFn(normalizeOptions);
      const normalizer = createNormalizer(normalizeOptions);
      let events = 0;
      for (const page of pages) {
        const rowByRow = page.rows.flatMap((row) => normalizer.normalizeValue(row).events);
        const { events: textEvents, rejects } = fromText(page.text);
        expect(rejects).toEqual([]);
        expect(textEvents.map((e) => e.json)).toEqual(rowByRow.map((e) => JSON.stringify(e)));
        expect(textEvents.map((e) => e.eventId)).toEqual(rowByRow.map((e) => e.event.id));
        expect(textEvents.map((e) => e.key)).toEqual(
          rowByRow.map((e) => dedupeKey(e['@timestamp'], e.event.id ?? '')),
        );
        events += textEvents.length;
      }
      expect(events).toBeGreaterThan(300);
    });
  }
});
