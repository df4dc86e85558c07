/**
 * The field reference: every field the normalizer can emit, its ECS type, where it comes from and
 * in which profile. `docs/fields.md` is rendered from this table (`npm run docs:fields`), and a
 * test proves that the normalizer emits exactly these fields, so neither can drift.
 */
import type { Profile } from './ecs.js';

export type FieldType = 'date' | 'keyword' | 'wildcard' | 'ip' | 'long' | 'match_only_text';

export interface FieldSpec {
  /** Dotted ECS name. */
  readonly name: string;
  readonly type: FieldType;
  /** `seed`: in both profiles; `full`: only in the full profile. */
  readonly profile: Profile;
  /** Whether the value is an array. */
  readonly array?: boolean;
  /** Which events carry it: message trace rows, detail steps, or both. */
  readonly events: 'rows' | 'details' | 'both';
  /** Where the value comes from, and the rule applied. */
  readonly source: string;
}

export const FIELDS: readonly FieldSpec[] = [
  {
    name: '@timestamp',
    type: 'date',
    profile: 'seed',
    events: 'both',
    source:
      'Received / receivedDateTime (details: Date / dateTime), in UTC with exactly 6 fractional digits, extra digits truncated; an ISO time without a zone is UTC',
  },
  {
    name: 'message',
    type: 'match_only_text',
    profile: 'seed',
    events: 'both',
    source:
      "the original record text, verbatim (an envelope's `message`, trailing newline included); for a row expanded from a page or an array, its compact JSON",
  },
  {
    name: 'event.action',
    type: 'keyword',
    profile: 'seed',
    events: 'both',
    source:
      "Status / status in the canonical spelling (`GettingStatus`, `Delivered`…; unknown values as given); details: the step's Event / event",
  },
  {
    name: 'event.category',
    type: 'keyword',
    profile: 'seed',
    array: true,
    events: 'both',
    source: 'constant `["email"]`',
  },
  {
    name: 'event.type',
    type: 'keyword',
    profile: 'seed',
    array: true,
    events: 'both',
    source: 'constant `["info"]`',
  },
  {
    name: 'email.from.address',
    type: 'keyword',
    profile: 'seed',
    array: true,
    events: 'both',
    source: 'SenderAddress / senderAddress; absent when null or empty',
  },
  {
    name: 'email.to.address',
    type: 'keyword',
    profile: 'seed',
    array: true,
    events: 'both',
    source: 'RecipientAddress / recipientAddress; absent when null or empty',
  },
  {
    name: 'email.message_id',
    type: 'wildcard',
    profile: 'seed',
    events: 'both',
    source: 'MessageId / messageId, verbatim with its angle brackets; absent when null or empty',
  },
  {
    name: 'email.subject',
    type: 'keyword',
    profile: 'seed',
    events: 'rows',
    source: 'Subject / subject, verbatim; absent when null or empty',
  },
  {
    name: 'office365.message_trace.MessageTraceId',
    type: 'keyword',
    profile: 'seed',
    events: 'both',
    source: 'MessageTraceId / id (required: a record without it is rejected)',
  },
  {
    name: 'office365.message_trace.Size',
    type: 'long',
    profile: 'seed',
    events: 'rows',
    source:
      'Size / size in bytes; `0` kept; a numeric string becomes a number; anything but a whole number of bytes is left out',
  },
  {
    name: 'organization.name',
    type: 'keyword',
    profile: 'seed',
    events: 'both',
    source:
      "Organization; for rows without one (Graph, PowerShell) the configured organization (`organization`, `--organization`); when collecting without one configured, the tenant's domain (its `tenantId` when that is a domain, else its first accepted domain), else its `name`",
  },
  {
    name: 'source.ip',
    type: 'ip',
    profile: 'seed',
    events: 'rows',
    source: 'FromIP / fromIP, only when a valid IPv4 or IPv6 address',
  },
  { name: 'source.address', type: 'keyword', profile: 'seed', events: 'rows', source: 'same as source.ip' },
  {
    name: 'related.ip',
    type: 'ip',
    profile: 'seed',
    array: true,
    events: 'rows',
    source: 'source.ip (and, in full, destination.ip), distinct',
  },
  { name: 'event.kind', type: 'keyword', profile: 'full', events: 'both', source: 'constant `event`' },
  {
    name: 'event.outcome',
    type: 'keyword',
    profile: 'full',
    events: 'both',
    source:
      '`Delivered` → `success`; `Failed`, `FilteredAsSpam`, `Quarantined` → `failure`; anything else (and every detail step) → `unknown`',
  },
  {
    name: 'event.id',
    type: 'keyword',
    profile: 'full',
    events: 'both',
    source:
      "UUID (version 8) from SHA-256 of lower-cased trace id, recipient and status: equal for the same row in the same state from any API; details: also the step's time, event and description",
  },
  {
    name: 'event.dataset',
    type: 'keyword',
    profile: 'full',
    events: 'both',
    source: 'constant `office365.message_trace`',
  },
  { name: 'event.module', type: 'keyword', profile: 'full', events: 'both', source: 'constant `office365`' },
  { name: 'email.local_id', type: 'keyword', profile: 'full', events: 'both', source: 'the trace id' },
  {
    name: 'email.direction',
    type: 'keyword',
    profile: 'full',
    events: 'both',
    source:
      'accepted domains (exact or subdomain, case-insensitive): both local `internal`, sender only `outbound`, recipient only `inbound`, neither `external`; absent when no accepted domains are configured',
  },
  {
    name: 'destination.ip',
    type: 'ip',
    profile: 'full',
    events: 'rows',
    source: 'ToIP / toIP, only when a valid IP (`""` and null mean none)',
  },
  {
    name: 'destination.address',
    type: 'keyword',
    profile: 'full',
    events: 'rows',
    source: 'same as destination.ip',
  },
  {
    name: 'source.user.email',
    type: 'keyword',
    profile: 'full',
    events: 'both',
    source: 'the sender address',
  },
  {
    name: 'destination.user.email',
    type: 'keyword',
    profile: 'full',
    events: 'both',
    source: 'the recipient address',
  },
  {
    name: 'related.user',
    type: 'keyword',
    profile: 'full',
    array: true,
    events: 'both',
    source: 'sender and recipient addresses, distinct',
  },
  {
    name: 'organization.id',
    type: 'keyword',
    profile: 'full',
    events: 'both',
    source:
      "the collecting tenant's configured `tenantId` (directory GUID or domain): which tenant an event came from, whatever its organization.name; absent from `parse`",
  },
  {
    name: 'office365.message_trace.tenant',
    type: 'keyword',
    profile: 'full',
    events: 'both',
    source:
      "the collecting tenant's configured `name` (the one its state, logs and metrics use); absent from `parse`",
  },
  {
    name: 'ecs.version',
    type: 'keyword',
    profile: 'full',
    events: 'both',
    source: 'the ECS version the output is validated against',
  },
  {
    name: 'office365.message_trace.detail.action',
    type: 'keyword',
    profile: 'seed',
    events: 'details',
    source: "the step's Action / action; absent when empty",
  },
  {
    name: 'office365.message_trace.detail.description',
    type: 'keyword',
    profile: 'seed',
    events: 'details',
    source: "the step's Detail / description",
  },
  {
    name: 'office365.message_trace.detail.data',
    type: 'keyword',
    profile: 'seed',
    events: 'details',
    source: "the step's Data / data (an XML blob), verbatim",
  },
];

/** docs/fields.md, rendered from FIELDS. */
export function renderFieldsDoc(ecsVersion: string): string {
  const row = (f: FieldSpec): string =>
    `| \`${f.name}\` | ${f.type}${f.array === true ? ' (array)' : ''} | ${f.profile === 'seed' ? 'seed, full' : 'full'} | ${f.events} | ${f.source.replace(/\|/g, '\\|')} |`;
  return [
    '# Field reference',
    '',
    '<!-- Generated from src/normalize/fields.ts by `npm run docs:fields`; a test fails when this file and the code disagree. -->',
    '',
    `Every field exotrace emits, validated against ECS ${ecsVersion} (custom fields live under`,
    '`office365.message_trace.*`). Profiles: `seed` is exactly the documented Sekoia.io output;',
    '`full` (the default) adds ECS enrichments and never changes a seed field. "Rows" are message',
    'trace rows (one per message and recipient); "details" are detail steps',
    '(`getDetailsByRecipient`, `MessageTraceDetail`). Source names are the Reporting Web Service /',
    'PowerShell spelling, then the Graph spelling.',
    '',
    'Never mapped: `StartDate`, `EndDate` and `Index` (they echo the query, not the message).',
    '',
    '| field | type | profiles | events | source and rule |',
    '|---|---|---|---|---|',
    ...FIELDS.map(row),
    '',
  ].join('\n');
}
