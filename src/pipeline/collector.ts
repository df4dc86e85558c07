/**
 * One tenant's collection: windows → pages → normalized events → one transaction per page with
 * the checkpoint (collection.md). The cursor is a window end, never a row's time (rows come newest
 * first); a page's next link is stored with its rows, so a crash resumes inside the window; a
 * window's checkpoint only moves once its last page is committed.
 */
import { linkedAbort } from '../util/abort.js';
import type { TenantConfig } from '../config/load.js';
import type { NormalizeOptions } from '../normalize/normalizer.js';
import { ExotraceError } from '../core/errors.js';
import type { MessageTraceSource, Page } from '../sources/source.js';
import type { CommitResult } from '../core/commit-result.js';
import type { PageCommit, RejectInput, StateStore } from '../state/store.js';
import type { Pass } from '../core/window.js';
import type { PageGate } from './page-gate.js';
import { inlinePageNormalizer, type PageEvents, type PageNormalizer } from './page-events.js';
import { normalizeOptionsOf } from './tenant-fields.js';
import {
  backfillEnd,
  clampStart,
  fastWindows,
  planBackfill,
  reconcileDue,
  reconcileWindows,
  splitWindows,
} from './windows.js';
import { isoSeconds, type TimeWindow } from '../core/window.js';
import { addRange, type Range } from '../util/ranges.js';
import { plural } from '../util/plural.js';

export interface PassSummary {
  readonly pass: Pass;
  readonly windows: number;
  readonly pages: number;
  readonly rows: number;
  readonly inserted: number;
  readonly duplicates: number;
  readonly rejected: number;
}

export interface CollectorEvents {
  /** A requested start older than the API keeps was moved (worth a log line). */
  onClamp?(tenant: string, requested: number, start: number): void;
  onPage?(
    tenant: string,
    pass: Pass,
    window: TimeWindow,
    rows: number,
    inserted: number,
    page?: PageProgress,
  ): void;
  /**
   * A pass starts one of its planned windows: `done` of its `total` windows are finished (the
   * total is known from the plan, before the first page). Not for a window resumed from its next link.
   */
  onWindowStart?(tenant: string, pass: Pass, window: TimeWindow, done: number, total: number): void;
  /** A pass finished one of its planned windows (`done` of `total`). */
  onWindowEnd?(tenant: string, pass: Pass, window: TimeWindow, done: number, total: number): void;
  /** A backfill leaves out a part of what it was asked for: collected already (`planBackfill`). */
  onSkip?(tenant: string, range: TimeWindow): void;
  /** The same page's commit in full (metrics: events by status, duplicates; the rejects' reasons). */
  onCommit?(
    tenant: string,
    pass: Pass,
    rows: number,
    result: CommitResult,
    rejects: readonly RejectInput[],
  ): void;
}

/** What a committed page tells of its window's progress. */
export interface PageProgress {
  /** The oldest received time among the page's events (ms); rows come newest first. */
  readonly oldest?: number;
  /** The window's last page (no next link). */
  readonly last: boolean;
}

/** The oldest received time of a page's events, from their seen-set keys (`time|id`, ISO sorts as text). */
function oldestOf(events: readonly { key: string }[]): number | undefined {
  let oldest: string | undefined;
  for (const { key } of events) {
    const at = key.slice(0, key.indexOf('|'));
    if (oldest === undefined || at < oldest) oldest = at;
  }
  const ms = oldest === undefined ? Number.NaN : Date.parse(oldest);
  return Number.isNaN(ms) ? undefined : ms;
}

export interface TenantCollectorOptions {
  readonly tenant: TenantConfig;
  readonly source: MessageTraceSource;
  readonly store: StateStore;
  readonly now: () => number;
  readonly events?: CollectorEvents;
  /** Where pages are normalized (a worker pool shared by the tenants); default inline. */
  readonly pageNormalizer?: PageNormalizer;
  /** Bounds the pages held at once over every tenant; default unbounded (one tenant alone). */
  readonly pageGate?: PageGate;
  /**
   * Back pressure: awaited before each page is asked for; resolves when the outbox has room
   * (outputs behind by less than the bound). Default: always room.
   */
  readonly roomForPage?: (signal: AbortSignal) => Promise<void>;
  /**
   * Commits a page (the outbox's `commit`: it also wakes the outputs). Default: the store's
   * `commitPage` (a collector alone, delivery left to its caller).
   */
  readonly commit?: (tenant: string, page: PageCommit) => Promise<CommitResult>;
}

export interface TenantCollector {
  /** The fast pass from the checkpoint up to now − minAge. */
  fastPass(signal: AbortSignal): Promise<PassSummary>;
  /** Re-read [now − reconcileLookback, now − minAge]; `force` ignores reconcileEvery. */
  reconcilePass(signal: AbortSignal, force: boolean): Promise<PassSummary | undefined>;
  /**
   * A bounded historical range: what of it is not collected yet (`planBackfill`), oldest first,
   * with its own checkpoint (an interrupted window resumes from its next link).
   */
  backfill(
    from: number,
    to: number,
    signal: AbortSignal,
    onWindow?: (done: number, total: number) => void,
    options?: BackfillOptions,
  ): Promise<PassSummary>;
}

export interface BackfillOptions {
  /**
   * Read the whole range asked, also what is collected already (`backfill --recollect`): for rows
   * that became visible late in a stretch no reconcile pass re-read (a collector stopped for
   * longer than `reconcileLookback`). Rows the seen-set still knows are not delivered again; older
   * ones are (at least once).
   */
  readonly recollect?: boolean;
}

const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) => {
    setImmediate(resolve);
  });

/**
 * Every row of a page becomes one event or one reject (a duplicate inside the page is still an
 * event here: the store counts it as a duplicate when it commits). Any other sum means the source
 * and the normalizer read the page differently (a page taken for one row turned 63,743 rows into
 * 13 rejects once): a `page_mismatch`, never a checkpoint moved past rows that were not stored.
 */
function checkAccounted(
  tenant: string,
  pass: Pass,
  window: TimeWindow,
  rows: number,
  events: number,
  rejects: number,
): void {
  if (events + rejects === rows) return;
  throw new ExotraceError({
    code: 'page_mismatch',
    message:
      `tenant '${tenant}' (${pass} pass, window ${isoSeconds(window.from)}–${isoSeconds(window.to)}): ` +
      `the page had ${rows} ${plural(rows, 'row')} but normalizing it gave ${events} ${plural(events, 'event')} and ${rejects} ${plural(rejects, 'reject')}; ` +
      'nothing of the page was stored and the checkpoint did not move',
    fix: 'none in the configuration: this is a defect of exotrace or an unexpected page shape; report it with the log line (the window is read again on the next cycle)',
    tenant,
  });
}

// The seen-set must outlive every re-read of a row: the reconcile lookback plus a margin.
const SEEN_MARGIN_MS = 6 * 3_600_000;

export function createTenantCollector(options: TenantCollectorOptions): TenantCollector {
  const { tenant, source, store, now } = options;
  const commit = options.commit ?? ((name: string, page: PageCommit) => store.commitPage(name, page));
  const pageNormalizer = options.pageNormalizer ?? inlinePageNormalizer();
  // The full profile with the tenant's organization, accepted domains, name and id.
  const normalizeOptions: NormalizeOptions = normalizeOptionsOf(tenant);
  const seenTtlMs = tenant.reconcileLookbackMs + tenant.minAgeMs + SEEN_MARGIN_MS;

  /** Collects one window from `nextLink` (or its start); every page commits with its checkpoint. */
  async function collectWindow(
    pass: Pass,
    window: TimeWindow,
    cursorBefore: number,
    nextLink: string | undefined,
    summary: { pages: number; rows: number; inserted: number; duplicates: number; rejected: number },
    signal: AbortSignal,
  ): Promise<void> {
    // One page ahead: the next page is normalized (on a worker) while this one commits. Commits stay
    // in page order, one at a time: a page's checkpoint must never land before the page before it.
    const gate = options.pageGate;
    // Our own signal for the walk: leaving early (a failed commit) must also end a fetch ahead that
    // waits for the budget, or the failure would wait with it.
    const walkControl = linkedAbort(signal);
    const walk = source.pages(window, {
      ...(nextLink === undefined ? {} : { nextLink }),
      ...(gate === undefined ? {} : { acquirePage: (held: AbortSignal) => gate.acquire(held) }),
      signal: walkControl.signal,
    });
    const pages = walk[Symbol.asyncIterator]();
    const pull = async (): Promise<{ page: Page; events: Promise<PageEvents> } | undefined> => {
      await options.roomForPage?.(walkControl.signal);
      const next = await pages.next();
      if (next.done === true) return undefined;
      const events = pageNormalizer.normalize(next.value.text, normalizeOptions);
      // Observed here: when the walk stops early nobody awaits the page after the last one.
      events.catch(() => undefined);
      return { page: next.value, events };
    };
    let ahead = pull();
    let current: Awaited<typeof ahead>;
    try {
      for (;;) {
        current = await ahead;
        if (current === undefined) break;
        const { page } = current;
        const { events, rejects } = await current.events;
        // Before anything of the page is stored: a page whose rows are not all accounted for fails
        // the window here, its checkpoint where it was, rather than move on past rows never stored.
        checkAccounted(tenant.name, pass, window, page.rowCount, events.length, rejects.length);
        ahead = pull();
        // Observed here too: if this commit throws, the pull in flight is abandoned with the walk.
        ahead.catch(() => undefined);
        // The commit below holds the thread (SQLite is synchronous here): first let the next page,
        // when it has already arrived, reach its worker, so that normalizing overlaps the commit.
        await yieldToEventLoop();
        const checkpoint =
          page.nextLink === undefined
            ? { cursor: window.to }
            : { cursor: cursorBefore, window, nextLink: page.nextLink };
        const result = await commit(tenant.name, {
          pass,
          checkpoint,
          events,
          rejects,
          now: now(),
          seenTtlMs,
          // The last page completes the window: recorded as collected with it, whatever the pass.
          ...(page.nextLink === undefined ? { collected: window } : {}),
        });
        summary.pages++;
        summary.rows += page.rowCount;
        summary.inserted += result.inserted;
        summary.duplicates += result.duplicates;
        summary.rejected += result.rejected;
        page.release();
        if (options.events?.onPage !== undefined) {
          const oldest = oldestOf(events);
          options.events.onPage(tenant.name, pass, window, page.rowCount, result.inserted, {
            ...(oldest === undefined ? {} : { oldest }),
            last: page.nextLink === undefined,
          });
        }
        options.events?.onCommit?.(tenant.name, pass, page.rowCount, result, rejects);
      }
    } finally {
      // A stop or failure mid-walk: the page in hand and the one ahead give their places back.
      current?.page.release();
      void ahead.then(
        (next) => next?.page.release(),
        () => undefined,
      );
      // Ends the source's walk (aborting its prefetch) when we stop before its last page.
      walkControl.end(new Error('page walk ended'));
      await pages.return?.();
    }
  }

  /**
   * Runs windows in order. A window interrupted mid-way (crash, stop) is finished first from its
   * stored next link, when it lies in the range now asked for; windows already behind the
   * checkpoint's cursor are skipped (a re-read is the reconcile pass's job, not this one's).
   */
  async function runWindows(
    pass: Pass,
    windows: readonly TimeWindow[],
    signal: AbortSignal,
    onWindow?: (done: number, total: number) => void,
  ): Promise<PassSummary> {
    const summary = { pages: 0, rows: 0, inserted: 0, duplicates: 0, rejected: 0 };
    // A call, not the property: the compiler would take `aborted` as fixed after this first check.
    const stopped = (): boolean => signal.aborted;
    // Stopped already: not even the resume of a stored window (it would commit after the stop).
    if (stopped()) return { pass, windows: 0, ...summary };
    const first = windows[0];
    const last = windows.at(-1);
    if (first === undefined || last === undefined) return { pass, windows: 0, ...summary };
    const stored = await store.getCheckpoint(tenant.name, pass);
    const inRange = stored !== undefined && stored.cursor >= first.from && stored.cursor <= last.to;
    let cursor = inRange && pass !== 'reconcile' ? stored.cursor : first.from;
    if (inRange && stored.window !== undefined && stored.nextLink !== undefined) {
      // The plan is known before the resumed window: progress shows its count and an ETA for it
      // too (the resumed window is the long one after a stop).
      options.events?.onWindowStart?.(tenant.name, pass, stored.window, 0, windows.length);
      await collectWindow(pass, stored.window, cursor, stored.nextLink, summary, signal);
      cursor = Math.max(cursor, stored.window.to);
    }
    let done = 0;
    for (const planned of windows) {
      if (stopped()) break;
      done++;
      // After a resumed window, start where it ended (sharing its boundary second).
      const window = planned.from < cursor ? { from: cursor, to: planned.to } : planned;
      if (window.to > window.from) {
        options.events?.onWindowStart?.(tenant.name, pass, window, done - 1, windows.length);
        await collectWindow(pass, window, cursor, undefined, summary, signal);
        cursor = window.to;
      }
      options.events?.onWindowEnd?.(tenant.name, pass, window, done, windows.length);
      onWindow?.(done, windows.length);
    }
    return { pass, windows: windows.length, ...summary };
  }

  function startOf(): number {
    const current = now();
    const requested =
      tenant.startFrom.kind === 'ago' ? current - tenant.startFrom.ms : tenant.startFrom.at.getTime();
    const { start, clamped } = clampStart(requested, tenant.api, current);
    if (clamped) options.events?.onClamp?.(tenant.name, requested, start);
    return start;
  }

  return {
    async fastPass(signal) {
      const checkpoint = await store.getCheckpoint(tenant.name, 'fast');
      const current = now();
      // Never ask for what the API no longer keeps, even after a long stop.
      const cursor = clampStart(checkpoint?.cursor ?? startOf(), tenant.api, current).start;
      return runWindows('fast', fastWindows(cursor, current, tenant.minAgeMs), signal);
    },
    async reconcilePass(signal, force) {
      const checkpoint = await store.getCheckpoint(tenant.name, 'reconcile');
      const inProgress = checkpoint?.nextLink !== undefined;
      if (!force && !inProgress && !reconcileDue(checkpoint?.updatedAt, now(), tenant.reconcileEveryMs))
        return undefined;
      const windows = reconcileWindows(now(), tenant.reconcileLookbackMs, tenant.minAgeMs, tenant.api);
      return runWindows('reconcile', windows, signal);
    },
    async backfill(from, to, signal, onWindow, backfillOptions = {}) {
      const summary = { pages: 0, rows: 0, inserted: 0, duplicates: 0, rejected: 0 };
      if (signal.aborted) return { pass: 'backfill', windows: 0, ...summary };
      const current = now();
      const start = clampStart(from, tenant.api, current);
      if (start.clamped) options.events?.onClamp?.(tenant.name, from, start.start);
      const end = backfillEnd(to, current, tenant.minAgeMs);
      if (end <= start.start) return { pass: 'backfill', windows: 0, ...summary };
      // A window a stopped backfill left half done is finished first, from its stored next link,
      // when it overlaps what is asked; completed, it counts as collected like any other.
      const stored = await store.getCheckpoint(tenant.name, 'backfill');
      let resumed = 0;
      const collected = async (): Promise<readonly Range[]> =>
        backfillOptions.recollect === true ? [] : await store.collectedRanges(tenant.name);
      if (
        stored?.window !== undefined &&
        stored.nextLink !== undefined &&
        stored.window.from <= end &&
        stored.window.to >= start.start
      ) {
        // The windows after it, as they will be once it is collected: the count and an ETA are
        // shown for the resumed window too (after a stop, it is the long one).
        const after = planBackfill(
          { from: start.start, to: end },
          addRange(await collected(), stored.window),
          current - tenant.reconcileLookbackMs,
        ).gaps.flatMap((gap) => splitWindows(gap)).length;
        options.events?.onWindowStart?.(tenant.name, 'backfill', stored.window, 0, 1 + after);
        await collectWindow('backfill', stored.window, stored.cursor, stored.nextLink, summary, signal);
        resumed = 1;
        options.events?.onWindowEnd?.(tenant.name, 'backfill', stored.window, 1, 1 + after);
        onWindow?.(1, 1 + after);
      }
      const plan = planBackfill(
        { from: start.start, to: end },
        await collected(),
        current - tenant.reconcileLookbackMs,
      );
      for (const range of plan.skipped) options.events?.onSkip?.(tenant.name, range);
      const windows = plan.gaps.flatMap((gap) => splitWindows(gap));
      let done = 0;
      // A call, not the property: the compiler would take `aborted` as fixed after the first check.
      const stopped = (): boolean => signal.aborted;
      const total = resumed + windows.length;
      for (const window of windows) {
        if (stopped()) break;
        options.events?.onWindowStart?.(tenant.name, 'backfill', window, resumed + done, total);
        await collectWindow('backfill', window, window.from, undefined, summary, signal);
        done++;
        options.events?.onWindowEnd?.(tenant.name, 'backfill', window, resumed + done, total);
        onWindow?.(resumed + done, total);
      }
      return { pass: 'backfill', windows: resumed + windows.length, ...summary };
    },
  };
}
