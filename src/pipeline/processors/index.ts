/**
 * Processors: the steps between normalize and the outbox. A processor sees each committed page's
 * new events (the ones the seen-set did not know: never the duplicates a reconcile pass or an
 * overlap reads again) inside the page's own transaction, and may add events of its own to it.
 * That is where detail enrichment and detections on the stream plug in, without touching the
 * collector or the outbox.
 *
 * The contract (the store calls it, `CommitHook` in state/store.ts):
 * - `process` is synchronous and runs inside the commit's transaction: keep it quick (it holds
 *   the database) and do no I/O in it; work that needs the network belongs before the commit
 *   (a stage of its own) or after it (an output).
 * - The events it returns are appended in the same transaction, through the seen-set like the
 *   page's (a page read again adds them once), and delivered like any other; give them keys and
 *   event ids of their own, stable across re-reads.
 * - Throwing fails the commit: nothing of the page is stored, the window fails and is tried again.
 * - It may see a page whose commit then fails at the very end (the database could not write):
 *   what it keeps in memory is best effort, what it returns is exactly as durable as the page.
 * Processors run in their order; each sees the page's new events (not what the others add).
 */
import type { CommitHook, PageEvent } from '../../state/store.js';
import type { Processor } from './processor.js';

export type { Processor } from './processor.js';

/** The hook `commitPage` takes for `processors`, in their order; undefined when there are none. */
export function commitHookOf(processors: readonly Processor[]): CommitHook | undefined {
  if (processors.length === 0) return undefined;
  return (page) => {
    const added: PageEvent[] = [];
    for (const processor of processors) {
      const own = processor.process(page);
      if (own !== undefined) added.push(...own);
    }
    return added;
  };
}

export { commitCounters, type CommitCounts } from './commit-counters.js';
