/**
 * Properties over generated input: the normalizer is total (never throws; every record yields
 * events or a reject with a reason), everything it emits is valid ECS, @timestamp always has six
 * fractional digits in UTC, and event.id depends on (trace id, recipient, status) only.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createNormalizer, PROFILES, type MessageTraceEvent } from '../../src/normalize/index.js';
import { ecsProblems } from '../helpers/ecs.js';

const TIMESTAMP_6 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const RUNS = { numRuns: 400 };

// Instants from 1970 to 2100, in every spelling the APIs use.
const epochMs = fc.integer({ min: 0, max: 4_102_444_800_000 });
const isoUtc = (ms: number): string => new Date(ms).toISOString();
const dateSpellings = epochMs.chain((ms) =>
  fc.constantFrom(
    `/Date(${ms})/`,
    `\\/Date(${ms})\\/`,
    `/Date(${ms}+0200)/`,
    isoUtc(ms),
    isoUtc(ms).slice(0, -1), // JSON light: no zone means UTC
    isoUtc(ms).slice(0, -1) + '4907',
    isoUtc(ms).replace('.', ',').slice(0, 19),
  ),
);

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();
const email = fc.emailAddress();
const junk = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(''),
);
const anyValue = fc.oneof(junk, email, ipv4, ipv6, dateSpellings, fc.anything());
const status = fc.oneof(
  fc.constantFrom('Delivered', 'delivered', 'GettingStatus', 'gettingStatus', 'Pending', 'Failed', 'failed'),
  fc.constantFrom(
    'Quarantined',
    'filteredAsSpam',
    'FilteredAsSpam',
    'Expanded',
    'None',
    'unknownFutureValue',
    'recalled',
  ),
  fc.string(),
  fc.constant(null),
);

/** Rows shaped like each API's, with every field sometimes right, sometimes junk, sometimes absent. */
function rowOf(keys: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    Object.fromEntries(
      Object.entries(keys).map(([k, arb]) => [
        k,
        fc.oneof({ weight: 4, arbitrary: arb }, { weight: 1, arbitrary: anyValue }),
      ]),
    ),
    { requiredKeys: [] },
  );
}
const rwsRow = rowOf({
  Organization: fc.domain(),
  MessageId: fc.string(),
  Received: dateSpellings,
  SenderAddress: email,
  RecipientAddress: email,
  Subject: fc.oneof(fc.string(), fc.constant(null)),
  Status: status,
  ToIP: fc.oneof(ipv4, ipv6, fc.constant(null)),
  FromIP: fc.oneof(ipv4, ipv6, fc.constant(null)),
  Size: fc.oneof(
    fc.nat(),
    fc.nat().map(String),
    fc.double(),
    fc.string({ unit: fc.constantFrom('0', '9'), maxLength: 400 }),
  ),
  MessageTraceId: fc.uuid(),
});
const graphRow = rowOf({
  id: fc.uuid(),
  senderAddress: email,
  recipientAddress: email,
  messageId: fc.string(),
  receivedDateTime: dateSpellings,
  subject: fc.string(),
  size: fc.nat(),
  fromIP: fc.oneof(ipv4, ipv6),
  toIP: fc.oneof(ipv4, fc.constant('')),
  status,
});
const record = fc.oneof(rwsRow, graphRow);
const input = fc.oneof(
  record.map((r) => JSON.stringify(r)),
  record.map((r) => JSON.stringify({ message: JSON.stringify(r) + '\n' })),
  fc.array(record, { maxLength: 5 }).map((rows) => JSON.stringify({ value: rows })),
  fc.array(record, { maxLength: 5 }).map((rows) => JSON.stringify({ d: { results: rows } })),
  fc.array(record, { maxLength: 5 }).map((rows) => JSON.stringify(rows)),
  fc.json(),
  fc.string(),
);

describe.each(PROFILES)('profile %s', (profile) => {
  const normalizer = createNormalizer({
    profile,
    organization: 'contoso.onmicrosoft.com',
    acceptedDomains: ['contoso.com', 'a.b'],
  });

  it('never throws; a single record yields exactly one event or one reject with a reason', () => {
    fc.assert(
      fc.property(record, (row) => {
        const { events, rejects } = normalizer.normalizeText(JSON.stringify(row));
        expect(events.length + rejects.length).toBe(1);
        for (const reject of rejects) expect(reject.reason.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it('a page, array or envelope of n records yields exactly n events and rejects', () => {
    const framed = fc.array(record, { maxLength: 6 }).chain((rows) =>
      fc
        .constantFrom(
          (r: unknown[]) => JSON.stringify({ value: r }),
          (r: unknown[]) => JSON.stringify({ d: { results: r } }),
          (r: unknown[]) => JSON.stringify(r),
          (r: unknown[]) => JSON.stringify({ message: JSON.stringify({ value: r }) + '\n' }),
        )
        .map((frame) => ({ rows, text: frame(rows) })),
    );
    fc.assert(
      fc.property(framed, ({ rows, text }) => {
        const { events, rejects } = normalizer.normalizeText(text);
        expect(events.length + rejects.length).toBe(rows.length);
        for (const reject of rejects) expect(reject.reason).toMatch(/\S/);
      }),
      RUNS,
    );
  });

  it('arbitrary text never throws', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          input,
          fc.string(),
          fc.jsonValue({ maxDepth: 12 }).map((v) => JSON.stringify(v)),
        ),
        (text) => {
          expect(() => normalizer.normalizeText(text)).not.toThrow();
        },
      ),
      RUNS,
    );
  });

  it('every emitted event is valid ECS (or office365.message_trace.*) with a 6-digit UTC @timestamp', () => {
    fc.assert(
      fc.property(input, (text) => {
        for (const event of normalizer.normalizeText(text).events) {
          // What sinks receive is the JSON text: check that, not the object (Infinity → null…).
          expect(ecsProblems(JSON.parse(JSON.stringify(event)))).toEqual([]);
          expect(event['@timestamp']).toMatch(TIMESTAMP_6);
        }
      }),
      RUNS,
    );
  });
});

describe('time', () => {
  it('every spelling of the same instant gives the same @timestamp, equal to the instant', () => {
    const normalizer = createNormalizer();
    fc.assert(
      fc.property(epochMs, fc.integer({ min: -14, max: 14 }), (ms, offsetHours) => {
        const expected = isoUtc(ms).slice(0, 23) + '000Z';
        const local = new Date(ms + offsetHours * 3_600_000).toISOString().slice(0, 23);
        const offset = `${offsetHours < 0 ? '-' : '+'}${String(Math.abs(offsetHours)).padStart(2, '0')}:00`;
        for (const received of [`/Date(${ms})/`, isoUtc(ms), isoUtc(ms).slice(0, -1), local + offset]) {
          const row = { MessageTraceId: 'x', Received: received };
          expect(normalizer.normalizeValue(row).events[0]?.['@timestamp'], received).toBe(expected);
        }
      }),
      RUNS,
    );
  });
});

describe('event.id', () => {
  const normalizer = createNormalizer();
  const flipCase = (s: string, mask: number): string =>
    s
      .split('')
      .map((c, i) => ((mask >> (i % 16)) & 1 ? c.toUpperCase() : c.toLowerCase()))
      .join('');
  const knownStatus = fc.constantFrom(
    'delivered',
    'gettingStatus',
    'pending',
    'failed',
    'quarantined',
    'filteredAsSpam',
    'expanded',
  );

  it('is deterministic and equal across dialects and spellings for the same (trace id, recipient, status)', () => {
    fc.assert(
      fc.property(
        fc.uuid(),
        email,
        knownStatus,
        fc.nat(),
        epochMs,
        epochMs,
        (id, recipient, st, mask, t1, t2) => {
          const graph = {
            id,
            recipientAddress: recipient,
            status: st,
            receivedDateTime: isoUtc(t1),
            size: 1,
          };
          const rws = {
            MessageTraceId: flipCase(id, mask),
            RecipientAddress: flipCase(recipient, mask >> 3),
            Status: flipCase(st, mask >> 5),
            Received: `/Date(${t2})/`,
            Subject: 'another subject',
          };
          const a = normalizer.normalizeValue(graph).events[0] as MessageTraceEvent;
          const b = normalizer.normalizeValue(rws).events[0] as MessageTraceEvent;
          const again = normalizer.normalizeValue(graph).events[0] as MessageTraceEvent;
          expect(b.event.id).toBe(a.event.id);
          expect(again.event.id).toBe(a.event.id);
        },
      ),
      RUNS,
    );
  });

  it('differs when the trace id, the recipient or the status differs', () => {
    fc.assert(
      fc.property(
        fc.uuid(),
        fc.uuid(),
        email,
        email,
        knownStatus,
        knownStatus,
        (id1, id2, r1, r2, s1, s2) => {
          fc.pre(id1 !== id2 && r1.toLowerCase() !== r2.toLowerCase() && s1 !== s2);
          const idOf = (id: string, r: string, s: string): string | undefined =>
            normalizer.normalizeValue({
              id,
              recipientAddress: r,
              status: s,
              receivedDateTime: '2026-01-01T00:00:00Z',
            }).events[0]?.event.id;
          const base = idOf(id1, r1, s1);
          expect(idOf(id2, r1, s1)).not.toBe(base);
          expect(idOf(id1, r2, s1)).not.toBe(base);
          expect(idOf(id1, r1, s2)).not.toBe(base);
        },
      ),
      RUNS,
    );
  });
});
