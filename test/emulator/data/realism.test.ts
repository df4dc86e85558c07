/**
 * Every field looks like Exchange Online's: GUIDs, Message-IDs, addresses over the accepted
 * domains, IPs from the right ranges, sizes, ticks, a status mix with transitions, detail events
 * consistent with each row's timeline, a daily curve, and about messagesPerDay messages a day.
 */
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createTraceData, HOUR_MS } from '../../../src/emulator/data/index.js';
import { statusAt, type TraceRow } from '../../../src/emulator/model.js';
import { DAY, HOUR, MINUTE, MONDAY, failures, finalStatus, key, tenant } from './fixtures.js';

const T = tenant({ messagesPerDay: 5000, seed: 99 });
// A whole week, Monday 00:00 to Sunday 23:59:59.999 UTC.
const FROM = MONDAY - 7 * DAY;
const TO = MONDAY - 1;
const week = [...createTraceData().everyRow(T, FROM, TO)];
const INTERNAL = new Set([...T.acceptedDomains, T.domain]);

const GUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MESSAGE_ID = /^<[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}@[a-z0-9.-]+>$/i;
const USER = /^[a-z]+\.[a-z]+\d*@(contoso\.com|eu\.contoso\.com)$/;
const ADDRESS = /^[a-z0-9.+-]+@[a-z0-9.-]+\.[a-z]+$/;
const FINAL = new Set(['Delivered', 'Failed', 'FilteredAsSpam', 'Quarantined', 'Expanded']);
const MAX_SIZE = 30 * 1024 * 1024;

const domainOf = (address: string): string => address.slice(address.indexOf('@') + 1);
const isInternal = (address: string | null): boolean => address !== null && INTERNAL.has(domainOf(address));
const isOutbound = (row: TraceRow): boolean => isInternal(row.sender) && !isInternal(row.recipient);
const isDocumentationIp = (ip: string): boolean =>
  /^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$/.test(ip) || ip.startsWith('2001:db8:');
const isPrivateIp = (ip: string): boolean =>
  /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(ip) || /^fd[0-9a-f]{2}:/.test(ip);
const share = (rows: readonly TraceRow[], ok: (row: TraceRow) => boolean): number =>
  rows.filter(ok).length / rows.length;
const last = <T>(items: readonly T[]): T | undefined => items[items.length - 1];

/** The rows of each message, in walk order. */
const messages = new Map<string, TraceRow[]>();
for (const row of week) {
  const rows = messages.get(row.traceId) ?? [];
  rows.push(row);
  messages.set(row.traceId, rows);
}

describe('fields', () => {
  it('has version-4 GUID trace ids and <guid@domain> Message-IDs shared by a message', () => {
    expect(failures(week, (r) => GUID_V4.test(r.traceId) && MESSAGE_ID.test(r.messageId))).toEqual([]);
    const mixed = failures(
      [...messages.values()],
      (rows) => new Set(rows.map((r) => r.messageId)).size === 1,
    );
    expect(mixed).toEqual([]);
    // Ids of one hour share no visible prefix: the bucket is hidden in them.
    const hour = Math.floor(TO / HOUR_MS) - 12;
    const ids = [
      ...new Set(week.filter((r) => Math.floor(r.received / HOUR_MS) === hour).map((r) => r.traceId)),
    ];
    expect(ids.length).toBeGreaterThan(50);
    expect(new Set(ids.map((id) => id.slice(0, 3))).size).toBeGreaterThan(ids.length * 0.8);
  });

  it('has plausible addresses: users first.last@ an accepted domain, outsiders elsewhere', () => {
    expect(
      failures(week, (r) => ADDRESS.test(r.recipient) && (r.sender === null || ADDRESS.test(r.sender))),
    ).toEqual([]);
    expect(failures(week, (r) => !isInternal(r.sender) || USER.test(r.sender ?? ''))).toEqual([]);
    // Mail in every direction.
    expect(share(week, (r) => r.sender !== null && !isInternal(r.sender))).toBeGreaterThan(0.3);
    expect(share(week, (r) => isInternal(r.sender) && isInternal(r.recipient))).toBeGreaterThan(0.1);
    expect(share(week, isOutbound)).toBeGreaterThan(0.05);
    // Both accepted domains have mailboxes.
    const domains = new Set(
      week
        .map((r) => r.recipient)
        .filter(isInternal)
        .map(domainOf),
    );
    expect(domains).toEqual(new Set(T.acceptedDomains));
  });

  it('has public documentation IPs for inbound mail, private ones from inside, toIP only outbound', () => {
    expect(failures(week, (r) => isIP(r.fromIp) !== 0)).toEqual([]);
    expect(
      failures(week, (r) => (isOutbound(r) ? isDocumentationIp(r.toIp ?? '') : r.toIp === null)),
    ).toEqual([]);
    expect(failures(week, (r) => r.toIp === null || isIP(r.toIp) !== 0)).toEqual([]);
    const inbound = week.filter((r) => r.sender !== null && !isInternal(r.sender));
    expect(failures(inbound, (r) => isDocumentationIp(r.fromIp))).toEqual([]);
    expect(
      failures(
        week.filter((r) => isInternal(r.sender)),
        (r) => isPrivateIp(r.fromIp),
      ),
    ).toEqual([]);
    expect(share(week, (r) => isIP(r.fromIp) === 6)).toBeGreaterThan(0.05);
    expect(share(week, (r) => isIP(r.fromIp) === 4)).toBeGreaterThan(0.5);
  });

  it('has sizes from 1 KB to 30 MB, mostly small', () => {
    expect(failures(week, (r) => Number.isInteger(r.size) && r.size >= 1024 && r.size <= MAX_SIZE)).toEqual(
      [],
    );
    expect(share(week, (r) => r.size < 100 * 1024)).toBeGreaterThan(0.6);
    expect(week.some((r) => r.size > 5 * 1024 * 1024)).toBe(true);
  });

  it('has sub-millisecond ticks 0–9999', () => {
    const ok = (r: TraceRow): boolean =>
      Number.isInteger(r.receivedTicks) && r.receivedTicks >= 0 && r.receivedTicks <= 9999;
    expect(failures(week, ok)).toEqual([]);
    expect(new Set(week.map((r) => r.receivedTicks)).size).toBeGreaterThan(5000);
  });

  it('has null, unicode and emoji subjects, and null-sender bounces', () => {
    const subjects = week.map((r) => r.subject);
    expect(subjects).toContain(null);
    expect(subjects.some((s) => s !== null && /[À-ÿ]/.test(s))).toBe(true);
    expect(subjects.some((s) => s !== null && /[\u4e00-\u9fff]/.test(s))).toBe(true);
    expect(subjects.some((s) => s !== null && /\p{Extended_Pictographic}/u.test(s))).toBe(true);
    const bounces = week.filter((r) => r.sender === null);
    expect(bounces.length).toBeGreaterThan(0);
    expect(
      failures(bounces, (r) => /^Undeliverable:/.test(r.subject ?? '') && isInternal(r.recipient)),
    ).toEqual([]);
  });

  it('fans out: mostly one recipient, some many, occasionally more than 100', () => {
    const sizes = [...messages.values()].map((rows) => rows.length);
    expect(sizes.filter((n) => n === 1).length / sizes.length).toBeGreaterThan(0.7);
    expect(sizes.some((n) => n >= 5 && n <= 100)).toBe(true);
    expect(sizes.some((n) => n > 100)).toBe(true);
    expect(new Set(week.map(key)).size).toBe(week.length);
  });

  it('expands distribution lists into an Expanded row plus member rows', () => {
    const lists = week.filter((r) => finalStatus(r) === 'Expanded');
    expect(lists.length).toBeGreaterThan(0);
    for (const list of lists) {
      const expand = list.details.find((d) => d.event === 'Expand');
      expect(expand?.description).toContain(list.recipient);
      const members = (messages.get(list.traceId) ?? []).filter(
        (r) => r !== list && r.details.some((d) => d.event === 'Expand' && d.at === expand?.at),
      );
      expect(members.length).toBeGreaterThan(0);
      expect(expand?.data).toContain(`Integer="${members.length}"`);
    }
  });
});

describe('statuses', () => {
  const finals = week.filter((r) => finalStatus(r) !== 'Expanded');
  const mix = (status: string): number => share(finals, (r) => finalStatus(r) === status);

  it('ends in a realistic mix', () => {
    expect(mix('Delivered')).toBeGreaterThan(0.8);
    expect(mix('Delivered')).toBeLessThan(0.95);
    expect(mix('FilteredAsSpam')).toBeGreaterThan(0.02);
    expect(mix('FilteredAsSpam')).toBeLessThan(0.09);
    expect(mix('Quarantined')).toBeGreaterThan(0.005);
    expect(mix('Quarantined')).toBeLessThan(0.04);
    expect(mix('Failed')).toBeGreaterThan(0.01);
    expect(mix('Failed')).toBeLessThan(0.06);
  });

  it('starts GettingStatus or Pending at received and moves forward in time to a final status', () => {
    const ok = (r: TraceRow): boolean => {
      const first = r.timeline[0];
      if (first?.at !== r.received) return false;
      if (first.status !== 'GettingStatus' && first.status !== 'Pending') return false;
      for (let i = 1; i < r.timeline.length; i++) {
        if ((r.timeline[i]?.at ?? -Infinity) < (r.timeline[i - 1]?.at ?? Infinity)) return false;
      }
      return FINAL.has(finalStatus(r)) && r.timeline.length >= 2;
    };
    expect(failures(week, ok)).toEqual([]);
    expect(share(week, (r) => r.timeline[0]?.status === 'Pending')).toBeGreaterThan(0.01);
  });

  it('changes status over time for some rows, as a re-polling collector sees', () => {
    const changing = week.filter((r) => statusAt(r, r.visibleAt) !== finalStatus(r));
    expect(changing.length).toBeGreaterThan(0);
    expect(changing.length / week.length).toBeLessThan(0.2);
    const ok = (r: TraceRow): boolean => {
      const at = last(r.timeline)?.at ?? 0;
      const before = statusAt(r, r.visibleAt);
      return (
        (before === 'GettingStatus' || before === 'Pending') &&
        statusAt(r, at - 1) !== finalStatus(r) &&
        statusAt(r, at) === finalStatus(r)
      );
    };
    expect(failures(changing, ok)).toEqual([]);
    // A few wait in Pending for hours before their outcome.
    const deferred = week.filter((r) => {
      const pending = r.timeline.find((s, i) => i > 0 && s.status === 'Pending');
      const final = last(r.timeline);
      return pending !== undefined && final !== undefined && final.at - pending.at > HOUR;
    });
    expect(deferred.length).toBeGreaterThan(0);
    expect(new Set(deferred.map(finalStatus))).toEqual(new Set(['Delivered', 'Failed']));
  });

  it('settles in seconds to minutes mostly, hours rarely', () => {
    const settle = week.map((r) => (last(r.timeline)?.at ?? 0) - r.received);
    expect(settle.filter((ms) => ms <= 5 * MINUTE).length / settle.length).toBeGreaterThan(0.9);
    expect(settle.some((ms) => ms > HOUR)).toBe(true);
    expect(Math.max(...settle)).toBeLessThan(10 * HOUR);
  });
});

describe('details', () => {
  const EVENT_OF: Record<string, readonly string[]> = {
    Delivered: ['Deliver', 'Send'],
    Failed: ['Fail'],
    FilteredAsSpam: ['Spam'],
    Quarantined: ['Quarantine'],
    Expanded: ['Expand'],
  };
  const DATA = /^<root>(<MEP Name="\w+" (String|Integer)="[^"<>]*"\/>)+<\/root>$/;

  it('starts with Receive at received, ascends, and ends with the final status event', () => {
    const ok = (r: TraceRow): boolean => {
      const details = r.details;
      const first = details[0];
      if (first?.event !== 'Receive' || first.at !== r.received) return false;
      if (!/^Message received by: \S+\.prod\.outlook\.com$/.test(first.description)) return false;
      for (let i = 1; i < details.length; i++) {
        if ((details[i]?.at ?? -Infinity) < (details[i - 1]?.at ?? Infinity)) return false;
      }
      const end = last(details);
      const final = last(r.timeline);
      return (
        end !== undefined &&
        final !== undefined &&
        (EVENT_OF[final.status] ?? []).includes(end.event) &&
        end.at === final.at &&
        details.every((d) => DATA.test(d.data) && !/&(?!lt;|gt;|amp;|quot;)/.test(d.data))
      );
    };
    expect(failures(week, ok)).toEqual([]);
  });

  it('sends outbound mail to the MX, fails with NDR codes, defers while Pending', () => {
    const ok = (r: TraceRow): boolean => {
      const events = r.details.map((d) => d.event);
      if (r.toIp !== null && finalStatus(r) === 'Delivered') {
        if (!(r.details.find((d) => d.event === 'Send')?.description ?? '').includes(r.toIp)) return false;
      }
      if (isInternal(r.sender) && events[1] !== 'Submit') return false;
      if (finalStatus(r) === 'Failed') {
        if (!/^\d{3} \d\.\d\.\d+ /.test(r.details.find((d) => d.event === 'Fail')?.description ?? ''))
          return false;
      }
      const pendingLater = r.timeline.some((s, i) => i > 0 && s.status === 'Pending');
      return events.includes('Defer') === pendingLater;
    };
    expect(failures(week, ok)).toEqual([]);
    const notFound = week.filter((r) =>
      r.details.some((d) => d.description.includes('RESOLVER.ADR.RecipientNotFound')),
    );
    expect(notFound.length).toBeGreaterThan(0);
    expect(share(week, (r) => r.details.every((d) => d.action === ''))).toBeGreaterThan(0.9);
  });

  it('gives the same details on every read, and keeps them out of the row data', () => {
    const row = week[1234] as TraceRow;
    expect(row.details).toEqual(row.details);
    expect(JSON.parse(JSON.stringify(row))).not.toHaveProperty('details');
    expect({ ...row }).not.toHaveProperty('details');
  });
});

describe('visibility delay', () => {
  it('is 5–10 minutes mostly, up to 24 hours, about 1% over an hour', () => {
    const delays = week.map((r) => r.visibleAt - r.received);
    expect(failures(delays, (d) => d >= 5 * MINUTE && d <= 24 * HOUR)).toEqual([]);
    expect(delays.filter((d) => d <= 10 * MINUTE).length / delays.length).toBeGreaterThan(0.85);
    const overHour = delays.filter((d) => d > HOUR).length / delays.length;
    expect(overHour).toBeGreaterThan(0.003);
    expect(overHour).toBeLessThan(0.03);
  });
});

describe('volume', () => {
  it('averages messagesPerDay over a week', () => {
    expect(messages.size / 7).toBeGreaterThan(T.messagesPerDay * 0.9);
    expect(messages.size / 7).toBeLessThan(T.messagesPerDay * 1.1);
  });

  it('follows a daily curve: busy office hours, quiet nights, light weekends', () => {
    const perHour = new Map<number, number>();
    for (const rows of messages.values()) {
      const hour = Math.floor((rows[0]?.received ?? 0) / HOUR_MS);
      perHour.set(hour, (perHour.get(hour) ?? 0) + 1);
    }
    const counts = [...perHour.values()].sort((a, b) => a - b);
    const quiet = counts[Math.floor(counts.length * 0.1)] ?? 0;
    const busy = counts[Math.floor(counts.length * 0.9)] ?? 0;
    expect(busy).toBeGreaterThan(4 * quiet);
    const byDay = Array.from({ length: 7 }, () => 0);
    for (const rows of messages.values()) {
      const day = Math.floor(((rows[0]?.received ?? 0) - FROM) / DAY);
      byDay[day] = (byDay[day] ?? 0) + 1;
    }
    // FROM is a Monday: days 5 and 6 are the weekend (in UTC; local time shifts it by hours only).
    expect(Math.max(...byDay.slice(5))).toBeLessThan(Math.min(...byDay.slice(0, 5)) * 0.6);
  });

  it('scales with messagesPerDay, down to quiet tenants', () => {
    const small = tenant({ messagesPerDay: 40, seed: 5 });
    const ids = new Set([...createTraceData().everyRow(small, FROM, TO)].map((r) => r.traceId));
    expect(ids.size).toBeGreaterThan(40 * 7 * 0.7);
    expect(ids.size).toBeLessThan(40 * 7 * 1.3);
    expect([...createTraceData().everyRow(tenant({ messagesPerDay: 0 }), FROM, TO)]).toEqual([]);
  });

  it('copes with odd tenants: no accepted domains, upper case, no or nonsense volume', () => {
    const data = createTraceData();
    const bare = tenant({ acceptedDomains: [], domain: 'Fabrikam.onmicrosoft.com', messagesPerDay: 300 });
    const rows = [...data.everyRow(bare, FROM, TO)];
    expect(rows.length).toBeGreaterThan(0);
    const local = rows.filter((r) => r.sender !== null && r.sender.endsWith('@fabrikam.onmicrosoft.com'));
    expect(local.length).toBeGreaterThan(0);
    for (const messagesPerDay of [-5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect([...data.everyRow(tenant({ messagesPerDay }), FROM, FROM + DAY)]).toEqual([]);
    }
  });
});
