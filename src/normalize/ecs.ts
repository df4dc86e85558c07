/**
 * Canonical row → ECS event, in the two profiles of the contract (`docs/fields.md`,
 * `../shared/spec/ecs-mapping.md`). Keys are written in the seed's order, so a `seed` event
 * serializes to exactly the documented text; `full` adds its fields after the seed's ones.
 */
import type { CanonicalDetail, CanonicalRow } from './canonical.js';
import type { DirectionOf, EmailDirection } from './direction.js';
import { detailEventId, rowEventId } from './event-id.js';
import { outcomeOf, type EventOutcome } from './status.js';
import { formatTimestamp } from './timestamp.js';

export type Profile = 'seed' | 'full';
export const PROFILES: readonly Profile[] = ['seed', 'full'];

/** The ECS version the output is validated against (a test keeps it equal to @elastic/ecs). */
export const ECS_VERSION = '9.4.0';

export const EVENT_DATASET = 'office365.message_trace';
export const EVENT_MODULE = 'office365';

export interface MessageTraceEvent {
  message: string;
  event: {
    action?: string;
    category: ['email'];
    type: ['info'];
    kind?: 'event';
    outcome?: EventOutcome;
    id?: string;
    dataset?: typeof EVENT_DATASET;
    module?: typeof EVENT_MODULE;
  };
  '@timestamp': string;
  email?: {
    from?: { address: [string] };
    message_id?: string;
    subject?: string;
    to?: { address: [string] };
    local_id?: string;
    direction?: EmailDirection;
  };
  office365: {
    message_trace: {
      MessageTraceId: string;
      Size?: number;
      detail?: { action?: string; description?: string; data?: string };
      /** The configured name of the tenant the event was collected from (full profile). */
      tenant?: string;
    };
  };
  organization?: { name?: string; id?: string };
  related?: { ip?: string[]; user?: string[] };
  source?: { address: string; ip: string; user?: { email: string } } | { user: { email: string } };
  destination?: { address: string; ip: string; user?: { email: string } } | { user: { email: string } };
  ecs?: { version: string };
}

export interface EcsContext {
  readonly profile: Profile;
  readonly directionOf: DirectionOf;
  /** The collecting tenant (full profile): its configured name and its directory id. */
  readonly tenant?: { readonly name: string; readonly id: string };
}

/**
 * organization.name as the record or the configuration gives it and, in the full profile, the
 * tenant's id beside it; undefined when there is neither. With several tenants in one index,
 * this is what attributes an event to its tenant.
 */
function organizationOf(name: string | undefined, ctx: EcsContext): MessageTraceEvent['organization'] {
  const id = ctx.profile === 'full' ? ctx.tenant?.id : undefined;
  if (name === undefined) return id === undefined ? undefined : { id };
  return id === undefined ? { name } : { name, id };
}

/** office365.message_trace.tenant in the full profile, when collected for a configured tenant. */
function tagTenant(trace: MessageTraceEvent['office365']['message_trace'], ctx: EcsContext): void {
  if (ctx.profile === 'full' && ctx.tenant !== undefined) trace.tenant = ctx.tenant.name;
}

type EmailFields = NonNullable<MessageTraceEvent['email']>;
type Building = Omit<MessageTraceEvent, 'office365'> & Partial<Pick<MessageTraceEvent, 'office365'>>;

/** The who-and-what every event carries: message, categorization, time and email fields. */
interface Common {
  readonly original: string;
  readonly action: string | undefined;
  readonly timestamp: string;
  readonly traceId: string;
  readonly sender: string | undefined;
  readonly recipient: string | undefined;
  readonly messageId: string | undefined;
  readonly subject: string | undefined;
}

function startEvent(c: Common, ctx: EcsContext, outcome: EventOutcome, id: string): Building {
  const full = ctx.profile === 'full';
  // `action` first when present, as in the seed.
  const event: MessageTraceEvent['event'] =
    c.action === undefined
      ? { category: ['email'], type: ['info'] }
      : { action: c.action, category: ['email'], type: ['info'] };
  if (full) {
    event.kind = 'event';
    event.outcome = outcome;
    event.id = id;
    event.dataset = EVENT_DATASET;
    event.module = EVENT_MODULE;
  }
  const out: Building = { message: c.original, event, '@timestamp': c.timestamp };
  const email: EmailFields = {};
  if (c.sender !== undefined) email.from = { address: [c.sender] };
  if (c.messageId !== undefined) email.message_id = c.messageId;
  if (c.subject !== undefined) email.subject = c.subject;
  if (c.recipient !== undefined) email.to = { address: [c.recipient] };
  if (full) {
    email.local_id = c.traceId;
    const direction = ctx.directionOf(c.sender, c.recipient);
    if (direction !== undefined) email.direction = direction;
  }
  if (full || Object.keys(email).length > 0) out.email = email;
  return out;
}

function distinct(a: string | undefined, b: string | undefined): string[] | undefined {
  if (a === undefined) return b === undefined ? undefined : [b];
  return b === undefined || b === a ? [a] : [a, b];
}

function endpoint(
  ip: string | undefined,
  userEmail: string | undefined,
): MessageTraceEvent['source'] | undefined {
  if (ip !== undefined) {
    return userEmail === undefined ? { address: ip, ip } : { address: ip, ip, user: { email: userEmail } };
  }
  return userEmail === undefined ? undefined : { user: { email: userEmail } };
}

/** related, source, destination and ecs, in the seed's order; the full profile's parts only there. */
function finishEvent(
  out: MessageTraceEvent,
  full: boolean,
  fromIp: string | undefined,
  toIp: string | undefined,
  sender: string | undefined,
  recipient: string | undefined,
): MessageTraceEvent {
  const relatedIp = distinct(fromIp, full ? toIp : undefined);
  const relatedUser = full ? distinct(sender, recipient) : undefined;
  if (relatedIp !== undefined || relatedUser !== undefined) {
    const related: NonNullable<MessageTraceEvent['related']> = {};
    if (relatedIp !== undefined) related.ip = relatedIp;
    if (relatedUser !== undefined) related.user = relatedUser;
    out.related = related;
  }
  const source = endpoint(fromIp, full ? sender : undefined);
  if (source !== undefined) out.source = source;
  if (full) {
    const destination = endpoint(toIp, recipient);
    if (destination !== undefined) out.destination = destination;
    out.ecs = { version: ECS_VERSION };
  }
  return out;
}

export function rowToEcs(row: CanonicalRow, ctx: EcsContext): MessageTraceEvent {
  const full = ctx.profile === 'full';
  const out = startEvent(
    {
      original: row.original,
      action: row.status,
      timestamp: formatTimestamp(row.received),
      traceId: row.traceId,
      sender: row.sender,
      recipient: row.recipient,
      messageId: row.messageId,
      subject: row.subject,
    },
    ctx,
    outcomeOf(row.status),
    full ? rowEventId(row.traceId, row.recipient, row.status) : '',
  );
  const trace: MessageTraceEvent['office365']['message_trace'] = { MessageTraceId: row.traceId };
  if (row.size !== undefined) trace.Size = row.size;
  tagTenant(trace, ctx);
  const event = out as MessageTraceEvent; // complete from here on
  event.office365 = { message_trace: trace };
  const organization = organizationOf(row.organization, ctx);
  if (organization !== undefined) event.organization = organization;
  return finishEvent(event, full, row.fromIp, row.toIp, row.sender, row.recipient);
}

/** A detail step as its own event, tied to its row by MessageTraceId and the email fields. */
export function detailToEcs(detail: CanonicalDetail, ctx: EcsContext): MessageTraceEvent {
  const full = ctx.profile === 'full';
  const timestamp = formatTimestamp(detail.at);
  const out = startEvent(
    {
      original: detail.original,
      action: detail.event,
      timestamp,
      traceId: detail.traceId,
      sender: detail.sender,
      recipient: detail.recipient,
      messageId: detail.messageId,
      subject: detail.subject,
    },
    ctx,
    'unknown',
    full ? detailEventId(detail.traceId, detail.recipient, timestamp, detail.event, detail.description) : '',
  );
  const step: NonNullable<MessageTraceEvent['office365']['message_trace']['detail']> = {};
  if (detail.action !== undefined) step.action = detail.action;
  if (detail.description !== undefined) step.description = detail.description;
  if (detail.data !== undefined) step.data = detail.data;
  const trace: MessageTraceEvent['office365']['message_trace'] = { MessageTraceId: detail.traceId };
  if (Object.keys(step).length > 0) trace.detail = step;
  tagTenant(trace, ctx);
  const event = out as MessageTraceEvent; // complete from here on
  event.office365 = { message_trace: trace };
  const organization = organizationOf(detail.organization, ctx);
  if (organization !== undefined) event.organization = organization;
  return finishEvent(event, full, undefined, undefined, detail.sender, detail.recipient);
}
