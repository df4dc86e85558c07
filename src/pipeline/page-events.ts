/**
 * A page of API rows → the events and rejects one commit stores. Normalizing is the collector's
 * biggest CPU cost after the database (JSON in, ECS JSON out, a SHA-256 per event), so it can run
 * on worker threads (`normalize-pool.ts`) while the main thread commits the previous page; this
 * module is the part both ways share, and the inline way used when no worker is wanted.
 */
import { createNormalizer, type NormalizeOptions } from '../normalize/normalizer.js';
import type { PageEvent, RejectInput } from '../state/store.js';

export interface PageEvents {
  readonly events: PageEvent[];
  readonly rejects: RejectInput[];
}

/**
 * The seen-set key: the row's received time, then its event.id (derived from trace id, recipient
 * and status, so the id alone identifies the row). The time prefix is for the store, not for
 * identity: a page's rows are neighbours in time, so their keys land next to each other in the
 * seen-set's index and a commit rewrites a few index pages instead of one page per key (with random
 * ids alone a million-key seen-set made every commit rewrite most of the index). A row re-read has
 * the same received time, so it finds its key again. ISO 8601 UTC with milliseconds sorts as text.
 */
export function dedupeKey(timestamp: string, eventId: string): string {
  return `${timestamp}|${eventId}`;
}

/**
 * Normalizes the rows of one page body. The body is parsed again here rather than handed over as
 * objects: a worker receives text far cheaper than a clone of 5,000 objects. The normalizer reads
 * a page of any API the way the source adapters do (`value`, `d`, `d.results`), and each row's
 * `message` is its compact JSON, exactly as for a row normalized on its own.
 */
export type PageEventsFn = (pageText: string) => PageEvents;

export function pageEventsFn(options: NormalizeOptions): PageEventsFn {
  const normalizer = createNormalizer(options);
  return (pageText) => {
    const result = normalizer.normalizeText(pageText, false);
    const events: PageEvent[] = [];
    for (const event of result.events) {
      const id = event.event.id ?? '';
      events.push({
        key: dedupeKey(event['@timestamp'], id),
        eventId: id,
        json: JSON.stringify(event),
        ...(event.event.action === undefined ? {} : { status: event.event.action }),
      });
    }
    return { events, rejects: result.rejects.map((r) => ({ reason: r.reason, input: r.input })) };
  };
}

/** How the collector gets a page's events: inline, or from a worker of the pool. */
export interface PageNormalizer {
  normalize(pageText: string, options: NormalizeOptions): Promise<PageEvents>;
  close(): Promise<void>;
}

/** The key under which normalizers of equal options are shared (a worker keeps one per tenant). */
export function optionsKey(options: NormalizeOptions): string {
  return JSON.stringify([
    options.profile ?? 'full',
    options.organization ?? '',
    options.acceptedDomains ?? [],
    options.tenant ?? null,
  ]);
}

/** Normalizes on the calling thread (tests, the library, and runs with `workers: 0`). */
export function inlinePageNormalizer(): PageNormalizer {
  const fns = new Map<string, PageEventsFn>();
  return {
    normalize(pageText, options) {
      return new Promise((resolve) => {
        const key = optionsKey(options);
        let fn = fns.get(key);
        if (fn === undefined) {
          fn = pageEventsFn(options);
          fns.set(key, fn);
        }
        resolve(fn(pageText));
      });
    },
    close: () => Promise.resolve(),
  };
}
