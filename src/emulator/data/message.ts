/**
 * One message and its recipient rows: who sent it to whom (inbound, internal, outbound or a
 * null-sender bounce), what it looks like (subject, size, IPs, Message-ID), and each recipient's
 * fate, including distribution lists that expand into an `Expanded` row plus member rows.
 */
import type { TraceRow } from '../model.js';
import type { Directory, ExternalDomain } from './directory.js';
import { randomMessageId } from './ids.js';
import {
  timelineOf,
  visibilityDelay,
  type Expansion,
  type MessageContext,
  type Outcome,
} from './lifecycle.js';
import { GeneratedRow } from './row.js';
import type { Rng } from './prng.js';
import {
  EXPIRY,
  INTERNAL_FAILURES,
  QUARANTINE_REASONS,
  REMOTE_FAILURES,
  SPAM_SUBJECTS,
  SUBJECTS,
} from './vocabulary.js';

type Kind = 'inbound' | 'internal' | 'outbound' | 'bounce';
type Verdict = 'clean' | 'spam' | 'quarantine';

const KB = 1024;
const LOG_MEDIAN_SIZE = Math.log(30 * KB);
const MAX_SIZE = 30 * KB * KB;

/** The facts every recipient row of one message shares. */
interface Message {
  readonly kind: Kind;
  readonly verdict: Verdict;
  readonly traceId: string;
  readonly messageId: string;
  readonly sender: string | null;
  readonly subject: string | null;
  readonly size: number;
  readonly fromIp: string;
  readonly received: number;
  readonly receivedTicks: number;
  readonly visibleAt: number;
  /** The part rows keep for their details: small, since every cached row holds one. */
  readonly context: MessageContext;
}

/** The rows of one message, sorted by recipient as compareNewestFirst needs. */
export function generateMessage(
  rng: Rng,
  dir: Directory,
  traceId: string,
  received: number,
  receivedTicks: number,
): TraceRow[] {
  const m = describe(rng, dir, traceId, received, receivedTicks);
  const count = m.kind === 'bounce' ? 1 : recipientCount(rng);
  // Lists are addressed by colleagues more than by outsiders; one per message at most keeps fan-out sane.
  const list =
    m.kind !== 'bounce' && dir.lists.length > 0 && rng.chance(LIST_CHANCE[m.kind])
      ? rng.pickSkewed(dir.lists)
      : undefined;
  if (list === undefined && count === 1) {
    // The common case, without the bookkeeping of fan-out.
    return [recipientRow(rng, dir, m, true)];
  }

  const rows: GeneratedRow[] = [];
  const seen = new Set<string>();
  if (list !== undefined) {
    const expansion: Expansion = {
      list: list.address,
      at: (m.context.submittedAt ?? received) + Math.round(rng.logUniform(200, 5000)),
      members: list.members.length,
    };
    rows.push(row(rng, m, list.address, EXPANDED, expansion, undefined));
    seen.add(list.address);
    for (const member of list.members) {
      rows.push(row(rng, m, member, fate(rng, m.verdict, 'user', member), expansion, undefined));
      seen.add(member);
    }
  }
  // A mailbox also reached through the list, or named twice, still gets a single row.
  for (let i = list === undefined ? 0 : 1; i < count; i++) {
    const r = recipientRow(rng, dir, m, i === 0);
    if (seen.has(r.recipient)) continue;
    seen.add(r.recipient);
    rows.push(r);
  }
  return rows.sort((a, b) => (a.recipient < b.recipient ? -1 : a.recipient > b.recipient ? 1 : 0));
}

const LIST_CHANCE = { inbound: 0.008, internal: 0.025, outbound: 0.005 } as const;
const GHOST_CHANCE = { inbound: 0.025, internal: 0.01, outbound: 0.002, bounce: 0 } as const;

/** Who sent the message, how, and what it looks like. */
function describe(
  rng: Rng,
  dir: Directory,
  traceId: string,
  received: number,
  receivedTicks: number,
): Message {
  const u = rng.float();
  const kind: Kind = u < 0.03 ? 'bounce' : u < 0.55 ? 'inbound' : u < 0.81 ? 'internal' : 'outbound';
  let sender: string | null;
  let fromIp: string;
  let subject: string | null;
  let verdict: Verdict = 'clean';
  let idHost: string;
  switch (kind) {
    case 'inbound': {
      const v = rng.float();
      verdict = v < 0.095 ? 'spam' : v < 0.135 ? 'quarantine' : 'clean';
      // Most junk comes from junk domains; the rest from compromised partner mailboxes.
      const fromSpammer = verdict !== 'clean' && rng.chance(0.7);
      const domain = fromSpammer ? rng.pick(dir.spammers) : rng.pickSkewed(dir.partners);
      sender = rng.pick(domain.senders);
      fromIp = rng.pick(domain.sendingIps);
      subject = fromSpammer ? fillSubject(rng, rng.pick(SPAM_SUBJECTS)) : randomSubject(rng);
      idHost = domain.name;
      break;
    }
    case 'internal':
    case 'outbound':
      sender = rng.pickSkewed(dir.users);
      fromIp = rng.pick(dir.internalIps);
      subject = randomSubject(rng);
      idHost = domainOf(sender);
      break;
    case 'bounce': {
      // A non-delivery report for something a user sent: from a remote server or from Exchange
      // Online itself, always with the null reverse path.
      sender = null;
      const remote = rng.chance(0.5);
      fromIp = remote ? rng.pick(rng.pickSkewed(dir.partners).sendingIps) : rng.pick(dir.internalIps);
      subject = `Undeliverable: ${randomSubject(rng) ?? ''}`.trimEnd();
      idHost = rng.pick(dir.servers);
      break;
    }
  }
  const messageId = randomMessageId(rng, idHost);
  // Lognormal around 30 KB: replies and notifications are small, a few carry large attachments.
  const size =
    kind === 'bounce'
      ? rng.between(2 * KB, 12 * KB)
      : Math.min(MAX_SIZE, Math.max(KB, Math.round(Math.exp(LOG_MEDIAN_SIZE + 1.3 * rng.normal()))));
  const originating = kind === 'internal' || kind === 'outbound';
  return {
    kind,
    verdict,
    traceId,
    messageId,
    sender,
    subject,
    size,
    fromIp,
    received,
    receivedTicks,
    // Rows of a message appear together, except for the odd straggler (see row()).
    visibleAt: received + visibilityDelay(rng),
    context: {
      server: rng.pick(dir.servers),
      submittedAt: originating ? received + rng.between(20, 900) : undefined,
      gettingStatus: { at: received, status: 'GettingStatus' },
    },
  };
}

/** One directly addressed recipient: an outsider for outbound mail, else a mailbox or a ghost. */
function recipientRow(rng: Rng, dir: Directory, m: Message, first: boolean): GeneratedRow {
  if (m.kind === 'outbound' && (first || rng.chance(0.8))) {
    const domain = rng.pickSkewed(dir.partners);
    const address = rng.pick(domain.senders);
    return row(rng, m, address, fate(rng, m.verdict, 'external', address), undefined, domain);
  }
  if (dir.ghosts.length > 0 && rng.chance(GHOST_CHANCE[m.kind])) {
    const address = rng.pick(dir.ghosts);
    return row(rng, m, address, fate(rng, m.verdict, 'ghost', address), undefined, undefined);
  }
  // Bounces go back to whoever sent the most mail; other mail reaches anyone.
  const address = m.kind === 'bounce' ? rng.pickSkewed(dir.users) : rng.pick(dir.users);
  return row(rng, m, address, fate(rng, m.verdict, 'user', address), undefined, undefined);
}

function row(
  rng: Rng,
  m: Message,
  recipient: string,
  outcome: Outcome,
  expansion: Expansion | undefined,
  remote: ExternalDomain | undefined,
): GeneratedRow {
  return new GeneratedRow(
    m.traceId,
    m.messageId,
    m.sender,
    recipient,
    m.subject,
    m.size,
    m.fromIp,
    m.received,
    m.receivedTicks,
    rng.chance(0.005) ? Math.max(m.visibleAt, m.received + visibilityDelay(rng)) : m.visibleAt,
    timelineOf(rng, m.received, m.context, expansion, outcome),
    m.context,
    expansion,
    outcome,
    remote,
  );
}

/** Mostly one recipient, some a handful, a few dozens, and rarely more than 100. */
function recipientCount(rng: Rng): number {
  const u = rng.float();
  if (u < 0.86) return 1;
  if (u < 0.97) return rng.between(2, 4);
  if (u < 0.993) return rng.between(5, 15);
  if (u < 0.999) return rng.between(16, 60);
  return rng.between(101, 220);
}

/** A recipient's outcome, including whether it waits in Pending first (deferred). */
function fate(rng: Rng, verdict: Verdict, type: 'user' | 'ghost' | 'external', address: string): Outcome {
  // Filtering applies to the whole message, so every recipient shares the verdict.
  if (verdict === 'spam') return rng.pick(SPAM);
  if (verdict === 'quarantine') return rng.pick(QUARANTINE);
  if (type === 'ghost') return rng.pick(NOT_FOUND);
  const external = type === 'external';
  // Remote servers are slower and less reliable than Exchange Online's own mailboxes.
  if (rng.chance(external ? 0.025 : 0.004)) return rng.chance(0.75) ? DELIVERED_LATE : EXPIRED;
  if (rng.chance(external ? 0.06 : 0.015)) {
    if (!external) return rng.pick(MAILBOX_FAILURES);
    return { status: 'Failed', reason: rng.pick(REMOTE_FAILURES).replace('{to}', address) };
  }
  return DELIVERED;
}

// Outcomes are immutable and shared by the rows that end the same way.
const DELIVERED: Outcome = { status: 'Delivered' };
const DELIVERED_LATE: Outcome = { status: 'Delivered', deferred: true };
const EXPIRED: Outcome = { status: 'Failed', reason: EXPIRY, deferred: true };
const EXPANDED: Outcome = { status: 'Expanded' };
const failed = (reason: string): Outcome => ({ status: 'Failed', reason });
// Ghost recipients fail address lookup; real mailboxes fail for other reasons.
const NOT_FOUND = INTERNAL_FAILURES.slice(0, 2).map(failed);
const MAILBOX_FAILURES = INTERNAL_FAILURES.slice(2).map(failed);
const SPAM: readonly Outcome[] = [5, 6, 7, 8, 9].map((scl) => ({ status: 'FilteredAsSpam', scl }));
const QUARANTINE: readonly Outcome[] = QUARANTINE_REASONS.map((reason) => ({
  status: 'Quarantined',
  reason,
}));

function domainOf(address: string): string {
  return address.slice(address.indexOf('@') + 1);
}

function randomSubject(rng: Rng): string | null {
  // Some messages really have no subject (scanners, scripts, careless senders).
  if (rng.chance(0.03)) return null;
  const subject = fillSubject(rng, rng.pick(SUBJECTS));
  const u = rng.float();
  return u < 0.12 ? `RE: ${subject}` : u < 0.17 ? `FW: ${subject}` : subject;
}

function fillSubject(rng: Rng, template: string): string {
  if (!template.includes('{')) return template;
  return template.replace('{n}', String(rng.between(1000, 99999))).replace('{q}', String(rng.between(1, 4)));
}
