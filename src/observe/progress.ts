/**
 * Backfill progress: the ETA and its display, as pure functions (the CLI feeds them counters and
 * draws the result). A backfill of a large tenant is bounded less by how fast the API answers than
 * by the tenant's request budget (`requestsPer5Min`), so an ETA extrapolated from elapsed time
 * alone is far too hopeful once the budget is spent: the ETA is the larger of that extrapolation
 * and the time the remaining requests need under the budget.
 */
import { counted } from '../util/plural.js';
import { formatDuration } from '../util/duration.js';

/** The default budget window (Microsoft counts requests per rolling 5 minutes). */
export const BUDGET_WINDOW_MS = 300_000;

export interface ProgressSnapshot {
  readonly windowsDone: number;
  /** Undefined until the collector has reported its first window (the count is its to make). */
  readonly windowsTotal: number | undefined;
  readonly rows: number;
  /** Attempts that reached the wire so far (retries included: the budget counts them). */
  readonly requests: number;
  /**
   * Of `requests`, those made since the last finished window: they tell nothing yet of a window's
   * cost, and are already spent on the one in progress. Default 0.
   */
  readonly requestsThisWindow?: number;
  readonly elapsedMs: number;
  /** The tenant's `requestsPer5Min`. */
  readonly budgetPerWindow: number;
  /** Slots of the budget free right now (`TenantBudget.remaining()`). */
  readonly budgetFree: number;
  /** How long the budget stays paused by a 429's Retry-After, 0 when it is not. */
  readonly budgetPausedMs?: number;
  /** Default BUDGET_WINDOW_MS. */
  readonly budgetWindowMs?: number;
  /** The window in progress, once its first page has arrived; undefined between windows. */
  readonly window?: WindowProgress;
}

/**
 * What has arrived of the window in progress. Its pages come newest first (Graph sorts by received
 * time, descending), so `[oldest, to]` is covered and the rest of the window is still to come.
 */
export interface WindowProgress {
  readonly from: number;
  readonly to: number;
  readonly pages: number;
  readonly rows: number;
  /** The oldest received time seen so far in the window (ms); undefined while no row came. */
  readonly oldest?: number;
}

/** The part of the window covered so far, 0–1 (0 before its first row). */
export function windowFraction(w: WindowProgress | undefined): number {
  if (w?.oldest === undefined) return 0;
  const span = w.to - w.from;
  if (span <= 0) return 0;
  return Math.min(1, Math.max(0, (w.to - w.oldest) / span));
}

/** Extrapolation from the time the finished windows took; undefined before the first one. */
export function elapsedEtaMs(
  windowsDone: number,
  windowsTotal: number,
  elapsedMs: number,
): number | undefined {
  if (windowsDone <= 0) return undefined;
  const left = Math.max(0, windowsTotal - windowsDone);
  return (elapsedMs / windowsDone) * left;
}

/**
 * Requests the windows still to do will take, at the rate the finished ones took them, less those
 * the window in progress has already made.
 */
export function remainingRequests(
  windowsDone: number,
  windowsTotal: number,
  requests: number,
  requestsThisWindow = 0,
): number {
  if (windowsDone <= 0) return 0;
  const left = Math.max(0, windowsTotal - windowsDone);
  const inProgress = Math.min(Math.max(0, requestsThisWindow), requests);
  const perWindow = (requests - inProgress) / windowsDone;
  return Math.max(0, Math.ceil(perWindow * left) - inProgress);
}

/**
 * The shortest time `needed` requests can take under the budget: what is free now costs nothing,
 * and every further `perWindow` requests (or part of them) waits one budget window. A pause from a
 * 429 holds every request, so it comes on top. Deliberately simple: the rolling window frees slots
 * a little sooner than this, but a sustained backfill really is held to `perWindow` per window.
 */
export function budgetWaitMs(
  needed: number,
  free: number,
  perWindow: number,
  windowMs: number = BUDGET_WINDOW_MS,
  pausedMs = 0,
): number {
  const pause = Math.max(0, pausedMs);
  if (needed <= 0) return 0;
  const beyond = needed - Math.max(0, free);
  if (beyond <= 0) return pause;
  return pause + Math.ceil(beyond / Math.max(1, perWindow)) * windowMs;
}

/**
 * The ETA in ms: max(elapsed extrapolation, budget time); undefined while it cannot be known. The
 * window in progress counts for the part of it covered so far: a first window of 10 days is no
 * longer an unknown once its first pages have come (the requests it made are then a sample of
 * what a window costs, not only spent).
 */
export function backfillEtaMs(s: ProgressSnapshot): number | undefined {
  if (s.windowsTotal === undefined) return undefined;
  const fraction = windowFraction(s.window);
  const progressed = s.windowsDone + fraction;
  const byElapsed = elapsedEtaMs(progressed, s.windowsTotal, s.elapsedMs);
  if (byElapsed === undefined) return undefined;
  const needed =
    fraction > 0
      ? remainingRequests(progressed, s.windowsTotal, s.requests)
      : remainingRequests(s.windowsDone, s.windowsTotal, s.requests, s.requestsThisWindow ?? 0);
  const byBudget = budgetWaitMs(
    needed,
    s.budgetFree,
    s.budgetPerWindow,
    s.budgetWindowMs ?? BUDGET_WINDOW_MS,
    s.budgetPausedMs ?? 0,
  );
  return Math.max(byElapsed, byBudget);
}

/**
 * The bar's line for cli-progress: `{bar}` is its own token; the rest come from `barPayload`.
 * `{eta}` is taken by cli-progress's naive estimate, hence `{etaText}`.
 */
export const BAR_FORMAT =
  'backfill {tenant} [{bar}] {windows} windows | {rows} | {requests} | ETA {etaText}{inWindow}';

export interface BarPayload {
  readonly tenant: string;
  readonly windows: string;
  /** With its noun: `1 row`, `183,201 rows`. */
  readonly rows: string;
  /** With its noun: `1 request`, `41 requests`. */
  readonly requests: string;
  readonly etaText: string;
  /**
   * ` | window: 3 pages, 15,000 rows, 4d 02h of 10d 00h` while a window is in progress, absent
   * between windows (the bar then draws it empty).
   */
  readonly inWindow?: string;
}

function inWindowText(w: WindowProgress): string {
  const covered = w.oldest === undefined ? 0 : Math.max(0, w.to - w.oldest);
  return ` | window: ${counted(w.pages, 'page')}, ${counted(w.rows, 'row')}, ${formatDuration(covered)} of ${formatDuration(w.to - w.from)}`;
}

export function barPayload(tenant: string, s: ProgressSnapshot): BarPayload {
  return {
    tenant,
    windows: `${s.windowsDone}/${s.windowsTotal === undefined ? '?' : String(s.windowsTotal)}`,
    rows: counted(s.rows, 'row'),
    requests: counted(s.requests, 'request'),
    etaText: formatDuration(backfillEtaMs(s)),
    ...(s.window === undefined ? {} : { inWindow: inWindowText(s.window) }),
  };
}

/** The fields of the per-window JSON line when stderr is not a terminal. */
export function progressFields(tenant: string, s: ProgressSnapshot): Record<string, unknown> {
  const eta = backfillEtaMs(s);
  return {
    tenant,
    windows: s.windowsDone,
    windowsTotal: s.windowsTotal,
    rows: s.rows,
    requests: s.requests,
    etaSeconds: eta === undefined ? undefined : Math.ceil(eta / 1000),
    eta: formatDuration(eta),
    ...(s.window === undefined ? {} : windowFields(s.window)),
  };
}

/** The window in progress in a JSON line: its bounds, pages and rows so far, the part covered. */
export function windowFields(w: WindowProgress): Record<string, unknown> {
  return {
    windowFrom: new Date(w.from).toISOString(),
    windowTo: new Date(w.to).toISOString(),
    windowPages: w.pages,
    windowRows: w.rows,
    ...(w.oldest === undefined ? {} : { coveredFrom: new Date(w.oldest).toISOString() }),
    windowCovered: Math.round(windowFraction(w) * 1000) / 1000,
  };
}
