/**
 * The pure halves of the sources: request URLs, page parsing in every dialect, and the next-link
 * check that keeps the token on the configured host. No server involved.
 */
import { describe, expect, it } from 'vitest';
import * as graph from '../../src/sources/graph.js';
import * as reporting from '../../src/sources/reporting.js';
import { ExotraceError } from '../../src/core/errors.js';
import { checkNextLink } from '../../src/sources/source.js';

const window = { from: Date.UTC(2026, 0, 20, 0, 0, 0, 400), to: Date.UTC(2026, 0, 21, 6, 30, 15) };
const API = 'https://graph.example.com';

function thrown(fn: () => unknown): ExotraceError {
  try {
    fn();
  } catch (error) {
    if (ExotraceError.is(error)) return error;
    throw error;
  }
  throw new Error('expected an ExotraceError');
}

describe('Graph adapter', () => {
  it('builds the first page URL with both bounds in whole seconds and the largest page', () => {
    const url = graph.firstPageUrl(API, window);
    expect(url.origin + url.pathname).toBe(`${API}/v1.0/admin/exchange/tracing/messageTraces`);
    expect(url.searchParams.get('$filter')).toBe(
      'receivedDateTime ge 2026-01-20T00:00:00Z and receivedDateTime le 2026-01-21T06:30:15Z',
    );
    expect(url.searchParams.get('$top')).toBe('5000');
    // Spaces as %20, not '+': a '+' is a space only in HTML forms.
    expect(url.search).not.toContain('+');
    expect(url.search).toContain('receivedDateTime%20ge%202026-01-20T00%3A00%3A00Z');
  });

  it('serves beta, keeps a path in the API URL, and refuses a $top Graph would refuse', () => {
    const url = graph.firstPageUrl('https://mirror.example/graph', window, { version: 'beta', top: 10 });
    expect(url.pathname).toBe('/graph/beta/admin/exchange/tracing/messageTraces');
    expect(url.searchParams.get('$top')).toBe('10');
    expect(() => graph.firstPageUrl(API, window, { top: 5001 })).toThrow(RangeError);
    expect(graph.graphAdapter({ apiUrl: API, version: 'beta' }).api).toBe('graph-beta');
  });

  it('probes one row over an hour ending 5 minutes ago (a clock a little ahead of the API must not fail it)', () => {
    const url = graph.graphAdapter({ apiUrl: API }).probeUrl(Date.UTC(2026, 0, 20, 12, 0, 0, 999));
    expect(url.searchParams.get('$top')).toBe('1');
    expect(url.searchParams.get('$filter')).toBe(
      'receivedDateTime ge 2026-01-20T10:55:00Z and receivedDateTime le 2026-01-20T11:55:00Z',
    );
  });

  it('parses value and @odata.nextLink, resolving a relative link against the request', () => {
    const request = graph.firstPageUrl(API, window);
    const page = graph.parsePage(
      JSON.stringify({ value: [{ id: 'a' }, { id: 'b' }], '@odata.nextLink': `${API}/v1.0/x?$skiptoken=1` }),
      request,
    );
    expect(page).toEqual({ rows: [{ id: 'a' }, { id: 'b' }], nextLink: `${API}/v1.0/x?$skiptoken=1` });
    expect(graph.parsePage('{"value":[],"@odata.nextLink":"y?$skiptoken=2"}', request).nextLink).toBe(
      `${API}/v1.0/admin/exchange/tracing/y?$skiptoken=2`,
    );
    expect(graph.parsePage('{"value":[]}', request)).toEqual({ rows: [], nextLink: undefined });
  });

  it('throws a retryable error for a truncated or shapeless page, never a partial one', () => {
    const request = graph.firstPageUrl(API, window);
    const full = JSON.stringify({ value: [{ id: 'a' }, { id: 'b' }], '@odata.nextLink': `${API}/n` });
    for (const text of [
      full.slice(0, full.length / 2),
      '',
      '[]',
      '{"error":"x"}',
      '{"value":{}}',
      '{"value":[1]}',
      '{"value":[],"@odata.nextLink":42}',
    ]) {
      const error = thrown(() => graph.parsePage(text, request));
      expect(error.code).toBe('transient');
      expect(error.retryable).toBe(true);
      // The query carries the filter and skip token: never in a message.
      expect(error.message).not.toContain('$filter');
    }
  });
});

describe('Reporting Web Service adapter', () => {
  const RWS = 'https://reports.example.com';

  it('builds the verbose first page URL with StartDate and EndDate', () => {
    const url = reporting.firstPageUrl(RWS, window);
    expect(url.origin + url.pathname).toBe(`${RWS}/ecp/reportingwebservice/reporting.svc/MessageTrace`);
    expect(url.searchParams.get('$format')).toBe('json');
    expect(url.searchParams.get('$filter')).toBe(
      "StartDate eq datetime'2026-01-20T00:00:00Z' and EndDate eq datetime'2026-01-21T06:30:15Z'",
    );
    // $top caps the whole result on this service: a walk must never send it.
    expect(url.searchParams.has('$top')).toBe(false);
    expect(url.search).not.toContain('+');
  });

  it('selects JSON light by Accept, without $format', () => {
    const adapter = reporting.reportingAdapter({ apiUrl: RWS, dialect: 'light' });
    expect(adapter.headers).toEqual({ accept: 'application/json' });
    expect(adapter.firstPageUrl(window).searchParams.has('$format')).toBe(false);
    expect(adapter.probeUrl(window.to).searchParams.get('$top')).toBe('1');
    expect(reporting.reportingAdapter({ apiUrl: RWS }).headers).toEqual({});
  });

  it('parses verbose d.results with d.__next, relative links included', () => {
    const request = reporting.firstPageUrl(RWS, window);
    const page = reporting.parsePage(
      JSON.stringify({
        d: {
          results: [{ MessageTraceId: 'a' }],
          __next: '../../ReportingWebService/Reporting.svc/MessageTrace?$skiptoken=1',
        },
      }),
      request,
    );
    expect(page.rows).toEqual([{ MessageTraceId: 'a' }]);
    expect(page.nextLink).toBe(`${RWS}/ecp/ReportingWebService/Reporting.svc/MessageTrace?$skiptoken=1`);
    expect(reporting.parsePage('{"d":{"results":[]}}', request)).toEqual({ rows: [], nextLink: undefined });
    expect(reporting.parsePage('{"d":[{"a":1}]}', request)).toEqual({
      rows: [{ a: 1 }],
      nextLink: undefined,
    });
  });

  it('parses JSON light value with odata.nextLink or @odata.nextLink', () => {
    const request = reporting.firstPageUrl(RWS, window, { dialect: 'light' });
    const light = reporting.parsePage(
      JSON.stringify({
        'odata.metadata': 'x',
        value: [{ a: 1 }],
        'odata.nextLink': `${RWS}/next?$skiptoken=3`,
      }),
      request,
    );
    expect(light).toEqual({ rows: [{ a: 1 }], nextLink: `${RWS}/next?$skiptoken=3` });
    const v4 = reporting.parsePage('{"value":[],"@odata.nextLink":"MessageTrace?$skiptoken=4"}', request);
    expect(v4.nextLink).toBe(`${RWS}/ecp/reportingwebservice/reporting.svc/MessageTrace?$skiptoken=4`);
  });

  it('throws a retryable error for a truncated or shapeless page', () => {
    const request = reporting.firstPageUrl(RWS, window);
    for (const text of ['{"d":{"results":[{"a":1}', '{"d":{}}', '{"d":7}', '{}', 'null']) {
      const error = thrown(() => reporting.parsePage(text, request));
      expect(error.retryable).toBe(true);
    }
  });
});

describe('checkNextLink', () => {
  it('accepts a link on the configured origin and refuses any other, without its query', () => {
    const ok = checkNextLink(`${API}/v1.0/x?$skiptoken=1`, API);
    expect(ok).toBeInstanceOf(URL);
    expect((ok as URL).href).toBe(`${API}/v1.0/x?$skiptoken=1`);
    for (const foreign of [
      'https://graph.evil.example/v1.0/x?$skiptoken=secret',
      'http://graph.example.com/v1.0/x?$skiptoken=secret',
      'https://graph.example.com:8443/v1.0/x?$skiptoken=secret',
      'https://graph.example.com.evil.example/x?$skiptoken=secret',
      '/v1.0/x?$skiptoken=secret',
    ]) {
      const error = checkNextLink(foreign, API, { tenant: 'contoso', configPath: 'tenants[0]' });
      expect(error).toBeInstanceOf(ExotraceError);
      if (!(error instanceof ExotraceError)) continue;
      expect(error.code).toBe('foreign_next_link');
      expect(error.retryable).toBe(false);
      expect(error.configKey).toBe('tenants[0].apiUrl');
      expect(error.message).not.toContain('secret');
    }
  });
});
