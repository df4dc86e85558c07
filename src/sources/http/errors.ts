/**
 * One error type for everything the collector can meet on the wire. Each carries a code from a
 * closed list, a message naming the tenant and the config key, and the fix a person can act on.
 * Nothing secret reaches a message or `toJSON()`: messages are built from our own words plus
 * upstream text that goes through `redact`, and `toJSON()` copies an allow-list of fields only.
 */
import { tokensInUse } from './tokens-in-use.js';
import { TLS_TRUST, transportCause, type Peer } from './transport-cause.js';

export const TRANSPORT_APP_ID = '8bd644d1-64a1-4d4b-ae52-2e0cbf64e373';

export const ERROR_CODES = [
  'bad_secret',
  'secret_expired',
  'app_not_found',
  'tenant_not_found',
  'certificate_not_registered',
  'clock_skew',
  'service_principal_missing',
  'permission_missing',
  'throttled',
  'foreign_next_link',
  'no_progress',
  'insecure_url',
  'window_too_old',
  'transient',
  'network_error',
  'response_too_large',
  'request_timeout',
  'unauthorized',
  'http_error',
  /** A page's rows counted by the source are not its events plus rejects (the collector's check). */
  'page_mismatch',
] as const;

export type ExotraceErrorCode = (typeof ERROR_CODES)[number];

/** Which tenant and which part of the config an error is about. */
export interface ErrorContext {
  /** The tenant's `name` from the config. */
  readonly tenant: string;
  /** Its path in the config, e.g. `tenants[0]`; keys in messages and fixes hang off it. */
  readonly configPath: string;
  /** Which API the tenant reads: decides the permission named in a 403's fix. Default graph. */
  readonly api?: 'graph' | 'graph-beta' | 'reporting';
  /** The configured `tenantId` (a GUID or a domain, not a secret): named when it is not found. */
  readonly tenantId?: string;
}

export interface ExotraceErrorOptions {
  readonly code: ExotraceErrorCode;
  readonly message: string;
  readonly fix?: string;
  readonly retryable?: boolean;
  readonly status?: number;
  /** When a retry is worth it no earlier than this (e.g. a 429's Retry-After), in ms. */
  readonly retryAfterMs?: number;
  readonly tenant?: string;
  readonly configKey?: string;
  readonly cause?: unknown;
}

export class ExotraceError extends Error {
  override readonly name = 'ExotraceError';
  readonly code: ExotraceErrorCode;
  readonly fix: string | undefined;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly tenant: string | undefined;
  readonly configKey: string | undefined;

  constructor(options: ExotraceErrorOptions) {
    super(redact(options.message), options.cause === undefined ? {} : { cause: options.cause });
    this.code = options.code;
    this.fix = options.fix;
    this.retryable = options.retryable ?? false;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.tenant = options.tenant;
    this.configKey = options.configKey;
  }

  /** Matches by name too, so an error from another copy of this module is still recognised. */
  static is(value: unknown): value is ExotraceError {
    return (
      value instanceof ExotraceError ||
      (value instanceof Error && value.name === 'ExotraceError' && 'code' in value)
    );
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
    };
    if (this.fix !== undefined) out['fix'] = this.fix;
    if (this.status !== undefined) out['status'] = this.status;
    if (this.retryAfterMs !== undefined) out['retryAfterMs'] = this.retryAfterMs;
    if (this.tenant !== undefined) out['tenant'] = this.tenant;
    if (this.configKey !== undefined) out['configKey'] = this.configKey;
    if (this.cause !== undefined) out['cause'] = sanitizeCause(this.cause);
    return out;
  }
}

/** A cause reduced to its name, a code-like field and a redacted message: never its own fields. */
function sanitizeCause(cause: unknown, depth = 0): Record<string, unknown> | string {
  if (ExotraceError.is(cause)) return cause.toJSON();
  if (!(cause instanceof Error)) return 'non-error cause';
  const out: Record<string, unknown> = { name: cause.name, message: redact(cause.message) };
  const code =
    (cause as { code?: unknown; errorCode?: unknown }).code ?? (cause as { errorCode?: unknown }).errorCode;
  if (typeof code === 'string' && /^[\w.-]{1,64}$/.test(code)) out['code'] = code;
  if (cause.cause !== undefined && depth < 3) out['cause'] = sanitizeCause(cause.cause, depth + 1);
  return out;
}

const JWT = /\beyJ[\w-]*\.[\w-]*\.[\w-]*/g;
const BEARER = /\b(bearer|basic)\s+[\w.~+/=-]+/gi;
const QUERY = /(https?:\/\/[^\s?#"']+)\?[^\s#"']*/gi;
const SECRET_FIELDS =
  /\b(client_secret|client_assertion|access_token|refresh_token|password|passphrase|secret|assertion)\b(["']?\s*[:=]\s*["']?)[^\s&"',}]+/gi;

/**
 * Removes what could be a credential from text we did not write: the access tokens this process
 * sent (literally: an opaque token matches no pattern), JWTs, Authorization values,
 * secret-looking form or JSON fields, and every URL's query (query values may carry skip tokens
 * or filters with addresses).
 */
export function redact(text: string): string {
  let out = text;
  for (const token of tokensInUse()) if (out.includes(token)) out = out.split(token).join('REDACTED');
  return out
    .replace(JWT, 'REDACTED')
    .replace(BEARER, '$1 REDACTED')
    .replace(QUERY, '$1?REDACTED')
    .replace(SECRET_FIELDS, '$1$2REDACTED');
}

/**
 * A secret at least this long is replaced wherever it occurs, even inside a longer word: no word
 * of a message is that long by chance, and a credential glued to other text must still go. A
 * shorter one (a password such as `pass1`) is replaced only where it stands as a token of its
 * own: inside a word it cannot be told apart from the word ("password" is no leak of `pass`), and
 * replacing it there mangled messages ("REDACTEDword").
 */
export const ANYWHERE_SECRET = 16;

/** A letter or digit: what a short secret must not touch on either side to count as itself. */
const WORD_CHARACTER = /[\p{L}\p{N}]/u;

/** `text` with each occurrence of `secret` that is not inside a longer word replaced. */
function replaceAsToken(text: string, secret: string): string {
  let out = '';
  let from = 0;
  for (let at = text.indexOf(secret); at !== -1; at = text.indexOf(secret, at + 1)) {
    if (at < from) continue;
    const before = at === 0 ? '' : (text[at - 1] ?? '');
    const after = text[at + secret.length] ?? '';
    if (WORD_CHARACTER.test(before) || WORD_CHARACTER.test(after)) continue;
    out += `${text.slice(from, at)}REDACTED`;
    from = at + secret.length;
  }
  return out + text.slice(from);
}

/**
 * `redact`, after removing the secrets we know literally (a token, a key, a password of the
 * configuration), longest first so that one containing another goes whole.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  const known = [...new Set(secrets.filter((s) => s !== ''))].sort((a, b) => b.length - a.length);
  for (const secret of known) {
    if (!out.includes(secret)) continue;
    out = secret.length >= ANYWHERE_SECRET ? out.split(secret).join('REDACTED') : replaceAsToken(out, secret);
  }
  return redact(out);
}

/** Scheme, host and path of a URL: what errors and logs may show of it. */
export function safeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function where(ctx: ErrorContext): string {
  return `tenant '${ctx.tenant}' (${ctx.configPath})`;
}

function permissionFix(ctx: ErrorContext): string {
  if (ctx.api === 'reporting') {
    return (
      `grant ReportingWebService.Read.All (application, Office 365 Exchange Online) and admin consent ` +
      `to the app ${ctx.configPath}.clientId, and give its service principal a reader role (e.g. Global Reader)`
    );
  }
  return `grant ExchangeMessageTrace.Read.All (application) and admin consent to the app ${ctx.configPath}.clientId`;
}

/** The AADSTS numbers we explain; others fall back to `unauthorized`. */
const AADSTS: Readonly<
  Record<
    number,
    {
      code: ExotraceErrorCode;
      what: string | ((ctx: ErrorContext) => string);
      fix: (ctx: ErrorContext) => string;
      key: string;
    }
  >
> = {
  7000215: {
    code: 'bad_secret',
    what: 'the client secret is wrong',
    key: 'clientSecret',
    fix: (c) =>
      `check ${c.configPath}.clientSecret: use the secret's Value (not its Secret ID) from the app registration`,
  },
  7000222: {
    code: 'secret_expired',
    what: 'the client secret has expired',
    key: 'clientSecret',
    fix: (c) => `create a new client secret for the app and put it in ${c.configPath}.clientSecret`,
  },
  700016: {
    code: 'app_not_found',
    what: 'the application was not found in the tenant',
    key: 'clientId',
    fix: (c) =>
      `check ${c.configPath}.clientId and ${c.configPath}.tenantId: the app must be registered in, or consented to by, this tenant`,
  },
  90002: {
    code: 'tenant_not_found',
    what: (c) =>
      c.tenantId === undefined
        ? 'the tenant was not found'
        : `the tenant '${c.tenantId}' (${c.configPath}.tenantId) was not found`,
    key: 'tenantId',
    fix: (c) =>
      `check ${c.configPath}.tenantId: the directory's GUID or one of its verified domains (name.onmicrosoft.com); ` +
      `and ${c.configPath}.loginUrl: the login host of the tenant's cloud (default https://login.microsoftonline.com)`,
  },
  700027: {
    code: 'certificate_not_registered',
    what: 'the certificate is not registered for the app, or the assertion signature is invalid',
    key: 'certificate',
    fix: (c) =>
      `upload ${c.configPath}.certificate.certFile to the app registration (Certificates & secrets) and check that ` +
      `${c.configPath}.certificate.keyFile is its private key`,
  },
  700024: {
    code: 'clock_skew',
    what: 'the client assertion is outside its valid time range',
    key: 'certificate',
    fix: () =>
      `synchronise this machine's clock (NTP): assertions are refused when it is more than 5 minutes off`,
  },
  7000216: {
    code: 'bad_secret',
    what: 'no client secret or certificate was sent',
    key: 'clientSecret',
    fix: (c) => `set ${c.configPath}.clientSecret or ${c.configPath}.certificate`,
  },
};

/** Maps an identity-platform error (AADSTS number and/or OAuth error string) to an ExotraceError. */
export function mapAadError(
  ctx: ErrorContext,
  details: { aadsts?: number; error?: string; description?: string; status?: number; cause?: unknown },
): ExotraceError {
  const known = details.aadsts === undefined ? undefined : AADSTS[details.aadsts];
  const upstream = details.description === undefined ? '' : `: ${firstLine(details.description)}`;
  if (known !== undefined) {
    return new ExotraceError({
      code: known.code,
      message: `token request for ${where(ctx)} failed, ${typeof known.what === 'string' ? known.what : known.what(ctx)}${upstream}`,
      fix: known.fix(ctx),
      retryable: false,
      ...(details.status === undefined ? {} : { status: details.status }),
      tenant: ctx.tenant,
      configKey: `${ctx.configPath}.${known.key}`,
      cause: details.cause,
    });
  }
  const status = details.status;
  const transient = status !== undefined && (status >= 500 || status === 429);
  return new ExotraceError({
    code: transient ? 'transient' : 'unauthorized',
    message: `token request for ${where(ctx)} failed (${details.error ?? 'error'}${
      status === undefined ? '' : `, HTTP ${status}`
    })${upstream}`,
    fix: transient
      ? 'none needed: the identity platform had a temporary failure; it is retried'
      : `check ${ctx.configPath}.tenantId, clientId and its credential, and ${ctx.configPath}.loginUrl`,
    retryable: transient,
    ...(status === undefined ? {} : { status }),
    tenant: ctx.tenant,
    configKey: ctx.configPath,
    cause: details.cause,
  });
}

/** Parses an AADSTS error body (`error`, `error_description`, `error_codes`). */
export function parseAadBody(text: string): { aadsts?: number; error?: string; description?: string } {
  const body = parseJsonObject(text);
  const out: { aadsts?: number; error?: string; description?: string } = {};
  if (typeof body?.['error'] === 'string') out.error = body['error'];
  if (typeof body?.['error_description'] === 'string') out.description = body['error_description'];
  const codes = body?.['error_codes'];
  if (Array.isArray(codes) && typeof codes[0] === 'number') out.aadsts = codes[0];
  else {
    const match = /AADSTS(\d+)/.exec(out.description ?? text);
    if (match?.[1] !== undefined) out.aadsts = Number(match[1]);
  }
  return out;
}

/**
 * The final (non-retried) response of an API call as an error, or undefined for a 2xx. Graph's
 * envelope `{"error":{"code","message"}}` and the Reporting Web Service's `odata.error` both work.
 */
export function classifyResponse(
  ctx: ErrorContext,
  request: { readonly method: string; readonly url: URL },
  response: {
    readonly status: number;
    readonly text: string;
    readonly headers?: Readonly<Record<string, string>>;
  },
): ExotraceError | undefined {
  const { status } = response;
  if (status >= 200 && status < 300) return undefined;
  const { code: apiCode, message: apiMessage } = apiError(response.text);
  const target = `${request.method} ${safeUrl(request.url)}`;
  const said = apiMessage === undefined ? '' : `: ${firstLine(apiMessage)}`;
  const base = { status, tenant: ctx.tenant };
  if (
    status === 401 &&
    /service principal/i.test(apiMessage ?? '') &&
    apiMessage?.includes(TRANSPORT_APP_ID)
  ) {
    return new ExotraceError({
      ...base,
      code: 'service_principal_missing',
      message:
        `${target} for ${where(ctx)} was refused: the tenant has no service principal for Microsoft's ` +
        `message trace app ${TRANSPORT_APP_ID}`,
      fix:
        `in tenant '${ctx.tenant}' run: Connect-MgGraph -Scopes Application.ReadWrite.All; ` +
        `New-MgServicePrincipal -AppId ${TRANSPORT_APP_ID} (provisioning may take several hours)`,
      retryable: false,
      configKey: `${ctx.configPath}.tenantId`,
    });
  }
  if (status === 401) {
    return new ExotraceError({
      ...base,
      code: 'unauthorized',
      message: `${target} for ${where(ctx)} was refused with 401 even with a fresh token${said}`,
      fix:
        `check that ${ctx.configPath}.apiUrl and the token's scope belong to the same API, and that the ` +
        `app's credentials were not revoked`,
      retryable: false,
      configKey: `${ctx.configPath}.clientId`,
    });
  }
  if (status === 403) {
    return new ExotraceError({
      ...base,
      code: 'permission_missing',
      message: `${target} for ${where(ctx)} was forbidden (403${apiCode === undefined ? '' : ` ${apiCode}`})${said}`,
      fix: permissionFix(ctx),
      retryable: false,
      configKey: `${ctx.configPath}.clientId`,
    });
  }
  if (status === 429) {
    return new ExotraceError({
      ...base,
      code: 'throttled',
      message: `${target} for ${where(ctx)} stayed throttled (429) after every retry`,
      fix:
        `lower ${ctx.configPath}.requestsPer5Min, or make other apps of the tenant use less of its ` +
        `100 requests per 5 minutes`,
      retryable: true,
      configKey: `${ctx.configPath}.requestsPer5Min`,
    });
  }
  if (status === 400 && /90 days|too old|older than/i.test(apiMessage ?? '')) {
    return new ExotraceError({
      ...base,
      code: 'window_too_old',
      message: `${target} for ${where(ctx)} asked for a window the API no longer keeps${said}`,
      fix: `set ${ctx.configPath}.startFrom within the API's retention (90 days for Graph, 10 for reporting)`,
      retryable: false,
      configKey: `${ctx.configPath}.startFrom`,
    });
  }
  if (status >= 500 || status === 408) {
    return new ExotraceError({
      ...base,
      code: 'transient',
      message: `${target} for ${where(ctx)} failed with ${status} after every retry${said}`,
      fix: 'none needed if it passes: the window is retried on the next cycle',
      retryable: true,
      configKey: `${ctx.configPath}.apiUrl`,
    });
  }
  return new ExotraceError({
    ...base,
    code: 'http_error',
    message: `${target} for ${where(ctx)} failed with ${status}${said}`,
    fix: `check ${ctx.configPath}.apiUrl and ${ctx.configPath}.api`,
    retryable: false,
    configKey: `${ctx.configPath}.apiUrl`,
  });
}

function apiError(text: string): { code?: string; message?: string } {
  const body = parseJsonObject(text);
  const envelope = body?.['error'] ?? body?.['odata.error'];
  if (typeof envelope !== 'object' || envelope === null) return {};
  const e = envelope as Record<string, unknown>;
  const out: { code?: string; message?: string } = {};
  if (typeof e['code'] === 'string') out.code = e['code'];
  const message = e['message'];
  if (typeof message === 'string') out.message = message;
  else if (typeof message === 'object' && message !== null) {
    const value = (message as Record<string, unknown>)['value'];
    if (typeof value === 'string') out.message = value;
  }
  return out;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

// AADSTS descriptions carry Trace/Correlation IDs and timestamps on later lines: noise in a message.
// Redacted before it is cut: a token cut in two is no longer found to be replaced.
function firstLine(text: string): string {
  const line = redact(text.split(/\r?\n/, 1)[0] ?? '');
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** The string `code`s of an error and of its causes, outermost first (at most four deep). */
export function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}

export { TLS_TRUST };

/**
 * A failure below HTTP (no response): TLS trust problems are permanent and name `tls.caFile`;
 * resets, refusals and timeouts are transient and retried.
 */
export function networkError(error: unknown, target: string, ctx?: ErrorContext, peer?: Peer): ExotraceError {
  // Our own read limits (bounded-request.ts) already say what happened, and where.
  if (ExotraceError.is(error)) return error;
  // A trust failure anywhere in the chain says most; otherwise the innermost code (the socket's).
  const codes = errorCodes(error);
  const code = codes.find((c) => TLS_TRUST.test(c)) ?? codes.at(-1);
  const said = code ?? (error instanceof Error ? error.name : 'unknown error');
  const who = ctx === undefined ? '' : ` for ${where(ctx)}`;
  const tenant = ctx === undefined ? {} : { tenant: ctx.tenant };
  // A proxy that refuses the tunnel answers its CONNECT, not our request: 407 wants credentials
  // (or other ones), 403 forbids the destination. Retrying cannot help; the configuration can.
  const proxyNamed =
    peer?.proxy === undefined ? '' : `; the proxy is ${peer.proxy.url.host}, set by ${peer.proxy.setting}`;
  const tunnel = /Proxy response \((\d{3})\) !== 200 when HTTP Tunneling/.exec(
    error instanceof Error ? error.message : '',
  );
  if (tunnel !== null) {
    const status = tunnel[1] ?? '';
    return new ExotraceError({
      ...tenant,
      code: 'network_error',
      message: `${target}${who} failed: the proxy refused the tunnel with ${status}${status === '407' ? ' (proxy authentication required)' : ''}${proxyNamed}`,
      fix:
        status === '407'
          ? 'put the proxy credentials in http.proxy (https://user:password@proxy:port) or HTTPS_PROXY, or check them'
          : 'the proxy does not allow this destination: ask for the login and API hosts to be allowed, or check http.proxy',
      retryable: false,
      configKey: 'http.proxy',
      cause: error,
    });
  }
  // Which host failed how, when the caller says which host it was for.
  const cause = peer === undefined ? undefined : transportCause(error, code, peer);
  if (cause !== undefined) {
    return new ExotraceError({
      ...tenant,
      code: cause.retryable ? 'transient' : 'network_error',
      message: `${target}${who} failed: ${cause.what}`,
      fix: cause.fix,
      retryable: cause.retryable,
      configKey: cause.configKey,
      cause: error,
    });
  }
  if (code !== undefined && TLS_TRUST.test(code)) {
    return new ExotraceError({
      ...tenant,
      code: 'network_error',
      message: `${target}${who} failed: the server's TLS certificate is not trusted (${code})`,
      fix: 'set tls.caFile to the CA that signs the server (or the proxy that inspects TLS), or check the URL',
      retryable: false,
      configKey: 'tls.caFile',
      cause: error,
    });
  }
  return new ExotraceError({
    ...tenant,
    code: 'transient',
    message: `${target}${who} failed: ${said}`,
    fix: 'none needed if it passes: network errors are retried with backoff; if not, check the proxy and tls.caFile',
    retryable: true,
    cause: error,
  });
}
