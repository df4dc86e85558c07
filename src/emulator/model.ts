/**
 * The emulator's shared vocabulary: tenants and their apps, message trace rows over their whole
 * life (status timeline, visibility, detail steps), and the data source the API handlers read.
 * Times are milliseconds since the epoch, UTC, on the emulator's clock.
 */

/** Statuses in the Reporting Web Service spelling; each API renders its own (see render.ts). */
export type TraceStatus =
  'GettingStatus' | 'Pending' | 'Delivered' | 'Expanded' | 'Failed' | 'Quarantined' | 'FilteredAsSpam';

export interface StatusStep {
  /** When the row starts to show this status. */
  readonly at: number;
  readonly status: TraceStatus;
}

/** One step of `getDetailsByRecipient` / `MessageTraceDetail`. */
export interface DetailStep {
  readonly at: number;
  /** `Receive`, `Submit`, `Expand`, `Deliver`, `Send`, `Fail`, `Defer`, `Spam`, `Quarantine`… */
  readonly event: string;
  /** Often empty, as in Microsoft's examples. */
  readonly action: string;
  readonly description: string;
  /** An XML blob, `<root>…</root>`. */
  readonly data: string;
}

/** One (message, recipient) row, the unit every API returns, over its whole life. */
export interface TraceRow {
  /** GUID shared by every recipient row of a message. */
  readonly traceId: string;
  /** Internet Message-ID with its angle brackets. */
  readonly messageId: string;
  /** Null for null-sender messages (bounces, NDRs). */
  readonly sender: string | null;
  readonly recipient: string;
  /** Null when the message had none. */
  readonly subject: string | null;
  readonly size: number;
  readonly fromIp: string;
  /** The resolved MX for outbound mail; null for inbound and internal mail. */
  readonly toIp: string | null;
  /** When Exchange Online received the message. */
  readonly received: number;
  /** 100-nanosecond ticks inside the millisecond (0–9999): the Reporting Web Service prints 7 digits. */
  readonly receivedTicks: number;
  /** When the APIs start returning the row (received + visibility delay). */
  readonly visibleAt: number;
  /** Ascending by `at`; the first step is at `received`. */
  readonly timeline: readonly StatusStep[];
  /** Ascending by `at`; consistent with the timeline. */
  readonly details: readonly DetailStep[];
}

/** The row's status as seen at `asOf` (its last step at or before that instant). */
export function statusAt(row: TraceRow, asOf: number): TraceStatus {
  let status = row.timeline[0]?.status ?? 'GettingStatus';
  for (const step of row.timeline) {
    if (step.at > asOf) break;
    status = step.status;
  }
  return status;
}

/** Where a newest-first walk stands: the last row already returned. */
export interface RowKey {
  readonly received: number;
  readonly receivedTicks: number;
  readonly recipient: string;
  readonly traceId: string;
}

/**
 * Newest-first order, stable across pages: received time descending, then recipient and trace id
 * ascending (as Get-MessageTraceV2's continuation implies). Negative when `a` comes first.
 */
export function compareNewestFirst(a: RowKey, b: RowKey): number {
  if (a.received !== b.received) return b.received - a.received;
  if (a.receivedTicks !== b.receivedTicks) return b.receivedTicks - a.receivedTicks;
  if (a.recipient !== b.recipient) return a.recipient < b.recipient ? -1 : 1;
  if (a.traceId !== b.traceId) return a.traceId < b.traceId ? -1 : 1;
  return 0;
}

export interface EmulatorApp {
  readonly clientId: string;
  readonly displayName: string;
  /** Client secrets; an expired one answers AADSTS7000222. */
  readonly secrets: readonly { readonly value: string; readonly expiresAt?: number }[];
  /** Registered certificates (PEM); client assertions must carry one's x5t or x5t#S256. */
  readonly certificates: readonly string[];
  /** Application roles granted with admin consent, per resource. */
  readonly graphRoles: readonly string[];
  readonly reportingRoles: readonly string[];
}

export interface EmulatorTenant {
  /** Short name used by the emulator's own control API and logs. */
  readonly name: string;
  /** Directory (tenant) GUID. */
  readonly tenantId: string;
  /** The initial domain, `name.onmicrosoft.com`; also accepted in place of the GUID. */
  readonly domain: string;
  /** Accepted domains: mail between them is internal. */
  readonly acceptedDomains: readonly string[];
  /** Average messages a day (before recipient fan-out); the hourly curve shapes it. */
  readonly messagesPerDay: number;
  /** Seed of this tenant's mail flow. */
  readonly seed: number;
  /** Graph: the service principal of app 8bd644d1-64a1-4d4b-ae52-2e0cbf64e373 exists. */
  readonly servicePrincipal: boolean;
  /** Reporting Web Service: the app holds an admin directory role (Global Reader…). */
  readonly reportingReader: boolean;
  readonly apps: readonly EmulatorApp[];
}

/**
 * The mail flow of every tenant, generated lazily and deterministically: the same tenant seed
 * gives the same rows in every run, and nothing older or newer than asked is held in memory.
 */
export interface TraceData {
  /**
   * Rows received in [fromMs, toMs] (both inclusive) that are visible at `asOf`, newest first
   * (compareNewestFirst), starting strictly after `after` when given. Lazy: callers stop early.
   */
  rows(
    tenant: EmulatorTenant,
    fromMs: number,
    toMs: number,
    asOf: number,
    after?: RowKey,
  ): Iterable<TraceRow>;
  /**
   * Every row received in [fromMs, toMs], visible yet or not, newest first: the ground truth that
   * tests compare a collector's output with.
   */
  everyRow(tenant: EmulatorTenant, fromMs: number, toMs: number): Iterable<TraceRow>;
  /** The rows of one message, visible or not; empty for an unknown trace id. */
  message(tenant: EmulatorTenant, traceId: string): readonly TraceRow[];
}
