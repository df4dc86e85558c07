import { X509Certificate, constants, createHash, randomUUID, sign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfidentialClientApplication } from '@azure/msal-node';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readRequest } from '../../src/emulator/http.js';
import { createIdentity } from '../../src/emulator/identity.js';
import type { Identity } from '../../src/emulator/identity.js';
import type { EmulatorApp, EmulatorTenant } from '../../src/emulator/model.js';
import { createCertificate, generateTlsMaterial, thumbprints } from '../../src/emulator/tls.js';

const LIFETIME = 3600;
const TENANT_ID = '3f1c2a4e-8b7d-4c6a-9e5f-0a1b2c3d4e5f';
const DOMAIN = 'contoso.onmicrosoft.com';
const OTHER_TENANT_ID = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const SECRET_APP = '11111111-2222-4333-8444-555555555555';
const CERT_APP = '66666666-7777-4888-9999-aaaaaaaaaaaa';
const SECRET = 'Q~emulator.Secret_value-0123456789abcdef';
const EXPIRED_SECRET = 'Q~expired.Secret_value-fedcba9876543210';
const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
const GRAPH = 'https://graph.microsoft.com';
const OUTLOOK = 'https://outlook.office365.com';

const appCert = createCertificate({ subject: 'exotrace test app' });
const strangerCert = createCertificate({ subject: 'not registered' });

const secretApp: EmulatorApp = {
  clientId: SECRET_APP,
  displayName: 'exotrace collector (secret)',
  secrets: [
    { value: SECRET, expiresAt: Date.now() + 365 * 86_400_000 },
    { value: EXPIRED_SECRET, expiresAt: Date.now() - 86_400_000 },
  ],
  certificates: [],
  graphRoles: ['ExchangeMessageTrace.Read.All'],
  reportingRoles: [],
};
const certApp: EmulatorApp = {
  clientId: CERT_APP,
  displayName: 'exotrace collector (certificate)',
  secrets: [],
  certificates: [appCert.certPem],
  graphRoles: ['ExchangeMessageTrace.Read.All'],
  reportingRoles: ['Exchange.ManageAsApp'],
};
const tenant = (tenantId: string, name: string, apps: readonly EmulatorApp[]): EmulatorTenant => ({
  name,
  tenantId,
  domain: `${name}.onmicrosoft.com`,
  acceptedDomains: [`${name}.com`],
  messagesPerDay: 100,
  seed: 1,
  servicePrincipal: true,
  reportingReader: true,
  apps,
});
const tenants = [
  tenant(TENANT_ID, 'contoso', [secretApp, certApp]),
  tenant(OTHER_TENANT_ID, 'fabrikam', [secretApp]),
];

let clockOffsetMs = 0;
const identity: Identity = createIdentity({
  tenants: () => tenants,
  now: () => Date.now() + clockOffsetMs,
  tokenLifetimeSeconds: LIFETIME,
});

let dir: string;
let server: https.Server;
let origin: string;
let agent: Agent;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'exotrace-identity-'));
  const tls = await generateTlsMaterial(dir);
  server = https.createServer({ key: tls.serverKeyPem, cert: tls.serverCertPem }, (incoming, res) => {
    void (async () => {
      const req = await readRequest(incoming, origin);
      if (!(await identity.handle(req, res))) {
        res.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  agent = new Agent({ connect: { ca: tls.caCertPem } });
});

afterAll(async () => {
  await agent.close();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  clockOffsetMs = 0;
});

/** msal-node 7 talks through global fetch unless given a client; this one trusts only our CA. */
function networkClient(seen: string[], posted: string[] = []): INetworkModule {
  async function send<T>(
    url: string,
    method: 'GET' | 'POST',
    options?: NetworkRequestOptions,
  ): Promise<NetworkResponse<T>> {
    seen.push(url);
    if (options?.body !== undefined) posted.push(options.body);
    const res = await request(url, {
      method,
      dispatcher: agent,
      ...(options?.headers === undefined ? {} : { headers: options.headers }),
      ...(options?.body === undefined ? {} : { body: options.body }),
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { status: res.statusCode, headers, body: (await res.body.json()) as T };
  }
  return {
    sendGetRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>(url, 'GET', options),
    sendPostRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>(url, 'POST', options),
  };
}

interface Reply {
  status: number;
  text: string;
  json: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

async function call(
  method: 'GET' | 'POST',
  pathname: string,
  form?: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await request(`${origin}${pathname}`, {
    method,
    dispatcher: agent,
    headers:
      form === undefined ? headers : { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    ...(form === undefined ? {} : { body: new URLSearchParams(form).toString() }),
  });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    text,
    json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    headers: res.headers,
  };
}

const postToken = (
  form: Record<string, string>,
  headers: Record<string, string> = {},
  tenantPart = TENANT_ID,
) => call('POST', `/${tenantPart}/oauth2/v2.0/token`, form, headers);

const secretForm = (overrides: Record<string, string> = {}): Record<string, string> => ({
  grant_type: 'client_credentials',
  client_id: SECRET_APP,
  client_secret: SECRET,
  scope: GRAPH_SCOPE,
  ...overrides,
});

interface AssertionOptions {
  alg?: 'RS256' | 'PS256';
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  keyPem?: string;
}

/** A client assertion built by hand, as non-MSAL clients do (RS256 + x5t by default). */
function assertion(options: AssertionOptions = {}): string {
  const alg = options.alg ?? 'RS256';
  const nowSec = Math.floor(Date.now() / 1000);
  const header = { alg, typ: 'JWT', x5t: thumbprints(appCert.certPem).x5t, ...options.header };
  const claims = {
    aud: `${origin}/${TENANT_ID}/oauth2/v2.0/token`,
    iss: CERT_APP,
    sub: CERT_APP,
    jti: randomUUID(),
    nbf: nowSec,
    exp: nowSec + 600,
    ...options.claims,
  };
  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${b64(header)}.${b64(claims)}`;
  const key = options.keyPem ?? appCert.keyPem;
  const signature =
    alg === 'RS256'
      ? sign('sha256', Buffer.from(input), key)
      : sign('sha256', Buffer.from(input), {
          key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        });
  return `${input}.${signature.toString('base64url')}`;
}

const assertionForm = (jwt: string, overrides: Record<string, string> = {}): Record<string, string> => ({
  grant_type: 'client_credentials',
  client_id: CERT_APP,
  client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
  client_assertion: jwt,
  scope: GRAPH_SCOPE,
  ...overrides,
});

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

async function tokenFor(form: Record<string, string>, tenantPart = TENANT_ID): Promise<string> {
  const reply = await postToken(form, {}, tenantPart);
  expect(reply.status, reply.text).toBe(200);
  return reply.json['access_token'] as string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function expectAadError(reply: Reply, status: number, error: string, code: number): void {
  expect(reply.status, reply.text).toBe(status);
  expect(reply.json['error']).toBe(error);
  expect(reply.json['error_codes']).toEqual([code]);
  const description = reply.json['error_description'] as string;
  expect(description).toMatch(
    new RegExp(
      `^AADSTS${code}: .+\\r\\nTrace ID: [0-9a-f-]{36}\\r\\nCorrelation ID: [0-9a-f-]{36}\\r\\nTimestamp: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`,
      's',
    ),
  );
  expect(reply.json['trace_id']).toMatch(GUID);
  expect(reply.json['correlation_id']).toMatch(GUID);
  expect(reply.json['timestamp']).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  expect(description).toContain(`Trace ID: ${reply.json['trace_id'] as string}`);
}

describe('OpenID discovery', () => {
  it('serves absolute endpoints for the GUID and, case-insensitively, the domain', async () => {
    for (const part of [TENANT_ID, DOMAIN.toUpperCase()]) {
      const reply = await call('GET', `/${part}/v2.0/.well-known/openid-configuration`);
      expect(reply.status).toBe(200);
      expect(reply.json).toMatchObject({
        issuer: `${origin}/${TENANT_ID}/v2.0`,
        token_endpoint: `${origin}/${TENANT_ID}/oauth2/v2.0/token`,
        authorization_endpoint: `${origin}/${TENANT_ID}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${origin}/${TENANT_ID}/oauth2/v2.0/logout`,
        jwks_uri: `${origin}/${TENANT_ID}/discovery/v2.0/keys`,
      });
    }
    const keys = await call('GET', `/${TENANT_ID}/discovery/v2.0/keys`);
    expect(keys.json).toEqual({ keys: [] });
  });

  it('answers AADSTS90002 for an unknown tenant, and leaves other paths alone', async () => {
    expectAadError(
      await call('GET', '/nowhere.onmicrosoft.com/v2.0/.well-known/openid-configuration'),
      400,
      'invalid_tenant',
      90002,
    );
    expect((await call('GET', '/v1.0/admin/exchange/tracing/messageTraces')).status).toBe(404);
    expect((await call('GET', `/${TENANT_ID}/oauth2/v2.0/authorize`)).status).toBe(404);
  });
});

describe('@azure/msal-node against the emulator', () => {
  const authority = (tenantPart: string): string => `${origin}/${tenantPart}`;
  const knownAuthorities = (): string[] => [new URL(origin).host];

  it('gets a token with a client secret, then serves the second call from its cache', async () => {
    const seen: string[] = [];
    const app = new ConfidentialClientApplication({
      auth: {
        clientId: SECRET_APP,
        clientSecret: SECRET,
        authority: authority(TENANT_ID),
        knownAuthorities: knownAuthorities(),
      },
      system: { networkClient: networkClient(seen) },
    });
    const first = await app.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    expect(first?.fromCache).toBe(false);
    const check = identity.verifyAccessToken(`Bearer ${first?.accessToken ?? ''}`, 'graph');
    expect(check).toMatchObject({ ok: true, roles: ['ExchangeMessageTrace.Read.All'] });
    expect(check.ok && check.app.clientId).toBe(SECRET_APP);

    const calls = seen.length;
    const second = await app.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    expect(second?.fromCache).toBe(true);
    expect(second?.accessToken).toBe(first?.accessToken);
    expect(seen.length).toBe(calls);
    // Nothing went to login.microsoftonline.com: instance discovery was skipped.
    expect(seen.every((url) => url.startsWith(origin))).toBe(true);
  });

  it('gets a token with a certificate (PS256, x5t#S256), with the tenant as its domain', async () => {
    const seen: string[] = [];
    const posted: string[] = [];
    const app = new ConfidentialClientApplication({
      auth: {
        clientId: CERT_APP,
        clientCertificate: {
          thumbprintSha256: createHash('sha256')
            .update(new X509Certificate(appCert.certPem).raw)
            .digest('hex'),
          privateKey: appCert.keyPem,
        },
        authority: authority(DOMAIN),
        knownAuthorities: knownAuthorities(),
      },
      system: { networkClient: networkClient(seen, posted) },
    });
    const scopes = [`${OUTLOOK}/.default`];
    const first = await app.acquireTokenByClientCredential({ scopes });
    expect(first?.fromCache).toBe(false);
    // MSAL built the assertion itself: PS256, x5t#S256, audience naming the tenant by its domain.
    const sent = new URLSearchParams(posted[0]).get('client_assertion') ?? '';
    expect(JSON.parse(Buffer.from(sent.split('.')[0] ?? '', 'base64url').toString('utf8'))).toMatchObject({
      alg: 'PS256',
      'x5t#S256': thumbprints(appCert.certPem).x5tS256,
    });
    expect(claimsOf(sent)['aud']).toBe(`${origin}/${DOMAIN}/oauth2/v2.0/token`);
    const check = identity.verifyAccessToken(`Bearer ${first?.accessToken ?? ''}`, 'reporting');
    expect(check).toMatchObject({ ok: true, roles: ['Exchange.ManageAsApp'] });
    expect(claimsOf(first?.accessToken ?? '')).toMatchObject({
      aud: OUTLOOK,
      appid: CERT_APP,
      appidacr: '2',
      tid: TENANT_ID,
    });
    const second = await app.acquireTokenByClientCredential({ scopes });
    expect(second?.fromCache).toBe(true);
    expect(seen.every((url) => url.startsWith(origin))).toBe(true);
  });
});

describe('token endpoint', () => {
  it('issues a Microsoft-shaped token for a client secret in the form', async () => {
    const reply = await postToken(secretForm(), {
      'client-request-id': 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE',
    });
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({
      token_type: 'Bearer',
      expires_in: LIFETIME,
      ext_expires_in: LIFETIME,
    });
    expect(reply.headers['cache-control']).toContain('no-store');
    expect(reply.headers['client-request-id']).toBe('aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee');
    const claims = claimsOf(reply.json['access_token'] as string);
    const now = Math.floor(Date.now() / 1000);
    expect(claims).toMatchObject({
      aud: GRAPH,
      iss: `https://sts.windows.net/${TENANT_ID}/`,
      tid: TENANT_ID,
      appid: SECRET_APP,
      roles: ['ExchangeMessageTrace.Read.All'],
    });
    expect(claims['exp']).toBe((claims['iat'] as number) + LIFETIME);
    expect(Math.abs((claims['iat'] as number) - now)).toBeLessThanOrEqual(2);
    expect(claims['nbf']).toBe(claims['iat']);
    expect(claims['jti']).toMatch(GUID);
  });

  it('omits the roles claim when the app holds none for the resource', async () => {
    const token = await tokenFor(secretForm({ scope: `${OUTLOOK}/.default` }));
    expect(claimsOf(token)).not.toHaveProperty('roles');
    expect(identity.verifyAccessToken(`Bearer ${token}`, 'reporting')).toMatchObject({ ok: true, roles: [] });
  });

  it('accepts the secret as HTTP Basic', async () => {
    const basic = Buffer.from(`${encodeURIComponent(SECRET_APP)}:${encodeURIComponent(SECRET)}`).toString(
      'base64',
    );
    const form = { grant_type: 'client_credentials', scope: GRAPH_SCOPE };
    const reply = await postToken(form, { authorization: `Basic ${basic}` });
    expect(reply.status, reply.text).toBe(200);
    const wrong = Buffer.from(`${SECRET_APP}:not-the-secret`).toString('base64');
    expectAadError(
      await postToken(form, { authorization: `Basic ${wrong}` }),
      401,
      'invalid_client',
      7000215,
    );
  });

  it('serves v1 with resource= and string numbers', async () => {
    const reply = await call('POST', `/${DOMAIN}/oauth2/token`, {
      grant_type: 'client_credentials',
      client_id: SECRET_APP,
      client_secret: SECRET,
      resource: `${OUTLOOK}/`,
    });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.json).toMatchObject({
      token_type: 'Bearer',
      expires_in: String(LIFETIME),
      resource: OUTLOOK,
    });
    expect(identity.verifyAccessToken(`Bearer ${reply.json['access_token'] as string}`, 'reporting').ok).toBe(
      true,
    );
    const bad = await call('POST', `/${TENANT_ID}/oauth2/token`, {
      grant_type: 'client_credentials',
      client_id: SECRET_APP,
      client_secret: SECRET,
      resource: 'https://management.azure.com',
    });
    expectAadError(bad, 400, 'invalid_resource', 500011);
  });

  it('accepts a hand-signed RS256 assertion with x5t', async () => {
    const token = await tokenFor(assertionForm(assertion()));
    expect(claimsOf(token)).toMatchObject({
      appid: CERT_APP,
      appidacr: '2',
      roles: ['ExchangeMessageTrace.Read.All'],
    });
  });

  it('accepts PS256 with x5t#S256, and the audience with the tenant as its domain', async () => {
    const jwt = assertion({
      alg: 'PS256',
      header: { x5t: undefined, 'x5t#S256': thumbprints(appCert.certPem).x5tS256 },
      claims: { aud: `${origin}/${DOMAIN}/oauth2/v2.0/token` },
    });
    await tokenFor(assertionForm(jwt));
    // v1 endpoint, v1 audience, real Microsoft host in the audience.
    const v1 = assertion({ claims: { aud: `https://login.microsoftonline.com/${TENANT_ID}/oauth2/token` } });
    const reply = await call('POST', `/${TENANT_ID}/oauth2/token`, {
      ...assertionForm(v1),
      scope: '',
      resource: OUTLOOK,
    });
    expect(reply.status, reply.text).toBe(200);
  });

  describe('AADSTS errors', () => {
    it('90002 unknown tenant', async () => {
      expectAadError(
        await postToken(secretForm(), {}, 'nowhere.onmicrosoft.com'),
        400,
        'invalid_request',
        90002,
      );
      expectAadError(await postToken(secretForm(), {}, randomUUID()), 400, 'invalid_request', 90002);
    });

    it('700016 unknown app, also when the app lives in another tenant only', async () => {
      expectAadError(
        await postToken(secretForm({ client_id: randomUUID() })),
        400,
        'unauthorized_client',
        700016,
      );
      const other = await postToken(assertionForm(assertion()), {}, OTHER_TENANT_ID);
      expectAadError(other, 400, 'unauthorized_client', 700016);
    });

    it('7000215 wrong secret and 7000222 expired secret, never echoing the secret', async () => {
      const wrongSecret = 'Q~this-is-a-wrong-secret-value-42';
      const wrong = await postToken(secretForm({ client_secret: wrongSecret }));
      expectAadError(wrong, 401, 'invalid_client', 7000215);
      expect(wrong.text).not.toContain(wrongSecret);
      const expired = await postToken(secretForm({ client_secret: EXPIRED_SECRET }));
      expectAadError(expired, 401, 'invalid_client', 7000222);
      expect(expired.text).not.toContain(EXPIRED_SECRET);
    });

    it('never echoes a secret, whatever else is wrong with the request', async () => {
      const replies = await Promise.all([
        postToken(secretForm({ grant_type: 'password' })),
        postToken(secretForm({ scope: 'https://graph.microsoft.com/User.Read' })),
        postToken(secretForm({ client_id: randomUUID() })),
        postToken(secretForm(), {}, 'nowhere'),
        postToken(secretForm({ client_assertion: assertion() })),
        postToken({ ...secretForm(), client_id: '' }),
      ]);
      for (const reply of replies) {
        expect(reply.status).toBeGreaterThanOrEqual(400);
        expect(reply.text).not.toContain(SECRET);
      }
    });

    it('700027 unregistered certificate or bad signature', async () => {
      const unregistered = assertion({
        header: { x5t: thumbprints(strangerCert.certPem).x5t },
        keyPem: strangerCert.keyPem,
      });
      expectAadError(await postToken(assertionForm(unregistered)), 401, 'invalid_client', 700027);
      // The registered thumbprint, signed by another key.
      const forged = assertion({ keyPem: strangerCert.keyPem });
      expectAadError(await postToken(assertionForm(forged)), 401, 'invalid_client', 700027);
      // A signature made with PKCS#1 v1.5 does not pass as PS256.
      const [, payload = '', signature = ''] = assertion().split('.');
      const ps256Header = { alg: 'PS256', typ: 'JWT', x5t: thumbprints(appCert.certPem).x5t };
      const relabelled = `${Buffer.from(JSON.stringify(ps256Header)).toString('base64url')}.${payload}.${signature}`;
      expectAadError(await postToken(assertionForm(relabelled)), 401, 'invalid_client', 700027);
      for (const alg of ['HS256', 'none', 'ES256']) {
        const jwt = assertion({ header: { alg } });
        expectAadError(await postToken(assertionForm(jwt)), 401, 'invalid_client', 700027);
      }
      const noThumbprint = assertion({ header: { x5t: undefined } });
      expectAadError(await postToken(assertionForm(noThumbprint)), 401, 'invalid_client', 700027);
    });

    it('700024 assertion outside its time range, on the emulator clock', async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = assertion({ claims: { nbf: now - 1200, exp: now - 600 } });
      expectAadError(await postToken(assertionForm(expired)), 401, 'invalid_client', 700024);
      const early = assertion({ claims: { nbf: now + 900, exp: now + 1500 } });
      expectAadError(await postToken(assertionForm(early)), 401, 'invalid_client', 700024);
      // Within the five-minute skew is fine.
      await tokenFor(assertionForm(assertion({ claims: { nbf: now + 240 } })));
      // A fresh assertion is expired once the emulator clock moves past its exp.
      const fresh = assertion();
      clockOffsetMs = 11 * 60_000;
      expectAadError(await postToken(assertionForm(fresh)), 401, 'invalid_client', 700024);
      const missingExp = assertion({ claims: { exp: undefined } });
      clockOffsetMs = 0;
      expectAadError(await postToken(assertionForm(missingExp)), 401, 'invalid_client', 700024);
    });

    it('rejects an assertion for another audience or another client', async () => {
      const wrongAud = assertion({ claims: { aud: `${origin}/${OTHER_TENANT_ID}/oauth2/v2.0/token` } });
      expectAadError(await postToken(assertionForm(wrongAud)), 401, 'invalid_client', 700023);
      const elsewhere = assertion({ claims: { aud: `https://evil.example/${TENANT_ID}/oauth2/v2.0/token` } });
      expectAadError(await postToken(assertionForm(elsewhere)), 401, 'invalid_client', 700023);
      const wrongIss = assertion({ claims: { iss: SECRET_APP } });
      expectAadError(await postToken(assertionForm(wrongIss)), 401, 'invalid_client', 700021);
      const garbage = await postToken(assertionForm('not.a.jwt'));
      expect(garbage.status).toBe(400);
      expect(garbage.json['error_codes']).toEqual([50027]);
    });

    it('70011 bad scope', async () => {
      for (const scope of [
        'https://graph.microsoft.com/User.Read',
        `${GRAPH_SCOPE} ${OUTLOOK}/.default`,
        `${GRAPH_SCOPE} openid`,
        'https://management.azure.com/.default',
        'https://graph.microsoft.com',
      ]) {
        expectAadError(await postToken(secretForm({ scope })), 400, 'invalid_scope', 70011);
      }
    });

    it('900144 missing parameter', async () => {
      for (const name of ['grant_type', 'client_id', 'scope']) {
        const form = Object.fromEntries(Object.entries(secretForm()).filter(([key]) => key !== name));
        const reply = await postToken(form);
        expectAadError(reply, 400, 'invalid_request', 900144);
        expect(reply.json['error_description']).toContain(`'${name}'`);
      }
      const noAssertion = assertionForm('x');
      delete noAssertion['client_assertion'];
      expectAadError(await postToken(noAssertion), 400, 'invalid_request', 900144);
      // A JSON body is not read at all, like Microsoft's.
      const json = await call('POST', `/${TENANT_ID}/oauth2/v2.0/token`, undefined, {
        'content-type': 'application/json',
      });
      expectAadError(json, 400, 'invalid_request', 900144);
    });

    it('70003 unsupported grant', async () => {
      expectAadError(
        await postToken(secretForm({ grant_type: 'password' })),
        400,
        'unsupported_grant_type',
        70003,
      );
      expectAadError(
        await postToken(secretForm({ grant_type: 'authorization_code' })),
        400,
        'unsupported_grant_type',
        70003,
      );
    });

    it('7000216 no credential, and one credential method at a time', async () => {
      const none = secretForm();
      delete none['client_secret'];
      expectAadError(await postToken(none), 401, 'invalid_client', 7000216);
      const both = { ...assertionForm(assertion()), client_secret: SECRET };
      expectAadError(await postToken(both), 400, 'invalid_request', 9002313);
    });

    it('900561 GET on the token endpoint', async () => {
      expectAadError(await call('GET', `/${TENANT_ID}/oauth2/v2.0/token`), 400, 'invalid_request', 900561);
    });
  });
});

describe('verifyAccessToken', () => {
  it('accepts a fresh token, with its tenant, app and roles', async () => {
    const token = await tokenFor(secretForm());
    const check = identity.verifyAccessToken(`Bearer ${token}`, 'graph');
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.tenant.tenantId).toBe(TENANT_ID);
    expect(check.app.clientId).toBe(SECRET_APP);
    expect(check.roles).toEqual(['ExchangeMessageTrace.Read.All']);
    expect(identity.verifyAccessToken(`bearer  ${token}`, 'graph').ok).toBe(true);
  });

  it('rejects missing and malformed headers', () => {
    expect(identity.verifyAccessToken(undefined, 'graph')).toMatchObject({ ok: false, reason: 'missing' });
    expect(identity.verifyAccessToken('', 'graph')).toMatchObject({ ok: false, reason: 'missing' });
    expect(identity.verifyAccessToken('Basic dXNlcjpwYXNz', 'graph')).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
    expect(identity.verifyAccessToken('Bearer not-a-jwt', 'graph')).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
    expect(identity.verifyAccessToken('Bearer', 'graph')).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('rejects expired tokens on the emulator clock', async () => {
    const token = await tokenFor(secretForm());
    clockOffsetMs = (LIFETIME - 5) * 1000;
    expect(identity.verifyAccessToken(`Bearer ${token}`, 'graph').ok).toBe(true);
    clockOffsetMs = (LIFETIME + 1) * 1000;
    expect(identity.verifyAccessToken(`Bearer ${token}`, 'graph')).toMatchObject({
      ok: false,
      reason: 'expired',
    });
  });

  it('rejects a token for the other resource', async () => {
    const token = await tokenFor(secretForm());
    expect(identity.verifyAccessToken(`Bearer ${token}`, 'reporting')).toMatchObject({
      ok: false,
      reason: 'audience',
    });
  });

  it('rejects tampered tokens', async () => {
    const token = await tokenFor(secretForm());
    const [header = '', payload = '', signature = ''] = token.split('.');
    const claims = claimsOf(token);
    const escalated = Buffer.from(JSON.stringify({ ...claims, roles: ['Directory.ReadWrite.All'] })).toString(
      'base64url',
    );
    expect(identity.verifyAccessToken(`Bearer ${header}.${escalated}.${signature}`, 'graph')).toMatchObject({
      ok: false,
      reason: 'invalid',
    });
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(identity.verifyAccessToken(`Bearer ${header}.${payload}.${flipped}`, 'graph')).toMatchObject({
      ok: false,
      reason: 'invalid',
    });
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: '0' })).toString('base64url');
    expect(identity.verifyAccessToken(`Bearer ${none}.${payload}.`, 'graph')).toMatchObject({
      ok: false,
      reason: 'invalid',
    });
    const otherTenant = Buffer.from(JSON.stringify({ ...claims, tid: OTHER_TENANT_ID })).toString(
      'base64url',
    );
    expect(identity.verifyAccessToken(`Bearer ${header}.${otherTenant}.${signature}`, 'graph')).toMatchObject(
      {
        ok: false,
        reason: 'invalid',
      },
    );
  });

  it('rejects revoked tokens of that tenant only; new tokens work', async () => {
    const before = await tokenFor(secretForm());
    const otherTenant = await tokenFor(secretForm(), OTHER_TENANT_ID);
    identity.revokeTokens(TENANT_ID);
    expect(identity.verifyAccessToken(`Bearer ${before}`, 'graph')).toMatchObject({
      ok: false,
      reason: 'revoked',
    });
    expect(identity.verifyAccessToken(`Bearer ${otherTenant}`, 'graph').ok).toBe(true);
    const after = await tokenFor(secretForm());
    expect(identity.verifyAccessToken(`Bearer ${after}`, 'graph').ok).toBe(true);
    identity.revokeTokens(DOMAIN);
    expect(identity.verifyAccessToken(`Bearer ${after}`, 'graph')).toMatchObject({
      ok: false,
      reason: 'revoked',
    });
  });

  it('rejects tokens from another emulator instance', async () => {
    const token = await tokenFor(secretForm());
    const other = createIdentity({
      tenants: () => tenants,
      now: () => Date.now(),
      tokenLifetimeSeconds: LIFETIME,
    });
    expect(other.verifyAccessToken(`Bearer ${token}`, 'graph')).toMatchObject({
      ok: false,
      reason: 'invalid',
    });
  });
});

it('refuses a token lifetime that is not a positive integer', () => {
  expect(() => createIdentity({ tenants: () => [], now: () => 0, tokenLifetimeSeconds: 0 })).toThrow(
    /positive integer/,
  );
});
