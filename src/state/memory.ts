import { randomBytes } from 'node:crypto';

import {
  StateStoreError,
  countStatus,
  validateCommit,
  validateCycle,
  validateOutputRound,
  validateReadOptions,
  type CycleOutcome,
  type OutputRoundOutcome,
  type OutputRounds,
  type DeadLetter,
  type CommitHook,
  type PageCommit,
  type PageEvent,
  type ReadOutboxOptions,
  type SinkStart,
  type SinkState,
  type StateStore,
  type StoredCheckpoint,
  type StoredReject,
  type TenantCycle,
} from './store.js';
import { type CommitResult } from '../core/commit-result.js';
import { type OutboxEvent } from '../core/outbox-event.js';
import { type Pass } from '../core/window.js';
import { addRange, type Range } from '../util/ranges.js';

export interface MemoryStoreOptions {
  /** Clock for `updatedAt`/`at` of acknowledgements, sinks and dead letters. Default `Date.now`. */
  readonly clock?: () => number;
}

interface OutboxEntry extends OutboxEvent {
  readonly bytes: number;
  readonly createdAt: number;
  /** Set on dead letters moved back: only that sink delivers them again. */
  readonly onlySink?: string;
}

/**
 * A `StateStore` in memory with the same behaviour as the SQLite one (the same contract tests run
 * against both), for pipeline and sink tests that need no disk. Nothing survives the process.
 *
 * Atomicity: each method validates everything that can fail before it changes anything, so a
 * throw leaves the store as it was, like a rolled-back transaction.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): StateStore {
  return new MemoryStore(options.clock ?? Date.now);
}

function run<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(fn());
  });
}

class MemoryStore implements StateStore {
  #closing: Promise<void> | undefined;
  readonly #clock: () => number;
  readonly #checkpoints = new Map<string, StoredCheckpoint>();
  /** tenant → its collected ranges, sorted and merged. */
  readonly #collected = new Map<string, Range[]>();
  /** tenant → key → expiry (ms). */
  readonly #seen = new Map<string, Map<string, number>>();
  /** Ordered by seq. */
  #outbox: OutboxEntry[] = [];
  #head = 0;
  readonly #sinks = new Map<string, SinkState>();
  /** sink → seq → dead letter. */
  readonly #dead = new Map<string, Map<number, DeadLetter>>();
  readonly #rejects: StoredReject[] = [];
  #rejectId = 0;
  /** The error is kept as JSON, as SQLite keeps it: a copy, never the caller's object. */
  readonly #cycles = new Map<string, Omit<TenantCycle, 'lastError'> & { readonly lastError?: string }>();
  /** Errors kept as JSON, as SQLite keeps them: a copy, never the caller's object. */
  readonly #rounds = new Map<string, Omit<OutputRounds, 'lastError'> & { readonly lastError?: string }>();

  /** Made with the store, as SQLite makes it with the database. */
  readonly #id = randomBytes(16).toString('hex');

  constructor(clock: () => number) {
    this.#clock = clock;
  }

  #open(): void {
    if (this.#closing !== undefined) throw new StateStoreError('state store is closed', { code: 'closed' });
  }

  #sink(name: string): SinkState {
    const sink = this.#sinks.get(name);
    if (sink === undefined) throw new StateStoreError(`unknown sink ${name}`);
    return sink;
  }

  /** Index of the first outbox entry with a sequence above `seq` (binary search). */
  #firstAfter(seq: number): number {
    let lo = 0;
    let hi = this.#outbox.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const entry = this.#outbox[mid];
      if (entry !== undefined && entry.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #append(entry: Omit<OutboxEntry, 'seq'>): void {
    this.#head++;
    this.#outbox.push({ ...entry, seq: this.#head });
  }

  getCheckpoint(tenant: string, pass: Pass): Promise<StoredCheckpoint | undefined> {
    return run(() => {
      this.#open();
      return this.#checkpoints.get(`${tenant}\u0000${pass}`);
    });
  }

  listCheckpoints(tenant?: string): Promise<StoredCheckpoint[]> {
    return run(() => {
      this.#open();
      return [...this.#checkpoints.values()]
        .filter((c) => tenant === undefined || c.tenant === tenant)
        .sort((a, b) => cmp(a.tenant, b.tenant) || cmp(a.pass, b.pass));
    });
  }

  collectedRanges(tenant: string): Promise<Range[]> {
    return run(() => {
      this.#open();
      return [...(this.#collected.get(tenant) ?? [])];
    });
  }

  commitPage(tenant: string, page: PageCommit, hook?: CommitHook): Promise<CommitResult> {
    return run(() => {
      this.#open();
      validateCommit(tenant, page);
      const { now, checkpoint } = page;
      const expiresAt = now + page.seenTtlMs;
      const seen = this.#seen.get(tenant) ?? new Map<string, number>();
      // Decided first, changed after: a hook that throws leaves the store as it was (atomic).
      const freshKeys = new Set<string>();
      const isNew = (event: PageEvent): boolean => {
        if (freshKeys.has(event.key)) return false;
        const expires = seen.get(event.key);
        // An expired key that is not yet pruned counts as unseen (same rule as SQLite).
        const unseen = expires === undefined || expires <= now;
        if (unseen) freshKeys.add(event.key);
        return unseen;
      };
      const fresh = page.events.filter(isNew);
      const duplicates = page.events.length - fresh.length;
      const own =
        hook?.({ tenant, pass: page.pass, inserted: fresh, duplicates, rejected: page.rejects.length }) ?? [];
      const ownFresh = own.filter(isNew);
      this.#seen.set(tenant, seen);
      for (const event of [...page.events, ...own]) {
        seen.set(event.key, Math.max(seen.get(event.key) ?? 0, expiresAt));
      }
      let inserted = 0;
      const insertedByStatus: Record<string, number> = {};
      for (const event of [...fresh, ...ownFresh]) {
        this.#append({
          tenant,
          pass: page.pass,
          key: event.key,
          eventId: event.eventId,
          json: event.json,
          bytes: Buffer.byteLength(event.json, 'utf8'),
          createdAt: page.now,
        });
        inserted++;
        countStatus(insertedByStatus, event.status);
      }
      for (const reject of page.rejects) {
        this.#rejects.push({
          id: ++this.#rejectId,
          tenant,
          pass: page.pass,
          reason: reject.reason,
          input: reject.input,
          at: now,
        });
      }
      this.#checkpoints.set(`${tenant}\u0000${page.pass}`, {
        tenant,
        pass: page.pass,
        cursor: checkpoint.cursor,
        ...(checkpoint.window !== undefined
          ? { window: { from: checkpoint.window.from, to: checkpoint.window.to } }
          : {}),
        ...(checkpoint.nextLink !== undefined ? { nextLink: checkpoint.nextLink } : {}),
        updatedAt: now,
      });
      if (page.collected !== undefined) {
        const { from, to } = page.collected;
        this.#collected.set(tenant, addRange(this.#collected.get(tenant) ?? [], { from, to }));
      }
      return { inserted, duplicates, rejected: page.rejects.length, insertedByStatus, headSeq: this.#head };
    });
  }

  registerSinks(names: readonly string[], start: SinkStart): Promise<void> {
    return run(() => {
      this.#open();
      for (const name of names) if (name === '') throw new StateStoreError('sink name must not be empty');
      const at = start === 'head' ? this.#head : 0;
      const now = this.#clock();
      for (const name of names) {
        if (!this.#sinks.has(name)) this.#sinks.set(name, { name, ackedSeq: at, updatedAt: now });
      }
    });
  }

  unregisterSink(name: string): Promise<void> {
    return run(() => {
      this.#open();
      if (!this.#sinks.delete(name)) return;
      this.#dead.delete(name);
      this.#rounds.delete(name);
      this.#outbox = this.#outbox.filter((e) => e.onlySink !== name);
    });
  }

  sinkState(sink: string): Promise<SinkState | undefined> {
    return run(() => {
      this.#open();
      return this.#sinks.get(sink);
    });
  }

  listSinks(): Promise<SinkState[]> {
    return run(() => {
      this.#open();
      return [...this.#sinks.values()].sort((a, b) => cmp(a.name, b.name));
    });
  }

  readOutbox(sink: string, options: ReadOutboxOptions): Promise<OutboxEvent[]> {
    return run(() => {
      this.#open();
      validateReadOptions(options);
      const after = options.afterSeq ?? this.#sink(sink).ackedSeq;
      const out: OutboxEvent[] = [];
      let bytes = 0;
      for (let i = this.#firstAfter(after); i < this.#outbox.length; i++) {
        const entry = this.#outbox[i];
        if (entry === undefined) break;
        if (entry.onlySink !== undefined && entry.onlySink !== sink) continue;
        if (out.length > 0 && bytes + entry.bytes > options.maxBytes) break;
        out.push({
          seq: entry.seq,
          tenant: entry.tenant,
          pass: entry.pass,
          key: entry.key,
          eventId: entry.eventId,
          json: entry.json,
        });
        bytes += entry.bytes;
        if (out.length >= options.limit) break;
      }
      return out;
    });
  }

  ack(sink: string, seq: number, meta?: string): Promise<void> {
    return run(() => {
      this.#open();
      const state = this.#sink(sink);
      if (!Number.isSafeInteger(seq) || seq < state.ackedSeq) {
        throw new StateStoreError(`ack of ${sink} would go back from ${state.ackedSeq} to ${seq}`);
      }
      if (seq > this.#head)
        throw new StateStoreError(`ack of ${sink} at ${seq} is past the outbox head ${this.#head}`);
      this.#sinks.set(sink, {
        name: sink,
        ackedSeq: seq,
        ...(meta !== undefined ? { meta } : {}),
        updatedAt: this.#clock(),
      });
    });
  }

  outboxDepth(sink: string): Promise<number> {
    return run(() => {
      this.#open();
      const after = this.#sink(sink).ackedSeq;
      let n = 0;
      for (let i = this.#firstAfter(after); i < this.#outbox.length; i++) {
        const entry = this.#outbox[i];
        if (entry !== undefined && (entry.onlySink === undefined || entry.onlySink === sink)) n++;
      }
      return n;
    });
  }

  outboxDepthByTenant(): Promise<Record<string, number>> {
    return run(() => {
      this.#open();
      const acked = new Map([...this.#sinks.values()].map((sink) => [sink.name, sink.ackedSeq]));
      const lowest = acked.size === 0 ? 0 : Math.min(...acked.values());
      const depth: Record<string, number> = {};
      for (const entry of this.#outbox) {
        const after = entry.onlySink === undefined ? lowest : (acked.get(entry.onlySink) ?? 0);
        if (entry.seq > after) depth[entry.tenant] = (depth[entry.tenant] ?? 0) + 1;
      }
      return depth;
    });
  }

  outboxOldest(sink: string): Promise<number | undefined> {
    return run(() => {
      this.#open();
      const after = this.#sink(sink).ackedSeq;
      for (let i = this.#firstAfter(after); i < this.#outbox.length; i++) {
        const entry = this.#outbox[i];
        if (entry !== undefined && (entry.onlySink === undefined || entry.onlySink === sink))
          return entry.createdAt;
      }
      return undefined;
    });
  }

  stateId(): Promise<string> {
    return run(() => {
      this.#open();
      return this.#id;
    });
  }

  createdNew(): Promise<boolean> {
    return run(() => {
      this.#open();
      // Nothing of it outlives the process: every memory state is a new one.
      return true;
    });
  }

  outboxHead(): Promise<number> {
    return run(() => {
      this.#open();
      return this.#head;
    });
  }

  pruneOutbox(): Promise<number> {
    return run(() => {
      this.#open();
      if (this.#sinks.size === 0) return 0;
      const min = Math.min(...[...this.#sinks.values()].map((s) => s.ackedSeq));
      const before = this.#outbox.length;
      this.#outbox = this.#outbox.filter((e) =>
        e.onlySink === undefined ? e.seq > min : e.seq > (this.#sinks.get(e.onlySink)?.ackedSeq ?? 0),
      );
      return before - this.#outbox.length;
    });
  }

  pruneSeen(now: number): Promise<number> {
    return run(() => {
      this.#open();
      let n = 0;
      for (const keys of this.#seen.values()) {
        for (const [key, expires] of keys) {
          if (expires <= now) {
            keys.delete(key);
            n++;
          }
        }
      }
      return n;
    });
  }

  seenCount(tenant?: string): Promise<number> {
    return run(() => {
      this.#open();
      if (tenant !== undefined) return this.#seen.get(tenant)?.size ?? 0;
      let n = 0;
      for (const keys of this.#seen.values()) n += keys.size;
      return n;
    });
  }

  rejects(options: { readonly tenant?: string; readonly limit: number }): Promise<StoredReject[]> {
    return run(() => {
      this.#open();
      return this.#rejects
        .filter((r) => options.tenant === undefined || r.tenant === options.tenant)
        .slice(0, options.limit);
    });
  }

  deadLetter(sink: string, seq: number, reason: string): Promise<void> {
    return run(() => {
      this.#open();
      this.#sink(sink);
      const entry = this.#outbox[this.#firstAfter(seq - 1)];
      if (entry?.seq !== seq)
        throw new StateStoreError(`outbox event ${seq} is gone (acknowledged and pruned?)`);
      let dead = this.#dead.get(sink);
      if (dead === undefined) {
        dead = new Map();
        this.#dead.set(sink, dead);
      }
      dead.set(seq, {
        sink,
        seq,
        tenant: entry.tenant,
        pass: entry.pass,
        key: entry.key,
        eventId: entry.eventId,
        json: entry.json,
        reason,
        at: this.#clock(),
      });
    });
  }

  #sortedDead(sink: string): DeadLetter[] {
    return [...(this.#dead.get(sink)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  }

  deadLetters(sink: string, limit: number): Promise<DeadLetter[]> {
    return run(() => {
      this.#open();
      return this.#sortedDead(sink).slice(0, limit);
    });
  }

  deadLetterCount(sink: string): Promise<number> {
    return run(() => {
      this.#open();
      return this.#dead.get(sink)?.size ?? 0;
    });
  }

  deadLetterSeqs(sink: string, seqs: readonly number[]): Promise<number[]> {
    return run(() => {
      this.#open();
      const held = this.#dead.get(sink);
      return [...new Set(seqs)].filter((seq) => held?.has(seq) === true).sort((a, b) => a - b);
    });
  }

  deadLetterNewest(sink: string): Promise<number | undefined> {
    return run(() => {
      this.#open();
      const ats = [...(this.#dead.get(sink)?.values() ?? [])].map((d) => d.at);
      return ats.length === 0 ? undefined : Math.max(...ats);
    });
  }

  retryDeadLetters(sink: string, seqs?: readonly number[]): Promise<number> {
    return run(() => {
      this.#open();
      this.#sink(sink);
      const wanted = seqs === undefined ? undefined : new Set(seqs);
      let moved = 0;
      for (const d of this.#sortedDead(sink)) {
        if (wanted !== undefined && !wanted.has(d.seq)) continue;
        this.#append({
          tenant: d.tenant,
          pass: d.pass,
          key: d.key,
          eventId: d.eventId,
          json: d.json,
          bytes: Buffer.byteLength(d.json, 'utf8'),
          createdAt: this.#clock(),
          onlySink: sink,
        });
        this.#dead.get(sink)?.delete(d.seq);
        moved++;
      }
      return moved;
    });
  }

  recordTenantCycle(tenant: string, outcome: CycleOutcome): Promise<void> {
    return run(() => {
      this.#open();
      validateCycle(tenant, outcome);
      const before = this.#cycles.get(tenant) ?? { tenant, failuresInARow: 0 };
      this.#cycles.set(
        tenant,
        outcome.error === undefined
          ? {
              tenant,
              ...(before.lastFailureAt === undefined ? {} : { lastFailureAt: before.lastFailureAt }),
              lastSuccessAt: outcome.at,
              failuresInARow: 0,
            }
          : {
              ...before,
              lastFailureAt: outcome.at,
              lastError: JSON.stringify(outcome.error),
              failuresInARow: before.failuresInARow + 1,
            },
      );
    });
  }

  tenantCycles(): Promise<TenantCycle[]> {
    return run(() => {
      this.#open();
      return [...this.#cycles.values()]
        .sort((a, b) => cmp(a.tenant, b.tenant))
        .map(({ lastError, ...cycle }) => ({
          ...cycle,
          ...(lastError === undefined ? {} : { lastError: JSON.parse(lastError) as Record<string, unknown> }),
        }));
    });
  }

  recordOutputRound(sink: string, outcome: OutputRoundOutcome): Promise<void> {
    return run(() => {
      this.#open();
      validateOutputRound(outcome);
      this.#sink(sink);
      const before = this.#rounds.get(sink);
      this.#rounds.set(
        sink,
        outcome.error === undefined
          ? { output: sink, lastSuccessAt: outcome.at }
          : {
              output: sink,
              ...(before?.lastSuccessAt === undefined ? {} : { lastSuccessAt: before.lastSuccessAt }),
              failingSince: before?.failingSince ?? outcome.at,
              lastError: JSON.stringify(outcome.error),
            },
      );
    });
  }

  outputRounds(): Promise<OutputRounds[]> {
    return run(() => {
      this.#open();
      return [...this.#rounds.values()]
        .sort((a, b) => cmp(a.output, b.output))
        .map(({ lastError, ...rounds }) => ({
          ...rounds,
          ...(lastError === undefined ? {} : { lastError: JSON.parse(lastError) as Record<string, unknown> }),
        }));
    });
  }

  close(): Promise<void> {
    this.#closing ??= Promise.resolve();
    return this.#closing;
  }
}

/** Code-unit order: SQLite's BINARY collation gives the same below U+10000. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
