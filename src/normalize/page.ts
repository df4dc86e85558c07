/**
 * The page envelope of the message trace APIs, recognised in one place for the sources (which
 * count a page's rows and follow its next link) and for the normalizer (which expands a page into
 * its rows): if they disagreed on what a page is, rows counted would not be rows normalized.
 *
 * A page is an object whose `value` is an array (Graph, Reporting Web Service JSON light), whose
 * `d` is an array (OData v1), or whose `d.results` is an array (Reporting verbose). That alone
 * decides: other top-level keys (`@odata.context`, `odata.metadata`, or anything a service or a
 * proxy adds, even a row-like `"toIP": ""`) never turn a page into a row. The rule applies to a
 * whole body only: the elements of a page are rows, never pages again, even one that carries a
 * stray `"value": []` (the normalizer reads them with `pageElementShapeOf`).
 */

export interface PageEnvelope {
  /** The page's rows as sent (elements not checked: a source wants objects, the normalizer takes any). */
  readonly rows: unknown[];
  /** Where the rows are, for messages: `value`, `d` or `d.results`. */
  readonly rowsField: 'value' | 'd' | 'd.results';
  /** The next link as sent (not checked, maybe relative); undefined when the page has none. */
  readonly nextLink: unknown;
  /** Where the next link is (or would be), for messages. */
  readonly nextLinkField: '@odata.nextLink' | 'odata.nextLink' | 'd.__next';
}

/** The envelope of `body` when it is a page, else undefined. */
export function pageEnvelopeOf(body: Readonly<Record<string, unknown>>): PageEnvelope | undefined {
  const value = body['value'];
  if (Array.isArray(value)) {
    // Graph and OData v4 write `@odata.nextLink`; the Reporting Web Service's JSON light `odata.nextLink`.
    const v3 = body['odata.nextLink'];
    return v3 !== undefined && v3 !== null
      ? { rows: value, rowsField: 'value', nextLink: v3, nextLinkField: 'odata.nextLink' }
      : {
          rows: value,
          rowsField: 'value',
          nextLink: body['@odata.nextLink'],
          nextLinkField: '@odata.nextLink',
        };
  }
  const d = body['d'];
  // OData v1's bare array has no next link.
  if (Array.isArray(d)) return { rows: d, rowsField: 'd', nextLink: undefined, nextLinkField: 'd.__next' };
  if (d !== null && typeof d === 'object') {
    const verbose = d as Record<string, unknown>;
    const results = verbose['results'];
    if (Array.isArray(results)) {
      return {
        rows: results,
        rowsField: 'd.results',
        nextLink: verbose['__next'],
        nextLinkField: 'd.__next',
      };
    }
  }
  return undefined;
}

/** What a body must have to be a page, for the error when it has not. */
export const PAGE_SHAPE = 'no rows array ("value", "d" or "d.results")';
