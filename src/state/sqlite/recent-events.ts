import type { OutboxEvent } from '../../core/outbox-event.js';

/**
 * The events of the last commits, kept in memory so that outputs that keep up read them from here
 * instead of back from the database (reading them back cost a third of what writing them did).
 * It holds only a contiguous run of sequences appended by `commitPage`, never a row meant for one
 * sink only, and is bounded in bytes; anything outside it is read from the database as before.
 */
export class RecentEvents {
  #events: OutboxEvent[] = [];
  #bytes: number[] = [];
  #total = 0;
  #start = 0;

  constructor(readonly maxBytes: number) {}

  /** Events just committed with sequences `firstSeq`, `firstSeq + 1`… */
  append(firstSeq: number, events: readonly OutboxEvent[], bytes: readonly number[]): void {
    const last = this.#events.at(-1);
    if (last !== undefined && last.seq + 1 !== firstSeq) this.clear();
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      if (event === undefined) continue;
      this.#events.push(event);
      const size = bytes[i] ?? 0;
      this.#bytes.push(size);
      this.#total += size;
    }
    while (this.#total > this.maxBytes && this.#start < this.#events.length) this.#dropFirst();
    this.#compact();
  }

  /** Events after `afterSeq` as `readOutbox` returns them, or undefined when the run does not start right after it. */
  read(afterSeq: number, limit: number, maxBytes: number): OutboxEvent[] | undefined {
    const first = this.#events[this.#start];
    if (first === undefined || afterSeq + 1 < first.seq) return undefined;
    let index = this.#start + (afterSeq + 1 - first.seq);
    if (index >= this.#events.length) return undefined;
    const out: OutboxEvent[] = [];
    let bytes = 0;
    for (; index < this.#events.length && out.length < limit; index++) {
      const size = this.#bytes[index] ?? 0;
      if (out.length > 0 && bytes + size > maxBytes) break;
      const event = this.#events[index];
      if (event !== undefined) out.push(event);
      bytes += size;
    }
    return out;
  }

  /** Forget what every sink has acknowledged. */
  dropThrough(seq: number): void {
    while (this.#start < this.#events.length && (this.#events[this.#start]?.seq ?? Infinity) <= seq) {
      this.#dropFirst();
    }
    this.#compact();
  }

  clear(): void {
    this.#events = [];
    this.#bytes = [];
    this.#total = 0;
    this.#start = 0;
  }

  #dropFirst(): void {
    this.#total -= this.#bytes[this.#start] ?? 0;
    this.#start++;
  }

  // Dropping from the front moves an index; the arrays are cut when half of them is dropped.
  #compact(): void {
    if (this.#start > 0 && this.#start * 2 >= this.#events.length) {
      this.#events = this.#events.slice(this.#start);
      this.#bytes = this.#bytes.slice(this.#start);
      this.#start = 0;
    }
  }
}

/** About two pages of 5,000 events: an output that keeps up reads nothing back. */
export const RECENT_EVENTS_BYTES = 16 * 1024 * 1024;
