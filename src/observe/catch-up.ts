/**
 * `run`'s progress at info level while a tenant catches up: a first run from `startFrom` of a big
 * tenant, or the daemon back after a long stop, can take hours, and without this nothing is said
 * until the pass ends. A pass says nothing while it is short: its first line comes once it has run
 * for `everyMs` (30 s by default, `log.progressEvery`), then one every `everyMs`, and one line when
 * it ends if it said anything — a steady daemon, whose passes take seconds, stays quiet (as
 * Filebeat's periodic metrics lines are every 30 s, but only while there is something to tell).
 *
 * The ETA is backfill's (progress.ts): the larger of the elapsed time extrapolated and the time the
 * requests still needed take under the tenant's `requestsPer5Min`, the window in progress counted
 * for the part of it covered (a first run of 24 hours is one window of many pages).
 */
import type { Pass } from '../core/window.js';
import type { TimeWindow } from '../core/window.js';
import type { Logger } from './log.js';
import { progressFields, type ProgressSnapshot, type WindowProgress } from './progress.js';

/** What the tenant's request budget allows right now (`TenantBudget`), for the ETA. */
export interface BudgetView {
  readonly perWindow: number;
  readonly free: number;
  readonly pausedMs: number;
}

export interface CatchUpProgressOptions {
  readonly log: Logger;
  /** Time between two lines of one pass, and how long a pass runs before its first. */
  readonly everyMs: number;
  /** A monotonic clock in ms; default `performance.now` (tests drive their own). */
  readonly now?: () => number;
  readonly budgetOf: (tenant: string) => BudgetView;
}

/** The collector's events, as the progress needs them (fed by run.ts). */
export interface CatchUpProgress {
  passStart(tenant: string, pass: Pass): void;
  request(tenant: string): void;
  /** A request of the tenant failed and is retried: the lines say so until a page comes. */
  retry(tenant: string, cause: string): void;
  windowStart(tenant: string, pass: Pass, window: TimeWindow, done: number, total: number): void;
  page(tenant: string, pass: Pass, window: TimeWindow, rows: number, oldest: number | undefined): void;
  windowEnd(tenant: string, pass: Pass, window: TimeWindow, done: number, total: number): void;
  /** The pass returned (or failed, or was not due): its last line when it said anything. */
  passEnd(tenant: string, pass: Pass): void;
  /** Checks every running pass against the interval (a timer calls it between events). */
  tick(): void;
}

interface PassState {
  readonly pass: Pass;
  readonly startedAt: number;
  /** The tenant's request count when the pass started: the pass's own are the ones since. */
  readonly requestsBefore: number;
  lastLineAt: number;
  said: boolean;
  windowsDone: number;
  windowsTotal: number | undefined;
  pages: number;
  rows: number;
  requestsAtWindow: number;
  /** The end of the last window finished: the pass's checkpoint. */
  collectedTo: number | undefined;
  window: { -readonly [K in keyof WindowProgress]: WindowProgress[K] } | undefined;
  /** The cause of the last retry since the last page: a pass stuck on a failing host says so. */
  retrying: string | undefined;
}

export function createCatchUpProgress(options: CatchUpProgressOptions): CatchUpProgress {
  const now = options.now ?? (() => performance.now());
  const requests = new Map<string, number>();
  const running = new Map<string, PassState>();
  const requestsOf = (tenant: string): number => requests.get(tenant) ?? 0;

  const fields = (tenant: string, s: PassState): Record<string, unknown> => {
    const budget = options.budgetOf(tenant);
    const made = requestsOf(tenant) - s.requestsBefore;
    const snapshot: ProgressSnapshot = {
      windowsDone: s.windowsDone,
      windowsTotal: s.windowsTotal,
      rows: s.rows,
      requests: made,
      requestsThisWindow: made - s.requestsAtWindow,
      elapsedMs: now() - s.startedAt,
      budgetPerWindow: budget.perWindow,
      budgetFree: budget.free,
      budgetPausedMs: budget.pausedMs,
      ...(s.window === undefined ? {} : { window: { ...s.window } }),
    };
    // Backfill's own line (windows, rows, requests, the window in progress, the ETA), and what a
    // pass of run adds to it.
    return {
      ...progressFields(tenant, snapshot),
      pass: s.pass,
      pages: s.pages,
      ...(s.collectedTo === undefined ? {} : { collectedTo: new Date(s.collectedTo).toISOString() }),
      // Without these, a pass stuck on a refused host or an exhausted budget reads as progress.
      ...(s.retrying === undefined ? {} : { retrying: s.retrying }),
      ...(budget.free <= 0 ? { waitingForBudget: true } : {}),
      elapsedSeconds: Math.round((now() - s.startedAt) / 1000),
    };
  };

  const check = (tenant: string, s: PassState): void => {
    if (now() - s.lastLineAt < options.everyMs) return;
    s.lastLineAt = now();
    s.said = true;
    options.log.info('tenant catching up', fields(tenant, s));
  };

  const stateOf = (tenant: string, pass: Pass): PassState | undefined => {
    const s = running.get(tenant);
    return s?.pass === pass ? s : undefined;
  };

  return {
    passStart(tenant, pass) {
      const at = now();
      running.set(tenant, {
        pass,
        startedAt: at,
        requestsBefore: requestsOf(tenant),
        lastLineAt: at,
        said: false,
        windowsDone: 0,
        windowsTotal: undefined,
        pages: 0,
        rows: 0,
        requestsAtWindow: 0,
        collectedTo: undefined,
        window: undefined,
        retrying: undefined,
      });
    },
    request(tenant) {
      requests.set(tenant, requestsOf(tenant) + 1);
      const s = running.get(tenant);
      if (s !== undefined) check(tenant, s);
    },
    retry(tenant, cause) {
      const s = running.get(tenant);
      if (s === undefined) return;
      s.retrying = cause;
      check(tenant, s);
    },
    windowStart(tenant, pass, window, done, total) {
      const s = stateOf(tenant, pass);
      if (s === undefined) return;
      s.windowsDone = done;
      s.windowsTotal = total;
      s.window = undefined;
      check(tenant, s);
    },
    page(tenant, pass, window, rows, oldest) {
      const s = stateOf(tenant, pass);
      if (s === undefined) return;
      s.pages++;
      s.rows += rows;
      s.retrying = undefined;
      if (s.window === undefined || s.window.from !== window.from || s.window.to !== window.to)
        s.window = { from: window.from, to: window.to, pages: 0, rows: 0 };
      s.window.pages++;
      s.window.rows += rows;
      if (oldest !== undefined) s.window.oldest = Math.min(s.window.oldest ?? oldest, oldest);
      check(tenant, s);
    },
    windowEnd(tenant, pass, window, done, total) {
      const s = stateOf(tenant, pass);
      if (s === undefined) return;
      s.windowsDone = done;
      s.windowsTotal = total;
      s.window = undefined;
      s.collectedTo = window.to;
      s.requestsAtWindow = requestsOf(tenant) - s.requestsBefore;
      check(tenant, s);
    },
    passEnd(tenant, pass) {
      const s = stateOf(tenant, pass);
      if (s === undefined) return;
      running.delete(tenant);
      if (!s.said) return;
      const { windowsDone, windowsTotal } = s;
      options.log.info(
        windowsTotal !== undefined && windowsDone >= windowsTotal
          ? 'tenant caught up'
          : 'tenant catch-up ended before its last window',
        fields(tenant, s),
      );
    },
    tick() {
      for (const [tenant, s] of running) check(tenant, s);
    },
  };
}
