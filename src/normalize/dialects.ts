/**
 * Dialect detection and extraction: from a parsed JSON record to a canonical row or detail.
 * Key names are matched exactly as each API spells them (Graph camelCase, Reporting Web Service
 * and PowerShell PascalCase); values are cleaned the same way for all of them.
 */
import type { CanonicalDetail, CanonicalRecord, CanonicalRow, SourceApi } from './canonical.js';
import { validIp } from './ip.js';
import { pageEnvelopeOf } from './page.js';
import { canonicalStatus } from './status.js';
import { parseInstant } from './timestamp.js';

export type JsonObject = Record<string, unknown>;

/** What a parsed JSON value is, as far as message trace goes. */
export type Shape =
  | { kind: 'page'; rows: unknown[] }
  | { kind: 'envelope'; message: string }
  | { kind: 'graph-row' | 'reporting-row' | 'graph-detail' | 'reporting-detail'; record: JsonObject }
  | { kind: 'list'; items: unknown[] }
  | { kind: 'unknown'; reason: string };

const GRAPH_ROW_KEYS = ['receivedDateTime', 'recipientAddress', 'senderAddress', 'fromIP', 'toIP'];
const REPORTING_ROW_KEYS = [
  'MessageTraceId',
  'Received',
  'RecipientAddress',
  'SenderAddress',
  'FromIP',
  'ToIP',
];

/**
 * The shape of a whole input (a body, an NDJSON line, an array element, an envelope's message):
 * it may be a page, an array or an envelope, expanded by the normalizer. The elements of a page are
 * not inputs: they are read with `pageElementShapeOf`.
 */
export function shapeOf(value: unknown): Shape {
  if (Array.isArray(value)) return { kind: 'list', items: value };
  if (value === null || typeof value !== 'object') {
    return { kind: 'unknown', reason: `not a JSON object (got ${describe(value)})` };
  }
  const record = value as JsonObject;
  // A page before any row check: its envelope alone decides (page.ts), so that a page with an
  // unexpected row-like key beside its rows (`"toIP": ""`) is still expanded, never taken as a row.
  // The source reads a body the same way, so rows counted there are the rows expanded here.
  const page = pageEnvelopeOf(record);
  if (page !== undefined) return { kind: 'page', rows: page.rows };
  const shape = recordShapeOf(record);
  if (shape !== undefined) return shape;
  if (typeof record.message === 'string') return { kind: 'envelope', message: record.message };
  return {
    kind: 'unknown',
    reason:
      'not a message trace record: no Graph fields (id, receivedDateTime…), no Reporting Web ' +
      'Service fields (MessageTraceId, Received…), no page (value, d.results) and no envelope (message)',
  };
}

/**
 * The shape of one element of a page: a row or a detail, else unknown (a reject). Never a page, an
 * array or an envelope: the source counted this element as one row, so it must give exactly one
 * event or one reject. A row with a stray `"value": []` or `"d": []` beside its fields is a row
 * (taken for an empty page once, it gave no event and blocked its window for ever).
 */
export function pageElementShapeOf(value: unknown): Shape {
  // An array inside a page is no row of any API (the sources refuse such a page before it gets
  // here): one reject, like any element that is not an object. Walked as a list, `{"value":[[]]}`
  // gave neither an event nor a reject, and the element was silently lost.
  if (Array.isArray(value)) {
    return {
      kind: 'unknown',
      reason: 'a page element that is an array, not a message trace row (an object)',
    };
  }
  if (value === null || typeof value !== 'object') {
    return { kind: 'unknown', reason: `not a JSON object (got ${describe(value)})` };
  }
  return (
    recordShapeOf(value as JsonObject) ?? {
      kind: 'unknown',
      reason:
        'a page element that is not a message trace row: no Graph fields (id, receivedDateTime…) ' +
        'and no Reporting Web Service fields (MessageTraceId, Received…)',
    }
  );
}

/** A row or a detail of any API, on its keys; undefined when it is neither. */
function recordShapeOf(record: JsonObject): Shape | undefined {
  // The usual cases first, on their most telling key: this runs for every record.
  if ('MessageTraceId' in record && 'Received' in record) return { kind: 'reporting-row', record };
  if ('receivedDateTime' in record) return { kind: 'graph-row', record };
  // Details before the other row checks: a Graph detail carries `id` and `messageId` like a row does.
  if ('Event' in record && 'Date' in record && !('Received' in record)) {
    return { kind: 'reporting-detail', record };
  }
  if ('event' in record && 'dateTime' in record && !('receivedDateTime' in record)) {
    return { kind: 'graph-detail', record };
  }
  if (REPORTING_ROW_KEYS.some((key) => key in record)) return { kind: 'reporting-row', record };
  if (GRAPH_ROW_KEYS.some((key) => key in record)) return { kind: 'graph-row', record };
  return undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  return typeof value;
}

export type Extracted = { ok: true; record: CanonicalRecord } | { ok: false; reason: string };

export interface ExtractContext {
  /** The `message` text for this record. */
  readonly original: string;
  /** organization.name when the row has none (Graph rows). */
  readonly organization: string | undefined;
}

/** A non-empty string, else undefined: the APIs use null and "" alike for "no value". */
function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** A byte count: a non-negative whole number (ECS `long`), also when it came as a numeric string. */
function size(value: unknown): number | undefined {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\s*\d+\s*$/.test(value)
        ? Number(value)
        : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function status(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? canonicalStatus(value) : undefined;
}

function traceIdOf(value: unknown, key: string): { ok: true; id: string } | { ok: false; reason: string } {
  const id = text(value);
  if (id !== undefined) return { ok: true, id };
  if (value === undefined || value === null || value === '') {
    return { ok: false, reason: `missing trace id (${key})` };
  }
  return { ok: false, reason: `trace id (${key}) is not a string: ${JSON.stringify(value)}` };
}

export function extract(shape: Shape, ctx: ExtractContext): Extracted {
  switch (shape.kind) {
    case 'reporting-row':
      return reportingRow(shape.record, ctx);
    case 'graph-row':
      return graphRow(shape.record, ctx);
    case 'reporting-detail':
      return reportingDetail(shape.record, ctx);
    case 'graph-detail':
      return graphDetail(shape.record, ctx);
    case 'unknown':
      return { ok: false, reason: shape.reason };
    case 'page':
    case 'envelope':
    case 'list':
      return { ok: false, reason: `a ${shape.kind} is not a single record` };
  }
}

function reportingRow(r: JsonObject, ctx: ExtractContext): Extracted {
  const id = traceIdOf(r.MessageTraceId, 'MessageTraceId');
  if (!id.ok) return id;
  const received = parseInstant(r.Received);
  if (!received.ok) return { ok: false, reason: `received time (Received) ${received.reason}` };
  // Get-MessageTraceV2 | ConvertTo-Json has the same PascalCase keys but no Organization.
  const api: SourceApi = 'Organization' in r ? 'reporting' : 'powershell';
  const row: CanonicalRow = {
    kind: 'row',
    traceId: id.id,
    recipient: text(r.RecipientAddress),
    sender: text(r.SenderAddress),
    messageId: text(r.MessageId),
    subject: text(r.Subject),
    received: received.instant,
    status: status(r.Status),
    size: size(r.Size),
    fromIp: validIp(r.FromIP),
    toIp: validIp(r.ToIP),
    organization: text(r.Organization) ?? ctx.organization,
    api,
    original: ctx.original,
  };
  return { ok: true, record: row };
}

function graphRow(r: JsonObject, ctx: ExtractContext): Extracted {
  const id = traceIdOf(r.id, 'id');
  if (!id.ok) return id;
  const received = parseInstant(r.receivedDateTime);
  if (!received.ok) {
    return { ok: false, reason: `received time (receivedDateTime) ${received.reason}` };
  }
  const row: CanonicalRow = {
    kind: 'row',
    traceId: id.id,
    recipient: text(r.recipientAddress),
    sender: text(r.senderAddress),
    messageId: text(r.messageId),
    subject: text(r.subject),
    received: received.instant,
    status: status(r.status),
    size: size(r.size),
    fromIp: validIp(r.fromIP),
    toIp: validIp(r.toIP),
    organization: ctx.organization,
    api: 'graph',
    original: ctx.original,
  };
  return { ok: true, record: row };
}

function graphDetail(r: JsonObject, ctx: ExtractContext): Extracted {
  const id = traceIdOf(r.id, 'id');
  if (!id.ok) return id;
  const at = parseInstant(r.dateTime);
  if (!at.ok) return { ok: false, reason: `detail time (dateTime) ${at.reason}` };
  const detail: CanonicalDetail = {
    kind: 'detail',
    traceId: id.id,
    // Graph details are fetched per recipient; the row does not repeat it.
    recipient: text(r.recipientAddress),
    sender: text(r.senderAddress),
    messageId: text(r.messageId),
    subject: undefined,
    at: at.instant,
    event: text(r.event),
    action: text(r.action),
    description: text(r.description),
    data: text(r.data),
    organization: ctx.organization,
    api: 'graph',
    original: ctx.original,
  };
  return { ok: true, record: detail };
}

function reportingDetail(r: JsonObject, ctx: ExtractContext): Extracted {
  const id = traceIdOf(r.MessageTraceId, 'MessageTraceId');
  if (!id.ok) return id;
  const at = parseInstant(r.Date);
  if (!at.ok) return { ok: false, reason: `detail time (Date) ${at.reason}` };
  const detail: CanonicalDetail = {
    kind: 'detail',
    traceId: id.id,
    recipient: text(r.RecipientAddress),
    sender: text(r.SenderAddress),
    messageId: text(r.MessageId),
    subject: undefined,
    at: at.instant,
    event: text(r.Event),
    action: text(r.Action),
    description: text(r.Detail),
    data: text(r.Data),
    organization: text(r.Organization) ?? ctx.organization,
    api: 'Organization' in r ? 'reporting' : 'powershell',
    original: ctx.original,
  };
  return { ok: true, record: detail };
}
