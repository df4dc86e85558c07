/**
 * The outbox (`outbox`): events in sequence order, shared by every sink, or meant for one sink
 * only (`only_sink`: dead letters moved back). `sqlite_sequence` keeps the head.
 */
import type Database from 'better-sqlite3';
import type { OutboxEvent } from '../../core/outbox-event.js';
import { toPass } from './decode.js';

export interface OutboxRow {
  seq: number;
  tenant: string;
  pass: string;
  key: string;
  event_id: string;
  json: string;
  bytes: number;
}

export interface NewOutboxRow {
  readonly tenant: string;
  /** A pass as the outbox keeps it (a dead letter moved back carries its stored text). */
  readonly pass: string;
  readonly key: string;
  readonly eventId: string;
  readonly json: string;
  readonly bytes: number;
  /** Only this sink delivers it (a dead letter moved back); null: every sink. */
  readonly onlySink: string | null;
  readonly createdAt: number;
}

export function toOutboxEvent(row: OutboxRow): OutboxEvent {
  return {
    seq: row.seq,
    tenant: row.tenant,
    pass: toPass(row.pass),
    key: row.key,
    eventId: row.event_id,
    json: row.json,
  };
}

export class Outbox {
  readonly #insert;
  readonly #head;
  readonly #read;
  readonly #row;
  readonly #depth;
  readonly #depthByTenant;
  readonly #oldest;
  readonly #pruneShared;
  readonly #pruneOwned;

  constructor(db: Database.Database) {
    this.#insert = db.prepare<[string, string, string, string, string, number, string | null, number]>(
      `INSERT INTO outbox (tenant, pass, key, event_id, json, bytes, only_sink, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // sqlite_sequence keeps the highest sequence ever used, even when the outbox is empty.
    this.#head = db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'");
    this.#read = db.prepare<[number, string], OutboxRow>(
      `SELECT seq, tenant, pass, key, event_id, json, bytes FROM outbox
       WHERE seq > ? AND (only_sink IS NULL OR only_sink = ?) ORDER BY seq`,
    );
    this.#row = db.prepare<[number], OutboxRow>(
      'SELECT seq, tenant, pass, key, event_id, json, bytes FROM outbox WHERE seq = ?',
    );
    this.#depth = db.prepare<[number, string], { n: number }>(
      'SELECT count(*) AS n FROM outbox WHERE seq > ? AND (only_sink IS NULL OR only_sink = ?)',
    );
    // An event is waiting while a sink it is meant for has not acknowledged it: every sink for the
    // shared ones (so past the lowest cursor), its own sink for one re-queued for a single sink.
    this.#depthByTenant = db.prepare<[], { tenant: string; n: number }>(
      `SELECT tenant, count(*) AS n FROM outbox
       WHERE (only_sink IS NULL AND seq > (SELECT coalesce(min(acked_seq), 0) FROM sink))
          OR (only_sink IS NOT NULL AND seq > coalesce((SELECT acked_seq FROM sink WHERE name = only_sink), 0))
       GROUP BY tenant`,
    );
    this.#oldest = db.prepare<[number, string], { created_at: number }>(
      'SELECT created_at FROM outbox WHERE seq > ? AND (only_sink IS NULL OR only_sink = ?) ORDER BY seq LIMIT 1',
    );
    this.#pruneShared = db.prepare<[number]>('DELETE FROM outbox WHERE seq <= ? AND only_sink IS NULL');
    this.#pruneOwned = db.prepare<[]>(
      `DELETE FROM outbox WHERE only_sink IS NOT NULL
       AND seq <= (SELECT acked_seq FROM sink WHERE sink.name = outbox.only_sink)`,
    );
  }

  append(row: NewOutboxRow): void {
    this.#insert.run(
      row.tenant,
      row.pass,
      row.key,
      row.eventId,
      row.json,
      row.bytes,
      row.onlySink,
      row.createdAt,
    );
  }

  /** The last sequence ever appended (0 when none). */
  head(): number {
    return this.#head.get()?.seq ?? 0;
  }

  /** Rows after `afterSeq` that `sink` delivers, in sequence order, read lazily. */
  rowsAfter(afterSeq: number, sink: string): IterableIterator<OutboxRow> {
    return this.#read.iterate(afterSeq, sink);
  }

  row(seq: number): OutboxRow | undefined {
    return this.#row.get(seq);
  }

  depth(afterSeq: number, sink: string): number {
    return this.#depth.get(afterSeq, sink)?.n ?? 0;
  }

  depthByTenant(): Record<string, number> {
    return Object.fromEntries(this.#depthByTenant.all().map((row) => [row.tenant, row.n]));
  }

  oldest(afterSeq: number, sink: string): number | undefined {
    return this.#oldest.get(afterSeq, sink)?.created_at;
  }

  /** Delete the shared rows up to `minAcked` and each sink's own rows it acknowledged. */
  prune(minAcked: number): number {
    return this.#pruneShared.run(minAcked).changes + this.#pruneOwned.run().changes;
  }
}
