/**
 * The `StateStore` on one SQLite database: each method one transaction over the tables of
 * checkpoints.ts, seen.ts, outbox.ts, sinks.ts, dead-letters.ts, rejects.ts and cycles.ts, its
 * failures in the state's closed codes (errors.ts).
 */
import type Database from 'better-sqlite3';
import type { OutboxEvent } from '../../core/outbox-event.js';
import type { Pass } from '../../core/window.js';
import { StateStoreError } from '../errors.js';
import {
  countStatus,
  validateCommit,
  validateCycle,
  validateOutputRound,
  validateReadOptions,
  type CommitHook,
  type CycleOutcome,
  type DeadLetter,
  type OutputRoundOutcome,
  type OutputRounds,
  type PageCommit,
  type PageEvent,
  type ReadOutboxOptions,
  type SinkStart,
  type SinkState,
  type StateStore,
  type StoredCheckpoint,
  type StoredReject,
  type TenantCycle,
} from '../store.js';
import { type TimeWindow } from '../../core/window.js';
import { type CommitResult } from '../../core/commit-result.js';
import { Checkpoints } from './checkpoints.js';
import { Cycles } from './cycles.js';
import { DeadLetters } from './dead-letters.js';
import { diskFullError, isFull, toStateError } from './errors.js';
import { Outbox, toOutboxEvent } from './outbox.js';
import { RECENT_EVENTS_BYTES, RecentEvents } from './recent-events.js';
import { Rejects } from './rejects.js';
import { SeenSet } from './seen.js';
import { Sinks } from './sinks.js';

/** Run synchronous work as a promise: the interface is asynchronous for databases that are. */
function run<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(fn());
  });
}

export class SqliteStore implements StateStore {
  readonly #recent = new RecentEvents(RECENT_EVENTS_BYTES);
  #closing: Promise<void> | undefined;
  readonly #db: Database.Database;
  readonly #clock: () => number;
  /** The state directory, for errors that must say where the state is. */
  readonly #dir: string;
  /** Made by this open (no schema was there), not an existing state opened. */
  readonly #created: boolean;

  readonly #checkpoints: Checkpoints;
  readonly #seen: SeenSet;
  readonly #outbox: Outbox;
  readonly #sinks: Sinks;
  readonly #deadLetters: DeadLetters;
  readonly #rejects: Rejects;
  readonly #cycles: Cycles;
  readonly #stateId;

  constructor(db: Database.Database, clock: () => number, created: boolean, dir: string) {
    this.#db = db;
    this.#clock = clock;
    this.#created = created;
    this.#dir = dir;
    this.#checkpoints = new Checkpoints(db);
    this.#seen = new SeenSet(db);
    this.#outbox = new Outbox(db);
    this.#sinks = new Sinks(db);
    this.#deadLetters = new DeadLetters(db);
    this.#rejects = new Rejects(db);
    this.#cycles = new Cycles(db);
    this.#stateId = db.prepare<[], { id: string }>('SELECT id FROM state_identity');
  }

  /** `run`, open stores only, with every failure in the state's codes (a full database explained). */
  #run<T>(fn: () => T): Promise<T> {
    return run(() => {
      try {
        if (this.#closing !== undefined) {
          throw new StateStoreError('state store is closed', { code: 'closed' });
        }
        return fn();
      } catch (error) {
        throw isFull(error) ? diskFullError(error, this.#dir, this.#waitingEvents()) : toStateError(error);
      }
    });
  }

  /** Events the output furthest behind has yet to take, or undefined when they cannot be counted. */
  #waitingEvents(): number | undefined {
    try {
      const minAcked = this.#sinks.minAcked();
      return minAcked === undefined ? undefined : this.#outbox.head() - minAcked;
    } catch {
      return undefined;
    }
  }

  getCheckpoint(tenant: string, pass: Pass): Promise<StoredCheckpoint | undefined> {
    return this.#run(() => this.#checkpoints.get(tenant, pass));
  }

  listCheckpoints(tenant?: string): Promise<StoredCheckpoint[]> {
    return this.#run(() => this.#checkpoints.list(tenant));
  }

  collectedRanges(tenant: string): Promise<TimeWindow[]> {
    return this.#run(() => this.#checkpoints.collectedRanges(tenant));
  }

  commitPage(tenant: string, page: PageCommit, hook?: CommitHook): Promise<CommitResult> {
    return this.#run(() => {
      validateCommit(tenant, page);
      const { now } = page;
      const expiresAt = now + page.seenTtlMs;
      const added: OutboxEvent[] = [];
      const addedBytes: number[] = [];
      const result = this.#db.transaction((): CommitResult => {
        let inserted = 0;
        let duplicates = 0;
        const insertedByStatus: Record<string, number> = {};
        const fresh: PageEvent[] = [];
        /** Adds the key to the seen-set, and the event to the outbox when the key was not seen. */
        const commitEvent = (event: PageEvent): boolean => {
          if (!this.#seen.see(tenant, event.key, now, expiresAt)) return false;
          const bytes = Buffer.byteLength(event.json, 'utf8');
          this.#outbox.append({
            tenant,
            pass: page.pass,
            key: event.key,
            eventId: event.eventId,
            json: event.json,
            bytes,
            onlySink: null,
            createdAt: now,
          });
          added.push({
            seq: 0,
            tenant,
            pass: page.pass,
            key: event.key,
            eventId: event.eventId,
            json: event.json,
          });
          addedBytes.push(bytes);
          inserted++;
          countStatus(insertedByStatus, event.status);
          return true;
        };
        for (const event of page.events) {
          if (commitEvent(event)) fresh.push(event);
          else duplicates++;
        }
        for (const reject of page.rejects) {
          this.#rejects.add(tenant, page.pass, reject.reason, reject.input, now);
        }
        this.#checkpoints.put(tenant, page.pass, page.checkpoint, now);
        if (page.collected !== undefined) this.#checkpoints.addCollected(tenant, page.collected);
        // Last, so that only the commit itself may still fail after the hook saw the page.
        if (hook !== undefined) {
          const own = hook({
            tenant,
            pass: page.pass,
            inserted: fresh,
            duplicates,
            rejected: page.rejects.length,
          });
          for (const event of own ?? []) commitEvent(event);
        }
        return {
          inserted,
          duplicates,
          rejected: page.rejects.length,
          insertedByStatus,
          headSeq: this.#outbox.head(),
        };
      })();
      // Committed: the page's new events are the last `inserted` sequences (one connection, so
      // nothing else appended in between).
      const firstSeq = result.headSeq - added.length + 1;
      this.#recent.append(
        firstSeq,
        added.map((event, i) => ({ ...event, seq: firstSeq + i })),
        addedBytes,
      );
      return result;
    });
  }

  registerSinks(names: readonly string[], start: SinkStart): Promise<void> {
    return this.#run(() => {
      for (const name of names) if (name === '') throw new StateStoreError('sink name must not be empty');
      this.#db.transaction(() => {
        const at = start === 'head' ? this.#outbox.head() : 0;
        const now = this.#clock();
        for (const name of names) this.#sinks.add(name, at, now);
      })();
    });
  }

  unregisterSink(name: string): Promise<void> {
    return this.#run(() => {
      this.#sinks.remove(name);
    });
  }

  sinkState(sink: string): Promise<SinkState | undefined> {
    return this.#run(() => this.#sinks.get(sink));
  }

  listSinks(): Promise<SinkState[]> {
    return this.#run(() => this.#sinks.list());
  }

  readOutbox(sink: string, options: ReadOutboxOptions): Promise<OutboxEvent[]> {
    return this.#run(() => {
      validateReadOptions(options);
      const after = options.afterSeq ?? this.#sinks.require(sink).acked_seq;
      const recent = this.#recent.read(after, options.limit, options.maxBytes);
      if (recent !== undefined) return recent;
      const out: OutboxEvent[] = [];
      let bytes = 0;
      // Lazily rather than LIMIT: the byte cap usually stops first, and rows past it are never read.
      for (const row of this.#outbox.rowsAfter(after, sink)) {
        if (out.length > 0 && bytes + row.bytes > options.maxBytes) break;
        out.push(toOutboxEvent(row));
        bytes += row.bytes;
        if (out.length >= options.limit) break;
      }
      return out;
    });
  }

  ack(sink: string, seq: number, meta?: string): Promise<void> {
    return this.#run(() => {
      this.#db.transaction(() => {
        const row = this.#sinks.require(sink);
        if (!Number.isSafeInteger(seq) || seq < row.acked_seq) {
          throw new StateStoreError(`ack of ${sink} would go back from ${row.acked_seq} to ${seq}`);
        }
        const head = this.#outbox.head();
        if (seq > head) throw new StateStoreError(`ack of ${sink} at ${seq} is past the outbox head ${head}`);
        this.#sinks.setAcked(sink, seq, meta ?? null, this.#clock());
      })();
    });
  }

  outboxDepth(sink: string): Promise<number> {
    return this.#run(() => this.#outbox.depth(this.#sinks.require(sink).acked_seq, sink));
  }

  outboxDepthByTenant(): Promise<Record<string, number>> {
    return this.#run(() => this.#outbox.depthByTenant());
  }

  outboxOldest(sink: string): Promise<number | undefined> {
    return this.#run(() => this.#outbox.oldest(this.#sinks.require(sink).acked_seq, sink));
  }

  stateId(): Promise<string> {
    return this.#run(() => {
      const row = this.#stateId.get();
      if (row === undefined) {
        throw new StateStoreError('the state has no identity (table state_identity is empty)', {
          code: 'corrupt',
        });
      }
      return row.id;
    });
  }

  createdNew(): Promise<boolean> {
    return this.#run(() => this.#created);
  }

  outboxHead(): Promise<number> {
    return this.#run(() => this.#outbox.head());
  }

  pruneOutbox(): Promise<number> {
    return this.#run(() =>
      this.#db.transaction(() => {
        const min = this.#sinks.minAcked();
        if (min === undefined) return 0;
        this.#recent.dropThrough(min);
        return this.#outbox.prune(min);
      })(),
    );
  }

  pruneSeen(now: number): Promise<number> {
    return this.#run(() => this.#seen.prune(now));
  }

  seenCount(tenant?: string): Promise<number> {
    return this.#run(() => this.#seen.count(tenant));
  }

  rejects(options: { readonly tenant?: string; readonly limit: number }): Promise<StoredReject[]> {
    return this.#run(() => this.#rejects.list(options.tenant, options.limit));
  }

  deadLetter(sink: string, seq: number, reason: string): Promise<void> {
    return this.#run(() => {
      this.#db.transaction(() => {
        this.#sinks.require(sink);
        const row = this.#outbox.row(seq);
        if (row === undefined) {
          throw new StateStoreError(`outbox event ${seq} is gone (acknowledged and pruned?)`);
        }
        this.#deadLetters.put(sink, row, reason, this.#clock());
      })();
    });
  }

  deadLetterCount(sink: string): Promise<number> {
    return this.#run(() => this.#deadLetters.count(sink));
  }

  deadLetterSeqs(sink: string, seqs: readonly number[]): Promise<number[]> {
    // A few numbers typed on a command line: one indexed lookup each.
    return this.#run(() =>
      [...new Set(seqs)].filter((seq) => this.#deadLetters.has(sink, seq)).sort((a, b) => a - b),
    );
  }

  deadLetterNewest(sink: string): Promise<number | undefined> {
    return this.#run(() => this.#deadLetters.newest(sink));
  }

  deadLetters(sink: string, limit: number): Promise<DeadLetter[]> {
    return this.#run(() => this.#deadLetters.list(sink, limit));
  }

  retryDeadLetters(sink: string, seqs?: readonly number[]): Promise<number> {
    return this.#run(() =>
      this.#db.transaction(() => {
        this.#sinks.require(sink);
        // Rows for one sink only now follow the cached run: later commits start a new one.
        this.#recent.clear();
        const wanted = seqs === undefined ? undefined : new Set(seqs);
        const now = this.#clock();
        let moved = 0;
        for (const r of this.#deadLetters.rows(sink)) {
          if (wanted !== undefined && !wanted.has(r.seq)) continue;
          this.#outbox.append({
            tenant: r.tenant,
            pass: r.pass,
            key: r.key,
            eventId: r.event_id,
            json: r.json,
            bytes: Buffer.byteLength(r.json, 'utf8'),
            onlySink: sink,
            createdAt: now,
          });
          this.#deadLetters.remove(sink, r.seq);
          moved++;
        }
        return moved;
      })(),
    );
  }

  recordTenantCycle(tenant: string, outcome: CycleOutcome): Promise<void> {
    return this.#run(() => {
      validateCycle(tenant, outcome);
      this.#cycles.recordCycle(
        tenant,
        outcome.at,
        outcome.error === undefined ? undefined : JSON.stringify(outcome.error),
      );
    });
  }

  tenantCycles(): Promise<TenantCycle[]> {
    return this.#run(() => this.#cycles.tenantCycles());
  }

  recordOutputRound(sink: string, outcome: OutputRoundOutcome): Promise<void> {
    return this.#run(() => {
      validateOutputRound(outcome);
      this.#sinks.require(sink);
      this.#cycles.recordRound(
        sink,
        outcome.at,
        outcome.error === undefined ? undefined : JSON.stringify(outcome.error),
      );
    });
  }

  outputRounds(): Promise<OutputRounds[]> {
    return this.#run(() => this.#cycles.outputRounds());
  }

  close(): Promise<void> {
    this.#closing ??= run(() => {
      this.#db.close();
    });
    return this.#closing;
  }
}
