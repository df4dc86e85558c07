/**
 * What one page's commit did: the collector, the outbox and telemetry read it; the state
 * produces it. Shared vocabulary, so that telemetry need not know the state.
 */
export interface CommitResult {
  /** Events appended to the outbox (keys not seen before, or seen but expired). */
  readonly inserted: number;
  /** Events suppressed because their key was already in the seen-set. */
  readonly duplicates: number;
  readonly rejected: number;
  /** The inserted events counted by their `status` (metrics: events by status). */
  readonly insertedByStatus: Readonly<Record<string, number>>;
  /** The last outbox sequence after this commit (the head). */
  readonly headSeq: number;
}
