/**
 * What Microsoft's answers mean: identity-platform (AADSTS) errors and the final response of an
 * API call, as ExotraceErrors that name the tenant, the config key and the fix.
 */
import { ExotraceError, whereOf, type ErrorContext, type ExotraceErrorCode } from '../../core/errors.js';
import { redact, safeUrl } from '../../core/redact.js';

export const TRANSPORT_APP_ID = '8bd644d1-64a1-4d4b-ae52-2e0cbf64e373';

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
      message: `token request for ${whereOf(ctx)} failed, ${typeof known.what === 'string' ? known.what : known.what(ctx)}${upstream}`,
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
    message: `token request for ${whereOf(ctx)} failed (${details.error ?? 'error'}${
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
        `${target} for ${whereOf(ctx)} was refused: the tenant has no service principal for Microsoft's ` +
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
      message: `${target} for ${whereOf(ctx)} was refused with 401 even with a fresh token${said}`,
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
      message: `${target} for ${whereOf(ctx)} was forbidden (403${apiCode === undefined ? '' : ` ${apiCode}`})${said}`,
      fix: permissionFix(ctx),
      retryable: false,
      configKey: `${ctx.configPath}.clientId`,
    });
  }
  if (status === 429) {
    return new ExotraceError({
      ...base,
      code: 'throttled',
      message: `${target} for ${whereOf(ctx)} stayed throttled (429) after every retry`,
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
      message: `${target} for ${whereOf(ctx)} asked for a window the API no longer keeps${said}`,
      fix: `set ${ctx.configPath}.startFrom within the API's retention (90 days for Graph, 10 for reporting)`,
      retryable: false,
      configKey: `${ctx.configPath}.startFrom`,
    });
  }
  if (status >= 500 || status === 408) {
    return new ExotraceError({
      ...base,
      code: 'transient',
      message: `${target} for ${whereOf(ctx)} failed with ${status} after every retry${said}`,
      fix: 'none needed if it passes: the window is retried on the next cycle',
      retryable: true,
      configKey: `${ctx.configPath}.apiUrl`,
    });
  }
  return new ExotraceError({
    ...base,
    code: 'http_error',
    message: `${target} for ${whereOf(ctx)} failed with ${status}${said}`,
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
