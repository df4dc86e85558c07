import { describe, expect, it } from 'vitest';
import { redactSecrets, redact } from '../../src/core/redact.js';
import { classifyResponse, mapAadError, parseAadBody } from '../../src/sources/http/api-errors.js';
import { ExotraceError, type ExotraceErrorCode } from '../../src/core/errors.js';

const ctx = { tenant: 'contoso', configPath: 'tenants[3]' };
const request = {
  method: 'GET',
  url: new URL(
    'https://graph.microsoft.com/v1.0/admin/exchange/tracing/messageTraces?$filter=x&$skiptoken=SECRETSKIP',
  ),
};
const TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl';
const SECRET = 'Q~Zx9.abcDEF_0123456789-secretvalue';

function aad(code: number, error = 'invalid_client'): string {
  return JSON.stringify({
    error,
    error_description: `AADSTS${code}: something.\r\nTrace ID: 1\r\nCorrelation ID: 2\r\nTimestamp: 3`,
    error_codes: [code],
  });
}

describe('mapAadError', () => {
  it.each<[number, ExotraceErrorCode, string]>([
    [7000215, 'bad_secret', 'check tenants[3].clientSecret'],
    [7000222, 'secret_expired', 'tenants[3].clientSecret'],
    [700016, 'app_not_found', 'tenants[3].clientId'],
    [90002, 'tenant_not_found', 'tenants[3].tenantId'],
    [700027, 'certificate_not_registered', 'tenants[3].certificate.certFile'],
    [700024, 'clock_skew', 'NTP'],
  ])('AADSTS%i → %s', (code, expected, fix) => {
    const error = mapAadError(ctx, { ...parseAadBody(aad(code)), status: 401 });
    expect(error.code).toBe(expected);
    expect(error.fix).toContain(fix);
    expect(error.message).toContain("tenant 'contoso' (tenants[3])");
    expect(error.message).not.toContain('Trace ID');
    expect(error.retryable).toBe(false);
  });

  it('treats an unknown 5xx from the token endpoint as transient', () => {
    const error = mapAadError(ctx, { error: 'temporarily_unavailable', status: 503 });
    expect(error.code).toBe('transient');
    expect(error.retryable).toBe(true);
  });
});

describe('classifyResponse', () => {
  const graph = (status: number, code: string, message: string): { status: number; text: string } => ({
    status,
    text: JSON.stringify({ error: { code, message, innerError: { 'request-id': 'r' } } }),
  });

  it('is undefined for 2xx', () => {
    expect(classifyResponse(ctx, request, { status: 200, text: '{}' })).toBeUndefined();
  });

  it('recognises the missing service principal and gives the command', () => {
    const error = classifyResponse(
      ctx,
      request,
      graph(
        401,
        'Unauthorized',
        'Service principal-less Authentication failed: the service principal for App ID 8bd644d1-64a1-4d4b-ae52-2e0cbf64e373 was not found.',
      ),
    );
    expect(error?.code).toBe('service_principal_missing');
    expect(error?.fix).toContain('New-MgServicePrincipal -AppId 8bd644d1-64a1-4d4b-ae52-2e0cbf64e373');
  });

  it.each<[number, string, ExotraceErrorCode, boolean]>([
    [401, 'InvalidAuthenticationToken', 'unauthorized', false],
    [403, 'Forbidden', 'permission_missing', false],
    [429, 'TooManyRequests', 'throttled', true],
    [503, 'ServiceUnavailable', 'transient', true],
    [404, 'NotFound', 'http_error', false],
  ])('%i %s → %s', (status, code, expected, retryable) => {
    const error = classifyResponse(ctx, request, graph(status, code, 'text'));
    expect(error?.code).toBe(expected);
    expect(error?.retryable).toBe(retryable);
    expect(error?.message).not.toContain('SECRETSKIP');
    expect(error?.message).toContain('/v1.0/admin/exchange/tracing/messageTraces');
  });

  it('a 400 about a window past retention is window_too_old', () => {
    const error = classifyResponse(
      ctx,
      request,
      graph(400, 'BadRequest', 'The start date cannot be older than 90 days.'),
    );
    expect(error?.code).toBe('window_too_old');
    expect(error?.configKey).toBe('tenants[3].startFrom');
  });

  it('names the Reporting Web Service permission for a reporting tenant', () => {
    const error = classifyResponse({ ...ctx, api: 'reporting' }, request, { status: 403, text: '' });
    expect(error?.fix).toContain('ReportingWebService.Read.All');
  });
});

describe('sanitizing', () => {
  it('redacts tokens, secrets and query values from text', () => {
    const text = redact(
      `Bearer ${TOKEN} client_secret=${SECRET}&scope=x {"access_token":"${TOKEN}"} ` +
        'https://h.example/p?$skiptoken=abc&x=1 passphrase: hunter2',
    );
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('abc');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('https://h.example/p?REDACTED');
  });

  it('toJSON copies only allowed fields, and causes only by name, code and redacted message', () => {
    const cause = Object.assign(new Error(`request failed with Authorization: Bearer ${TOKEN}`), {
      code: 'ECONNRESET',
      request: { headers: { authorization: `Bearer ${TOKEN}` }, body: `client_secret=${SECRET}` },
    });
    const error = new ExotraceError({
      code: 'transient',
      message: `GET https://graph.microsoft.com/x?$skiptoken=${SECRET} failed`,
      fix: 'retry',
      retryable: true,
      tenant: 'contoso',
      cause,
    });
    const json = JSON.stringify(error);
    expect(json).not.toContain(TOKEN);
    expect(json).not.toContain(SECRET);
    expect(error.message).not.toContain(SECRET);
    expect(JSON.parse(json)).toEqual({
      name: 'ExotraceError',
      code: 'transient',
      message: 'GET https://graph.microsoft.com/x?REDACTED failed',
      fix: 'retry',
      retryable: true,
      tenant: 'contoso',
      cause: {
        name: 'Error',
        code: 'ECONNRESET',
        message: 'request failed with Authorization: Bearer REDACTED',
      },
    });
  });

  it('is recognised by name across module copies', () => {
    const foreign = Object.assign(new Error('x'), { name: 'ExotraceError', code: 'throttled' });
    expect(ExotraceError.is(foreign)).toBe(true);
    expect(ExotraceError.is(new Error('x'))).toBe(false);
  });
});

describe('redactSecrets', () => {
  it('removes known secrets literally, the longest first, then what redact removes', () => {
    const out = redactSecrets('key=abc123 and abc and Bearer eyJa.eyJb.c', ['abc', 'abc123', '']);
    expect(out).not.toContain('abc');
    expect(out).not.toContain('123');
    expect(out).not.toContain('eyJa');
    expect(out).toContain('REDACTED and REDACTED');
  });
});
