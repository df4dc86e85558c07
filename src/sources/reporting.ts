/**
 * The Reporting Web Service adapter (the legacy `reporting.svc/MessageTrace`). It speaks two JSON
 * dialects: verbose OData (`$format=json`: `d.results`, `d.__next`) and JSON light (`Accept:
 * application/json`: `value`, `odata.nextLink`); next links may be relative. Pure: URLs and pages.
 */
import { isoSeconds, type TimeWindow } from '../core/window.js';
import { apiPath, lastHour, queryString } from './graph.js';
import { checkNextLink, parsePageText, type ApiAdapter, type ParsedPage } from './source.js';

export { checkNextLink };

export type ReportingDialect = 'verbose' | 'light';

export interface ReportingUrlOptions {
  /** Default verbose: chosen by `$format=json` in the URL, so a stored next link keeps it. */
  readonly dialect?: ReportingDialect;
  /**
   * OData `$top` caps the whole result here, not each page (the service pages by itself): only
   * the probe sets it. A window's walk must never send it, or rows past it would be lost.
   */
  readonly top?: number;
}

/**
 * `{apiUrl}/ecp/reportingwebservice/reporting.svc/MessageTrace?$format=json&$filter=StartDate eq
 * datetime'…' and EndDate eq datetime'…'` (no `$format` for JSON light, which Accept selects).
 */
export function firstPageUrl(apiUrl: string, window: TimeWindow, options: ReportingUrlOptions = {}): URL {
  const url = apiPath(apiUrl, 'ecp/reportingwebservice/reporting.svc/MessageTrace');
  const params: Record<string, string> = {};
  if ((options.dialect ?? 'verbose') === 'verbose') params['$format'] = 'json';
  params['$filter'] =
    `StartDate eq datetime'${isoSeconds(window.from)}' and EndDate eq datetime'${isoSeconds(window.to)}'`;
  if (options.top !== undefined) params['$top'] = String(options.top);
  url.search = queryString(params);
  return url;
}

/**
 * Either dialect, whichever the body is: verbose `d.results` (or OData v1's bare `d` array) with
 * `d.__next`, light `value` with `odata.nextLink` (or v4's `@odata.nextLink`). Relative links are
 * resolved against the page's URL. Anything short of a page throws a retryable error.
 */
export function parsePage(text: string, requestUrl: URL): ParsedPage {
  return parsePageText(text, requestUrl);
}

export interface ReportingAdapterOptions {
  readonly apiUrl: string;
  readonly dialect?: ReportingDialect;
}

export function reportingAdapter(options: ReportingAdapterOptions): ApiAdapter {
  const dialect = options.dialect ?? 'verbose';
  return {
    api: 'reporting',
    // Light is selected by Accept alone; verbose by `$format=json`, which its next links carry.
    headers: dialect === 'light' ? { accept: 'application/json' } : {},
    firstPageUrl: (window) => firstPageUrl(options.apiUrl, window, { dialect }),
    probeUrl: (now) => firstPageUrl(options.apiUrl, lastHour(now), { dialect, top: 1 }),
    parsePage,
  };
}
