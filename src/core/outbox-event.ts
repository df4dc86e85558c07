/**
 * An event as the outbox holds it and hands it to an output: its place in the outbox, where it
 * came from, its identities and its ECS document, serialized once. The currency between the
 * outbox (pipeline, state) and the outputs (sinks), which know nothing of each other.
 */
import type { Pass } from './window.js';

export interface OutboxEvent {
  /** Outbox sequence: strictly increasing, never reused, even after pruning. */
  readonly seq: number;
  readonly tenant: string;
  readonly pass: Pass;
  readonly key: string;
  readonly eventId: string;
  readonly json: string;
}
