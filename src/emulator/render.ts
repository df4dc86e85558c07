/**
 * How each API spells a row: Graph v1.0 (camelCase status), Graph beta (PascalCase status and
 * `@odata.type`), and the Reporting Web Service's two JSON dialects (verbose OData with
 * `/Date(ms)/`; JSON light with a zone-less ISO `Received` of seven fractional digits).
 */
import { statusAt, type DetailStep, type EmulatorTenant, type TraceRow, type TraceStatus } from './model.js';

export type GraphFlavor = 'v1.0' | 'beta';
export type ReportingDialect = 'verbose' | 'light';

export const GRAPH_ODATA_TYPE = '#microsoft.graph.exchangeMessageTrace';

/** Graph v1.0 status spelling: `gettingStatus`, `filteredAsSpam`… */
export function graphStatus(status: TraceStatus, flavor: GraphFlavor): string {
  return flavor === 'beta' ? status : status.charAt(0).toLowerCase() + status.slice(1);
}

/** Graph serializes DateTimeOffset in whole seconds in its examples: `2026-01-21T14:12:34Z`. */
export function graphDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}

export function renderGraphRow(row: TraceRow, asOf: number, flavor: GraphFlavor): Record<string, unknown> {
  const body = {
    id: row.traceId,
    senderAddress: row.sender,
    recipientAddress: row.recipient,
    messageId: row.messageId,
    receivedDateTime: graphDateTime(row.received),
    subject: row.subject,
    size: row.size,
    fromIP: row.fromIp,
    // Graph sends an empty string, not null, when there is no destination IP (inbound mail).
    toIP: row.toIp ?? '',
    status: graphStatus(statusAt(row, asOf), flavor),
  };
  return flavor === 'beta' ? { '@odata.type': GRAPH_ODATA_TYPE, ...body } : body;
}

export function renderGraphDetail(row: TraceRow, step: DetailStep): Record<string, unknown> {
  // Microsoft's example repeats the trace id as every step's id.
  return {
    id: row.traceId,
    messageId: row.messageId,
    dateTime: graphDateTime(step.at),
    event: step.event,
    action: step.action,
    description: step.description,
    data: step.data,
  };
}

/** `/Date(1658751973240)/`: OData verbose JSON (the backslashes of `\/` are JSON's, not ours). */
function msDate(ms: number): string {
  return `/Date(${ms})/`;
}

/** Seven fractional digits, as .NET prints DateTime: milliseconds, then the sub-millisecond ticks. */
function isoTicks(ms: number, ticks: number): string {
  return new Date(ms).toISOString().slice(0, 23) + String(ticks).padStart(4, '0');
}

export interface ReportingWindow {
  readonly from: number;
  readonly to: number;
}

export function reportingTime(
  ms: number,
  ticks: number,
  dialect: ReportingDialect,
  withZone: boolean,
): string {
  if (dialect === 'verbose') return msDate(ms);
  return isoTicks(ms, ticks) + (withZone ? 'Z' : '');
}

/** What every row of one Reporting Web Service page shares. */
export interface ReportingPage {
  readonly tenant: EmulatorTenant;
  readonly window: ReportingWindow;
  readonly dialect: ReportingDialect;
  /** `https://…/ecp/ReportingWebService/Reporting.svc/MessageTrace`, for `__metadata`. */
  readonly entityUrl: string;
}

/** Verbose OData puts each entity's address and type first; JSON light has neither. */
function entity(
  body: Record<string, unknown>,
  page: ReportingPage,
  index: number,
  type: string,
): Record<string, unknown> {
  if (page.dialect === 'light') return body;
  const id = `${page.entityUrl}(${index})`;
  return { __metadata: { id, uri: id, type }, ...body };
}

export function renderReportingRow(
  row: TraceRow,
  asOf: number,
  index: number,
  page: ReportingPage,
): Record<string, unknown> {
  const { dialect, window } = page;
  const body = {
    Organization: page.tenant.domain,
    MessageId: row.messageId,
    // JSON light prints Received without a zone although it is UTC (as the real service does).
    Received: reportingTime(row.received, row.receivedTicks, dialect, false),
    SenderAddress: row.sender,
    RecipientAddress: row.recipient,
    Subject: row.subject,
    Status: statusAt(row, asOf),
    ToIP: row.toIp,
    FromIP: row.fromIp,
    Size: row.size,
    MessageTraceId: row.traceId,
    StartDate: reportingTime(window.from, 0, dialect, true),
    EndDate: reportingTime(window.to, 0, dialect, true),
    Index: index,
  };
  return entity(body, page, index, 'TenantReporting.MessageTrace');
}

export function renderReportingDetail(
  row: TraceRow,
  step: DetailStep,
  index: number,
  page: ReportingPage,
): Record<string, unknown> {
  const { dialect, window } = page;
  const body = {
    Organization: page.tenant.domain,
    MessageId: row.messageId,
    Date: reportingTime(step.at, 0, dialect, false),
    Event: step.event,
    Action: step.action === '' ? null : step.action,
    Detail: step.description,
    Data: step.data,
    MessageTraceId: row.traceId,
    RecipientAddress: row.recipient,
    SenderAddress: row.sender,
    StartDate: reportingTime(window.from, 0, dialect, true),
    EndDate: reportingTime(window.to, 0, dialect, true),
    Index: index,
  };
  return entity(body, page, index, 'TenantReporting.MessageTraceDetail');
}
