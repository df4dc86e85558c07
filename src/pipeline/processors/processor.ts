/** The interface of a processor (the contract is in index.ts). */
import type { CommittedEvents, PageEvent } from '../../state/store.js';

export interface Processor {
  /** For messages: which step failed. */
  readonly name: string;
  /**
   * A page's new events, inside its commit; returns events to add to it, or nothing. What it
   * returns is as durable as the page; what it keeps in memory is not (the commit may still fail):
   * keep that for `committed`.
   */
  process?(page: CommittedEvents): readonly PageEvent[] | undefined;
  /**
   * The same page once its commit is durable (not called when the commit failed): for what is
   * kept in memory only, such as counters.
   */
  committed?(page: CommittedEvents): void;
}
