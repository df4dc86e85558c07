/**
 * The composed HTTP stack against the real emulator over HTTPS: faults, throttling, tokens and
 * the errors a person sees. Waits use virtual time that also moves the emulator's clock.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCertificate } from '../../src/emulator/tls.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { createMsalTokenProvider } from '../../src/sources/auth/token-provider.js';
import { createDispatcher } from '../../src/http/client.js';
import { classifyResponse } from '../../src/sources/http/api-errors.js';
import { ExotraceError } from '../../src/core/errors.js';
import { createStack, listRequest, served, type Stack } from './stack.js';

const appCert = createCertificate({ subject: 'exotrace collector test' });

let emulator: Emulator;
const stacks: Stack[] = [];
const stack = (...args: Parameters<typeof createStack> extends [Emulator, ...infer R] ? R : never): Stack => {
  const s = createStack(emulator, ...args);
  stacks.push(s);
  return s;
};

async function control(method: string, path: string, body?: object): Promise<void> {
  const { request, Agent } = await import('undici');
  const agent = new Agent({ connect: { ca: emulator.caCertPem } });
  const res = await request(`${emulator.url}/_emulator${path}`, {
    method: method as 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
    dispatcher: agent,
  });
  const text = await res.body.text();
  await agent.close();
  if (res.statusCode >= 300) throw new Error(`control ${path}: ${res.statusCode} ${text}`);
}

function secretsOf(name: string): string[] {
  const tenant = emulator.tenants().find((t) => t.name === name);
  return tenant?.apps.flatMap((a) => a.secrets.map((s) => s.value)) ?? [];
}

/** The error's message and JSON hold no token, secret or assertion. */
function expectClean(error: ExotraceError, secrets: readonly string[]): void {
  const json = JSON.stringify(error);
  for (const text of [error.message, json, error.fix ?? '']) {
    expect(text).not.toMatch(/eyJ[\w-]+\./);
    expect(text).not.toMatch(/bearer\s+[\w.-]{20,}/i);
    for (const secret of secrets) expect(text).not.toContain(secret);
  }
}

async function caught(promise: Promise<unknown>): Promise<ExotraceError> {
  try {
    await promise;
  } catch (error) {
    if (ExotraceError.is(error)) return error;
    throw error;
  }
  throw new Error('expected an ExotraceError');
}

beforeAll(async () => {
  emulator = await startEmulator({
    messagesPerDay: 200,
    tenants: [
      { name: 'contoso' },
      { name: 'fabrikam', certificates: [appCert.certPem] },
      { name: 'northwind', graphRoles: [] },
    ],
  });
});

afterEach(async () => {
  emulator.faults.clear();
  await Promise.all(stacks.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await emulator.close();
});

describe('tokens (msal-node on undici)', () => {
  it('gets a token with a client secret, caches and reuses it', async () => {
    const s = stack();
    // Discovery (openid-configuration) and the token itself count under 'token'.
    const first = await s.tokens.getToken();
    const after = served(emulator, 'token')['200'] ?? 0;
    const second = await s.tokens.getToken();
    expect(first).toMatch(/^eyJ/);
    expect(second).toBe(first);
    const response = await s.client.send(listRequest(emulator));
    expect(response.status).toBe(200);
    expect(served(emulator, 'token')['200'] ?? 0).toBe(after);
  });

  it('gets a token with a certificate (SHA-256 thumbprint) and reads Graph with it', async () => {
    const s = stack({
      tenant: 'fabrikam',
      credential: { kind: 'certificate', certPem: appCert.certPem, keyPem: appCert.keyPem },
    });
    const response = await s.client.send(listRequest(emulator));
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toHaveProperty('value');
  });

  it('maps AADSTS7000215 (wrong secret) to bad_secret naming the config key', async () => {
    const wrong = 'Q~this-is-not-the-secret-0123456789abcdef';
    const s = stack({ credential: { kind: 'secret', secret: wrong } });
    const error = await caught(s.client.send(listRequest(emulator)));
    expect(error.code).toBe('bad_secret');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("tenant 'contoso' (tenants[0])");
    expect(error.message).toContain('AADSTS7000215');
    expect(error.fix).toContain('check tenants[0].clientSecret');
    expect(error.configKey).toBe('tenants[0].clientSecret');
    expectClean(error, [wrong, ...secretsOf('contoso')]);
    // Nothing was sent to Graph without a token.
    expect(s.attempts).toEqual([]);
  });

  it('maps an unregistered certificate to certificate_not_registered', async () => {
    const stranger = createCertificate({ subject: 'not registered' });
    const s = stack({
      tenant: 'fabrikam',
      credential: { kind: 'certificate', certPem: stranger.certPem, keyPem: stranger.keyPem },
    });
    const error = await caught(s.tokens.getToken());
    expect(error.code).toBe('certificate_not_registered');
    expect(error.fix).toContain('tenants[0].certificate.certFile');
    expectClean(error, []);
  });

  it('maps an unknown app to app_not_found', async () => {
    const s = stack({ clientId: '00000000-1111-4222-8333-444444444444' });
    const error = await caught(s.tokens.getToken());
    expect(error.code).toBe('app_not_found');
    expect(error.fix).toContain('tenants[0].clientId');
  });
});

describe('bearer policy', () => {
  it('refreshes once after the tenant revoked its tokens, then succeeds', async () => {
    const s = stack();
    expect((await s.client.send(listRequest(emulator))).status).toBe(200);
    await control('POST', '/tenants/contoso/revoke');
    const response = await s.client.send(listRequest(emulator));
    expect(response.status).toBe(200);
    expect(s.tokens.refreshes).toBe(1);
    expect(s.attempts.map((a) => a.status)).toEqual([200, 401, 200]);
  });

  it('gives up with a clear error on a second 401', async () => {
    const s = stack();
    emulator.faults.enqueue([{ kind: 'revoke-token', targets: ['graph-list'] }], 2);
    const error = await caught(s.client.send(listRequest(emulator)));
    expect(error.code).toBe('unauthorized');
    expect(error.retryable).toBe(false);
    expect(error.status).toBe(401);
    expect(error.message).toContain("tenant 'contoso' (tenants[0])");
    expect(error.message).not.toContain('$top');
    expect(s.tokens.refreshes).toBe(1);
    expect(s.attempts.map((a) => a.status)).toEqual([401, 401]);
    expectClean(error, secretsOf('contoso'));
  });

  it('turns the missing service principal into service_principal_missing with the exact fix', async () => {
    const s = stack();
    await control('PATCH', '/tenants/contoso', { servicePrincipal: false });
    try {
      const error = await caught(s.client.send(listRequest(emulator)));
      expect(error.code).toBe('service_principal_missing');
      expect(error.status).toBe(401);
      expect(error.fix).toContain('New-MgServicePrincipal -AppId 8bd644d1-64a1-4d4b-ae52-2e0cbf64e373');
      expect(error.message).toContain("tenant 'contoso'");
      // A new token cannot create a service principal: no refresh was wasted on it.
      expect(s.tokens.refreshes).toBe(0);
      expectClean(error, secretsOf('contoso'));
    } finally {
      await control('PATCH', '/tenants/contoso', { servicePrincipal: true });
    }
  });

  it('never sends the token to another host: a foreign next link is an error, not a request', async () => {
    const s = stack();
    const port = new URL(emulator.url).port;
    const before = served(emulator, 'graph-list');
    for (const foreign of [
      `https://localhost:${port}/v1.0/admin/exchange/tracing/messageTraces?$skiptoken=abc`,
      'https://graph.evil.example/v1.0/admin/exchange/tracing/messageTraces?$skiptoken=abc',
      `http://127.0.0.1:${port}/v1.0/admin/exchange/tracing/messageTraces`,
    ]) {
      const error = await caught(s.client.send(listRequest(emulator, { url: new URL(foreign) })));
      expect(error.code).toBe('foreign_next_link');
      expect(error.configKey).toBe('tenants[0].apiUrl');
      expect(error.message).not.toContain('skiptoken');
      expectClean(error, secretsOf('contoso'));
    }
    expect(s.attempts).toEqual([]);
    expect(s.tokens.calls).toBe(0);
    expect(served(emulator, 'graph-list')).toEqual(before);
  });

  it('403 for a missing permission classifies as permission_missing with the grant to make', async () => {
    const s = stack({ tenant: 'northwind' });
    const request = listRequest(emulator);
    const response = await s.client.send(request);
    expect(response.status).toBe(403);
    const error = classifyResponse({ tenant: 'northwind', configPath: 'tenants[2]' }, request, response);
    expect(error?.code).toBe('permission_missing');
    expect(error?.fix).toContain('grant ExchangeMessageTrace.Read.All (application) and admin consent');
    expect(error?.message).not.toContain('$top');
  });
});

describe('retries against the emulator', () => {
  it('rides out a 5xx storm with backoff, then succeeds', async () => {
    const s = stack();
    emulator.faults.enqueue(
      [
        { kind: 'status', status: 503, targets: ['graph-list'] },
        { kind: 'status', status: 500, targets: ['graph-list'] },
      ],
      2,
    );
    const response = await s.client.send(listRequest(emulator));
    expect(response.status).toBe(200);
    expect(s.attempts.map((a) => a.status)).toEqual([503, 500, 503, 500, 200]);
    expect(s.attempts.map((a) => a.retry)).toEqual([0, 1, 2, 3, 4]);
    // Full jitter at 0.5 of ceilings 1, 2, 4, 8 s.
    expect(s.time.waits).toEqual([500, 1000, 2000, 4000]);
  });

  it('retries a connection reset, then succeeds', async () => {
    const s = stack();
    emulator.faults.enqueue([{ kind: 'reset', targets: ['graph-list'] }]);
    const response = await s.client.send(listRequest(emulator));
    expect(response.status).toBe(200);
    expect(s.attempts[0]?.status).toBeUndefined();
    expect(s.attempts[0]?.error).toBeDefined();
    expect(s.attempts.at(-1)?.status).toBe(200);
  });

  it('fetches a truncated page again when the caller says it is unreadable', async () => {
    const s = stack();
    emulator.faults.enqueue([{ kind: 'truncate', targets: ['graph-list'] }]);
    const response = await s.client.send(
      listRequest(emulator, {
        validate: (r) => {
          JSON.parse(r.text);
        },
      }),
    );
    expect(JSON.parse(response.text)).toHaveProperty('value');
    expect(s.attempts).toHaveLength(2);
  });

  it('reports attempts with host and path only', async () => {
    const s = stack();
    await s.client.send(listRequest(emulator));
    expect(s.attempts).toEqual([
      {
        method: 'GET',
        host: new URL(emulator.url).host,
        path: '/v1.0/admin/exchange/tracing/messageTraces',
        status: 200,
        durationMs: 0,
        retry: 0,
      },
    ]);
  });
});

describe('throttling by the emulator', () => {
  let throttled: Emulator;
  beforeAll(async () => {
    throttled = await startEmulator({ messagesPerDay: 50, throttle: { limit: 2, windowMs: 120_000 } });
  });
  afterAll(async () => {
    await throttled.close();
  });

  it('honours a 120 s Retry-After in full, and pauses the whole tenant budget', async () => {
    const s = createStack(throttled, { requestsPer5Min: 10 });
    try {
      expect((await s.client.send(listRequest(throttled))).status).toBe(200);
      expect((await s.client.send(listRequest(throttled))).status).toBe(200);
      // The quota is spent (by "another app" as far as our budget knows): a 429 with Retry-After 120.
      const response = await s.client.send(listRequest(throttled));
      expect(response.status).toBe(200);
      expect(s.attempts.map((a) => a.status)).toEqual([200, 200, 429, 200]);
      // Exactly one wait: the budget's pause and the retry's wait end at the same instant.
      expect(s.time.waits).toEqual([120_000]);
      expect(served(throttled, 'graph-list')).toEqual({ '200': 3, '429': 1 });
    } finally {
      await s.close();
    }
  });
});

describe('dispatcher', () => {
  it('trusts the extra CA on top of the public roots, and msal uses it', async () => {
    const tenant = emulator.tenants()[0];
    if (tenant === undefined) throw new Error('no tenant');
    const provider = createMsalTokenProvider({
      tenantId: tenant.domain,
      clientId: tenant.apps[0]?.clientId ?? '',
      credential: { kind: 'secret', secret: tenant.apps[0]?.secrets[0]?.value ?? '' },
      loginUrl: emulator.url,
      dispatcher: createDispatcher({ caPem: emulator.caCertPem }),
      context: { tenant: 'contoso', configPath: 'tenants[0]' },
    });
    expect(await provider.getToken()).toMatch(/^eyJ/);

    const untrusting = createMsalTokenProvider({
      tenantId: tenant.domain,
      clientId: tenant.apps[0]?.clientId ?? '',
      credential: { kind: 'secret', secret: tenant.apps[0]?.secrets[0]?.value ?? '' },
      loginUrl: emulator.url,
      dispatcher: createDispatcher({ env: {} }),
      context: { tenant: 'contoso', configPath: 'tenants[0]' },
    });
    const error = await caught(untrusting.getToken());
    expect(error.code).toBe('network_error');
    expect(error.retryable).toBe(false);
    expect(error.configKey).toBe('tls.caFile');
    expect(error.message).toMatch(/not trusted \((SELF_SIGNED|UNABLE_TO)/);
  });
});
