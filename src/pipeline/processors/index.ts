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
 * - Throwing fails the commit: nothing of the page is stored, the window fails and is tried again
 *   (the error is a `processor_failed` ExotraceError naming the processor and the tenant).
 * - `process` may see a page whose commit then fails at the very end (the database could not
 *   write, a later processor threw): what it returns is exactly as durable as the page, what it
 *   keeps in memory is not. Effects kept in memory (counters) belong in `committed`, called with
 *   the same page once its commit is durable, and never for a commit that failed.
 * Processors run in their order; each sees the page's new events (not what the others add).
 */
import { ExotraceError } from '../../core/errors.js';
import type { CommitHook, CommittedEvents, PageEvent } from '../../state/store.js';
import type { Processor } from './processor.js';

export type { Processor } from './processor.js';

/** One page's pass through the processors: the hook its commit runs, then what follows the commit. */
export interface CommitSteps {
  /** For `commitPage`; undefined when there are no processors. */
  readonly hook: CommitHook | undefined;
  /** The commit is durable: each processor's `committed` with the page it saw. */
  committed(): void;
}

/** A processor's failure, named (a bare library error would read as the state's own). */
function processorFailed(processor: Processor, page: CommittedEvents, error: unknown): ExotraceError {
  return new ExotraceError({
    code: 'processor_failed',
    message: `processor '${processor.name}' failed on a page of tenant '${page.tenant}' (${page.pass} pass): ${
      error instanceof Error ? error.message : String(error)
    }; the page was not committed`,
    fix: 'none in the configuration: the window is read again on the next cycle; if it keeps failing, report it with this line',
    tenant: page.tenant,
    retryable: true,
    cause: error,
  });
}

/** The steps of one commit for `processors`, in their order (a new one per page). */
export function commitStepsOf(processors: readonly Processor[]): CommitSteps {
  if (processors.length === 0) return { hook: undefined, committed: () => undefined };
  let seen: CommittedEvents | undefined;
  return {
    hook(page) {
      seen = page;
      const added: PageEvent[] = [];
      for (const processor of processors) {
        let own: readonly PageEvent[] | undefined;
        try {
          own = processor.process?.(page);
        } catch (error) {
          throw processorFailed(processor, page, error);
        }
        if (own !== undefined) added.push(...own);
      }
      return added;
    },
    committed() {
      const page = seen;
      if (page === undefined) return;
      for (const processor of processors) processor.committed?.(page);
    },
  };
}

/** The hook `commitPage` takes for `processors` (their `process` only); undefined when there are none. */
export function commitHookOf(processors: readonly Processor[]): CommitHook | undefined {
  return commitStepsOf(processors).hook;
}

export { commitCounters, type CommitCounts } from './commit-counters.js';
