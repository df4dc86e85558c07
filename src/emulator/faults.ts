/**
 * Fault injection: the rough edges of the real services, on demand. A test queues exact faults
 * through the control API ("the next 3 Graph list calls answer 503"); a demo or soak run sets
 * rates instead. Queued faults come first; rates draw from a seeded generator, so a run with the
 * same seed and the same requests meets the same faults.
 */

/** Which requests a fault may hit. */
export type FaultTarget = 'graph-list' | 'graph-detail' | 'reporting' | 'token';

export type FaultKind =
  /** Answer with this HTTP status (500, 502, 503, 504, or anything else) and an error body. */
  | 'status'
  /** Close the connection without an answer. */
  | 'reset'
  /** Wait `delayMs` before sending the headers. */
  | 'slow-headers'
  /** Send the headers and half the body, wait `delayMs`, then the rest. */
  | 'slow-body'
  /** A complete response whose JSON is cut in the middle. */
  | 'truncate'
  /** Headers, then a body that never ends (the page's rows over and over, chunked), until the client goes. */
  | 'endless-body'
  /** The body one byte every `delayMs` (default 1000 ms): each gap is short, the whole is endless. */
  | 'trickle-body'
  /** Revoke the tenant's tokens before answering: the request gets 401. */
  | 'revoke-token'
  /** Treat the request's skip token as expired (400). */
  | 'expire-next-link'
  /** A page shorter than asked that still has a next link (legal, and it trips naive pagers). */
  | 'short-page'
  /** The next link points back a few rows, so the next page repeats them. */
  | 'duplicate-rows'
  /**
   * The page carries a row-like top-level key beside its rows (`"toIP": ""` on Graph, `"ToIP": ""`
   * on the Reporting Web Service), as one real tenant's pages did: still a page, whole.
   */
  | 'extra-page-key'
  /**
   * Graph list: the page's first row carries `"value": []` beside its fields (a key no row has, the
   * page envelope's own name): still one row, never an empty page.
   */
  | 'extra-row-key'
  /**
   * Answer 400 with an error whose message quotes the request's access token as it came (a service
   * or a proxy echoing what it refused): the client must never pass it on to logs or state.
   */
  | 'echo-token'
  /**
   * Graph list, on a request with a skip token: its next link is a new one (a new token each time)
   * to the same position, and so is every next link after it: the same rows for ever, every other
   * page in reverse order (so that a page is known by its rows, not by its body).
   */
  | 'stuck-next-link'
  /**
   * Graph list, on a request with a skip token: the page is empty and its next link is a new one
   * to the same position, and so is every page after it: empty pages, each with a new link, for ever.
   */
  | 'empty-next-link';

export interface Fault {
  readonly kind: FaultKind;
  /** For `status`; default 503. A 429 comes as a throttle answer, with `Retry-After: 1`. */
  readonly status?: number;
  /** For the slow kinds; default 2000 ms (1000 ms for `trickle-body`). */
  readonly delayMs?: number;
  /** Requests it may hit; default: all data requests (not `token`). */
  readonly targets?: readonly FaultTarget[];
  /** Tenant name or id it is limited to; default any. */
  readonly tenant?: string;
}

export interface FaultRates {
  /** Share of data requests answered with a random status of `errorStatuses`. */
  readonly errorRate: number;
  readonly errorStatuses: readonly number[];
  readonly resetRate: number;
  readonly truncateRate: number;
  readonly slowRate: number;
  readonly slowMs: number;
  readonly shortPageRate: number;
  readonly duplicateRate: number;
}

export const NO_FAULTS: FaultRates = {
  errorRate: 0,
  errorStatuses: [500, 502, 503, 504],
  resetRate: 0,
  truncateRate: 0,
  slowRate: 0,
  slowMs: 2000,
  shortPageRate: 0,
  duplicateRate: 0,
};

const DATA_TARGETS: readonly FaultTarget[] = ['graph-list', 'graph-detail', 'reporting'];

/** The kinds that only affect a request with a skip token. */
const PAGING_ONLY: ReadonlySet<FaultKind> = new Set([
  'expire-next-link',
  'stuck-next-link',
  'empty-next-link',
]);

export interface Faults {
  /** Queue faults; each hits the next matching request once (`times` copies of each). */
  enqueue(faults: readonly Fault[], times?: number): void;
  clear(): void;
  setRates(rates: Partial<FaultRates>): void;
  readonly rates: FaultRates;
  readonly queued: number;
  /** The fault for this request, if any: the first matching queued one, else one drawn by rate. */
  /**
   * `paging`: the request carries a skip token. A queued `expire-next-link`, `stuck-next-link` or
   * `empty-next-link` waits for such a request instead of being spent on a first page it cannot affect.
   */
  draw(target: FaultTarget, tenant: { name: string; tenantId: string }, paging?: boolean): Fault | undefined;
}

export function createFaults(random: () => number, initial: Partial<FaultRates> = {}): Faults {
  let rates: FaultRates = { ...NO_FAULTS, ...initial };
  let queue: Fault[] = [];
  const matches = (fault: Fault, target: FaultTarget, tenant: { name: string; tenantId: string }): boolean =>
    (fault.targets ?? DATA_TARGETS).includes(target) &&
    (fault.tenant === undefined || fault.tenant === tenant.name || fault.tenant === tenant.tenantId);

  return {
    enqueue(faults, times = 1) {
      for (let i = 0; i < times; i++) queue.push(...faults);
    },
    clear() {
      queue = [];
    },
    setRates(next) {
      rates = { ...rates, ...next };
    },
    get rates() {
      return rates;
    },
    get queued() {
      return queue.length;
    },
    draw(target, tenant, paging = false) {
      const index = queue.findIndex(
        (fault) => (matches(fault, target, tenant) && !PAGING_ONLY.has(fault.kind)) || paging,
      );
      if (index >= 0) return queue.splice(index, 1)[0];
      if (target === 'token') return undefined;
      // One draw per kind keeps each rate independent of the others' settings.
      if (random() < rates.resetRate) return { kind: 'reset' };
      if (random() < rates.errorRate) {
        const statuses = rates.errorStatuses.length > 0 ? rates.errorStatuses : [503];
        return { kind: 'status', status: statuses[Math.floor(random() * statuses.length)] ?? 503 };
      }
      if (random() < rates.slowRate)
        return { kind: random() < 0.5 ? 'slow-headers' : 'slow-body', delayMs: rates.slowMs };
      if (random() < rates.truncateRate) return { kind: 'truncate' };
      if (target === 'graph-list' || target === 'reporting') {
        if (random() < rates.shortPageRate) return { kind: 'short-page' };
        if (random() < rates.duplicateRate) return { kind: 'duplicate-rows' };
      }
      return undefined;
    },
  };
}
