/**
 * Backfills over what the state already collected, in process against the emulator over real
 * HTTPS (the real source stack and SQLite state; the outbox compared with the ground truth):
 * - a second backfill with an earlier start collects the days before the first one (Graph), also
 *   after a bounded one (`--to`) on the Reporting Web Service;
 * - a backfill over rows the fast pass collected longer ago than the seen-set's lifetime skips
 *   them instead of delivering them again;
 * - a backfill stopped inside a gap resumes it from its next link and ends equal to the truth.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groundTruthKeys } from '../helpers/emulator-control.js';
import { loadConfig, type Config, type TenantConfig } from '../../src/config/load.js';
import { collectorConfigYaml, type TenantSettings } from '../../src/emulator/collector-config.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import {
  createTenantCollector,
  type BackfillOptions,
  type PassSummary,
  type TenantCollector,
} from '../../src/pipeline/collector.js';
import type { TimeWindow } from '../../src/core/window.js';
import { createSource } from '../../src/sources/create.js';
import type { MessageTraceSource } from '../../src/sources/source.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import type { StateStore } from '../../src/state/store.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MIN_AGE = 5 * MINUTE;
const LOOKBACK = 24 * HOUR;
const TENANT = 'contoso';

let emulator: Emulator;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-backfill-ranges-'));
  emulator = await startEmulator({ tenants: 1, messagesPerDay: 200, seed: 11, throttle: { limit: 1000 } });
  emulator.clock.set(NOW);
  emulator.clock.freeze(true);
});
afterAll(async () => {
  await emulator.close();
  rmSync(folder, { recursive: true, force: true });
});

interface Setup {
  readonly config: Config;
  readonly tenant: TenantConfig;
  readonly store: StateStore;
  readonly skipped: TimeWindow[];
  readonly windowStarts: WindowStart[];
  /** A collector whose clock reads `now`; `wrap` may stand between it and the real source. */
  collector(
    now: number,
    wrap?: (source: MessageTraceSource) => MessageTraceSource,
    pageSize?: number,
  ): { collector: TenantCollector; source: MessageTraceSource };
}

/** A window's start as the progress display hears it: how many of how many are done. */
interface WindowStart {
  window: TimeWindow;
  done: number;
  total: number;
}

function setup(name: string, settings: TenantSettings): Setup {
  const dir = path.join(folder, name);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'exotrace.yaml');
  writeFileSync(
    file,
    collectorConfigYaml(emulator, {
      tenants: [TENANT],
      settings: { minAge: '5m', reconcileLookback: '24h', ...settings },
    }),
  );
  const config = loadConfig(file);
  const tenant = config.tenants[0];
  if (tenant === undefined) throw new Error('no tenant');
  const store = openSqliteStore(config.stateDir);
  const skipped: TimeWindow[] = [];
  const windowStarts: WindowStart[] = [];
  return {
    config,
    tenant,
    store,
    skipped,
    windowStarts,
    collector(now, wrap = (s) => s, pageSize) {
      const source = wrap(createSource(tenant, config, {}, pageSize === undefined ? {} : { pageSize }));
      const collector = createTenantCollector({
        tenant,
        source,
        store,
        now: () => now,
        events: {
          onSkip: (_, range) => {
            skipped.push(range);
          },
          onWindowStart: (_, _pass, window, done, total) => {
            windowStarts.push({ window, done, total });
          },
        },
      });
      return { collector, source };
    },
  };
}

/** Runs one backfill at `now` (the emulator's clock set to it too). */
async function backfill(
  s: Setup,
  now: number,
  from: number,
  to = now,
  options: BackfillOptions = {},
): Promise<PassSummary> {
  emulator.clock.set(now);
  const { collector, source } = s.collector(now);
  try {
    return await collector.backfill(from, to, new AbortController().signal, undefined, options);
  } finally {
    await source.close();
  }
}

interface EventLine {
  event: { action: string };
  office365: { message_trace: { MessageTraceId: string } };
  email: { to?: { address: string[] } };
}

/** The dedupe identity of every event in the outbox, in outbox order (duplicates kept). */
async function outboxKeys(store: StateStore): Promise<string[]> {
  await store.registerSinks(['check'], 'beginning');
  const events = await store.readOutbox('check', { limit: 10_000_000, maxBytes: 1e12 });
  return events.map((e) => {
    const line = JSON.parse(e.json) as EventLine;
    return `${line.office365.message_trace.MessageTraceId}|${(line.email.to?.address[0] ?? '').toLowerCase()}|${line.event.action}`;
  });
}

/** The ground truth's keys of rows received in [from, to] and visible at asOf. */
const truthKeys = (from: number, to: number, asOf: number): Promise<string[]> =>
  groundTruthKeys(emulator, TENANT, from, to, asOf);

const sorted = (keys: Iterable<string>): string[] => [...keys].sort();

describe('a backfill collects what is asked and not collected yet', () => {
  it('Graph: --from 2d then --from 7d collects the five days between, and says what it skips', async () => {
    const s = setup('earlier-from', {});
    try {
      await backfill(s, NOW, NOW - 2 * DAY);
      const first = await outboxKeys(s.store);
      expect(first.length).toBeGreaterThan(100);

      await backfill(s, NOW, NOW - 7 * DAY);
      const keys = await outboxKeys(s.store);
      // Every row of the seven days, each once: the five days before the first backfill included.
      expect(keys.length).toBe(new Set(keys).size);
      expect(sorted(keys)).toEqual(sorted(await truthKeys(NOW - 7 * DAY, NOW - MIN_AGE, NOW)));
      expect(keys.length).toBeGreaterThan(2 * first.length);
      // The part of the first backfill older than the reconcile lookback was skipped as collected;
      // the last 24 h were read again (late rows), which the seen-set made free of duplicates.
      expect(s.skipped).toEqual([{ from: NOW - 2 * DAY, to: NOW - LOOKBACK }]);
      expect(await s.store.collectedRanges(TENANT)).toEqual([{ from: NOW - 7 * DAY, to: NOW - MIN_AGE }]);
    } finally {
      await s.store.close();
    }
  });

  it('Reporting Web Service: --from 7d --to 2d, then --from 9d, collects both sides of the first', async () => {
    const s = setup('reporting-bounded', { api: 'reporting' });
    try {
      await backfill(s, NOW, NOW - 7 * DAY, NOW - 2 * DAY);
      expect(await s.store.collectedRanges(TENANT)).toEqual([{ from: NOW - 7 * DAY, to: NOW - 2 * DAY }]);

      await backfill(s, NOW, NOW - 9 * DAY);
      const keys = await outboxKeys(s.store);
      expect(keys.length).toBe(new Set(keys).size);
      expect(sorted(keys)).toEqual(sorted(await truthKeys(NOW - 9 * DAY, NOW - MIN_AGE, NOW)));
      expect(s.skipped).toEqual([{ from: NOW - 7 * DAY, to: NOW - 2 * DAY }]);
      expect(await s.store.collectedRanges(TENANT)).toEqual([{ from: NOW - 9 * DAY, to: NOW - MIN_AGE }]);
    } finally {
      await s.store.close();
    }
  });

  it('rows the fast pass collected longer ago than the seen-set lives are skipped, not delivered again', async () => {
    const s = setup('past-seen-set', { startFrom: '24h' });
    try {
      emulator.clock.set(NOW);
      const fast = s.collector(NOW);
      try {
        await fast.collector.fastPass(new AbortController().signal);
      } finally {
        await fast.source.close();
      }
      const fastKeys = await outboxKeys(s.store);
      expect(fastKeys.length).toBeGreaterThan(50);

      // 40 h later (the seen-set keeps keys about 30 h), a backfill over the last three days.
      const later = NOW + 40 * HOUR;
      await backfill(s, later, later - 3 * DAY);
      const keys = await outboxKeys(s.store);
      expect(keys.length).toBe(new Set(keys).size);
      expect(s.skipped).toEqual([{ from: NOW - DAY, to: NOW - MIN_AGE }]);
      // What the fast pass delivered, plus the truth on either side of it (nothing else).
      const expected = new Set([
        ...(await truthKeys(later - 3 * DAY, NOW - DAY, later)),
        ...fastKeys,
        ...(await truthKeys(NOW - MIN_AGE, later - MIN_AGE, later)),
      ]);
      expect(sorted(keys)).toEqual(sorted(expected));
    } finally {
      await s.store.close();
    }
  });

  it('--recollect reads a collected range again (late rows after a long stop); the seen-set keeps it free of duplicates', async () => {
    const s = setup('recollect', {});
    try {
      await backfill(s, NOW, NOW - 3 * DAY, NOW - 2 * DAY);
      const first = await outboxKeys(s.store);
      expect(first.length).toBeGreaterThan(50);
      // Without it: nothing read, the range said to be skipped.
      const again = await backfill(s, NOW, NOW - 3 * DAY, NOW - 2 * DAY);
      expect(again.rows).toBe(0);
      expect(s.skipped).toEqual([{ from: NOW - 3 * DAY, to: NOW - 2 * DAY }]);
      // With it: every row read again, none delivered twice (the seen-set still knows them).
      const recollected = await backfill(s, NOW, NOW - 3 * DAY, NOW - 2 * DAY, { recollect: true });
      expect(recollected.rows).toBe(first.length);
      expect(recollected.inserted).toBe(0);
      expect(recollected.duplicates).toBe(first.length);
      expect(s.skipped).toHaveLength(1);
      expect(await outboxKeys(s.store)).toEqual(first);
    } finally {
      await s.store.close();
    }
  });

  it('stopped inside a gap, the same backfill resumes it from its next link and ends equal to the truth', async () => {
    const s = setup('resume-gap', {});
    try {
      await backfill(s, NOW, NOW - 2 * DAY, NOW - DAY);
      // Stopped after the second page of the gap before the first backfill (small pages).
      const stop = new AbortController();
      let pages = 0;
      const stopping = s.collector(
        NOW,
        (inner) => ({
          api: inner.api,
          probe: (signal) => inner.probe(signal),
          close: () => inner.close(),
          async *pages(window, options) {
            for await (const page of inner.pages(window, options)) {
              yield page;
              if (++pages === 2) stop.abort(new Error('stopped by the test'));
            }
          },
        }),
        50,
      );
      try {
        await stopping.collector.backfill(NOW - 4 * DAY, NOW - DAY, stop.signal).catch(() => undefined);
      } finally {
        await stopping.source.close();
      }
      expect(pages).toBeGreaterThanOrEqual(2);
      const checkpoint = await s.store.getCheckpoint(TENANT, 'backfill');
      expect(checkpoint?.window).toEqual({ from: NOW - 4 * DAY, to: NOW - 2 * DAY });
      expect(checkpoint?.nextLink).toBeDefined();
      // The gap is not recorded as collected before its window completes.
      expect(await s.store.collectedRanges(TENANT)).toEqual([{ from: NOW - 2 * DAY, to: NOW - DAY }]);

      s.windowStarts.length = 0;
      await backfill(s, NOW, NOW - 4 * DAY, NOW - DAY);
      // Progress hears of the resumed window too, with the plan's count (it was "0/?" before):
      // the window itself, nothing after it left to collect.
      expect(s.windowStarts).toEqual([
        { window: { from: NOW - 4 * DAY, to: NOW - 2 * DAY }, done: 0, total: 1 },
      ]);
      const keys = await outboxKeys(s.store);
      expect(keys.length).toBe(new Set(keys).size);
      expect(sorted(keys)).toEqual(sorted(await truthKeys(NOW - 4 * DAY, NOW - DAY, NOW)));
      expect(await s.store.collectedRanges(TENANT)).toEqual([{ from: NOW - 4 * DAY, to: NOW - DAY }]);
    } finally {
      await s.store.close();
    }
  });
});
