import { describe, expect, it } from 'vitest';
import { normalize, type MessageTraceEvent, type NormalizeOptions } from '../../src/normalize/index.js';
import { parsePage as graphParsePage } from '../../src/sources/graph.js';

const TRACE_ID = '3b4fc661-180d-4c2f-60c9-08da6e38dd10';

/** A Reporting Web Service row (verbose dialect), with overrides. */
function rwsRow(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    __metadata: {
      id: 'https://reports.office365.com/ecp/ReportingWebService/Reporting.svc/MessageTrace(0)',
      uri: 'https://reports.office365.com/ecp/ReportingWebService/Reporting.svc/MessageTrace(0)',
      type: 'TenantReporting.MessageTrace',
    },
    Organization: 'contoso.onmicrosoft.com',
    MessageId: '<m1@contoso.com>',
    Received: '/Date(1658751973240)/',
    SenderAddress: 'alice@contoso.com',
    RecipientAddress: 'bob@fabrikam.com',
    Subject: 'Quarterly numbers',
    Status: 'Delivered',
    ToIP: '203.0.113.9',
    FromIP: '10.1.2.3',
    Size: 1234,
    MessageTraceId: TRACE_ID,
    StartDate: '/Date(1658579297628)/',
    EndDate: '/Date(1658752097628)/',
    Index: 0,
    ...overrides,
  };
}

/** The same row as Microsoft Graph v1.0 returns it. */
function graphRow(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: TRACE_ID,
    senderAddress: 'alice@contoso.com',
    recipientAddress: 'bob@fabrikam.com',
    messageId: '<m1@contoso.com>',
    receivedDateTime: '2022-07-25T12:26:13.240Z',
    subject: 'Quarterly numbers',
    size: 1234,
    fromIP: '10.1.2.3',
    toIP: '203.0.113.9',
    status: 'delivered',
    ...overrides,
  };
}

function one(input: unknown, options: NormalizeOptions = {}): MessageTraceEvent {
  const text = typeof input === 'string' ? input : JSON.stringify(input);
  const { events, rejects } = normalize(text, options);
  expect(rejects).toEqual([]);
  expect(events).toHaveLength(1);
  return events[0] as MessageTraceEvent;
}

function rejectReason(input: unknown): string {
  const text = typeof input === 'string' ? input : JSON.stringify(input);
  const { events, rejects } = normalize(text);
  expect(events).toEqual([]);
  expect(rejects).toHaveLength(1);
  return rejects[0]?.reason ?? '';
}

describe('received time', () => {
  it.each([
    ['/Date(1658751973240)/', '2022-07-25T12:26:13.240000Z'],
    ['\\/Date(1658751973240)\\/', '2022-07-25T12:26:13.240000Z'],
    ['/Date(1658751973240+0100)/', '2022-07-25T12:26:13.240000Z'],
    ['/Date(1658751973240-0530)/', '2022-07-25T12:26:13.240000Z'],
    ['/Date(5)/', '1970-01-01T00:00:00.005000Z'],
    ['/Date(-1)/', '1969-12-31T23:59:59.999000Z'],
    ['2022-09-05T18:10:13.4907658', '2022-09-05T18:10:13.490765Z'],
    ['2022-09-05T18:10:13.4907658Z', '2022-09-05T18:10:13.490765Z'],
    ['2022-09-05T18:10:13', '2022-09-05T18:10:13.000000Z'],
    ['2022-09-05T18:10:13.1', '2022-09-05T18:10:13.100000Z'],
    ['2022-09-05T20:10:13.999999999+02:00', '2022-09-05T18:10:13.999999Z'],
    ['2022-09-05T16:40:13.5-0130', '2022-09-05T18:10:13.500000Z'],
    ['2022-01-01T00:30:00+01:00', '2021-12-31T23:30:00.000000Z'],
    ['2024-02-29T23:59:59.9999999Z', '2024-02-29T23:59:59.999999Z'],
    ['0050-06-01T00:00:00Z', '0050-06-01T00:00:00.000000Z'],
  ])('Received %s → @timestamp %s', (received, timestamp) => {
    expect(one(rwsRow({ Received: received }))['@timestamp']).toBe(timestamp);
  });

  it('PowerShell 5.1 date wrapper {value, DateTime}', () => {
    const wrapped = {
      value: '/Date(1658751973240)/',
      DisplayHint: 2,
      DateTime: 'Monday, July 25, 2022 12:26:13 PM',
    };
    const row = rwsRow({ Received: wrapped });
    delete row.Organization;
    expect(one(row)['@timestamp']).toBe('2022-07-25T12:26:13.240000Z');
  });

  it.each([
    [null, 'received time (Received) is missing'],
    ['', 'received time (Received) is empty'],
    ['yesterday', 'received time (Received) is not a date: "yesterday"'],
    ['2022-02-30T00:00:00Z', 'has no such day'],
    ['2022-13-01T00:00:00Z', 'has no such day'],
    ['2022-01-01T24:00:00Z', 'has no such time of day'],
    ['2022-01-01T10:00:00+25:00', 'invalid UTC offset'],
    [1658751973240, 'is not a date string (got number)'],
    ['/Date(99999999999999999)/', 'is not a date'],
    ['/Date(9999999999999999)/', 'outside the years'],
  ])('Received %j is rejected: %s', (received, reason) => {
    expect(rejectReason(rwsRow({ Received: received }))).toContain(reason);
  });

  it('a Graph row without receivedDateTime names the Graph field', () => {
    const row = graphRow();
    delete row.receivedDateTime;
    expect(rejectReason(row)).toBe('received time (receivedDateTime) is missing');
  });
});

describe('trace id', () => {
  it.each([
    [rwsRow({ MessageTraceId: null }), 'missing trace id (MessageTraceId)'],
    [rwsRow({ MessageTraceId: '' }), 'missing trace id (MessageTraceId)'],
    [rwsRow({ MessageTraceId: 42 }), 'trace id (MessageTraceId) is not a string: 42'],
    [graphRow({ id: undefined }), 'missing trace id (id)'],
  ])('%# rejected: %s', (row, reason) => {
    expect(rejectReason(row)).toBe(reason);
  });
});

describe('status', () => {
  it.each([
    ['gettingStatus', 'GettingStatus', 'unknown'],
    ['GettingStatus', 'GettingStatus', 'unknown'],
    ['pending', 'Pending', 'unknown'],
    ['delivered', 'Delivered', 'success'],
    ['DELIVERED', 'Delivered', 'success'],
    ['failed', 'Failed', 'failure'],
    ['quarantined', 'Quarantined', 'failure'],
    ['filteredAsSpam', 'FilteredAsSpam', 'failure'],
    ['expanded', 'Expanded', 'unknown'],
    ['recalled', 'Recalled', 'unknown'],
    ['None', 'None', 'unknown'],
    ['unknownFutureValue', 'unknownFutureValue', 'unknown'],
    ['SomethingNew', 'SomethingNew', 'unknown'],
  ])('Graph status %s → event.action %s, outcome %s', (status, action, outcome) => {
    const event = one(graphRow({ status }));
    expect(event.event.action).toBe(action);
    expect(event.event.outcome).toBe(outcome);
  });

  it('beta PascalCase and v1.0 camelCase give the same event', () => {
    const v1 = one(graphRow({ status: 'filteredAsSpam' }));
    const beta = one(
      graphRow({ status: 'FilteredAsSpam', '@odata.type': '#microsoft.graph.exchangeMessageTrace' }),
    );
    expect({ ...beta, message: '' }).toStrictEqual({ ...v1, message: '' });
  });

  it('a row without status has no event.action and an unknown outcome', () => {
    const event = one(rwsRow({ Status: null }));
    expect(event.event).not.toHaveProperty('action');
    expect(event.event.outcome).toBe('unknown');
  });
});

describe('values', () => {
  it('null and empty strings leave their fields out', () => {
    const event = one(rwsRow({ SenderAddress: null, RecipientAddress: '', MessageId: null, Subject: '' }), {
      profile: 'seed',
    });
    expect(event).not.toHaveProperty('email');
  });

  it('Size: 0 kept, numeric strings become numbers, junk is left out', () => {
    expect(one(rwsRow({ Size: 0 })).office365.message_trace.Size).toBe(0);
    expect(one(rwsRow({ Size: '87680' })).office365.message_trace.Size).toBe(87680);
    expect(one(graphRow({ size: ' 12 ' })).office365.message_trace.Size).toBe(12);
    expect(one(rwsRow({ Size: 'big' })).office365.message_trace).not.toHaveProperty('Size');
    expect(one(rwsRow({ Size: -5 })).office365.message_trace).not.toHaveProperty('Size');
    expect(one(rwsRow({ Size: null })).office365.message_trace).not.toHaveProperty('Size');
    // ECS long: whole, finite, exact.
    for (const size of ['9'.repeat(400), 1.5, '1.5', 1e20, Number.MAX_SAFE_INTEGER + 2]) {
      expect(one(rwsRow({ Size: size })).office365.message_trace, String(size)).not.toHaveProperty('Size');
    }
  });

  it("toIP '' (Graph inbound) and null mean no destination", () => {
    for (const toIP of ['', null]) {
      const event = one(graphRow({ toIP }));
      expect(event.destination).toEqual({ user: { email: 'bob@fabrikam.com' } });
      expect(event.related?.ip).toEqual(['10.1.2.3']);
    }
  });

  it('invalid IPs are never mapped; IPv6 is', () => {
    const event = one(rwsRow({ FromIP: '999.1.1.1', ToIP: 'not-an-ip' }), { profile: 'full' });
    expect(event.source).toEqual({ user: { email: 'alice@contoso.com' } });
    expect(event).not.toHaveProperty('related.ip');
    const v6 = one(rwsRow({ FromIP: '2001:db8::1', ToIP: null }), { profile: 'seed' });
    expect(v6.source).toEqual({ address: '2001:db8::1', ip: '2001:db8::1' });
    expect(v6.related).toEqual({ ip: ['2001:db8::1'] });
  });

  it('a FromIP alone: seed related.ip has it; no related at all without IPs in seed', () => {
    expect(one(rwsRow({ FromIP: null }), { profile: 'seed' })).not.toHaveProperty('related');
  });

  it('related.ip and related.user are distinct', () => {
    const event = one(
      rwsRow({ FromIP: '10.0.0.1', ToIP: '10.0.0.1', SenderAddress: 'a@x.com', RecipientAddress: 'a@x.com' }),
    );
    expect(event.related).toEqual({ ip: ['10.0.0.1'], user: ['a@x.com'] });
  });

  it('StartDate, EndDate and Index are never mapped', () => {
    const text = JSON.stringify(one(rwsRow()));
    const withoutMessage = JSON.stringify({ ...one(rwsRow()), message: '' });
    expect(text).toContain('StartDate'); // only inside message
    expect(withoutMessage).not.toMatch(/StartDate|EndDate|Index|1658579297628/);
  });

  it('unicode subjects are kept verbatim', () => {
    expect(one(graphRow({ subject: 'Réunion 会议 📅' })).email?.subject).toBe('Réunion 会议 📅');
  });
});

describe('organization', () => {
  it('the Reporting Web Service row carries it', () => {
    expect(one(rwsRow(), { organization: 'other' }).organization).toEqual({
      name: 'contoso.onmicrosoft.com',
    });
  });
  it('Graph rows take the configured organization, or have none', () => {
    expect(one(graphRow(), { organization: 'contoso.onmicrosoft.com' }).organization).toEqual({
      name: 'contoso.onmicrosoft.com',
    });
    expect(one(graphRow())).not.toHaveProperty('organization');
  });
  it('PowerShell rows (PascalCase, no Organization) take the configured organization', () => {
    const row = rwsRow();
    delete row.Organization;
    delete row.__metadata;
    expect(one(row, { organization: 'contoso.onmicrosoft.com' }).organization?.name).toBe(
      'contoso.onmicrosoft.com',
    );
  });
});

describe('email.direction', () => {
  const direction = (sender: string, recipient: string, acceptedDomains: string[]): unknown =>
    one(graphRow({ senderAddress: sender, recipientAddress: recipient }), { acceptedDomains }).email
      ?.direction;

  it.each([
    ['a@contoso.com', 'b@contoso.com', 'internal'],
    ['a@contoso.com', 'b@fabrikam.com', 'outbound'],
    ['a@fabrikam.com', 'b@contoso.com', 'inbound'],
    ['a@fabrikam.com', 'b@example.org', 'external'],
    ['a@mail.CONTOSO.com', 'b@fabrikam.com', 'outbound'],
    ['a@notcontoso.com', 'b@fabrikam.com', 'external'],
    ['a@fabrikam.com', 'B@Contoso.COM', 'inbound'],
  ])('%s → %s is %s', (sender, recipient, expected) => {
    expect(direction(sender, recipient, ['Contoso.com', 'sub.example.net'])).toBe(expected);
  });

  it('absent without accepted domains, and in the seed profile', () => {
    expect(direction('a@contoso.com', 'b@contoso.com', [])).toBeUndefined();
    const seed = one(graphRow(), { profile: 'seed', acceptedDomains: ['contoso.com'] });
    expect(seed.email).not.toHaveProperty('direction');
  });
});

describe('event.id', () => {
  it('is equal across dialects for the same trace id, recipient and status', () => {
    const fromGraph = one(graphRow({ id: TRACE_ID.toUpperCase(), recipientAddress: 'Bob@Fabrikam.com' }));
    const fromRws = one(rwsRow());
    expect(fromGraph.event.id).toBe(fromRws.event.id);
    expect(fromGraph.event.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('an unknown status spelled differently by v1.0 and beta gives one id', () => {
    const v1 = one(graphRow({ status: 'unknownFutureValue' }));
    const beta = one(graphRow({ status: 'UnknownFutureValue' }));
    expect(v1.event.action).toBe('unknownFutureValue'); // kept as given
    expect(beta.event.id).toBe(v1.event.id);
  });

  it('changes with the status and the recipient, not with other fields', () => {
    const base = one(graphRow()).event.id;
    expect(one(graphRow({ status: 'gettingStatus' })).event.id).not.toBe(base);
    expect(one(graphRow({ recipientAddress: 'carol@fabrikam.com' })).event.id).not.toBe(base);
    expect(one(graphRow({ subject: 'other', size: 1, toIP: '' })).event.id).toBe(base);
  });

  it('full events of the same row are identical whichever API delivered it', () => {
    const options = { organization: 'contoso.onmicrosoft.com', acceptedDomains: ['contoso.com'] };
    const strip = (e: MessageTraceEvent): MessageTraceEvent => ({ ...e, message: '' });
    expect(strip(one(graphRow(), options))).toStrictEqual(strip(one(rwsRow(), options)));
    const light = rwsRow({ Received: '2022-07-25T12:26:13.240' });
    delete light.__metadata;
    expect(strip(one(light, options))).toStrictEqual(strip(one(rwsRow(), options)));
  });
});

describe('envelopes, pages and arrays', () => {
  it('an envelope keeps its message verbatim, trailing newline included', () => {
    const message = JSON.stringify(rwsRow()) + '\n';
    expect(one({ message }).message).toBe(message);
  });

  it('an envelope whose message is not JSON is a reject naming the field', () => {
    expect(rejectReason({ message: 'hello' })).toMatch(/^envelope field "message" is not JSON/);
  });

  it('a verbose page (d.results) expands to its rows, each with its compact JSON as message', () => {
    const rows = [rwsRow({ Index: 0 }), rwsRow({ Index: 1, RecipientAddress: 'carol@fabrikam.com' })];
    const { events, rejects } = normalize(JSON.stringify({ d: { results: rows, __next: 'https://x/next' } }));
    expect(rejects).toEqual([]);
    expect(events.map((e) => e.message)).toEqual(rows.map((r) => JSON.stringify(r)));
  });

  it('a JSON light or Graph page (value) expands; an empty page yields nothing and no error', () => {
    const page = {
      '@odata.context': 'x',
      value: [graphRow(), graphRow({ recipientAddress: 'c@d.com' })],
      '@odata.nextLink': 'y',
    };
    expect(normalize(JSON.stringify(page)).events).toHaveLength(2);
    expect(normalize('{"odata.metadata":"m","value":[]}')).toEqual({ events: [], rejects: [] });
    expect(normalize('{"d":{"results":[]}}')).toEqual({ events: [], rejects: [] });
  });

  it('a page with an unexpected row-like top-level key is still a page, as the sources read it', () => {
    const rows = [graphRow(), graphRow({ recipientAddress: 'c@d.com' })];
    // One real tenant's pages carried `"toIP": ""` beside `value`: taken as one row, every page was lost.
    for (const page of [
      { '@odata.context': 'x', value: rows, toIP: '' },
      { value: rows, receivedDateTime: '2026-01-01T00:00:00Z', id: 'x' },
      { 'odata.metadata': 'm', value: rows, MessageTraceId: 'x', Received: '2026-01-01T00:00:00Z' },
      { d: { results: rows }, ToIP: '' },
    ]) {
      const text = JSON.stringify(page);
      const { events, rejects } = normalize(text);
      expect(rejects).toEqual([]);
      expect(events.map((e) => e.message)).toEqual(rows.map((r) => JSON.stringify(r)));
      // The source counts the same rows on the same page.
      expect(graphParsePage(text, new URL('https://graph.example/v1.0/x')).rows).toHaveLength(rows.length);
    }
  });

  it('a row of a page with a stray "value" or "d" key is a row: never expanded again as a page', () => {
    // Read as pages, these rows gave 0 or 2 events for 1 row counted: page_mismatch for ever.
    const inner = [graphRow(), graphRow({ recipientAddress: 'c@d.com' })];
    for (const extra of [{ value: [] }, { d: [] }, { value: inner }, { d: { results: inner } }]) {
      const rows = [graphRow({ ...extra }), rwsRow({ ...extra })];
      for (const page of [{ value: rows }, { d: { results: rows } }, { d: rows }]) {
        const text = JSON.stringify(page);
        const { events, rejects } = normalize(text);
        expect(rejects).toEqual([]);
        expect(events.map((e) => e.message)).toEqual(rows.map((r) => JSON.stringify(r)));
      }
    }
    // A page element that is no row is one reject, even when it looks like a page or an envelope.
    const page = { value: [{ value: [graphRow()] }, { message: JSON.stringify(graphRow()) }] };
    const { events, rejects } = normalize(JSON.stringify(page));
    expect(events).toEqual([]);
    expect(rejects.map((r) => r.row)).toEqual([0, 1]);
    expect(rejects[0]?.reason).toMatch(/^a page element that is not a message trace row/);
  });

  it('a page that is a whole input is still expanded: in an array, or an envelope', () => {
    const rows = [graphRow(), graphRow({ recipientAddress: 'c@d.com' })];
    expect(normalize(JSON.stringify([{ value: rows }, { value: rows }])).events).toHaveLength(4);
  });

  it('an envelope holding a page expands it', () => {
    const message = JSON.stringify({ value: [graphRow(), graphRow({ recipientAddress: 'c@d.com' })] }) + '\n';
    expect(normalize(JSON.stringify({ message })).events).toHaveLength(2);
  });

  it('a bad row in a page is a reject with its position; the others are kept', () => {
    const page = { value: [graphRow(), graphRow({ receivedDateTime: 'nope' }), 'text', graphRow()] };
    const { events, rejects } = normalize(JSON.stringify(page));
    expect(events).toHaveLength(2);
    expect(rejects.map((r) => r.row)).toEqual([1, 2]);
    expect(rejects[0]?.reason).toBe('received time (receivedDateTime) is not a date: "nope"');
    expect(rejects[0]?.input).toBe(JSON.stringify(page.value[1]));
    expect(rejects[1]?.reason).toBe('not a JSON object (got string)');
  });

  it('a PowerShell array expands to its rows', () => {
    const row = rwsRow();
    delete row.Organization;
    const { events } = normalize(JSON.stringify([row, row]), { organization: 'o' });
    expect(events).toHaveLength(2);
  });

  it('invalid JSON and non-records are rejects with reasons', () => {
    expect(rejectReason('{"MessageTraceId": ')).toMatch(/^invalid JSON: /);
    expect(rejectReason('42')).toBe('not a JSON object (got number)');
    expect(rejectReason('{"foo": 1}')).toMatch(/^not a message trace record/);
  });

  it('absurd nesting is a reject, not a stack overflow', () => {
    expect(rejectReason('[[[[[[[[1]]]]]]]]')).toMatch(/nested more than/);
    const deep = '{"value":' + '['.repeat(20_000) + ']'.repeat(20_000) + '}';
    expect(rejectReason(deep)).toMatch(/nested more than/);
    const { rejects } = normalize(deep);
    expect(rejects).toHaveLength(1);
    // Too deep to print as JSON: a placeholder (parse still names the line).
    expect(rejects[0]?.input).toBe('(input too deeply nested to print)');
  });

  it('a row too deep to serialize is rejected, never given a message of "[object Object]"', () => {
    let field = '1';
    for (let i = 0; i < 20_000; i++) field = `{"a":${field}}`;
    const row = `{"MessageTraceId":"t1","Received":"2022-09-05T18:10:13Z","x":${field}}`;
    const { events, rejects } = normalize(`[${row}]`);
    expect(events).toEqual([]);
    expect(rejects.map((r) => r.reason)).toEqual(['record too deeply nested to serialize as its message']);
    // Verbatim text needs no serializing: the same row as an NDJSON line is fine.
    expect(normalize(row).events[0]?.message).toBe(row);
  });
});

describe('detail events', () => {
  const graphDetail = {
    id: TRACE_ID,
    messageId: '<m1@contoso.com>',
    dateTime: '2025-06-13T10:30:05Z',
    event: 'Receive',
    action: '',
    description: 'Message received by: MN2PR00MB0670.namprd00.prod.outlook.com',
    data: '<root><MEP Name="x" String="y" /></root>',
  };

  it('a Graph detail becomes its own event with the step under office365.message_trace.detail', () => {
    const event = one(graphDetail, { organization: 'contoso.onmicrosoft.com' });
    expect(event['@timestamp']).toBe('2025-06-13T10:30:05.000000Z');
    expect(event.event.action).toBe('Receive');
    expect(event.office365.message_trace).toEqual({
      MessageTraceId: TRACE_ID,
      detail: { description: graphDetail.description, data: graphDetail.data },
    });
    expect(event.email?.message_id).toBe('<m1@contoso.com>');
  });

  it('a Reporting Web Service detail maps Detail to description', () => {
    const event = one({
      Organization: 'contoso.onmicrosoft.com',
      MessageId: '<m1@contoso.com>',
      MessageTraceId: TRACE_ID,
      RecipientAddress: 'bob@fabrikam.com',
      SenderAddress: 'alice@contoso.com',
      Date: '/Date(1658751973240)/',
      Event: 'Deliver',
      Action: null,
      Detail: 'The message was successfully delivered.',
      Data: '<root/>',
    });
    expect(event.event.action).toBe('Deliver');
    expect(event.office365.message_trace.detail).toEqual({
      description: 'The message was successfully delivered.',
      data: '<root/>',
    });
    expect(event.email?.to?.address).toEqual(['bob@fabrikam.com']);
  });

  it('steps of one row get distinct ids; the same step gets the same id', () => {
    const a = one(graphDetail).event.id;
    expect(one({ ...graphDetail, event: 'Deliver' }).event.id).not.toBe(a);
    expect(one({ ...graphDetail, data: 'other' }).event.id).toBe(a);
  });
});
