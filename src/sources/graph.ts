/**
 * The Graph adapter (v1.0 and beta): `GET /admin/exchange/tracing/messageTraces` with both window
 * bounds, whole seconds, and the largest page Graph serves. Pure: URLs and pages only.
 */
import { isoSeconds, type TimeWindow } from '../core/window.js';
import { checkNextLink, parsePageText, type ApiAdapter, type ParsedPage } from './source.js';

export { checkNextLink };

export type GraphVersion = 'v1.0' | 'beta';

/** Graph's largest `$top`: one request per 5,000 rows is what keeps a backfill inside the budget. */
export const GRAPH_MAX_TOP = 5000;

export interface GraphUrlOptions {
  /** Default v1.0. */
  readonly version?: GraphVersion;
  /** Rows per page, 1–5000; default 5000 (smaller only for tests and the probe). */
  readonly top?: number;
}

/**
 * `{apiUrl}/{version}/admin/exchange/tracing/messageTraces?$filter=receivedDateTime ge … and
 * receivedDateTime le …&$top=…`. Built with URL and URLSearchParams, never by templating, so that
 * every value is encoded; spaces go out as %20 because '+' means a space only in HTML forms.
 */
export function firstPageUrl(apiUrl: string, window: TimeWindow, options: GraphUrlOptions = {}): URL {
  const top = options.top ?? GRAPH_MAX_TOP;
  if (!Number.isInteger(top) || top < 1 || top > GRAPH_MAX_TOP) {
    throw new RangeError(`Graph $top must be an integer in 1..${GRAPH_MAX_TOP}, got ${top}`);
  }
  const url = apiPath(apiUrl, `${options.version ?? 'v1.0'}/admin/exchange/tracing/messageTraces`);
  url.search = queryString({
    $filter: `receivedDateTime ge ${isoSeconds(window.from)} and receivedDateTime le ${isoSeconds(window.to)}`,
    $top: String(top),
  });
  return url;
}

/**
 * `value` and `@odata.nextLink`, read by the envelope parser the normalizer shares (whatever other
 * keys the page carries); anything short of a page throws a retryable error.
 */
export function parsePage(text: string, requestUrl: URL): ParsedPage {
  return parsePageText(text, requestUrl);
}

export interface GraphAdapterOptions extends GraphUrlOptions {
  readonly apiUrl: string;
}

export function graphAdapter(options: GraphAdapterOptions): ApiAdapter {
  const version = options.version ?? 'v1.0';
  return {
    api: version === 'beta' ? 'graph-beta' : 'graph',
    headers: { accept: 'application/json' },
    firstPageUrl: (window) => firstPageUrl(options.apiUrl, window, options),
    probeUrl: (now) => firstPageUrl(options.apiUrl, lastHour(now), { version, top: 1 }),
    parsePage,
  };
}

/**
 * The hour ending 5 minutes before `now`, whole seconds (Graph refuses a window without both
 * bounds, and one that ends in its future: a local clock a little ahead must not fail the probe).
 */
const PROBE_MARGIN_MS = 5 * 60_000;

export function lastHour(now: number): TimeWindow {
  const to = Math.floor((now - PROBE_MARGIN_MS) / 1000) * 1000;
  return { from: to - 3_600_000, to };
}

/** A path under the API URL, keeping any path the URL already has (a sovereign cloud's mirror). */
export function apiPath(apiUrl: string, path: string): URL {
  return new URL(path, apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`);
}

/** An encoded query string: keys keep their literal `$` (as Microsoft's own examples write them). */
export function queryString(params: Readonly<Record<string, string>>): string {
  return new URLSearchParams(params).toString().replace(/\+/g, '%20').replace(/%24/g, '$');
}
