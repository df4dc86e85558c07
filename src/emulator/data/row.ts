/**
 * A generated trace row. Its detail events are rebuilt on each read of `details` rather than
 * stored: only getDetailsByRecipient needs them, one row at a time, while storing them would
 * triple the memory and time of every generated bucket. The facts they are built from live in
 * private fields, so spreading or serializing a row shows exactly the TraceRow data fields.
 */
import type { DetailStep, StatusStep, TraceRow } from '../model.js';
import type { ExternalDomain } from './directory.js';
import { detailsOf, type Expansion, type MessageContext, type Outcome } from './lifecycle.js';

export class GeneratedRow implements TraceRow {
  readonly traceId: string;
  readonly messageId: string;
  readonly sender: string | null;
  readonly recipient: string;
  readonly subject: string | null;
  readonly size: number;
  readonly fromIp: string;
  readonly toIp: string | null;
  readonly received: number;
  readonly receivedTicks: number;
  readonly visibleAt: number;
  readonly timeline: readonly StatusStep[];
  readonly #message: MessageContext;
  readonly #expansion: Expansion | undefined;
  readonly #outcome: Outcome;
  readonly #remote: ExternalDomain | undefined;

  constructor(
    traceId: string,
    messageId: string,
    sender: string | null,
    recipient: string,
    subject: string | null,
    size: number,
    fromIp: string,
    received: number,
    receivedTicks: number,
    visibleAt: number,
    timeline: readonly StatusStep[],
    message: MessageContext,
    expansion: Expansion | undefined,
    outcome: Outcome,
    remote: ExternalDomain | undefined,
  ) {
    this.traceId = traceId;
    this.messageId = messageId;
    this.sender = sender;
    this.recipient = recipient;
    this.subject = subject;
    this.size = size;
    this.fromIp = fromIp;
    // Only mail leaving the tenant has a resolved MX.
    this.toIp = remote === undefined ? null : remote.mxIp;
    this.received = received;
    this.receivedTicks = receivedTicks;
    this.visibleAt = visibleAt;
    this.timeline = timeline;
    this.#message = message;
    this.#expansion = expansion;
    this.#outcome = outcome;
    this.#remote = remote;
  }

  get details(): readonly DetailStep[] {
    return detailsOf(this, this.#message, this.#expansion, this.#outcome, this.#remote);
  }
}
