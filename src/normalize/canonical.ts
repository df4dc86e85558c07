import type { Instant } from './timestamp.js';

/** Which API (or tool) produced a record, as far as its shape tells. */
export type SourceApi = 'reporting' | 'graph' | 'powershell';

/**
 * One message trace row — one (message, recipient) pair — whatever API it came from. Every
 * dialect becomes this first; the ECS mapping reads only this.
 */
export interface CanonicalRow {
  readonly kind: 'row';
  readonly traceId: string;
  readonly recipient: string | undefined;
  readonly sender: string | undefined;
  readonly messageId: string | undefined;
  readonly subject: string | undefined;
  readonly received: Instant;
  /** Canonical spelling (see status.ts); absent when the record had none. */
  readonly status: string | undefined;
  readonly size: number | undefined;
  /** Valid IP addresses only. */
  readonly fromIp: string | undefined;
  readonly toIp: string | undefined;
  /** From the row (Reporting Web Service) or, failing that, the configured organization. */
  readonly organization: string | undefined;
  readonly api: SourceApi;
  /** The text the `message` field carries. */
  readonly original: string;
}

/**
 * One step of a message's journey to one recipient (Graph `getDetailsByRecipient`, the Reporting
 * Web Service's `MessageTraceDetail`).
 */
export interface CanonicalDetail {
  readonly kind: 'detail';
  readonly traceId: string;
  readonly recipient: string | undefined;
  readonly sender: string | undefined;
  readonly messageId: string | undefined;
  readonly subject: string | undefined;
  readonly at: Instant;
  /** The detail's `event` (`Receive`, `Deliver`, `Fail`…). */
  readonly event: string | undefined;
  readonly action: string | undefined;
  readonly description: string | undefined;
  readonly data: string | undefined;
  readonly organization: string | undefined;
  readonly api: SourceApi;
  readonly original: string;
}

export type CanonicalRecord = CanonicalRow | CanonicalDetail;
