/**
 * The Microsoft identity platform as the emulator serves it: OpenID discovery and the
 * client-credentials token endpoints (v2 and v1), with secrets and certificate assertions really
 * verified, Microsoft's AADSTS error bodies, and the access tokens the Graph and Reporting
 * handlers check with `verifyAccessToken`.
 *
 * Access tokens are HS256 under a key that never leaves this process, so only this emulator can
 * mint or check them; jwks_uri therefore publishes no keys. Secrets and assertions are never
 * logged or echoed.
 */
import {
  X509Certificate,
  createHash,
  createHmac,
  randomBytes,
  randomUUID,
  timingSafeEqual,
} from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { EmulatorRequest, Handler } from './http.js';
import { sendJson } from './http.js';
import { decodeJwt, signHs256, verifyHs256, verifyRsa } from './jwt.js';
import type { DecodedJwt, JsonObject } from './jwt.js';
import type { EmulatorApp, EmulatorTenant } from './model.js';
import { thumbprints } from './tls.js';

export type Resource = 'graph' | 'reporting';

export type TokenCheck =
  | {
      readonly ok: true;
      readonly tenant: EmulatorTenant;
      readonly app: EmulatorApp;
      readonly roles: readonly string[];
    }
  | {
      readonly ok: false;
      readonly reason: 'missing' | 'malformed' | 'invalid' | 'expired' | 'revoked' | 'audience';
      readonly message: string;
    };

export interface Identity {
  /** Answers identity paths; returns false for any other path. */
  readonly handle: Handler;
  /** Checks an `Authorization` header value for the given resource (the emulator clock decides expiry). */
  verifyAccessToken(authorization: string | undefined, resource: Resource): TokenCheck;
  /** Every token issued so far for the tenant (GUID or domain) becomes invalid; new ones work. */
  revokeTokens(tenantId: string): void;
}

export interface IdentityOptions {
  /** Read on every request, so tenants and apps can change while the emulator runs. */
  readonly tenants: () => readonly EmulatorTenant[];
  /** Milliseconds since the epoch on the emulator's clock. */
  readonly now: () => number;
  readonly tokenLifetimeSeconds: number;
  /**
   * Issue opaque access tokens (random text, not JWTs) that only this emulator can resolve, as
   * some Microsoft token services do: a client must not rely on a token looking like a JWT (to
   * redact it, for one). Default false.
   */
  readonly opaqueTokens?: boolean;
}

/** Each resource's App ID URI: the v2 scope prefix, the v1 `resource`, and the token `aud`. */
export const RESOURCE_URIS: Readonly<Record<Resource, string>> = {
  graph: 'https://graph.microsoft.com',
  reporting: 'https://outlook.office365.com',
};

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
// Microsoft tolerates this much clock skew on a client assertion's nbf.
const ASSERTION_SKEW_SECONDS = 300;
// The host real assertions name in `aud`; accepted so a client pointed at the emulator unchanged works.
const MICROSOFT_LOGIN_ORIGIN = 'https://login.microsoftonline.com';

const OPENID_PATH = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/i;
const KEYS_PATH = /^\/([^/]+)\/discovery\/v2\.0\/keys$/i;
const TOKEN_PATH = /^\/([^/]+)\/oauth2\/(v2\.0\/)?token$/i;

export function createIdentity(options: IdentityOptions): Identity {
  const lifetime = options.tokenLifetimeSeconds;
  if (!Number.isInteger(lifetime) || lifetime <= 0) {
    throw new Error(`tokenLifetimeSeconds must be a positive integer, got ${lifetime}`);
  }
  const masterKey = randomBytes(32);
  // Revocation rotates a tenant's signing key: the generation is the token's `kid`, so a token
  // signed under an older generation is recognisably revoked rather than merely invalid.
  const generations = new Map<string, number>();
  const generationOf = (tenantId: string): number => generations.get(tenantId.toLowerCase()) ?? 0;
  const tokenKey = (tenantId: string, generation: number): Buffer =>
    createHmac('sha256', masterKey).update(`${tenantId.toLowerCase()}\n${generation}`).digest();
  const thumbprintCache = new Map<string, RegisteredCert | null>();
  // Opaque token → the signed JWT it stands for (opaqueTokens); the JWT is checked as usual.
  const opaque = new Map<string, string>();
  const MAX_OPAQUE = 10_000;
  const issue = (jwt: string): string => {
    if (options.opaqueTokens !== true) return jwt;
    if (opaque.size >= MAX_OPAQUE) opaque.clear(); // Old tokens then fail as invalid, like expired ones.
    const token = `EwB${randomBytes(64).toString('base64url')}`;
    opaque.set(token, jwt);
    return token;
  };

  const findTenant = (idOrDomain: string): EmulatorTenant | undefined => {
    const wanted = idOrDomain.toLowerCase();
    return options
      .tenants()
      .find((t) => t.tenantId.toLowerCase() === wanted || t.domain.toLowerCase() === wanted);
  };

  const registered = (pem: string): RegisteredCert | null => {
    let entry = thumbprintCache.get(pem);
    if (entry === undefined) {
      try {
        const cert = new X509Certificate(pem);
        entry = { ...thumbprints(pem), publicKey: cert.publicKey, validTo: Date.parse(cert.validTo) };
      } catch {
        entry = null; // An unparseable registration matches nothing.
      }
      thumbprintCache.set(pem, entry);
    }
    return entry;
  };

  const handle: Handler = (req, res) => {
    const path = req.url.pathname;
    const openid = OPENID_PATH.exec(path);
    if (openid) return serveDiscovery(req, res, segment(openid[1]), 'openid');
    const keys = KEYS_PATH.exec(path);
    if (keys) return serveDiscovery(req, res, segment(keys[1]), 'keys');
    const token = TOKEN_PATH.exec(path);
    if (token) {
      serveToken(req, res, segment(token[1]), token[2] === undefined ? 'v1' : 'v2');
      return true;
    }
    return false;
  };

  function serveDiscovery(
    req: EmulatorRequest,
    res: ServerResponse,
    tenantSegment: string,
    what: 'openid' | 'keys',
  ): true {
    if (req.method !== 'GET') {
      sendJson(res, 405, { error: 'method_not_allowed' }, { allow: 'GET' });
      return true;
    }
    const ctx = context(req, options.now());
    const tenant = findTenant(tenantSegment);
    if (tenant === undefined) {
      sendError(res, ctx, {
        status: 400,
        error: 'invalid_tenant',
        code: 90002,
        message: tenantNotFound(tenantSegment),
      });
      return true;
    }
    if (what === 'keys') {
      sendJson(res, 200, { keys: [] }, NO_STORE);
      return true;
    }
    const base = `${req.url.origin}/${tenant.tenantId}`;
    sendJson(res, 200, {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'ver', 'oid', 'roles'],
      tenant_region_scope: 'NA',
      cloud_instance_name: 'microsoftonline.com',
      msgraph_host: 'graph.microsoft.com',
    });
    return true;
  }

  function serveToken(
    req: EmulatorRequest,
    res: ServerResponse,
    tenantSegment: string,
    version: 'v1' | 'v2',
  ): void {
    const nowMs = options.now();
    const ctx = context(req, nowMs);
    const outcome = tokenOutcome(req, tenantSegment, version, nowMs);
    if ('code' in outcome) sendError(res, ctx, outcome);
    else sendJson(res, 200, outcome.body, ctx.headers);
  }

  /** The token endpoint's checks, in the order Microsoft appears to apply them. */
  function tokenOutcome(
    req: EmulatorRequest,
    tenantSegment: string,
    version: 'v1' | 'v2',
    nowMs: number,
  ): Failure | { readonly body: JsonObject } {
    const tenant = findTenant(tenantSegment);
    if (tenant === undefined) {
      return { status: 400, error: 'invalid_request', code: 90002, message: tenantNotFound(tenantSegment) };
    }
    if (req.method !== 'POST') {
      return {
        status: 400,
        error: 'invalid_request',
        code: 900561,
        message: `The endpoint only accepts POST, OPTIONS requests. Received a ${safeEcho(req.method)} request.`,
      };
    }
    // Microsoft reads only a form body; anything else looks like a request with no parameters.
    const form = isForm(req) ? new URLSearchParams(req.body) : new URLSearchParams();
    const param = (key: string): string | undefined => {
      const value = form.get(key);
      return value === null || value === '' ? undefined : value;
    };

    const grantType = param('grant_type');
    if (grantType === undefined) return missingParameter('grant_type');
    if (grantType !== 'client_credentials') {
      return {
        status: 400,
        error: 'unsupported_grant_type',
        code: 70003,
        message: `The app requested an unsupported grant type '${safeEcho(grantType)}'.`,
      };
    }

    const basic = parseBasic(req.headers.authorization);
    if (basic === 'malformed') return malformedRequest();
    const formClientId = param('client_id');
    if (basic !== undefined && formClientId !== undefined && basic.clientId !== formClientId) {
      return malformedRequest();
    }
    const clientId = formClientId ?? basic?.clientId;
    if (clientId === undefined) return missingParameter('client_id');

    const requested = version === 'v2' ? param('scope') : param('resource');
    if (requested === undefined) return missingParameter(version === 'v2' ? 'scope' : 'resource');

    const app = tenant.apps.find((a) => a.clientId.toLowerCase() === clientId.toLowerCase());
    if (app === undefined) {
      return {
        status: 400,
        error: 'unauthorized_client',
        code: 700016,
        message:
          `Application with identifier '${safeEcho(clientId)}' was not found in the directory '${tenant.name}'. ` +
          'This can happen if the application has not been installed by the administrator of the tenant or consented ' +
          'to by any user in the tenant. You may have sent your authentication request to the wrong tenant.',
      };
    }

    const formSecret = param('client_secret');
    const assertionType = param('client_assertion_type');
    const assertion = param('client_assertion');
    const presented = [formSecret, basic?.secret, assertionType ?? assertion].filter((v) => v !== undefined);
    if (presented.length === 0) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 7000216,
        message:
          "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
      };
    }
    // RFC 6749 §2.3: a client must not use more than one authentication method in a request.
    if (presented.length > 1) return malformedRequest();

    let appidacr: '1' | '2';
    const secret = formSecret ?? basic?.secret;
    if (secret !== undefined) {
      const failure = checkSecret(app, secret, nowMs);
      if (failure) return failure;
      appidacr = '1';
    } else {
      if (assertionType === undefined) return missingParameter('client_assertion_type');
      if (assertionType !== JWT_BEARER) return malformedRequest();
      if (assertion === undefined) return missingParameter('client_assertion');
      const failure = checkAssertion(req, tenant, app, assertion, nowMs);
      if (failure) return failure;
      appidacr = '2';
    }

    const resource = version === 'v2' ? resourceOfScope(requested) : resourceOfUri(requested);
    if (resource === undefined) {
      return version === 'v2'
        ? {
            status: 400,
            error: 'invalid_scope',
            code: 70011,
            message: `The provided value for the input parameter 'scope' is not valid. The scope ${safeEcho(requested)} is not valid.`,
          }
        : {
            status: 400,
            error: 'invalid_resource',
            code: 500011,
            message:
              `The resource principal named ${safeEcho(requested)} was not found in the tenant named ${tenant.name}. ` +
              'This can happen if the application has not been installed by the administrator of the tenant or ' +
              'consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.',
          };
    }

    const iat = Math.floor(nowMs / 1000);
    const exp = iat + lifetime;
    const roles = resource === 'graph' ? app.graphRoles : app.reportingRoles;
    const issuer = `https://sts.windows.net/${tenant.tenantId}/`;
    const generation = generationOf(tenant.tenantId);
    const claims: JsonObject = {
      aud: RESOURCE_URIS[resource],
      iss: issuer,
      iat,
      nbf: iat,
      exp,
      app_displayname: app.displayName,
      appid: app.clientId,
      appidacr,
      idp: issuer,
      idtyp: 'app',
      // Like Microsoft's, a token without granted roles has no roles claim at all.
      ...(roles.length > 0 ? { roles: [...roles] } : {}),
      tid: tenant.tenantId,
      uti: randomBytes(16).toString('base64url'),
      ver: '1.0',
      jti: randomUUID(),
    };
    const accessToken = issue(
      signHs256(claims, tokenKey(tenant.tenantId, generation), { kid: String(generation) }),
    );
    // v1 answers with numbers as strings and a few more fields, as login.microsoftonline.com does.
    const body =
      version === 'v2'
        ? { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken }
        : {
            token_type: 'Bearer',
            expires_in: String(lifetime),
            ext_expires_in: String(lifetime),
            expires_on: String(exp),
            not_before: String(iat),
            resource: RESOURCE_URIS[resource],
            access_token: accessToken,
          };
    return { body };
  }

  function checkSecret(app: EmulatorApp, secret: string, nowMs: number): Failure | undefined {
    const match = app.secrets.find((s) => constantTimeEquals(s.value, secret));
    if (match === undefined) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 7000215,
        message:
          'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, ' +
          `not the client secret ID, for a secret added to app '${app.clientId}'.`,
      };
    }
    if (match.expiresAt !== undefined && match.expiresAt <= nowMs) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 7000222,
        message:
          `The provided client secret keys for app '${app.clientId}' are expired. Visit the Azure portal to create new ` +
          'keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added ' +
          'security: https://aka.ms/certCreds.',
      };
    }
    return undefined;
  }

  function checkAssertion(
    req: EmulatorRequest,
    tenant: EmulatorTenant,
    app: EmulatorApp,
    assertion: string,
    nowMs: number,
  ): Failure | undefined {
    const jwt = decodeJwt(assertion);
    if (jwt === undefined) {
      return {
        status: 400,
        error: 'invalid_request',
        code: 50027,
        message: 'Invalid JWT token. Token format not valid.',
      };
    }
    const alg = jwt.header['alg'];
    if (alg !== 'RS256' && alg !== 'PS256') {
      return assertionFailure(
        `Client assertion failed signature validation. Unsupported signing algorithm '${typeof alg === 'string' ? safeEcho(alg) : ''}'; use RS256 or PS256.`,
      );
    }
    const byS256 = jwt.header['x5t#S256'];
    const bySha1 = jwt.header['x5t'];
    let cert: RegisteredCert | undefined;
    let presentedThumbprint: string;
    if (typeof byS256 === 'string') {
      presentedThumbprint = byS256;
      cert = findCert(app, (c) => c.x5tS256 === byS256);
    } else if (typeof bySha1 === 'string') {
      presentedThumbprint = bySha1;
      cert = findCert(app, (c) => c.x5t === bySha1);
    } else {
      return assertionFailure(
        'Client assertion contains no certificate thumbprint (x5t or x5t#S256 header).',
      );
    }
    const hexThumbprint = thumbprintHex(presentedThumbprint);
    if (cert === undefined) {
      return assertionFailure(
        'The certificate with identifier used to sign the client assertion is not registered on application. ' +
          `[Reason - The key was not found., Thumbprint of key used by client: '${hexThumbprint}', Please visit the ` +
          `Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.clientId}'.]`,
      );
    }
    if (!verifyRsa(jwt, alg, cert.publicKey)) {
      return assertionFailure(
        `Client assertion contains an invalid signature. [Reason - The key was found, but the signature is invalid., ` +
          `Thumbprint of key used by client: '${hexThumbprint}']`,
      );
    }
    if (cert.validTo <= nowMs) {
      return assertionFailure(
        `Client assertion failed signature validation. [Reason - The key used is expired., Thumbprint of key used by client: '${hexThumbprint}']`,
      );
    }
    const { iss, sub } = jwt.payload;
    if (!sameId(iss, app.clientId) || !sameId(sub, app.clientId)) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 700021,
        message: "Client assertion application identifier doesn't match 'client_id' parameter.",
      };
    }
    if (!audienceMatches(jwt, req, tenant)) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 700023,
        message: 'Client assertion audience claim does not match Realm issuer.',
      };
    }
    return assertionTime(jwt, nowMs);
  }

  function audienceMatches(jwt: DecodedJwt, req: EmulatorRequest, tenant: EmulatorTenant): boolean {
    const aud = jwt.payload['aud'];
    const candidates = Array.isArray(aud) ? (aud as unknown[]) : [aud];
    // The origin the client used: the request URL's, or its Host header if the server's base differs.
    const origins = new Set([req.url.origin, MICROSOFT_LOGIN_ORIGIN]);
    if (typeof req.headers.host === 'string') origins.add(`https://${req.headers.host.toLowerCase()}`);
    return candidates.some((value) => {
      if (typeof value !== 'string') return false;
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return false;
      }
      if (!origins.has(url.origin) || url.search !== '' || url.hash !== '') return false;
      const match = TOKEN_PATH.exec(url.pathname);
      return match !== null && findTenant(segment(match[1]))?.tenantId === tenant.tenantId;
    });
  }

  function findCert(app: EmulatorApp, test: (c: RegisteredCert) => boolean): RegisteredCert | undefined {
    for (const pem of app.certificates) {
      const cert = registered(pem);
      if (cert !== null && test(cert)) return cert;
    }
    return undefined;
  }

  function verifyAccessToken(authorization: string | undefined, resource: Resource): TokenCheck {
    if (authorization === undefined || authorization.trim() === '') {
      return { ok: false, reason: 'missing', message: 'Access token is empty.' };
    }
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization.trim());
    if (bearer === null) {
      return { ok: false, reason: 'malformed', message: 'The Authorization header is not a Bearer token.' };
    }
    const presented = bearer[1] ?? '';
    const jwt = decodeJwt(opaque.get(presented) ?? presented);
    if (jwt === undefined) {
      return { ok: false, reason: 'malformed', message: 'IDX14100: JWT is not well formed.' };
    }
    const invalid = (message: string): TokenCheck => ({ ok: false, reason: 'invalid', message });
    const { tid, exp, nbf, aud, appid } = jwt.payload;
    const kid = jwt.header['kid'];
    if (typeof tid !== 'string' || typeof kid !== 'string' || !/^\d{1,9}$/.test(kid)) {
      return invalid('Invalid signature.');
    }
    const tenant = findTenant(tid);
    const generation = Number(kid);
    if (tenant === undefined || tenant.tenantId !== tid || generation > generationOf(tid)) {
      return invalid('Invalid signature.');
    }
    if (!verifyHs256(jwt, tokenKey(tid, generation))) return invalid('Invalid signature.');
    if (generation < generationOf(tid)) {
      return { ok: false, reason: 'revoked', message: 'The access token has been revoked.' };
    }
    const nowSeconds = options.now() / 1000;
    if (typeof exp !== 'number' || exp <= nowSeconds) {
      return { ok: false, reason: 'expired', message: 'Lifetime validation failed, the token is expired.' };
    }
    if (typeof nbf === 'number' && nbf > nowSeconds + ASSERTION_SKEW_SECONDS) {
      return invalid('Lifetime validation failed, the token is not yet valid.');
    }
    if (aud !== RESOURCE_URIS[resource]) {
      return { ok: false, reason: 'audience', message: 'Invalid audience.' };
    }
    const app = tenant.apps.find((a) => a.clientId === appid);
    if (app === undefined) return invalid('The application no longer exists in the tenant.');
    const rolesClaim = jwt.payload['roles'];
    const roles = Array.isArray(rolesClaim)
      ? rolesClaim.filter((r): r is string => typeof r === 'string')
      : [];
    return { ok: true, tenant, app, roles };
  }

  function revokeTokens(tenantId: string): void {
    const key = (findTenant(tenantId)?.tenantId ?? tenantId).toLowerCase();
    generations.set(key, (generations.get(key) ?? 0) + 1);
  }

  return { handle, verifyAccessToken, revokeTokens };
}

interface RegisteredCert {
  readonly x5t: string;
  readonly x5tS256: string;
  readonly publicKey: X509Certificate['publicKey'];
  readonly validTo: number;
}

interface Failure {
  readonly status: number;
  readonly error: string;
  readonly code: number;
  /** Without the `AADSTSnnnn: ` prefix and the trace lines, which sendError adds. */
  readonly message: string;
}

interface RequestContext {
  readonly traceId: string;
  readonly correlationId: string;
  readonly nowMs: number;
  readonly origin: string;
  /** Headers every token endpoint answer carries. */
  readonly headers: Readonly<Record<string, string>>;
}

const NO_STORE: Readonly<Record<string, string>> = {
  'cache-control': 'no-store, no-cache',
  pragma: 'no-cache',
};

function context(req: EmulatorRequest, nowMs: number): RequestContext {
  const traceId = randomUUID();
  const sent = req.headers['client-request-id'];
  const clientRequestId = typeof sent === 'string' && GUID.test(sent) ? sent.toLowerCase() : undefined;
  const correlationId = clientRequestId ?? randomUUID();
  return {
    traceId,
    correlationId,
    nowMs,
    origin: req.url.origin,
    headers: {
      ...NO_STORE,
      'x-ms-request-id': traceId,
      ...(clientRequestId === undefined ? {} : { 'client-request-id': clientRequestId }),
    },
  };
}

function sendError(res: ServerResponse, ctx: RequestContext, failure: Failure): void {
  const iso = new Date(ctx.nowMs).toISOString();
  const timestamp = `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
  sendJson(
    res,
    failure.status,
    {
      error: failure.error,
      error_description:
        `AADSTS${failure.code}: ${failure.message}\r\nTrace ID: ${ctx.traceId}\r\n` +
        `Correlation ID: ${ctx.correlationId}\r\nTimestamp: ${timestamp}`,
      error_codes: [failure.code],
      timestamp,
      trace_id: ctx.traceId,
      correlation_id: ctx.correlationId,
      error_uri: `${ctx.origin}/error?code=${failure.code}`,
    },
    ctx.headers,
  );
}

function assertionFailure(message: string): Failure {
  return { status: 401, error: 'invalid_client', code: 700027, message };
}

function assertionTime(jwt: DecodedJwt, nowMs: number): Failure | undefined {
  const { exp, nbf } = jwt.payload;
  const now = nowMs / 1000;
  const expOk = typeof exp === 'number' && exp > now;
  const nbfOk = nbf === undefined || (typeof nbf === 'number' && nbf <= now + ASSERTION_SKEW_SECONDS);
  if (expOk && nbfOk) return undefined;
  const at = (value: unknown): string =>
    typeof value === 'number' && Number.isFinite(value) ? new Date(value * 1000).toISOString() : 'none';
  return {
    status: 401,
    error: 'invalid_client',
    code: 700024,
    message:
      `Client assertion is not within its valid time range. Current time: ${new Date(nowMs).toISOString()}, ` +
      `assertion valid from ${at(nbf)}, expiry time of assertion ${at(exp)}. Review the documentation at ` +
      'https://learn.microsoft.com/entra/identity-platform/certificate-credentials .',
  };
}

function missingParameter(name: string): Failure {
  return {
    status: 400,
    error: 'invalid_request',
    code: 900144,
    message: `The request body must contain the following parameter: '${name}'.`,
  };
}

function malformedRequest(): Failure {
  return {
    status: 400,
    error: 'invalid_request',
    code: 9002313,
    message: 'Invalid request. Request is malformed or invalid.',
  };
}

function tenantNotFound(tenantSegment: string): string {
  return (
    `Tenant '${safeEcho(tenantSegment)}' not found. Check to make sure you have the correct tenant ID and are signing ` +
    'into the correct cloud. Check with your subscription administrator, this may happen if there are no active ' +
    'subscriptions for the tenant.'
  );
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** v2: exactly one `<resource>/.default`; Microsoft also takes `<resource>//.default`. */
function resourceOfScope(scope: string): Resource | undefined {
  const scopes = scope.trim().split(/\s+/);
  const only = scopes.length === 1 ? scopes[0] : undefined;
  if (only?.endsWith('/.default') !== true) return undefined;
  return resourceOfUri(only.slice(0, -'/.default'.length));
}

/** v1 `resource`, with or without a trailing slash. */
function resourceOfUri(uri: string): Resource | undefined {
  const bare = uri.replace(/\/$/, '').toLowerCase();
  return (Object.keys(RESOURCE_URIS) as Resource[]).find((r) => RESOURCE_URIS[r] === bare);
}

/**
 * RFC 6749 §2.3.1: `Basic base64(urlencode(client_id):urlencode(secret))`. Undefined when the
 * header is absent or another scheme; 'malformed' when it is Basic but unreadable.
 */
function parseBasic(
  header: string | undefined,
): { clientId: string; secret: string | undefined } | 'malformed' | undefined {
  const match = header === undefined ? null : /^Basic\s+(\S+)\s*$/i.exec(header);
  if (match === null) return header !== undefined && /^Basic\b/i.test(header) ? 'malformed' : undefined;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return 'malformed';
  try {
    const clientId = formDecode(decoded.slice(0, colon));
    const secret = formDecode(decoded.slice(colon + 1));
    return { clientId, secret: secret === '' ? undefined : secret };
  } catch {
    return 'malformed';
  }
}

function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

function isForm(req: EmulatorRequest): boolean {
  return /^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '');
}

function segment(raw: string | undefined): string {
  try {
    return decodeURIComponent(raw ?? '');
  } catch {
    return raw ?? '';
  }
}

/** Compares through SHA-256 digests so neither the length nor the content leaks through timing. */
function constantTimeEquals(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b);
}

function sameId(value: unknown, clientId: string): boolean {
  return typeof value === 'string' && value.toLowerCase() === clientId.toLowerCase();
}

/** The uppercase hex Microsoft prints for a thumbprint, or '' when the header is not one. */
function thumbprintHex(base64url: string): string {
  const bytes = Buffer.from(base64url, 'base64url');
  return bytes.length === 20 || bytes.length === 32 ? bytes.toString('hex').toUpperCase() : '';
}

/**
 * Request values echoed in error messages (ids, grant types, scopes) are cut short and stripped
 * of control characters; secrets and assertions are never passed here.
 */
function safeEcho(value: string): string {
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}
