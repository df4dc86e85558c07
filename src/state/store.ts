/**
 * The collector's only durable state: checkpoints, in-progress next links, the dedupe seen-set,
 * the outbox with one acknowledgement cursor per sink, dead letters and rejects.
 *
 * Everything durable goes through this interface so that nothing else knows which database is
 * behind it: SQLite today (`sqlite.ts`), PostgreSQL with leases when several instances share
 * tenants (collection.md, "Ahead: more than one machine"). That is also why every method returns
 * a promise although better-sqlite3 is synchronous: a network database will not be.
 *
 * Times are epoch milliseconds. Each method is atomic: it happens entirely or not at all, also
 * across a crash of the process. Failures are `StateStoreError`s with a code of the closed list
 * (errors.ts); open a store through `openStateStore` (index.ts).
 *
 * What belongs to one tenant and what is shared, which a backend shared by several collectors
 * must keep apart (docs/architecture.md, "The state on PostgreSQL"):
 * - one tenant's, taken over with its lease: its checkpoints and next links (`getCheckpoint`,
 *   `listCheckpoints(tenant)`, `commitPage`), collected ranges, seen-set (`seenCount(tenant)`),
 *   rejects, cycles (`recordTenantCycle`), `pruneSeen` (a write: per owned tenant, fenced), and its
 *   events in the outbox;
 * - the outbox as the outputs see it: `readOutbox`, `ack`, `outboxDepth`, `outboxOldest`,
 *   `outboxHead`, `pruneOutbox`, dead letters, `registerSinks`. Here one sequence and one cursor per
 *   sink cover every tenant: in SQLite one process owns them all (its lock is the lease). A shared
 *   backend keeps a cursor per (tenant, sink) and answers these for the tenants the instance owns;
 *   an `ack` then moves only the cursors of tenants whose events that instance read;
 * - the state's: `stateId`, `createdNew`, `listSinks`, `outputRounds`, `tenantCycles`,
 *   `outboxDepthByTenant` (what `status` reads across every tenant).
 */
import type { CommitResult } from '../core/commit-result.js';
import type { OutboxEvent } from '../core/outbox-event.js';
import { PASSES, type Pass, type TimeWindow } from '../core/window.js';
import { StateStoreError } from './errors.js';

export {
  STATE_ERROR_CODES,
  StateStoreError,
  stateInUse,
  type StateErrorCode,
  type StateStoreErrorOptions,
} from './errors.js';

/**
 * Where a pass of a tenant stands. A checkpoint is written only together with the events it
 * covers (`commitPage`), so it never claims more than the outbox holds.
 */
export interface Checkpoint {
  /** End of the time already collected by this pass (ms). The next window starts here. */
  readonly cursor: number;
  /** The window being collected, when one is in progress (some of its pages are committed). */
  readonly window?: TimeWindow;
  /**
   * The next link of the in-progress window: the page after the last committed one. Next links
   * carry no secret (the token travels in a header), so storing them is safe.
   */
  readonly nextLink?: string;
}

export interface StoredCheckpoint extends Checkpoint {
  readonly tenant: string;
  readonly pass: Pass;
  /** When it was last written (the `now` of that commit). */
  readonly updatedAt: number;
}

/** One normalized event of a page. */
export interface PageEvent {
  /**
   * Dedupe key, scoped to the tenant: the collector's is the row's received time then its event.id
   * (see `dedupeKey`); keys that sort in arrival order keep a commit's index writes local.
   */
  readonly key: string;
  /** The deterministic `event.id` (downstream idempotency key). */
  readonly eventId: string;
  /** The event as it will be delivered (one NDJSON line, without the newline). */
  readonly json: string;
  /**
   * The row's canonical status (`event.action`), only to count what a commit inserted by status
   * (metrics); not stored. Events without one are counted under `unknown`.
   */
  readonly status?: string;
}

/** A row that could not be normalized: kept with its reason, and the window still commits. */
export interface RejectInput {
  readonly reason: string;
  /** The raw input (a row as received); it never contains a secret. */
  readonly input: string;
}

export interface PageCommit {
  readonly pass: Pass;
  /**
   * The pass's checkpoint after this page; it replaces the stored one as a whole. A last page
   * advances `cursor` and omits `window` and `nextLink`; an intermediate page keeps `cursor` and
   * sets `window` and the `nextLink` to resume from.
   */
  readonly checkpoint: Checkpoint;
  readonly events: readonly PageEvent[];
  readonly rejects: readonly RejectInput[];
  /** Commit time; seen-set expiries are computed from it. */
  readonly now: number;
  /**
   * How long a key stays in the seen-set after it was last seen: the tenant's
   * `reconcileLookback` plus a margin, so that no overlap can re-read a row after its key expired.
   */
  readonly seenTtlMs: number;
  /**
   * The window this page completes (its last page), recorded in the same transaction as collected
   * for the tenant (`collectedRanges`): a crash never records a range whose rows are not stored.
   */
  readonly collected?: TimeWindow;
}

/**
 * What a processor (pipeline/processors) sees of a page being committed: its new events only, the
 * ones the seen-set did not know (not the duplicates a re-read brings again).
 */
export interface CommittedEvents {
  readonly tenant: string;
  readonly pass: Pass;
  /** The page's events appended to the outbox, in page order (a key repeated in the page once). */
  readonly inserted: readonly PageEvent[];
  /** The page's events the seen-set suppressed. */
  readonly duplicates: number;
  readonly rejected: number;
}

/**
 * Called by `commitPage` inside its transaction, once the page's events are decided, with the new
 * ones. Synchronous (it runs inside the transaction), it returns events of its own to append in
 * the same transaction (through the seen-set as well, so a re-read adds them once; they are not
 * shown to the hook again), or nothing. Throwing fails the commit: nothing of the page is stored.
 */
export type CommitHook = (committed: CommittedEvents) => readonly PageEvent[] | undefined;

export interface ReadOutboxOptions {
  /**
   * Read after this sequence instead of the sink's acknowledged one, so that a sink can have
   * several batches in flight before the first is acknowledged.
   */
  readonly afterSeq?: number;
  /** At most this many events. */
  readonly limit: number;
  /**
   * At most this many bytes of `json` (UTF-8), except that the first event is always returned,
   * so that one large event cannot stall a sink forever.
   */
  readonly maxBytes: number;
}

export interface SinkState {
  readonly name: string;
  /** Every outbox event up to this sequence is durably written by the sink. */
  readonly ackedSeq: number;
  /** Opaque, stored with the acknowledgement (the file output keeps its byte offset here). */
  readonly meta?: string;
  readonly updatedAt: number;
}

/** Where a sink that is registered for the first time starts reading. */
export type SinkStart = 'head' | 'beginning';

export interface DeadLetter {
  readonly sink: string;
  /** The event's outbox sequence when it was dead-lettered. */
  readonly seq: number;
  readonly tenant: string;
  readonly pass: Pass;
  readonly key: string;
  readonly eventId: string;
  readonly json: string;
  readonly reason: string;
  readonly at: number;
}

export interface StoredReject {
  readonly id: number;
  readonly tenant: string;
  readonly pass: Pass;
  readonly reason: string;
  readonly input: string;
  readonly at: number;
}

/** How one collection cycle of a tenant (fast pass + reconcile pass) ended. */
export interface CycleOutcome {
  /** When it ended (ms). */
  readonly at: number;
  /**
   * Why it failed (the sanitized `describeError` object: code, message, fix), or undefined when
   * it succeeded. Stored as JSON: it must never hold a secret.
   */
  readonly error?: Record<string, unknown>;
}

/** A tenant's last cycles as `recordTenantCycle` left them: what `exotrace status` reads. */
export interface TenantCycle {
  readonly tenant: string;
  /** When a cycle last succeeded (ms); undefined when none ever did. */
  readonly lastSuccessAt?: number;
  /** When a cycle last failed (ms), kept after later successes. */
  readonly lastFailureAt?: number;
  /** The last cycle's error when it failed; absent once a cycle succeeds again. */
  readonly lastError?: Record<string, unknown>;
  /** Cycles failed since the last success (0 when the last one succeeded). */
  readonly failuresInARow: number;
}

/** How one delivery round of an output ended. */
export interface OutputRoundOutcome {
  /** When it ended (ms). */
  readonly at: number;
  /** Why it failed (the sanitized `describeError` object), or undefined when it succeeded. Never a secret. */
  readonly error?: Record<string, unknown>;
}

/**
 * An output's delivery rounds as `recordOutputRound` left them: so that `exotrace status` after
 * `run --once` (or with the daemon stopped) knows an output is failing, as the daemon does.
 */
export interface OutputRounds {
  readonly output: string;
  /** When a round of it last succeeded (ms); undefined when none ever did. */
  readonly lastSuccessAt?: number;
  /** Since when every round has failed (ms); absent once one succeeds. */
  readonly failingSince?: number;
  /** The last failed round's error while it is failing. */
  readonly lastError?: Record<string, unknown>;
}

export interface StateStore {
  /** The checkpoint of one pass of a tenant, or undefined when that pass never committed. */
  getCheckpoint(tenant: string, pass: Pass): Promise<StoredCheckpoint | undefined>;
  /** All checkpoints, of one tenant or of all, ordered by tenant then pass. */
  listCheckpoints(tenant?: string): Promise<StoredCheckpoint[]>;
  /**
   * The time ranges of a tenant whose windows completed (any pass: `PageCommit.collected`), oldest
   * first, overlapping and touching ranges merged: what a backfill need not collect again.
   */
  collectedRanges(tenant: string): Promise<TimeWindow[]>;

  /**
   * Commit one page in one transaction: add every key to the tenant's seen-set (expiring at
   * `now + seenTtlMs`, extended if already there), append to the outbox only the events whose
   * key was not seen (a key repeated inside the page counts once), record the rejects and
   * replace the pass's checkpoint. A crash leaves either all of it or none of it. `hook` sees the
   * new events and may add its own, in the same transaction (`CommitHook`); what it adds is
   * counted in the result like the page's own.
   */
  commitPage(tenant: string, page: PageCommit, hook?: CommitHook): Promise<CommitResult>;

  /**
   * Declare the sinks that read the outbox. A sink already known keeps its cursor; a new one
   * starts at `start`: `'head'` (only what is committed from now on) or `'beginning'` (every
   * event still in the outbox).
   */
  registerSinks(names: readonly string[], start: SinkStart): Promise<void>;
  /** Forget a sink removed from the configuration so that it no longer holds back pruning. */
  unregisterSink(name: string): Promise<void>;
  /** The sinks' cursors, or one sink's (undefined when unknown). */
  sinkState(sink: string): Promise<SinkState | undefined>;
  listSinks(): Promise<SinkState[]>;

  /**
   * Events after the sink's acknowledged sequence (or `afterSeq`), in sequence order, capped by
   * count and bytes. Events re-queued for another sink (`retryDeadLetters`) are skipped.
   */
  readOutbox(sink: string, options: ReadOutboxOptions): Promise<OutboxEvent[]>;
  /**
   * Acknowledge every event up to `seq` for this sink, storing `meta` (or clearing it when
   * omitted) in the same transaction. Acknowledging the current sequence again is allowed (it
   * updates `meta`); going backwards or past the head is a bug and throws.
   */
  ack(sink: string, seq: number, meta?: string): Promise<void>;
  /** Events this sink has yet to acknowledge (back pressure: a lagging sink pauses polling). */
  outboxDepth(sink: string): Promise<number>;
  /** Events of each tenant that some sink has yet to acknowledge (tenants with none are absent). */
  outboxDepthByTenant(): Promise<Record<string, number>>;
  /**
   * When the oldest event this sink has yet to acknowledge was committed (epoch ms), or undefined
   * when it has none: how long an output has been holding data back.
   */
  outboxOldest(sink: string): Promise<number | undefined>;
  /**
   * A random id (32 hex digits) made when this state was created. A state deleted, emptied or
   * replaced has another, which is how an output can tell that it was not written from this one.
   */
  stateId(): Promise<string>;
  /**
   * True when opening made this state (none was there, or its database was empty), false when an
   * existing one was opened: outputs that cannot tell by themselves then receive again whatever an
   * earlier, lost state delivered to them, which is worth saying.
   */
  createdNew(): Promise<boolean>;
  /** The last sequence ever appended (0 when none). */
  outboxHead(): Promise<number>;
  /**
   * Delete the events every registered sink has acknowledged. With no sink registered nothing
   * is deleted, so that a sink registered later from the beginning still finds them.
   * Returns how many rows were deleted.
   */
  pruneOutbox(): Promise<number>;

  /** Delete seen-set keys that expired at or before `now`; returns how many. */
  pruneSeen(now: number): Promise<number>;
  /** How many keys the seen-set holds (expired ones included until pruned). */
  seenCount(tenant?: string): Promise<number>;

  /** Rejected input rows, oldest first. */
  rejects(options: { readonly tenant?: string; readonly limit: number }): Promise<StoredReject[]>;

  /**
   * Put an event the sink refused for good aside, with the reason. Call it before acknowledging
   * the batch that contained it: the event must still be in the outbox. Idempotent per (sink, seq).
   */
  deadLetter(sink: string, seq: number, reason: string): Promise<void>;
  /** Dead letters of a sink, oldest first. */
  deadLetters(sink: string, limit: number): Promise<DeadLetter[]>;
  /** How many dead letters the sink holds (metrics, status: without reading them). */
  deadLetterCount(sink: string): Promise<number>;
  /**
   * Those of `seqs` that are dead letters of the sink, ascending, each once: `deadletter retry
   * --seq` names the ones that are not (a typo, or retried already) instead of saying nothing.
   */
  deadLetterSeqs(sink: string, seqs: readonly number[]): Promise<number[]>;
  /**
   * When the newest dead letter the sink still holds was put aside (ms), or undefined when it holds
   * none: readiness counts dead letters that are new (a retried one is no longer held).
   */
  deadLetterNewest(sink: string): Promise<number | undefined>;
  /**
   * Move dead letters of a sink (all, or those of the given sequences) back to the outbox, as new
   * events addressed to that sink only. Returns how many were moved.
   */
  retryDeadLetters(sink: string, seqs?: readonly number[]): Promise<number>;

  /**
   * Record how a tenant's cycle ended, so that `exotrace status` can tell without the daemon
   * (after `run --once`, or after the daemon stopped): a success clears the error and the count
   * of failures in a row; a failure keeps the last success and stores its error.
   */
  recordTenantCycle(tenant: string, outcome: CycleOutcome): Promise<void>;
  /** Every tenant with a recorded cycle, ordered by tenant. */
  tenantCycles(): Promise<TenantCycle[]>;

  /**
   * Record how a delivery round of a registered sink ended: a success sets its last success and
   * clears the failure; a failure keeps the first failure's time (failing since) and stores its
   * error. Forgotten with the sink (`unregisterSink`). Throws for an unknown sink.
   */
  recordOutputRound(sink: string, outcome: OutputRoundOutcome): Promise<void>;
  /** Every sink with a recorded round, ordered by name. */
  outputRounds(): Promise<OutputRounds[]>;

  /** Close the store; idempotent (a second call returns the first call's promise). */
  close(): Promise<void>;
}

/** Checks shared by every implementation, run before anything is written. */
export function validateCommit(tenant: string, page: PageCommit): void {
  if (tenant === '') throw new StateStoreError('tenant must not be empty');
  if (!PASSES.includes(page.pass)) throw new StateStoreError(`unknown pass ${JSON.stringify(page.pass)}`);
  const { cursor, window, nextLink } = page.checkpoint;
  if (!Number.isSafeInteger(cursor)) throw new StateStoreError('checkpoint.cursor must be an integer (ms)');
  if (window !== undefined) {
    if (!Number.isSafeInteger(window.from) || !Number.isSafeInteger(window.to) || window.from > window.to) {
      throw new StateStoreError('checkpoint.window must be integers (ms) with from <= to');
    }
  }
  if (nextLink !== undefined && window === undefined) {
    // A next link is only meaningful inside the window it belongs to.
    throw new StateStoreError('checkpoint.nextLink needs checkpoint.window');
  }
  const { collected } = page;
  if (collected !== undefined) {
    if (
      !Number.isSafeInteger(collected.from) ||
      !Number.isSafeInteger(collected.to) ||
      collected.from > collected.to
    ) {
      throw new StateStoreError('collected must be integers (ms) with from <= to');
    }
  }
  if (!Number.isSafeInteger(page.now)) throw new StateStoreError('now must be an integer (ms)');
  if (!Number.isSafeInteger(page.seenTtlMs) || page.seenTtlMs <= 0) {
    throw new StateStoreError('seenTtlMs must be a positive integer');
  }
}

export function validateReadOptions(options: ReadOutboxOptions): void {
  if (!Number.isSafeInteger(options.limit) || options.limit < 1) {
    throw new StateStoreError('limit must be a positive integer');
  }
  if (!(options.maxBytes >= 1)) throw new StateStoreError('maxBytes must be positive');
}

/** Adds one inserted event to a commit's count by status. */
export function countStatus(counts: Record<string, number>, status: string | undefined): void {
  const label = status ?? 'unknown';
  counts[label] = (counts[label] ?? 0) + 1;
}

/** Checks `recordOutputRound`'s arguments before anything is written. */
export function validateOutputRound(outcome: OutputRoundOutcome): void {
  if (!Number.isSafeInteger(outcome.at)) throw new StateStoreError('at must be an integer (ms)');
}

/** Checks `recordTenantCycle`'s arguments before anything is written. */
export function validateCycle(tenant: string, outcome: CycleOutcome): void {
  if (tenant === '') throw new StateStoreError('tenant must not be empty');
  if (!Number.isSafeInteger(outcome.at)) throw new StateStoreError('at must be an integer (ms)');
}
