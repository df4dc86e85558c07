/**
 * The emulator's query parsers: every accepted spelling, every rejection, what `observed` mode
 * tolerates that `strict` refuses, OData quote escaping, the default windows and inclusive bounds;
 * then properties: filters built from random valid parts parse back to the same query, and no
 * input makes a parser throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GRAPH_DEFAULT_TOP,
  matchesGraphFilter,
  matchesReportingFilter,
  parseGraphListQuery,
  parseRecipientLiteral,
  parseReportingQuery,
  type GraphEqFilters,
  type GraphFilterMode,
  type GraphFilterRow,
  type GraphListQuery,
  type GraphQueryResult,
  type ReportingEqFilters,
  type ReportingFilterRow,
  type ReportingQuery,
  type ReportingQueryResult,
  type SubjectFunction,
} from '../../src/emulator/filters.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse('2026-11-25T12:00:00Z');
const MODES: readonly GraphFilterMode[] = ['observed', 'strict'];
const RUNS = { numRuns: 300 };

/** An instant as the doc examples write it: whole seconds without a fraction. */
const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

function graph(filter: string, mode: GraphFilterMode = 'observed', extra: Record<string, string> = {}) {
  const params = new URLSearchParams(extra);
  params.set('$filter', filter);
  return parseGraphListQuery(params, NOW, mode);
}

/** A raw query string, decoded as a server decodes it ('+' and %20 are spaces). */
function graphRaw(query: string, mode: GraphFilterMode = 'observed'): GraphQueryResult {
  return parseGraphListQuery(new URLSearchParams(query), NOW, mode);
}

function window(from: number, to: number): string {
  return `receivedDateTime ge ${iso(from)} and receivedDateTime le ${iso(to)}`;
}

function accepted(result: GraphQueryResult): GraphListQuery {
  if (!result.ok) throw new Error(`rejected: ${result.message}`);
  return result.query;
}

function rejected(result: GraphQueryResult): string {
  if (result.ok) throw new Error(`accepted: ${JSON.stringify(result.query)}`);
  expect(result.code).toBe('BadRequest');
  return result.message;
}

function reporting(filter: string | undefined, extra: Record<string, string> = {}, historyDays = 10) {
  const params = new URLSearchParams(extra);
  if (filter !== undefined) params.set('$filter', filter);
  return parseReportingQuery(params, NOW, historyDays);
}

function reportingAccepted(result: ReportingQueryResult): ReportingQuery {
  if (!result.ok) throw new Error(`rejected: ${result.message}`);
  return result.query;
}

function reportingRejected(result: ReportingQueryResult): string {
  if (result.ok) throw new Error(`accepted: ${JSON.stringify(result.query)}`);
  expect(result.status).toBe(400);
  return result.message;
}

/** OData string literal: single quotes, a quote inside doubled. */
const quote = (value: string): string => `'${value.replaceAll("'", "''")}'`;
const rwsDate = (ms: number): string => `datetime'${iso(ms)}'`;

const DEFAULT_WINDOW = { from: NOW - 48 * HOUR, to: NOW };

describe('parseGraphListQuery: defaults and the time window', () => {
  it.each(MODES)('without parameters asks for the last 48 hours, 1000 rows (%s)', (mode) => {
    expect(accepted(parseGraphListQuery(new URLSearchParams(), NOW, mode))).toEqual({
      ...DEFAULT_WINDOW,
      top: GRAPH_DEFAULT_TOP,
      eq: {},
    });
  });

  it('treats an empty or blank $filter as no filter', () => {
    expect(accepted(graph(''))).toMatchObject(DEFAULT_WINDOW);
    expect(accepted(graph('   ', 'strict'))).toMatchObject(DEFAULT_WINDOW);
  });

  it('applies the 48-hour default when the filter has other clauses but no time bounds', () => {
    expect(accepted(graph("senderAddress eq 'a@contoso.com'"))).toMatchObject({
      ...DEFAULT_WINDOW,
      eq: { senderAddress: 'a@contoso.com' },
    });
  });

  it.each(MODES)("reads the doc example's unquoted DateTimeOffset literals (%s)", (mode) => {
    const query = accepted(
      graphRaw(
        '$filter=receivedDateTime ge 2026-11-20T00:00:00Z and receivedDateTime le 2026-11-23T00:00:00Z',
        mode,
      ),
    );
    expect(query).toEqual({
      from: Date.parse('2026-11-20T00:00:00Z'),
      to: Date.parse('2026-11-23T00:00:00Z'),
      top: 1000,
      eq: {},
    });
  });

  it.each([
    ['fractional seconds', '2026-11-20T00:00:00.250Z', Date.parse('2026-11-20T00:00:00.250Z')],
    ['one fractional digit', '2026-11-20T00:00:00.5Z', Date.parse('2026-11-20T00:00:00.500Z')],
    [
      'seven fractional digits, truncated to ms',
      '2026-11-20T00:00:00.9999999Z',
      Date.parse('2026-11-20T00:00:00.999Z'),
    ],
    ['no seconds', '2026-11-20T00:00Z', Date.parse('2026-11-20T00:00:00Z')],
    ['a quoted literal', "'2026-11-20T00:00:00Z'", Date.parse('2026-11-20T00:00:00Z')],
    ['a percent-encoded + offset', '2026-11-20T01:00:00+01:00', Date.parse('2026-11-20T00:00:00Z')],
    ['a negative offset', '2026-11-19T19:00:00-05:00', Date.parse('2026-11-20T00:00:00Z')],
    ['lower-case t and z', '2026-11-20t00:00:00z', Date.parse('2026-11-20T00:00:00Z')],
  ])('accepts %s', (_, literal, expected) => {
    const query = accepted(
      graph(`receivedDateTime ge ${literal} and receivedDateTime le 2026-11-21T00:00:00Z`),
    );
    expect(query.from).toBe(expected);
  });

  it('accepts the bounds in either order, with any keyword case and extra whitespace', () => {
    const query = accepted(
      graph('  ReceivedDateTime  LE 2026-11-21T00:00:00Z   AND receiveddatetime Ge 2026-11-20T00:00:00Z '),
    );
    expect(query).toMatchObject({
      from: Date.parse('2026-11-20T00:00:00Z'),
      to: Date.parse('2026-11-21T00:00:00Z'),
    });
  });

  it('reads spaces written as + or %20 in the raw query string', () => {
    const raw =
      '$filter=receivedDateTime+ge+2026-11-20T00:00:00Z%20and%20receivedDateTime+le+2026-11-21T00:00:00Z';
    expect(accepted(graphRaw(raw))).toMatchObject({ from: Date.parse('2026-11-20T00:00:00Z') });
  });

  it('rejects an unencoded + offset, which arrives as a space, and says to send %2B', () => {
    const message = rejected(
      graphRaw(
        '$filter=receivedDateTime ge 2026-11-20T00:00:00+01:00 and receivedDateTime le 2026-11-21T00:00:00Z',
      ),
    );
    expect(message).toContain('%2B');
  });

  it.each([
    ['no zone', '2026-11-20T00:00:00'],
    ['a date without a time', '2026-11-20'],
    ['February 30th', '2026-02-30T00:00:00Z'],
    ['hour 24', '2026-11-20T24:00:00Z'],
    ['minute 60', '2026-11-20T00:60:00Z'],
    ['a typed literal', "datetimeoffset'2026-11-20T00:00:00Z'"],
    ['an epoch number', '1795132800000'],
    ['words', "'yesterday'"],
    ['an offset past 23 hours', '2026-11-20T00:00:00+24:00'],
  ])('rejects a bound with %s', (_, literal) => {
    for (const mode of MODES) {
      rejected(graph(`receivedDateTime ge ${literal} and receivedDateTime le 2026-11-21T00:00:00Z`, mode));
    }
  });

  it.each(MODES)('rejects a single bound (%s)', (mode) => {
    expect(rejected(graph(`receivedDateTime ge ${iso(NOW - DAY)}`, mode))).toMatch(
      /Both receivedDateTime bounds/,
    );
    expect(rejected(graph(`receivedDateTime le ${iso(NOW)}`, mode))).toMatch(/Both receivedDateTime bounds/);
  });

  it.each(MODES)('takes a window of exactly 10 days, and refuses one millisecond more (%s)', (mode) => {
    const to = NOW - HOUR;
    expect(accepted(graph(window(to - 10 * DAY, to), mode))).toMatchObject({ from: to - 10 * DAY, to });
    const tooLong = `receivedDateTime ge ${new Date(to - 10 * DAY - 1).toISOString()} and receivedDateTime le ${iso(to)}`;
    expect(rejected(graph(tooLong, mode))).toMatch(/longer than 10 days/);
  });

  it.each(MODES)('takes a start exactly 90 days back, and refuses one millisecond older (%s)', (mode) => {
    const start = NOW - 90 * DAY;
    expect(accepted(graph(window(start, start + DAY), mode)).from).toBe(start);
    const older = `receivedDateTime ge ${new Date(start - 1).toISOString()} and receivedDateTime le ${iso(start + DAY)}`;
    expect(rejected(graph(older, mode))).toContain('older than 90 days');
  });

  it.each(MODES)('takes an end equal to now, and refuses one millisecond later (%s)', (mode) => {
    expect(accepted(graph(window(NOW - DAY, NOW), mode)).to).toBe(NOW);
    const future = `receivedDateTime ge ${iso(NOW - DAY)} and receivedDateTime le ${new Date(NOW + 1).toISOString()}`;
    expect(rejected(graph(future, mode))).toMatch(/later than the current time/);
  });

  it.each(MODES)('takes start = end, and refuses a start after the end (%s)', (mode) => {
    expect(accepted(graph(window(NOW - DAY, NOW - DAY), mode))).toMatchObject({
      from: NOW - DAY,
      to: NOW - DAY,
    });
    expect(rejected(graph(window(NOW - DAY, NOW - DAY - 1000), mode))).toMatch(/after its end/);
  });

  it.each([
    ['gt', /only 'ge' and 'le'/],
    ['lt', /only 'ge' and 'le'/],
    ['eq', /only 'ge' and 'le'/],
    ['ne', /only 'ge' and 'le'/],
  ])('rejects receivedDateTime %s in both modes', (op, pattern) => {
    for (const mode of MODES) {
      const message = rejected(
        graph(`receivedDateTime ${op} ${iso(NOW - DAY)} and receivedDateTime le ${iso(NOW)}`, mode),
      );
      expect(message).toMatch(pattern);
    }
  });

  it('rejects receivedDateTime in (…) in both modes', () => {
    for (const mode of MODES) rejected(graph(`receivedDateTime in (${iso(NOW - DAY)})`, mode));
  });
});

describe('parseGraphListQuery: property filters', () => {
  it.each([
    ['id', '4451a062-48cb-e80d-e8c0-196330437ae6'],
    ['messageId', '<1f2e3d4c@contoso.com>'],
    ['senderAddress', 'sender@contoso.com'],
    ['recipientAddress', 'recipient@contoso.com'],
    ['status', 'delivered'],
    ['fromIP', '203.0.113.25'],
    ['toIP', ''],
    ['subject', 'Monthly report'],
  ] as const)('reads %s eq in both modes', (prop, value) => {
    for (const mode of MODES) {
      expect(accepted(graph(`${prop} eq ${quote(value)}`, mode)).eq).toEqual({ [prop]: value });
    }
  });

  it('matches property names and operators case-insensitively', () => {
    expect(accepted(graph("SENDERADDRESS EQ 'a@b.c' AnD FromIp eQ '1.2.3.4'", 'strict')).eq).toEqual({
      senderAddress: 'a@b.c',
      fromIP: '1.2.3.4',
    });
  });

  it.each([
    ['contains', 'contains'],
    ['startsWith', 'startsWith'],
    ['endsWith', 'endsWith'],
    ['CONTAINS', 'contains'],
    ['startswith', 'startsWith'],
    ['EndsWith', 'endsWith'],
  ] as const)('reads %s(subject, …) in both modes', (name, op) => {
    for (const mode of MODES) {
      expect(accepted(graph(`${name}(subject,'Weekly')`, mode)).subject).toEqual({ op, value: 'Weekly' });
    }
  });

  it("reads the doc example: contains(subject, 'Weekly digest') and recipientAddress eq …", () => {
    const query = accepted(
      graphRaw(
        "$filter=contains(subject, 'Weekly digest') and recipientAddress eq 'test@contoso.com'",
        'strict',
      ),
    );
    expect(query).toEqual({
      ...DEFAULT_WINDOW,
      top: 1000,
      eq: { recipientAddress: 'test@contoso.com' },
      subject: { op: 'contains', value: 'Weekly digest' },
    });
  });

  it('keeps subject eq and a subject function apart, and applies both', () => {
    const query = accepted(graph("subject eq 'a' and startsWith(subject,'a')", 'strict'));
    expect(query.eq).toEqual({ subject: 'a' });
    expect(query.subject).toEqual({ op: 'startsWith', value: 'a' });
  });

  it('accepts a status written as a typed enum literal', () => {
    const filter = "status eq microsoft.graph.exchangeMessageTraceStatus'filteredAsSpam'";
    expect(accepted(graph(filter, 'strict')).eq).toEqual({ status: 'filteredAsSpam' });
  });

  it('checks status values against the enum in strict mode only', () => {
    expect(accepted(graph("status eq 'Delivered'", 'strict')).eq).toEqual({ status: 'Delivered' });
    expect(accepted(graph("status eq 'recalled'", 'strict')).eq).toEqual({ status: 'recalled' });
    expect(rejected(graph("status eq 'bounced'", 'strict'))).toMatch(/not a member/);
    expect(accepted(graph("status eq 'bounced'", 'observed')).eq).toEqual({ status: 'bounced' });
  });

  it('accepts parentheses around clauses', () => {
    const query = accepted(graph(`(${window(NOW - DAY, NOW)}) and ((toIP eq '10.0.0.1'))`, 'strict'));
    expect(query).toMatchObject({ from: NOW - DAY, to: NOW, eq: { toIP: '10.0.0.1' } });
  });

  it.each([
    ["o''neil@contoso.com", "o'neil@contoso.com"],
    ["''", "'"],
    ["''''", "''"],
    ["it''s ''quoted''", "it's 'quoted'"],
    ['', ''],
    ['a and b eq c', 'a and b eq c'],
    ['(parens, commas)', '(parens, commas)'],
    ['ünïcödé ✉', 'ünïcödé ✉'],
  ])('unescapes the OData literal %s', (inner, value) => {
    expect(accepted(graph(`subject eq '${inner}'`, 'strict')).eq.subject).toBe(value);
    expect(accepted(graph(`endswith(subject,'${inner}')`, 'strict')).subject?.value).toBe(value);
  });

  it.each([
    ["senderAddress eq 'unterminated", /unterminated/],
    ["subject eq 'a'b'c'", /expected 'and', 'or'/],
    ['senderAddress eq a@contoso.com', /unexpected character/],
    ['senderAddress eq unquoted', /quoted string/],
    ['senderAddress eq null', /quoted string/],
    ['senderAddress eq "double@quotes"', /unexpected character/],
    ["senderAddress eq guid'4451a062-48cb-e80d-e8c0-196330437ae6'", /quoted string/],
    ["senderAddress ge 'a'", /only 'eq'/],
    ["senderAddress lt 'a'", /only 'eq'/],
    ["'a' eq senderAddress", /expected a property/],
    ["sender eq 'a'", /Could not find a property named 'sender'/],
    ['size eq 100', /size/],
    ["senderAddress 'a'", /comparison operator/],
    ["senderAddress eq 'a' and", /expected a property/],
    ["senderAddress eq 'a' senderAddress eq 'b'", /expected 'and', 'or'/],
    ["(senderAddress eq 'a'", /expected '\)'/],
    ["senderAddress eq 'a')", /expected 'and', 'or'/],
    ["tolower(subject) eq 'a'", /expected 'and', 'or'|not supported/],
    ["substringof('a',subject)", /not supported/],
    ['contains(subject)', /takes a property and a quoted string/],
    ["contains('a',subject)", /takes a property and a quoted string/],
    ["contains(subject,'a','b')", /takes a property and a quoted string/],
    ['contains(subject,1)', /quoted string/],
    ['contains(subject,subject)', /quoted string/],
    ["contains(subject,'a') eq true", /expected 'and', 'or'/],
    ["contains(messageId,'a')", /subject only/],
    ["startsWith(status,'d')", /subject only/],
    ["contains(nope,'a')", /Could not find a property/],
    ['status in ()', /expected a value/],
    ['and', /comparison operator/],
    ['()', /expected a property/],
    ['$filter', /unexpected character/],
  ])('rejects %s in both modes', (filter, pattern) => {
    for (const mode of MODES) {
      const message = rejected(graph(filter, mode));
      expect(message).toMatch(/^Invalid filter clause: /);
      expect(message).toMatch(pattern);
    }
  });

  it('rejects nesting deeper than any client writes without overflowing the stack', () => {
    const deep = `${'('.repeat(5000)}status eq 'a'${')'.repeat(5000)}`;
    expect(rejected(graph(deep))).toMatch(/nests deeper/);
    const nots = `${'not '.repeat(5000)}status eq 'a'`;
    expect(rejected(graph(nots))).toMatch(/nests deeper/);
  });

  it('reads a long flat chain of clauses', () => {
    const chain = Array.from({ length: 20_000 }, (_, i) => `status eq 's${i}'`).join(' and ');
    expect(accepted(graph(chain)).eq.status).toBe('s19999');
  });
});

describe('parseGraphListQuery: observed versus strict', () => {
  /** [filter, what observed mode makes of it]; strict mode answers 400 to each. */
  const cases: [string, string, Partial<GraphListQuery>][] = [
    [
      'or between values of one property: the last wins',
      "senderAddress eq 'a@x.com' or senderAddress eq 'b@x.com'",
      { eq: { senderAddress: 'b@x.com' } },
    ],
    [
      'or between properties: everything is ANDed',
      "senderAddress eq 'a@x.com' or recipientAddress eq 'b@x.com'",
      { eq: { senderAddress: 'a@x.com', recipientAddress: 'b@x.com' } },
    ],
    ['in: the last value wins', "status in ('failed', 'delivered')", { eq: { status: 'delivered' } }],
    ['ne: its value is kept as if eq', "status ne 'delivered'", { eq: { status: 'delivered' } }],
    ['not: ignored', "not (toIP eq '10.0.0.1')", { eq: { toIP: '10.0.0.1' } }],
    ['not without parentheses', "NOT contains(subject,'x')", { subject: { op: 'contains', value: 'x' } }],
    [
      'a repeated property: the last wins',
      "recipientAddress eq 'a@x.com' and recipientAddress eq 'b@x.com'",
      { eq: { recipientAddress: 'b@x.com' } },
    ],
    [
      'a repeated subject function: the last wins',
      "contains(subject,'a') and startswith(subject,'b')",
      { subject: { op: 'startsWith', value: 'b' } },
    ],
    [
      'a repeated time bound: the last wins',
      `receivedDateTime ge ${iso(NOW - 2 * DAY)} and ${window(NOW - DAY, NOW)}`,
      { from: NOW - DAY, to: NOW },
    ],
    ['contains() on an address: ignored', "contains(senderAddress,'contoso')", { eq: {} }],
    [
      'startsWith()/endsWith() on addresses: ignored',
      "startswith(recipientAddress,'a') and endswith(senderAddress,'b') and status eq 'failed'",
      { eq: { status: 'failed' } },
    ],
  ];

  it.each(cases)('%s', (_, filter, expected) => {
    expect(accepted(graph(filter, 'observed'))).toMatchObject(expected);
    expect(rejected(graph(filter, 'strict'))).toMatch(/strict mode/);
  });

  it('still checks every value of an in (…) list in observed mode', () => {
    rejected(graph("status in ('failed', delivered)", 'observed'));
  });

  it.each(['$select=id,status', '$orderby=receivedDateTime desc', '$count=true'])(
    'ignores %s in observed mode and refuses it in strict mode',
    (option) => {
      expect(accepted(graphRaw(option, 'observed'))).toMatchObject(DEFAULT_WINDOW);
      expect(rejected(graphRaw(option, 'strict'))).toMatch(/silently ignores it/);
    },
  );

  it.each(['$expand=x', '$search="a"', '$skip=10', '$format=json', "$Filter=status eq 'a'"])(
    'ignores the unknown or misspelt option %s in observed mode only',
    (option) => {
      const query = accepted(graphRaw(option, 'observed'));
      expect(rejected(graphRaw(option, 'strict'))).toMatch(/is not supported/);
      // Observed matching is case-insensitive, so $Filter is read as $filter there.
      if (option.startsWith('$Filter')) expect(query.eq).toEqual({ status: 'a' });
    },
  );

  it('ignores parameters without a $ in both modes', () => {
    for (const mode of MODES) {
      expect(accepted(graphRaw('filter=nonsense&api-version=2&tenant=x', mode))).toMatchObject(
        DEFAULT_WINDOW,
      );
    }
  });

  it('refuses a repeated system query option in both modes', () => {
    for (const mode of MODES) {
      expect(rejected(graphRaw('$top=10&$top=20', mode))).toMatch(/more than once/);
      expect(rejected(graphRaw("$filter=status eq 'a'&$filter=status eq 'b'", mode))).toMatch(
        /more than once/,
      );
      expect(rejected(graphRaw('$skiptoken=a&$skipToken=b', mode))).toMatch(/more than once/);
    }
  });
});

describe('parseGraphListQuery: $top and $skiptoken', () => {
  it.each([
    ['1', 1],
    ['5000', 5000],
    ['250', 250],
    ['0042', 42],
  ])('accepts $top=%s', (text, top) => {
    for (const mode of MODES) expect(accepted(graphRaw(`$top=${text}`, mode)).top).toBe(top);
  });

  it.each(['0', '5001', '-1', '1.5', '1e3', 'abc', '', ' 10', '10 ', '0x10', '99999999999999999999'])(
    'rejects $top=%j',
    (text) => {
      const params = new URLSearchParams();
      params.set('$top', text);
      for (const mode of MODES) {
        const result = parseGraphListQuery(params, NOW, mode);
        expect(rejected(result)).toMatch(/\$top: it must be an integer between 1 and 5000/);
      }
    },
  );

  it('returns $skiptoken (v1.0) and $skipToken (beta) as an opaque string', () => {
    for (const mode of MODES) {
      expect(accepted(graphRaw('$skiptoken=opaque-TOKEN_1', mode)).skipToken).toBe('opaque-TOKEN_1');
      expect(accepted(graphRaw('$skipToken=b%3D%3D', mode)).skipToken).toBe('b==');
    }
    expect(accepted(graphRaw('$SKIPTOKEN=x', 'observed')).skipToken).toBe('x');
  });

  it('has no skipToken key when none was sent', () => {
    expect('skipToken' in accepted(graphRaw(''))).toBe(false);
    expect('subject' in accepted(graphRaw(''))).toBe(false);
  });

  it('refuses an empty $skiptoken', () => {
    expect(rejected(graphRaw('$skiptoken='))).toMatch(/empty/);
  });

  it('keeps every other option alongside the filter', () => {
    const query = accepted(graph(window(NOW - DAY, NOW), 'strict', { $top: '5000', $skiptoken: 'tok' }));
    expect(query).toEqual({ from: NOW - DAY, to: NOW, top: 5000, skipToken: 'tok', eq: {} });
  });
});

describe('matchesGraphFilter', () => {
  const row: GraphFilterRow = {
    traceId: '4451A062-48CB-E80D-E8C0-196330437AE6',
    messageId: '<Abc.123@Contoso.com>',
    sender: 'Alice.Smith@Contoso.com',
    recipient: 'Bob@Fabrikam.com',
    subject: 'Weekly Digest: November',
    status: 'delivered',
    fromIp: '203.0.113.25',
    toIp: '',
  };
  const match = (eq: GraphEqFilters, subject?: { op: SubjectFunction; value: string }): boolean =>
    matchesGraphFilter(row, subject === undefined ? { eq } : { eq, subject });

  it('passes every row when there is no property filter', () => {
    expect(match({})).toBe(true);
  });

  it.each<[GraphEqFilters, boolean]>([
    [{ id: '4451a062-48cb-e80d-e8c0-196330437ae6' }, true],
    [{ id: '4451a062-48cb-e80d-e8c0-000000000000' }, false],
    [{ messageId: '<Abc.123@Contoso.com>' }, true],
    [{ messageId: '<abc.123@contoso.com>' }, false],
    [{ messageId: 'Abc.123@Contoso.com' }, false],
    [{ senderAddress: 'alice.smith@contoso.com' }, true],
    [{ senderAddress: 'ALICE.SMITH@CONTOSO.COM' }, true],
    [{ senderAddress: 'alice@contoso.com' }, false],
    [{ recipientAddress: 'bob@fabrikam.com' }, true],
    [{ recipientAddress: 'bob@fabrikam.co' }, false],
    [{ status: 'Delivered' }, true],
    [{ status: 'DELIVERED' }, true],
    [{ status: 'failed' }, false],
    [{ fromIP: '203.0.113.25' }, true],
    [{ fromIP: '203.0.113.2' }, false],
    [{ toIP: '' }, true],
    [{ toIP: '10.0.0.1' }, false],
    [{ subject: 'weekly digest: november' }, true],
    [{ subject: 'Weekly Digest' }, false],
    [{ senderAddress: 'alice.smith@contoso.com', status: 'delivered', toIP: '' }, true],
    [{ senderAddress: 'alice.smith@contoso.com', status: 'failed' }, false],
  ])('eq %j → %s', (eq, expected) => {
    expect(match(eq)).toBe(expected);
  });

  it.each<[string, boolean]>([
    ['*@contoso.com', true],
    ['*@CONTOSO.COM', true],
    ['*@fabrikam.com', false],
    ['*@sub.contoso.com', false],
    ['*contoso.com', false],
    ['alice*@contoso.com', false],
    ['*', false],
    ['*@*', false],
  ])("senderAddress eq '%s' (only *@domain is a wildcard) → %s", (pattern, expected) => {
    expect(match({ senderAddress: pattern })).toBe(expected);
  });

  it('does not treat * as a wildcard on the recipient', () => {
    expect(match({ recipientAddress: '*@fabrikam.com' })).toBe(false);
  });

  it.each<[SubjectFunction, string, boolean]>([
    ['contains', 'DIGEST', true],
    ['contains', 'digest: nov', true],
    ['contains', 'monthly', false],
    ['startsWith', 'weekly', true],
    ['startsWith', 'digest', false],
    ['endsWith', 'NOVEMBER', true],
    ['endsWith', 'weekly', false],
    ['contains', '', true],
  ])('%s(subject, %j) → %s, case-insensitively', (op, value, expected) => {
    expect(match({}, { op, value })).toBe(expected);
  });

  it('applies subject eq and a subject function together', () => {
    expect(match({ subject: 'weekly digest: november' }, { op: 'startsWith', value: 'weekly' })).toBe(true);
    expect(match({ subject: 'weekly digest: november' }, { op: 'startsWith', value: 'monthly' })).toBe(false);
  });

  it('compares null sender, subject and toIP as empty', () => {
    const bare: GraphFilterRow = { ...row, sender: null, subject: null, toIp: null };
    expect(matchesGraphFilter(bare, { eq: { senderAddress: '' } })).toBe(true);
    expect(matchesGraphFilter(bare, { eq: { senderAddress: '*@contoso.com' } })).toBe(false);
    expect(matchesGraphFilter(bare, { eq: { toIP: '' } })).toBe(true);
    expect(matchesGraphFilter(bare, { eq: {}, subject: { op: 'contains', value: 'x' } })).toBe(false);
    expect(matchesGraphFilter(bare, { eq: {}, subject: { op: 'contains', value: '' } })).toBe(true);
  });

  it('takes a parsed query directly', () => {
    const query = accepted(graph("senderAddress eq '*@contoso.com' and contains(subject,'digest')"));
    expect(matchesGraphFilter(row, query)).toBe(true);
    expect(matchesGraphFilter({ ...row, subject: 'Hello' }, query)).toBe(false);
  });
});

describe('parseRecipientLiteral', () => {
  it.each([
    ["getDetailsByRecipient(recipientAddress='robert@contoso.com')", 'robert@contoso.com'],
    ["getDetailsByRecipient(recipientAddress='o''neil@contoso.com')", "o'neil@contoso.com"],
    ['getDetailsByRecipient(recipientAddress=%27o%27%27neil%40contoso.com%27)', "o'neil@contoso.com"],
    ['getDetailsByRecipient%28recipientAddress%3D%27a%40b.com%27%29', 'a@b.com'],
    ["getDetailsByRecipient(recipientAddress='a%40b.com')", 'a@b.com'],
    ["microsoft.graph.getDetailsByRecipient(recipientAddress='a@b.com')", 'a@b.com'],
    ["getdetailsbyrecipient(RecipientAddress = 'a@b.com' )", 'a@b.com'],
    // The parameter list alone, as a router that matched the function call hands it over.
    ["recipientAddress='o''neil@contoso.com'", "o'neil@contoso.com"],
    ['recipientAddress=%27o%27%27neil%40contoso.com%27', "o'neil@contoso.com"],
    // Not percent-encoding: a lone % is kept as it is.
    ["recipientAddress='100%@contoso.com'", '100%@contoso.com'],
    ["recipientAddress='a)b@contoso.com'", 'a)b@contoso.com'],
    ["recipientAddress=''''", "'"],
  ])('reads %s', (segment, address) => {
    expect(parseRecipientLiteral(segment)).toEqual({ ok: true, address });
  });

  it.each([
    ["getDetailsByRecipient(recipientAddress='o'neil@contoso.com')", /closing quote/],
    ["getDetailsByRecipient(recipientAddress='a@b.com)", /not terminated/],
    ['getDetailsByRecipient(recipientAddress=a@b.com)', /quoted string literal/],
    ['getDetailsByRecipient(recipientAddress=null)', /quoted string literal/],
    ["getDetailsByRecipient(recipientAddress='')", /empty/],
    ["getDetailsByRecipient(recipient='a@b.com')", /Expected getDetailsByRecipient/],
    ["getDetailsByRecipient('a@b.com')", /Expected getDetailsByRecipient/],
    ['getDetailsByRecipient()', /Expected getDetailsByRecipient/],
    ["getDetailsByRecipient(recipientAddress='a@b.com',x='y')", /closing quote/],
    ['', /Expected getDetailsByRecipient/],
  ])('rejects %s', (segment, pattern) => {
    const result = parseRecipientLiteral(segment);
    if (result.ok) throw new Error(`accepted ${result.address}`);
    expect(result.code).toBe('BadRequest');
    expect(result.message).toMatch(pattern);
  });
});

describe('parseReportingQuery', () => {
  const start = NOW - 2 * DAY;
  const end = NOW - DAY;
  const pair = `StartDate eq ${rwsDate(start)} and EndDate eq ${rwsDate(end)}`;

  it('without a filter asks for the last 48 hours', () => {
    expect(reportingAccepted(reporting(undefined))).toEqual({ ...DEFAULT_WINDOW, eq: {} });
    expect(reportingAccepted(reporting(' '))).toEqual({ ...DEFAULT_WINDOW, eq: {} });
    expect(reportingAccepted(reporting("SenderAddress eq 'a@b.com'"))).toMatchObject(DEFAULT_WINDOW);
  });

  it("reads Microsoft's sample window, with and without Z, fraction or seconds", () => {
    expect(reportingAccepted(reporting(pair))).toEqual({ from: start, to: end, eq: {} });
    const variants = [
      "StartDate eq datetime'2026-11-20T13:08:54' and EndDate eq datetime'2026-11-21T13:08:54.1234567Z'",
      "EndDate eq DateTime'2026-11-21T13:08:54.123Z' and StartDate eq datetime'2026-11-20T13:08:54Z'",
      "(StartDate eq datetime'2026-11-20T13:08:54Z') and (EndDate eq datetime'2026-11-21T13:08:54.123')",
    ];
    for (const filter of variants) {
      expect(reportingAccepted(reporting(filter))).toMatchObject({
        from: Date.parse('2026-11-20T13:08:54Z'),
        to: Date.parse('2026-11-21T13:08:54.123Z'),
      });
    }
    expect(
      reportingAccepted(
        reporting("StartDate eq datetime'2026-11-20T13:08' and EndDate eq datetime'2026-11-21T00:00'"),
      ).from,
    ).toBe(Date.parse('2026-11-20T13:08:00Z'));
  });

  it('reads every eq field and the options', () => {
    const filter = [
      pair,
      "SenderAddress eq 'o''neil@contoso.com'",
      "RecipientAddress eq 'bob@fabrikam.com'",
      "MessageTraceId eq guid'579CD25C-9b30-4ce4-d5eb-08da70ab3b38'",
      "Status eq 'Delivered'",
      "MessageId eq '<123@sender.foo>'",
      "FromIP eq '1.1.1.1'",
      "ToIP eq '2001:db8::1'",
    ].join(' and ');
    const query = reportingAccepted(
      reporting(filter, {
        $format: 'json',
        $skiptoken: '1999',
        $top: '500',
        $select: 'Received,Status',
        $orderby: 'Received',
      }),
    );
    expect(query).toEqual({
      from: start,
      to: end,
      skipToken: 1999,
      top: 500,
      format: 'json',
      eq: {
        SenderAddress: "o'neil@contoso.com",
        RecipientAddress: 'bob@fabrikam.com',
        MessageTraceId: '579CD25C-9b30-4ce4-d5eb-08da70ab3b38',
        Status: 'Delivered',
        MessageId: '<123@sender.foo>',
        FromIP: '1.1.1.1',
        ToIP: '2001:db8::1',
      },
    });
  });

  it('reads the MessageTraceDetail query clients send', () => {
    const raw =
      "$filter=MessageTraceId eq guid'579cd25c-9b30-4ce4-d5eb-08da70ab3b38' and RecipientAddress eq 'user%40corp.net' and " +
      `SenderAddress eq 'sender@mail.sender.foo' and StartDate eq ${rwsDate(start)} and EndDate eq ${rwsDate(end)}&$format=json`;
    const query = reportingAccepted(parseReportingQuery(new URLSearchParams(raw), NOW, 10));
    expect(query.eq).toEqual({
      MessageTraceId: '579cd25c-9b30-4ce4-d5eb-08da70ab3b38',
      RecipientAddress: 'user@corp.net',
      SenderAddress: 'sender@mail.sender.foo',
    });
  });

  it('accepts $format=atom as the default, $top=0, and $skiptoken=0', () => {
    const query = reportingAccepted(reporting(undefined, { $format: 'atom', $top: '0', $skiptoken: '0' }));
    expect(query).toEqual({ ...DEFAULT_WINDOW, top: 0, skipToken: 0, eq: {} });
    expect('format' in query).toBe(false);
    expect(reportingAccepted(reporting(undefined, { $format: 'JSON' })).format).toBe('json');
  });

  it('requires StartDate and EndDate together', () => {
    expect(reportingRejected(reporting(`StartDate eq ${rwsDate(start)}`))).toMatch(/together/);
    expect(reportingRejected(reporting(`EndDate eq ${rwsDate(end)}`))).toMatch(/together/);
  });

  it('takes a start exactly historyDays back, and refuses one millisecond older', () => {
    for (const days of [10, 30]) {
      const edge = NOW - days * DAY;
      const filter = (from: number) =>
        `StartDate eq datetime'${new Date(from).toISOString()}' and EndDate eq ${rwsDate(NOW)}`;
      expect(reportingAccepted(reporting(filter(edge), {}, days)).from).toBe(edge);
      expect(reportingRejected(reporting(filter(edge - 1), {}, days))).toBe(
        `Invalid StartDate value. The StartDate can't be older than ${days} days from today.`,
      );
    }
  });

  it('takes an end equal to now, and refuses a later one', () => {
    expect(
      reportingAccepted(reporting(`StartDate eq ${rwsDate(start)} and EndDate eq ${rwsDate(NOW)}`)).to,
    ).toBe(NOW);
    const later = `StartDate eq ${rwsDate(start)} and EndDate eq datetime'${new Date(NOW + 1).toISOString()}'`;
    expect(reportingRejected(reporting(later))).toMatch(/EndDate can't be later than the current time/);
  });

  it('takes start = end, and refuses a start after the end', () => {
    expect(
      reportingAccepted(reporting(`StartDate eq ${rwsDate(end)} and EndDate eq ${rwsDate(end)}`)),
    ).toMatchObject({
      from: end,
      to: end,
    });
    expect(
      reportingRejected(reporting(`StartDate eq ${rwsDate(end)} and EndDate eq ${rwsDate(start)}`)),
    ).toMatch(/earlier than the EndDate/);
  });

  it.each([
    [`StartDate eq '${iso(NOW - DAY)}' and EndDate eq ${rwsDate(NOW)}`, /datetime literal/],
    [`StartDate eq ${iso(NOW - DAY)} and EndDate eq ${rwsDate(NOW)}`, /datetime literal/],
    [`StartDate eq datetime'2026-02-30T00:00:00' and EndDate eq ${rwsDate(NOW)}`, /datetime literal/],
    [`StartDate eq datetime'03/10/2013' and EndDate eq ${rwsDate(NOW)}`, /datetime literal/],
    [`StartDate ge ${rwsDate(NOW - DAY)} and EndDate le ${rwsDate(NOW)}`, /only 'eq'/],
    [`StartDate eq ${rwsDate(NOW - DAY)} and StartDate eq ${rwsDate(NOW - DAY)}`, /more than once/],
    ["SenderAddress eq 'a@b.com' and SenderAddress eq 'c@b.com'", /more than once/],
    ["SenderAddress eq 'a@b.com' or RecipientAddress eq 'c@b.com'", /'or' is not supported/],
    ["not SenderAddress eq 'a@b.com'", /'not' is not supported/],
    ["SenderAddress ne 'a@b.com'", /only 'eq'/],
    ["SenderAddress in ('a@b.com')", /'in' is not supported/],
    ["substringof('a', Subject)", /function/],
    ['SenderAddress eq a@b.com', /unexpected character/],
    ["SenderAddress eq guid'579cd25c-9b30-4ce4-d5eb-08da70ab3b38'", /quoted string/],
    ["MessageTraceId eq '579cd25c-9b30-4ce4-d5eb-08da70ab3b38'", /guid literal/],
    ["MessageTraceId eq guid'not-a-guid'", /guid literal/],
    ["Subject eq 'hello'", /filtering on 'Subject' is not supported/],
    ["senderaddress eq 'a@b.com'", /No property 'senderaddress'/],
    ["SenderAddress EQ 'a@b.com'", /comparison operator/],
    ["SenderAddress eq 'a@b.com' AND Status eq 'Failed'", /expected 'and', 'or'/],
    ["SenderAddress eq 'unterminated", /unterminated/],
  ])('rejects %s', (filter, pattern) => {
    const message = reportingRejected(reporting(filter));
    expect(message).toMatch(/^Invalid \$filter: /);
    expect(message).toMatch(pattern);
  });

  it.each([
    ['$top', '-1'],
    ['$top', 'ten'],
    ['$top', ''],
    ['$top', '99999999999'],
    ['$skiptoken', 'abc'],
    ['$skiptoken', '-1'],
    ['$skiptoken', ''],
    ['$skiptoken', '1.5'],
    ['$format', 'xml'],
    ['$format', ''],
  ])('rejects %s=%j', (option, value) => {
    expect(reportingRejected(reporting(undefined, { [option]: value }))).toMatch(/Invalid value/);
  });

  it('refuses unknown, misspelt and repeated $ options, and ignores the others', () => {
    expect(reportingRejected(reporting(undefined, { $expand: 'x' }))).toMatch(/'\$expand' is not supported/);
    expect(reportingRejected(reporting(undefined, { $Filter: "Status eq 'x'" }))).toMatch(/not supported/);
    expect(reportingRejected(parseReportingQuery(new URLSearchParams('$top=1&$top=2'), NOW, 10))).toMatch(
      /exactly once/,
    );
    expect(reportingAccepted(reporting(undefined, { foo: 'bar' }))).toEqual({ ...DEFAULT_WINDOW, eq: {} });
  });
});

describe('matchesReportingFilter', () => {
  const row: ReportingFilterRow = {
    traceId: '579cd25c-9b30-4ce4-d5eb-08da70ab3b38',
    messageId: '<123@sender.foo>',
    sender: 'Sender@Mail.Sender.Foo',
    recipient: 'user@corp.net',
    status: 'Delivered',
    fromIp: '1.1.1.1',
    toIp: null,
  };

  it.each<[ReportingEqFilters, boolean]>([
    [{}, true],
    [{ SenderAddress: 'sender@mail.sender.foo' }, true],
    [{ RecipientAddress: 'USER@corp.net' }, true],
    [{ RecipientAddress: 'other@corp.net' }, false],
    [{ MessageTraceId: '579CD25C-9B30-4CE4-D5EB-08DA70AB3B38' }, true],
    [{ Status: 'delivered' }, true],
    [{ Status: 'Failed' }, false],
    [{ MessageId: '<123@sender.foo>' }, true],
    [{ MessageId: '<123@SENDER.FOO>' }, false],
    [{ FromIP: '1.1.1.1' }, true],
    [{ ToIP: '' }, true],
    [{ ToIP: '2.2.2.2' }, false],
  ])('eq %j → %s', (eq, expected) => {
    expect(matchesReportingFilter(row, { eq })).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

/** Text that stresses the literal syntax: quotes, keywords, parentheses, URL metacharacters. */
const tricky = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc
    .array(
      fc.constantFrom("'", "''", 'a', ' ', 'é', ' and ', ' eq ', '(', ')', ',', '%', '+', '&', '=', '#', '✉'),
      {
        maxLength: 12,
      },
    )
    .map((parts) => parts.join('')),
);
/** An ASCII keyword or property name in random letter case (OData keywords are case-insensitive on Graph). */
const anyCase = (word: string): fc.Arbitrary<string> =>
  fc
    .array(fc.boolean(), { minLength: word.length, maxLength: word.length })
    .map((upper) =>
      upper.map((up, i) => (up ? word.charAt(i).toUpperCase() : word.charAt(i).toLowerCase())).join(''),
    );
const space = fc.constantFrom(' ', '  ', '\t');
const GRAPH_STATUSES = [
  'gettingStatus',
  'pending',
  'failed',
  'delivered',
  'expanded',
  'quarantined',
  'filteredAsSpam',
];

/** A valid window and how it is spelt: whole seconds, milliseconds, or quoted. */
const graphWindow = fc
  .integer({ min: NOW - 90 * DAY, max: NOW })
  .chain((from) =>
    fc.tuple(fc.constant(from), fc.integer({ min: from, max: Math.min(from + 10 * DAY, NOW) })),
  );
const spell = (ms: number): fc.Arbitrary<string> =>
  fc.constantFrom(new Date(ms).toISOString(), `'${new Date(ms).toISOString()}'`);

const graphParts = fc.record(
  {
    window: graphWindow,
    eq: fc.record(
      {
        id: fc.uuid().map(String),
        messageId: tricky,
        senderAddress: tricky,
        recipientAddress: tricky,
        status: fc.constantFrom(...GRAPH_STATUSES).chain(anyCase),
        fromIP: fc.ipV4(),
        toIP: fc.oneof(fc.ipV6(), fc.constant('')),
        subject: tricky,
      },
      { requiredKeys: [] },
    ),
    subject: fc.record({
      op: fc.constantFrom<SubjectFunction>('contains', 'startsWith', 'endsWith'),
      value: tricky,
    }),
    mode: fc.constantFrom(...MODES),
  },
  { requiredKeys: ['eq', 'mode'] },
);

describe('properties', () => {
  it('a Graph filter built from random valid parts parses back to the same query', () => {
    fc.assert(
      fc.property(
        graphParts.chain((parts) => {
          const clauses: fc.Arbitrary<string>[] = Object.entries(parts.eq).map(([prop, value]) =>
            fc
              .tuple(anyCase(prop), anyCase('eq'), space)
              .map(([p, op, s]) => `${p}${s}${op}${s}${quote(value)}`),
          );
          if (parts.window) {
            const [from, to] = parts.window;
            clauses.push(spell(from).map((t) => `receivedDateTime ge ${t}`));
            clauses.push(spell(to).map((t) => `receivedDateTime le ${t}`));
          }
          if (parts.subject) {
            const { op, value } = parts.subject;
            clauses.push(anyCase(op).map((name) => `${name}(subject,${quote(value)})`));
          }
          const filter =
            clauses.length === 0
              ? fc.constant('')
              : fc
                  .tuple(fc.shuffledSubarray(clauses, { minLength: clauses.length }), anyCase('and'))
                  .chain(([shuffled, and]) =>
                    fc
                      .tuple(
                        fc.tuple(...shuffled),
                        fc.array(fc.boolean(), { minLength: shuffled.length, maxLength: shuffled.length }),
                      )
                      .map(([spelt, paren]) =>
                        spelt.map((c, i) => (paren[i] === true ? `(${c})` : c)).join(` ${and} `),
                      ),
                  );
          return fc.tuple(fc.constant(parts), filter);
        }),
        ([parts, filter]) => {
          const params = new URLSearchParams();
          params.set('$filter', filter);
          // Through the wire format too: what a client encodes, the server decodes to the same text.
          const wire = new URLSearchParams(params.toString());
          const [from, to] = parts.window ?? [DEFAULT_WINDOW.from, DEFAULT_WINDOW.to];
          const expected: GraphListQuery = { from, to, top: 1000, eq: parts.eq };
          if (parts.subject) expected.subject = parts.subject;
          expect(accepted(parseGraphListQuery(wire, NOW, parts.mode))).toEqual(expected);
        },
      ),
      RUNS,
    );
  });

  it('a Reporting Web Service filter built from random valid parts parses back to the same query', () => {
    const parts = fc.record(
      {
        window: fc
          .integer({ min: NOW - 10 * DAY, max: NOW })
          .chain((from) => fc.tuple(fc.constant(from), fc.integer({ min: from, max: NOW }))),
        eq: fc.record(
          {
            SenderAddress: tricky,
            RecipientAddress: tricky,
            MessageTraceId: fc.uuid().map(String),
            Status: tricky,
            MessageId: tricky,
            FromIP: fc.ipV4(),
            ToIP: fc.ipV6(),
          },
          { requiredKeys: [] },
        ),
        skipToken: fc.nat(),
        top: fc.nat({ max: 5000 }),
      },
      { requiredKeys: ['eq'] },
    );
    fc.assert(
      fc.property(
        parts.chain((p) => {
          const clauses = Object.entries(p.eq).map(([prop, value]) =>
            prop === 'MessageTraceId' ? `${prop} eq guid'${value}'` : `${prop} eq ${quote(value)}`,
          );
          if (p.window) {
            clauses.push(`StartDate eq datetime'${new Date(p.window[0]).toISOString()}'`);
            clauses.push(`EndDate eq datetime'${new Date(p.window[1]).toISOString()}'`);
          }
          return fc.tuple(fc.constant(p), fc.shuffledSubarray(clauses, { minLength: clauses.length }));
        }),
        ([p, clauses]) => {
          const params = new URLSearchParams();
          if (clauses.length > 0) params.set('$filter', clauses.join(' and '));
          if (p.skipToken !== undefined) params.set('$skiptoken', String(p.skipToken));
          if (p.top !== undefined) params.set('$top', String(p.top));
          const [from, to] = p.window ?? [DEFAULT_WINDOW.from, DEFAULT_WINDOW.to];
          const expected: ReportingQuery = { from, to, eq: p.eq };
          if (p.skipToken !== undefined) expected.skipToken = p.skipToken;
          if (p.top !== undefined) expected.top = p.top;
          const wire = new URLSearchParams(params.toString());
          expect(reportingAccepted(parseReportingQuery(wire, NOW, 10))).toEqual(expected);
        },
      ),
      RUNS,
    );
  });

  /** Filters made of the grammar's own pieces, so that the parser gets past its first token. */
  const tokenSoup = fc
    .array(
      fc.oneof(
        fc.constantFrom(
          'and',
          'or',
          'not',
          'eq',
          'ne',
          'ge',
          'le',
          'in',
          '(',
          ')',
          ',',
          "'",
          "''",
          'contains',
        ),
        fc.constantFrom(
          'receivedDateTime',
          'StartDate',
          'SenderAddress',
          'status',
          'subject',
          'size',
          'guid',
          'datetime',
        ),
        fc.constantFrom(
          iso(NOW - DAY),
          iso(NOW),
          "'x'",
          "datetime'2026-11-24T00:00:00'",
          "guid'a'",
          '+',
          '-',
          '%',
        ),
        fc.string({ maxLength: 4 }),
      ),
      { maxLength: 25 },
    )
    .chain((tokens) => fc.constantFrom(tokens.join(' '), tokens.join('')));
  const anyFilter = fc.oneof(fc.string({ unit: 'binary' }), tokenSoup);
  const anyParams = fc
    .array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom('$filter', '$top', '$skiptoken', '$skipToken', '$format', '$select', '$x'),
          fc.string(),
        ),
        anyFilter,
      ),
      {
        maxLength: 4,
      },
    )
    .map((entries) => new URLSearchParams(entries));

  it('the Graph parser never throws, and anything it accepts obeys the window rules', () => {
    fc.assert(
      fc.property(anyParams, anyFilter, fc.constantFrom(...MODES), (params, filter, mode) => {
        for (const input of [params, new URLSearchParams([['$filter', filter]])]) {
          const result = parseGraphListQuery(input, NOW, mode);
          if (result.ok) {
            const { from, to, top } = result.query;
            expect(from).toBeLessThanOrEqual(to);
            expect(to - from).toBeLessThanOrEqual(10 * DAY);
            expect(from).toBeGreaterThanOrEqual(NOW - 90 * DAY);
            expect(to).toBeLessThanOrEqual(NOW);
            expect(top >= 1 && top <= 5000).toBe(true);
          } else {
            expect(result.message.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('the Reporting Web Service parser never throws, and anything it accepts obeys the window rules', () => {
    fc.assert(
      fc.property(anyParams, anyFilter, fc.integer({ min: 1, max: 30 }), (params, filter, days) => {
        for (const input of [params, new URLSearchParams([['$filter', filter]])]) {
          const result = parseReportingQuery(input, NOW, days);
          if (result.ok) {
            expect(result.query.from).toBeLessThanOrEqual(result.query.to);
            expect(result.query.to).toBeLessThanOrEqual(NOW);
          } else {
            expect(result.status).toBe(400);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('parseRecipientLiteral never throws, and reads back any address it is given', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (segment) => {
        const result = parseRecipientLiteral(segment);
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(
        // An undecoded address that itself holds %XX is ambiguous by nature: it is decoded once more.
        fc.oneof(fc.emailAddress(), tricky).filter((s) => s.length > 0 && !/%[0-9a-f]{2}/i.test(s)),
        fc.boolean(),
        (address, encode) => {
          const literal = `recipientAddress=${quote(address)}`;
          const segment = `getDetailsByRecipient(${encode ? encodeURIComponent(literal) : literal})`;
          expect(parseRecipientLiteral(segment)).toEqual({ ok: true, address });
        },
      ),
      RUNS,
    );
  });
});
