/** The interface of a processor (the contract is in index.ts). */
import type { CommittedEvents, PageEvent } from '../../state/store.js';

export interface Processor {
  /** For messages: which step failed. */
  readonly name: string;
  /** A page's new events, inside its commit; returns events to add to it, or nothing. */
  process(page: CommittedEvents): readonly PageEvent[] | undefined;
}
