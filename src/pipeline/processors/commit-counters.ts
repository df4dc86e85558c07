/**
 * The first processor: the counters /metrics gives of what was committed (pages and rows by tenant
 * and pass, new events by status, duplicates, rejects), counted from each page's new events as the
 * store decided them, once the commit is durable (a page whose commit failed is not counted, however
 * often its window is read again). It adds no event.
 */
import type { Pass } from '../../core/window.js';
import { countStatus } from '../../state/store.js';
import type { Processor } from './processor.js';

/** One committed page as the counters take it. */
export interface CommitCounts {
  /** Rows of the page: every row is an event (new or duplicate) or a reject. */
  readonly rows: number;
  readonly duplicates: number;
  readonly rejected: number;
  /** New events by their status (`unknown` without one). */
  readonly insertedByStatus: Readonly<Record<string, number>>;
}

/** A processor that hands each committed page's counts to `count` (the collector's metrics). */
export function commitCounters(count: (tenant: string, pass: Pass, counts: CommitCounts) => void): Processor {
  return {
    name: 'commit counters',
    committed(page) {
      const insertedByStatus: Record<string, number> = {};
      for (const event of page.inserted) countStatus(insertedByStatus, event.status);
      count(page.tenant, page.pass, {
        rows: page.inserted.length + page.duplicates + page.rejected,
        duplicates: page.duplicates,
        rejected: page.rejected,
        insertedByStatus,
      });
    },
  };
}
