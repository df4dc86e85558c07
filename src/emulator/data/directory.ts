/**
 * Who a tenant's mail is between: its users and distribution lists over its accepted domains, the
 * outside world it corresponds with, and its own servers and networks. Derived from the tenant's
 * seed alone, so every bucket of the tenant agrees on the same people without sharing state.
 */
import type { EmulatorTenant } from '../model.js';
import { privateIp, publicIp } from './network.js';
import { Rng, seedWords } from './prng.js';
import {
  EXTERNAL_DOMAINS,
  EXTERNAL_ROLES,
  FIRST_NAMES,
  LAST_NAMES,
  LIST_NAMES,
  SERVER_REGIONS,
  SPAM_DOMAINS,
  UTC_OFFSETS,
} from './vocabulary.js';

export interface DistributionList {
  readonly address: string;
  readonly members: readonly string[];
}

export interface ExternalDomain {
  readonly name: string;
  /** Addresses that write to the tenant from this domain. */
  readonly senders: readonly string[];
  /** The domain's outbound mail servers (fromIP of inbound mail). */
  readonly sendingIps: readonly string[];
  /** Its MX, as the outbound `Send` event names it, and the address toIP reports. */
  readonly mxHost: string;
  readonly mxIp: string;
}

export interface Directory {
  /** Ordered by activity: pickSkewed makes the first users the busiest senders. */
  readonly users: readonly string[];
  readonly lists: readonly DistributionList[];
  /** Addresses in accepted domains that no longer exist: recipients of `RecipientNotFound`. */
  readonly ghosts: readonly string[];
  readonly partners: readonly ExternalDomain[];
  readonly spammers: readonly ExternalDomain[];
  /** Exchange Online servers that handle the tenant's mail. */
  readonly servers: readonly string[];
  /** The tenant's own clients and relays (fromIP of internal and outbound mail). */
  readonly internalIps: readonly string[];
  /** Hours east of UTC of the tenant's offices; the daily curve is in local time. */
  readonly utcOffsetHours: number;
}

// Salt of the directory's PRNG stream, distinct from the buckets' streams.
const DIRECTORY_STREAM = 0xd1ec7042;

/** Everything a tenant's flow depends on: two tenants with the same key have the same mail. */
export function tenantKey(tenant: EmulatorTenant): string {
  return JSON.stringify([tenant.seed, tenant.messagesPerDay, tenant.domain, tenant.acceptedDomains]);
}

export function buildDirectory(tenant: EmulatorTenant): Directory {
  const rng = new Rng(DIRECTORY_STREAM, ...seedWords(tenant.seed));
  const accepted = tenant.acceptedDomains.map((d) => d.toLowerCase());
  const initial = tenant.domain.toLowerCase();
  const mailDomains = accepted.length > 0 ? [...new Set(accepted)] : [initial];
  const primary = mailDomains[0] ?? initial;

  // About one mailbox per 25 messages a day: a busy tenant has more people, not busier people.
  const perDay = Number.isFinite(tenant.messagesPerDay) ? tenant.messagesPerDay : 0;
  const userCount = Math.min(20_000, Math.max(20, Math.round(perDay / 25)));
  const users = makeUsers(rng, userCount, primary, mailDomains);
  const lists = makeLists(rng, users, primary);
  const taken = new Set(users);
  const ghosts: string[] = [];
  for (let i = 0; ghosts.length < 12 && i < 1000; i++) {
    const candidate = `${rng.pick(FIRST_NAMES)}.${rng.pick(LAST_NAMES)}${rng.chance(0.3) ? 'x' : ''}@${primary}`;
    if (!taken.has(candidate)) ghosts.push(candidate);
    taken.add(candidate);
  }

  // Mail between accepted domains is internal: none of them may pose as an outside partner.
  const internal = new Set([...accepted, initial]);
  const partners = shuffle(rng, [...EXTERNAL_DOMAINS])
    .filter((d) => !internal.has(d))
    .map((name) => makeExternal(rng, name, 0.25));
  const spammers = SPAM_DOMAINS.map((name) => makeExternal(rng, name, 0.1));

  const region = rng.pick(SERVER_REGIONS);
  const servers = Array.from(
    { length: 6 },
    () =>
      `${region.prefix}${rng.between(10, 99)}MB${rng.between(1000, 9999)}.${region.infix}${rng.between(10, 99)}.${region.suffix}`,
  );
  const internalIps = Array.from({ length: 24 }, () => privateIp(rng, 0.2));

  return {
    users,
    lists,
    ghosts,
    partners,
    spammers,
    servers,
    internalIps,
    utcOffsetHours: rng.pick(UTC_OFFSETS),
  };
}

function makeUsers(rng: Rng, count: number, primary: string, domains: readonly string[]): string[] {
  const seen = new Set<string>();
  const users: string[] = [];
  while (users.length < count) {
    // Most mailboxes live in the primary domain; the other accepted domains get a share each.
    const domain = domains.length > 1 && rng.chance(0.25) ? rng.pick(domains) : primary;
    const base = `${rng.pick(FIRST_NAMES)}.${rng.pick(LAST_NAMES)}`;
    let address = `${base}@${domain}`;
    for (let n = 2; seen.has(address); n++) address = `${base}${n}@${domain}`;
    seen.add(address);
    users.push(address);
  }
  return users;
}

function makeLists(rng: Rng, users: readonly string[], primary: string): DistributionList[] {
  const count = Math.min(LIST_NAMES.length, 4 + Math.floor(users.length / 150));
  const names = shuffle(rng, [...LIST_NAMES]).slice(0, count);
  return names.map((name) => {
    // Company-wide lists are large (a message to one fans out to more than 100 rows); teams are small.
    const wide = name === 'all-staff' || name === 'announcements';
    const size = Math.min(users.length, wide ? rng.between(120, 300) : Math.round(rng.logUniform(3, 60)));
    const members = new Set<string>();
    while (members.size < size) members.add(rng.pick(users));
    return { address: `${name}@${primary}`, members: [...members] };
  });
}

function makeExternal(rng: Rng, name: string, v6Share: number): ExternalDomain {
  const senders = new Set<string>();
  const people = rng.between(2, 12);
  for (let i = 0; i < people; i++) {
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    senders.add(rng.chance(0.5) ? `${first}.${last}@${name}` : `${first.charAt(0)}${last}@${name}`);
  }
  senders.add(`${rng.pick(EXTERNAL_ROLES)}@${name}`);
  senders.add(`${rng.pick(EXTERNAL_ROLES)}@${name}`);
  return {
    name,
    senders: [...senders],
    sendingIps: Array.from({ length: rng.between(1, 3) }, () => publicIp(rng, v6Share)),
    mxHost: rng.chance(0.5) ? `${name.replace(/\./g, '-')}.mail.protection.outlook.com` : `mx1.${name}`,
    mxIp: publicIp(rng, v6Share),
  };
}

/** Fisher–Yates, in place. */
function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
  return items;
}
