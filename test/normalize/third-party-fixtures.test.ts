/**
 * Rows from other projects' test suites: Elastic's Reporting Web Service rows (JSON light, ISO
 * dates with and without zone, an empty page) and Sekoia.io's Graph row. Their expected outputs
 * follow their own mappings; we check that ours agrees with them on the core fields.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createNormalizer, type MessageTraceEvent } from '../../src/normalize/index.js';
import { ecsProblems } from '../helpers/ecs.js';
import { fixturePath, readFixture } from '../helpers/fixtures.js';

interface ElasticExpected {
  '@timestamp': string;
  email: {
    direction: string;
    from: { address: string[] };
    to: { address: string[] };
    message_id: string;
    subject: string;
    local_id: string;
  };
  event: { outcome: string };
  source?: { ip: string };
  destination?: { ip?: string };
}

describe("Elastic's message trace test rows", () => {
  const lines = readFileSync(fixturePath('elastic/test-log.log'), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
  const expected = readFixture<{ expected: (ElasticExpected | null)[] }>(
    'elastic/test-log.log-expected.json',
  ).expected;
  const normalizer = createNormalizer({ acceptedDomains: ['contoso.com'] });

  it('has one expectation per input line', () => {
    expect(lines).toHaveLength(expected.length);
  });

  lines.forEach((line, i) => {
    const want = expected[i] ?? null;
    it(`line ${i + 1}: ${want === null ? 'empty page → no event, no error' : 'core fields agree'}`, () => {
      const { events, rejects } = normalizer.normalizeText(line);
      expect(rejects).toEqual([]);
      if (want === null) {
        expect(events).toEqual([]);
        return;
      }
      expect(events).toHaveLength(1);
      const got = events[0] as MessageTraceEvent;
      // Elastic keeps milliseconds; we keep microseconds of the same instant.
      expect(got['@timestamp'].slice(0, 23)).toBe(want['@timestamp'].slice(0, 23));
      expect(got.email?.direction).toBe(want.email.direction);
      expect(got.email?.from?.address).toEqual(want.email.from.address);
      expect(got.email?.to?.address).toEqual(want.email.to.address);
      expect(got.email?.message_id).toBe(want.email.message_id);
      expect(got.email?.subject).toBe(want.email.subject);
      expect(got.email?.local_id).toBe(want.email.local_id);
      expect(got.event.outcome).toBe(want.event.outcome);
      expect(got.source && 'ip' in got.source ? got.source.ip : undefined).toBe(want.source?.ip);
      expect(got.destination && 'ip' in got.destination ? got.destination.ip : undefined).toBe(
        want.destination?.ip,
      );
      expect(got.message).toBe(line);
      expect(ecsProblems(got)).toEqual([]);
    });
  });

  it('the JSON light Received without zone is read as UTC with its 7 digits truncated to 6', () => {
    expect(normalizer.normalizeText(lines[0] ?? '').events[0]?.['@timestamp']).toBe(
      '2022-09-05T18:10:13.490765Z',
    );
  });
});

describe("Sekoia.io's Graph row", () => {
  const fixture = readFixture<{ input: { message: string }; expected: Record<string, unknown> }>(
    'sekoia-graph/test_messagetrace_1.json',
  );

  it('maps to the seed fields the seed way', () => {
    const { events, rejects } = createNormalizer({
      profile: 'seed',
      organization: 'example.onmicrosoft.com',
    }).normalizeValue(fixture.input);
    expect(rejects).toEqual([]);
    expect(events).toStrictEqual([
      {
        message: fixture.input.message,
        event: { action: 'Delivered', category: ['email'], type: ['info'] },
        '@timestamp': '2025-06-13T10:30:00.000000Z',
        email: {
          from: { address: ['user1@example.com'] },
          message_id: '<a0173a6a-b63b-4603-8fab-79501bdb784f@example.com>',
          subject: 'Quarterly Report',
          to: { address: ['user2@example.com'] },
        },
        office365: { message_trace: { MessageTraceId: 'a0173a6a-b63b-4603-8fab-79501bdb784f', Size: 45678 } },
        organization: { name: 'example.onmicrosoft.com' },
        related: { ip: ['198.51.100.39'] },
        source: { address: '198.51.100.39', ip: '198.51.100.39' },
      },
    ]);
  });

  it("agrees with Sekoia's own Graph mapping on the fields both have", () => {
    const got = createNormalizer().normalizeValue(fixture.input).events[0];
    const want = fixture.expected as {
      email: { subject: string; from: unknown; to: unknown };
      source: unknown;
    };
    expect(got?.email?.subject).toBe(want.email.subject);
    expect(got?.email?.from).toEqual(want.email.from);
    expect(got?.email?.to).toEqual(want.email.to);
    expect(got?.source).toMatchObject(want.source as object);
    expect(got?.destination).toEqual({ user: { email: 'user2@example.com' } }); // toIP "" is no IP
  });
});
