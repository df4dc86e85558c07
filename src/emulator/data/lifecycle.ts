/**
 * What happens to one recipient row after the message is received: its status timeline
 * (GettingStatus or Pending, then a final status seconds to hours later), the detail events that
 * explain it, and when the row becomes visible to the APIs. Details are derived from the row's
 * own timeline, so the two can never disagree.
 */
import type { DetailStep, StatusStep, TraceRow } from '../model.js';
import type { ExternalDomain } from './directory.js';
import type { Rng } from './prng.js';
import { DEFERRALS } from './vocabulary.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * Received → visible: "between 5–10 minutes" for most rows (Microsoft's FAQ), a tail that third
 * parties report up to 24 hours; about 1% of messages take more than an hour.
 */
export function visibilityDelay(rng: Rng): number {
  const u = rng.float();
  if (u < 0.9) return Math.round(5 * MINUTE + rng.float() * 5 * MINUTE);
  if (u < 0.99) return Math.round(rng.logUniform(10 * MINUTE, HOUR));
  return Math.round(rng.logUniform(HOUR, 24 * HOUR));
}

/** Time from the previous event to the final status: seconds mostly, minutes often, hours rarely. */
function settleDelay(rng: Rng): number {
  const u = rng.float();
  if (u < 0.75) return Math.round(rng.logUniform(SECOND, 30 * SECOND));
  if (u < 0.95) return Math.round(rng.logUniform(30 * SECOND, 5 * MINUTE));
  if (u < 0.99) return Math.round(rng.logUniform(5 * MINUTE, HOUR));
  return Math.round(rng.logUniform(HOUR, 6 * HOUR));
}

/** The end of a row's life, decided by the message generator. */
export type Outcome =
  | { readonly status: 'Delivered'; readonly deferred?: true }
  | { readonly status: 'Failed'; readonly reason: string; readonly deferred?: true }
  | { readonly status: 'FilteredAsSpam'; readonly scl: number }
  | { readonly status: 'Quarantined'; readonly reason: string }
  | { readonly status: 'Expanded' };

/** What every recipient row of a message shares, beyond the row's own fields. */
export interface MessageContext {
  /** The Exchange Online server that received it. */
  readonly server: string;
  /** Sent by a mailbox of the tenant (internal and outbound mail): a `Submit` event follows `Receive`. */
  readonly submittedAt: number | undefined;
  /** The first timeline step, shared by the rows that start in GettingStatus. */
  readonly gettingStatus: StatusStep;
}

/** A distribution list's expansion, shared by the list's row and each member's. */
export interface Expansion {
  readonly list: string;
  readonly at: number;
  readonly members: number;
}

/** The instant after which the outcome can happen: the last of Receive, Submit and Expand. */
function lastPreparation(received: number, message: MessageContext, expansion?: Expansion): number {
  return expansion?.at ?? message.submittedAt ?? received;
}

/**
 * The status timeline of one row. A deferred row sits in `Pending` for one to eight hours before
 * its outcome; others settle seconds to minutes (rarely hours) after their last preparation step.
 */
export function timelineOf(
  rng: Rng,
  received: number,
  message: MessageContext,
  expansion: Expansion | undefined,
  outcome: Outcome,
): readonly StatusStep[] {
  const ready = lastPreparation(received, message, expansion);
  if (outcome.status === 'Expanded') return [message.gettingStatus, { at: ready, status: 'Expanded' }];
  if ((outcome.status === 'Delivered' || outcome.status === 'Failed') && outcome.deferred === true) {
    const pendingAt = ready + Math.round(rng.logUniform(2 * SECOND, 2 * MINUTE));
    const finalAt = pendingAt + Math.round(rng.logUniform(HOUR, 8 * HOUR));
    return [
      message.gettingStatus,
      { at: pendingAt, status: 'Pending' },
      { at: finalAt, status: outcome.status },
    ];
  }
  // Some rows are already queued when trace first sees them: they start out Pending.
  const first: StatusStep = rng.chance(0.06) ? { at: received, status: 'Pending' } : message.gettingStatus;
  return [first, { at: ready + settleDelay(rng), status: outcome.status }];
}

/**
 * The detail events of a row, rebuilt from its fields and timeline on each call: Receive, Submit
 * (mail from the tenant), Expand (lists and their members), Defer (while Pending), then the event
 * of the final status at the instant the timeline reaches it.
 */
export function detailsOf(
  row: TraceRow,
  message: MessageContext,
  expansion: Expansion | undefined,
  outcome: Outcome,
  remote: ExternalDomain | undefined,
): DetailStep[] {
  const originating = message.submittedAt !== undefined;
  const steps: DetailStep[] = [
    step(
      row.received,
      'Receive',
      `Message received by: ${message.server}`,
      `<root><MEP Name="ConnectorId" String="${originating ? 'Client Submission' : 'Default Frontend'}"/>` +
        `<MEP Name="ClientIP" String="${row.fromIp}"/>` +
        `<MEP Name="ReturnPath" String="${xmlEscape(row.sender ?? '<>')}"/>` +
        `<MEP Name="Directionality" String="${originating ? 'Originating' : 'Incoming'}"/>` +
        `<MEP Name="MessageSize" Integer="${row.size}"/></root>`,
    ),
  ];
  if (message.submittedAt !== undefined) {
    steps.push(step(message.submittedAt, 'Submit', 'The message was submitted.', SUBMIT_DATA));
  }
  if (expansion !== undefined) {
    steps.push(
      step(
        expansion.at,
        'Expand',
        `The message was expanded by distribution group ${expansion.list} to ${expansion.members} recipients.`,
        `<root><MEP Name="DistributionGroup" String="${expansion.list}"/>` +
          `<MEP Name="RecipientCount" Integer="${expansion.members}"/></root>`,
      ),
    );
  }
  if (outcome.status === 'Expanded') return steps;

  const pending = row.timeline.length > 2 ? row.timeline[1] : undefined;
  const final = row.timeline[row.timeline.length - 1];
  if (final === undefined) return steps;
  if (pending !== undefined) {
    // The queue retries in between; the reason is a function of the row so every call agrees.
    const reason = DEFERRALS[pending.at % DEFERRALS.length] ?? '';
    steps.push(step(pending.at, 'Defer', reason, retryData(1)));
    steps.push(step(Math.round((pending.at + final.at) / 2), 'Defer', reason, retryData(2)));
  }
  steps.push(finalStep(final.at, outcome, row.toIp, remote));
  return steps;
}

const SUBMIT_DATA = '<root><MEP Name="Submitter" String="MailboxTransportSubmission"/></root>';
const DELIVER_DATA = '<root><MEP Name="DeliveryPriority" String="Normal"/></root>';

const step = (at: number, event: string, description: string, data: string, action = ''): DetailStep => ({
  at,
  event,
  action,
  description,
  data,
});

const retryData = (attempt: number): string => `<root><MEP Name="RetryCount" Integer="${attempt}"/></root>`;

function finalStep(
  at: number,
  outcome: Outcome,
  toIp: string | null,
  remote: ExternalDomain | undefined,
): DetailStep {
  switch (outcome.status) {
    case 'Delivered':
      // Mail for another organization is sent to its MX; the tenant's own is delivered to a mailbox.
      if (toIp !== null && remote !== undefined) {
        return step(
          at,
          'Send',
          `The message was sent to ${remote.mxHost} at ${toIp} using TLS1.3 with AES256.`,
          `<root><MEP Name="RemoteIP" String="${toIp}"/><MEP Name="TlsVersion" String="TLS1.3"/></root>`,
        );
      }
      return step(at, 'Deliver', 'The message was successfully delivered.', DELIVER_DATA);
    case 'Failed':
      return step(
        at,
        'Fail',
        outcome.reason,
        `<root><MEP Name="DeliveryStatus" String="${xmlEscape(outcome.reason)}"/></root>`,
      );
    case 'FilteredAsSpam':
      return step(
        at,
        'Spam',
        `The message was marked as spam (SCL ${outcome.scl}) and moved to the Junk Email folder.`,
        `<root><MEP Name="SCL" Integer="${outcome.scl}"/><MEP Name="SFV" String="SPM"/></root>`,
        'SetSpamConfidenceLevel',
      );
    case 'Quarantined':
      return step(
        at,
        'Quarantine',
        `The message was quarantined: ${outcome.reason}.`,
        `<root><MEP Name="QuarantineReason" String="${xmlEscape(outcome.reason)}"/></root>`,
      );
    case 'Expanded':
      return step(at, 'Expand', 'The message was expanded.', '<root/>');
  }
}

/** Escapes text for an XML attribute value. */
function xmlEscape(text: string): string {
  return text.replace(/[<>&"]/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : '&quot;',
  );
}
