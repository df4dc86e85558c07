/**
 * A message trace source: one interface over Graph v1.0, Graph beta and the Reporting Web Service.
 * The loop that walks a window's pages is written once here (style.md "Source = generic poller +
 * API adapter"); an adapter only builds URLs and parses pages, so a new API is a new adapter.
 *
 * The walk follows next links verbatim and never derives a cursor from rows (they come newest
 * first, `$orderby` is ignored): each page is handed over with the link to the page after it, so
 * the caller can store both in one transaction and resume mid-window after a crash.
 */
import { hash } from 'node:crypto';
import type { Api } from '../config/index.js';
import { PAGE_SHAPE, pageEnvelopeOf } from '../normalize/page.js';
import type { TimeWindow } from '../core/window.js';
import type { HttpClient } from '../http/client.js';
import { classifyResponse } from './http/api-errors.js';
import { ExotraceError, type ErrorContext } from '../core/errors.js';
import { safeUrl } from '../core/redact.js';
import type { HttpRequest, HttpResponse } from '../http/types.js';

/** What an adapter reads from a page body. */
export interface ParsedPage {
  readonly rows: readonly Record<string, unknown>[];
  /** Absolute (relative links are resolved against the page's own URL); undefined on the last page. */
  readonly nextLink: string | undefined;
}

/**
 * A page as the walk hands it over. It keeps its text and its row count, not the parsed rows:
 * parsed, a page of 5,000 rows is some 15 MB of objects, and the collector normalizes from the
 * text (on a worker thread). `rows` parses the text again for the few callers that want them.
 */
export interface Page extends ParsedPage {
  readonly rowCount: number;
  /**
   * The body `rows` were parsed from. The collector normalizes from it (a worker thread is handed
   * text far cheaper than objects), so whoever builds a page must keep the two in agreement.
   */
  readonly text: string;
  /**
   * Gives back the place this page took (`PagesOptions.acquirePage`) once it is committed or
   * abandoned; a no-op without one, and after the first call.
   */
  readonly release: () => void;
}

export interface PagesOptions {
  /** A next link stored with an earlier page of this window: the walk continues right after it. */
  readonly nextLink?: string;
  readonly signal: AbortSignal;
  /**
   * Called before each page is fetched (the next one included, fetched ahead): waits for a place
   * and returns the function that gives it back, which becomes the page's `release`. Bounds the
   * pages held in memory over every tenant. A page fetched ahead and never handed over is released
   * by the walk itself.
   */
  readonly acquirePage?: (signal: AbortSignal) => Promise<() => void>;
}

export interface MessageTraceSource {
  readonly api: Api;
  /**
   * The pages of one window in the API's order, from its start or from `nextLink`. Always yields
   * at least one page (an empty window is one empty page without a next link), so the caller
   * always sees the window end.
   */
  pages(window: TimeWindow, options: PagesOptions): AsyncIterable<Page>;
  /** One small query (one row over the last hour), for `doctor`: throws what a real pass would. */
  probe(signal: AbortSignal): Promise<void>;
  /** Releases the connections; a second call returns the first promise. */
  close(): Promise<void>;
}

/** What differs between APIs: pure, no I/O, tested without a server. */
export interface ApiAdapter {
  readonly api: Api;
  /** Headers on every request of this API (the Reporting Web Service's JSON light is chosen by Accept). */
  readonly headers: Readonly<Record<string, string>>;
  firstPageUrl(window: TimeWindow): URL;
  /** A one-row query over the hour before `now`. */
  probeUrl(now: number): URL;
  /** Throws a retryable `ExotraceError` for a body that is not a whole page. */
  parsePage(text: string, requestUrl: URL): ParsedPage;
}

/**
 * `link` as a URL if it points at the configured API's origin (scheme, host and port), else a
 * `foreign_next_link` error: following it would hand the tenant's token to another host.
 */
export function checkNextLink(link: string, apiUrl: string, context?: ErrorContext): URL | ExotraceError {
  const where = context === undefined ? '' : ` for tenant '${context.tenant}' (${context.configPath})`;
  const configKey = context === undefined ? 'apiUrl' : `${context.configPath}.apiUrl`;
  const tenant = context === undefined ? {} : { tenant: context.tenant };
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    return new ExotraceError({
      ...tenant,
      code: 'foreign_next_link',
      message: `the API returned a next link${where} that is not an absolute URL`,
      fix: 'none on our side: the API answered a broken page; the window is read again later',
      retryable: false,
      configKey,
    });
  }
  const allowed = new URL(apiUrl).origin;
  if (url.origin === allowed) return url;
  return new ExotraceError({
    ...tenant,
    code: 'foreign_next_link',
    // safeUrl drops the query: it carries the skip token and the filter.
    message: `refused the next link ${safeUrl(url)}${where}: only ${allowed} (${configKey}) is trusted with the token`,
    fix: `if the API really moved, set ${configKey}; otherwise the next link was forged or broken`,
    retryable: false,
    configKey,
  });
}

/** A retryable error for a 2xx body that is not a whole page (truncated, not JSON, no rows array). */
export function unreadablePage(requestUrl: URL, why: string, cause?: unknown): ExotraceError {
  return new ExotraceError({
    code: 'transient',
    message: `GET ${safeUrl(requestUrl)} returned a page that could not be read: ${why}`,
    fix: 'none needed if it passes: the page is fetched again, and nothing of it is kept until it reads whole',
    retryable: true,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The parsed JSON object of a page body, or a retryable error. */
export function parseJsonPage(text: string, requestUrl: URL): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw unreadablePage(requestUrl, 'not JSON (truncated?)', error);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw unreadablePage(requestUrl, 'not a JSON object');
  }
  return body as Record<string, unknown>;
}

/**
 * A page body of any API (`value`, `d`, `d.results`, with its next link resolved against the
 * page's URL), read by the envelope parser the normalizer uses too, so that the rows counted here
 * are the rows it normalizes. Anything short of a page throws a retryable error.
 */
export function parsePageText(text: string, requestUrl: URL): ParsedPage {
  const envelope = pageEnvelopeOf(parseJsonPage(text, requestUrl));
  if (envelope === undefined) throw unreadablePage(requestUrl, PAGE_SHAPE);
  return {
    rows: rowsOf(envelope.rows, requestUrl, envelope.rowsField),
    nextLink: resolveNextLink(envelope.nextLink, requestUrl, envelope.nextLinkField),
  };
}

/**
 * The rows array of a page, or a retryable error. A non-object element means the body is broken,
 * not that one row is malformed (a malformed row is still an object): the page is fetched again.
 */
export function rowsOf(value: unknown, requestUrl: URL, field: string): Record<string, unknown>[] {
  if (!Array.isArray(value)) throw unreadablePage(requestUrl, `no "${field}" array`);
  for (const row of value as unknown[]) {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw unreadablePage(requestUrl, `an element of "${field}" is not an object`);
    }
  }
  return value as Record<string, unknown>[];
}

/** A next link resolved against the page's URL (the Reporting Web Service sends relative ones). */
export function resolveNextLink(value: unknown, requestUrl: URL, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value === '') throw unreadablePage(requestUrl, `"${field}" is not a link`);
  try {
    return new URL(value, requestUrl).href;
  } catch (error) {
    throw unreadablePage(requestUrl, `"${field}" is not a URL`, error);
  }
}

/**
 * What identifies a row of any API, as the store's dedupe key does (trace id, recipient, status,
 * lower-cased: rowEventId), in 48 bits of its SHA-256: a number, some 40 bytes in a Set, so that a
 * window of 10 days of a large tenant stays a few tens of MB. A collision only makes one row look
 * already read; a page stops the walk only when none of its rows is new. A row without a trace id
 * (to be rejected) is identified by its whole JSON.
 */
export function rowIdentityOf(row: Readonly<Record<string, unknown>>): number {
  // Graph spells the keys camelCase, the Reporting Web Service PascalCase.
  const traceId = row['id'] ?? row['MessageTraceId'];
  const key =
    traceId === undefined || traceId === null
      ? JSON.stringify(row)
      : [traceId, row['recipientAddress'] ?? row['RecipientAddress'], row['status'] ?? row['Status']]
          .map((part) => (typeof part === 'string' ? part : JSON.stringify(part ?? '')).toLowerCase())
          .join('\u0000');
  // One-shot crypto.hash: this runs for every row of every page (see event-id.ts).
  return hash('sha256', key, 'buffer').readUIntBE(0, 6);
}

/**
 * Consecutive empty pages that still have a next link before the walk is said not to advance. No
 * API documents such pages (microsoft-api.md; the emulator never serves one); a few are let through
 * in case a service pages over rows it filters out, not an endless run of them.
 */
export const MAX_EMPTY_PAGES = 3;

/** The skip token a link carries, whatever its spelling (`$skiptoken`, beta's `$skipToken`). */
function skipTokenOf(url: URL): string | undefined {
  for (const [key, value] of url.searchParams) if (key.toLowerCase() === '$skiptoken') return value;
  return undefined;
}

/**
 * The walk of one window must advance: each next link is one not followed yet in this window
 * (neither the same URL nor the same skip token), each page with rows brings at least one row no
 * earlier page of the window had (by `rowIdentityOf`: the same rows in another order, or with a
 * field changed that is not part of their identity, are not new), and at most `MAX_EMPTY_PAGES`
 * empty pages in a row lead on to another page. A server that breaks this (new links to the same
 * rows, or to empty pages, for ever) would otherwise spend the tenant's whole budget on one window
 * and never let `run --once` end; the window stops with `no_progress` instead, and is read again
 * at the next cycle. A page that repeats some rows beside new ones (the `duplicate-rows` fault)
 * advances: the store counts the repeats as duplicates.
 */
function createProgressCheck(context: ErrorContext): {
  follow(link: URL): void;
  read(url: URL, rows: readonly number[] | undefined, hasNext: boolean): void;
} {
  const links = new Set<string>();
  const tokens = new Set<string>();
  // Every row the window's walk has read so far (bounded by what one window holds).
  const seen = new Set<number>();
  let pageNumber = 0;
  let emptyRun = 0;
  const noProgress = (url: URL, what: string): ExotraceError =>
    new ExotraceError({
      code: 'no_progress',
      message: `the API sent tenant '${context.tenant}' (${context.configPath}) ${what} (${safeUrl(url)}): the window's walk does not advance, so it was stopped`,
      fix: 'none on our side: the window is read again on the next cycle; if this repeats, the API is at fault (open a Microsoft support case)',
      retryable: true,
      tenant: context.tenant,
      configKey: `${context.configPath}.apiUrl`,
    });
  return {
    follow(link) {
      if (links.has(link.href)) throw noProgress(link, 'a next link it had already followed');
      const token = skipTokenOf(link);
      if (token !== undefined && tokens.has(token)) {
        throw noProgress(link, 'a next link with a skip token it had already followed');
      }
      links.add(link.href);
      if (token !== undefined) tokens.add(token);
    },
    read(url, rows, hasNext) {
      pageNumber++;
      // Only absent for a page this source did not fetch: nothing to compare.
      if (rows === undefined) return;
      if (rows.length === 0) {
        // The last page of a window may be empty (an empty window is one empty page).
        emptyRun = hasNext ? emptyRun + 1 : 0;
        if (emptyRun > MAX_EMPTY_PAGES) {
          throw noProgress(
            url,
            `page ${pageNumber} of a window, its ${emptyRun} last pages all empty and each with a new next link`,
          );
        }
        return;
      }
      emptyRun = 0;
      let fresh = 0;
      for (const row of rows) {
        if (!seen.has(row)) {
          seen.add(row);
          fresh++;
        }
      }
      if (fresh === 0) {
        throw noProgress(
          url,
          `page ${pageNumber} of a window with no row that an earlier page had not brought, through a new next link`,
        );
      }
    },
  };
}

export interface PollingSourceOptions {
  readonly adapter: ApiAdapter;
  /** The composed stack (retry → bearer → budget → attempt), shared by every call of the source. */
  readonly client: HttpClient;
  /** The configured API URL: the only origin a next link may point at. */
  readonly apiUrl: string;
  readonly context: ErrorContext;
  /** For the probe's "last hour". */
  readonly now: () => number;
  /** Releases what the source owns (the dispatcher). */
  readonly release?: () => Promise<void>;
  /**
   * Resolves when a request could go now (the tenant's budget has a slot): a page waits for it
   * before taking its place in the page gate, so a throttled tenant does not sit on places that
   * tenants with budget left could use.
   */
  readonly whenSendable?: (signal: AbortSignal) => Promise<void>;
}

const noRelease = (): void => undefined;

/** The generic poller: pages of a window through any adapter. */
export function createPollingSource(options: PollingSourceOptions): MessageTraceSource {
  const { adapter, client, apiUrl, context } = options;
  let closing: Promise<void> | undefined;
  // What each fetched page holds (its rows' identities), for the walk's progress check.
  const contents = new WeakMap<Page, readonly number[]>();

  const checked = (link: string): URL => {
    const result = checkNextLink(link, apiUrl, context);
    if (result instanceof ExotraceError) throw result;
    return result;
  };

  async function fetchPage(url: URL, signal: AbortSignal): Promise<Page> {
    // Parsing happens inside the retry loop (validate), so a truncated page is fetched again
    // instead of failing the window; the parse of the answer that passed is kept, not redone.
    const parsed = new WeakMap<HttpResponse, ParsedPage>();
    const request: HttpRequest = {
      method: 'GET',
      url,
      headers: { ...adapter.headers },
      signal,
      validate: (response) => {
        parsed.set(response, adapter.parsePage(response.text, url));
      },
    };
    const response = await client.send(request);
    const error = classifyResponse(context, request, response);
    if (error !== undefined) throw error;
    // Only absent when a client without the retry policy skipped validate.
    const page = parsed.get(response) ?? adapter.parsePage(response.text, url);
    const { text } = response;
    const fetched: Page = {
      text,
      nextLink: page.nextLink,
      rowCount: page.rows.length,
      get rows() {
        return adapter.parsePage(text, url).rows;
      },
      release: noRelease,
    };
    contents.set(fetched, page.rows.map(rowIdentityOf));
    return fetched;
  }

  /** `fetchPage` inside a place of `acquirePage`, given back when the fetch fails. */
  async function fetchHeld(
    url: URL,
    signal: AbortSignal,
    acquirePage: PagesOptions['acquirePage'],
  ): Promise<Page> {
    if (acquirePage === undefined) return fetchPage(url, signal);
    await options.whenSendable?.(signal);
    const release = await acquirePage(signal);
    try {
      const page = await fetchPage(url, signal);
      // Not a spread: it would parse `rows` (a getter) into a plain property and keep them.
      Object.defineProperty(page, 'release', { value: release });
      return page;
    } catch (error) {
      release();
      throw error;
    }
  }

  return {
    api: adapter.api,
    async *pages(window, { nextLink, signal, acquirePage }) {
      let url = nextLink === undefined ? adapter.firstPageUrl(window) : checked(nextLink);
      // A server handing back a link already followed, or a new link to rows already read, would
      // loop for ever, spending the tenant's budget (see `createProgressCheck`).
      const progress = createProgressCheck(context);
      progress.follow(url);
      // The next page is fetched while the caller commits this one: network and server time
      // overlap our own work. Abandoning the walk aborts the fetch in flight.
      const inFlight = new AbortController();
      const onAbort = (): void => {
        inFlight.abort(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // A walk asked for after the stop fetches nothing (the listener above only hears later aborts).
      if (signal.aborted) onAbort();
      const start = (target: URL): Promise<Page> => {
        const promise = fetchHeld(target, inFlight.signal, acquirePage);
        // Observed here so that a prefetch nobody awaits (the caller stopped) is no unhandled rejection.
        promise.catch(() => undefined);
        return promise;
      };
      let pending = start(url);
      // The fetch started but not yet taken by this loop: if the walk ends first, its page (and the
      // place it took) is released here; once taken, the page is the caller's to release.
      let unclaimed: Promise<Page> | undefined = pending;
      try {
        for (;;) {
          const page = await pending;
          unclaimed = undefined;
          let next: URL | undefined;
          try {
            progress.read(url, contents.get(page), page.nextLink !== undefined);
            // Checked before the page is handed over, so a foreign link is never stored to resume from.
            next = page.nextLink === undefined ? undefined : checked(page.nextLink);
            if (next !== undefined) progress.follow(next);
          } catch (error) {
            // Never handed over: the caller cannot release it.
            page.release();
            throw error;
          }
          if (next !== undefined) {
            pending = start(next);
            unclaimed = pending;
          }
          yield page;
          if (next === undefined) return;
          url = next;
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        inFlight.abort(new Error('page walk ended'));
        if (unclaimed !== undefined) {
          void unclaimed.then((page) => {
            page.release();
          }, noRelease);
        }
      }
    },
    async probe(signal) {
      await fetchPage(adapter.probeUrl(options.now()), signal);
    },
    close() {
      closing ??= options.release?.() ?? Promise.resolve();
      return closing;
    },
  };
}
