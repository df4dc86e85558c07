/**
 * Access tokens for one tenant. The interface is all the HTTP stack sees; the msal-node
 * implementation does client credentials with a secret or a certificate, keeps msal's in-memory
 * cache (a token is reused until shortly before it expires) and shares one in-flight request.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { AuthError, ConfidentialClientApplication, ServerError, type Configuration } from '@azure/msal-node';
import type { Dispatcher } from 'undici';
import { ExotraceError, type ErrorContext } from '../../core/errors.js';
import { mapAadError, parseAadBody } from '../http/api-errors.js';
import { networkError } from '../../http/network-error.js';
import type { ProxySetting } from '../../http/transport-cause.js';
import { createMsalNetworkClient } from './network-client.js';

export interface TokenProvider {
  /** A valid access token; `forceRefresh` skips the cache (after a 401). */
  getToken(forceRefresh?: boolean): Promise<string>;
}

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
export const REPORTING_SCOPE = 'https://outlook.office365.com/.default';

export type ClientCredential =
  | { readonly kind: 'secret'; readonly secret: string }
  | {
      readonly kind: 'certificate';
      /** PEM of the certificate registered on the app. */
      readonly certPem: string;
      /** PEM private key (PKCS#8 or PKCS#1, encrypted when `passphrase` is set). */
      readonly keyPem: string;
      readonly passphrase?: string;
      /** Send the chain (`x5c`): only needed for subject-name/issuer authentication. */
      readonly sendX5c?: boolean;
    };

export interface MsalTokenProviderOptions {
  /** GUID or domain (`tenants[i].tenantId`). */
  readonly tenantId: string;
  readonly clientId: string;
  readonly credential: ClientCredential;
  /** Default `https://login.microsoftonline.com`. */
  readonly loginUrl?: string;
  /** Default the Graph scope. */
  readonly scope?: string;
  /** The dispatcher for the login host (CA, proxy, timeouts). */
  readonly dispatcher: Dispatcher;
  /** Each request to the login host, whole (`http.timeout`); default 60 000 ms. */
  readonly timeoutMs?: number;
  readonly context: ErrorContext;
  /** Every answer of the login host (metrics): its HTTP status, undefined when none came. */
  readonly onLoginAnswer?: (status: number | undefined) => void;
  /** The proxy the dispatcher sends through, named when a connection to it fails. */
  readonly proxy?: ProxySetting;
}

// Hosts msal knows: for these its normal instance discovery is right. Any other (a sovereign
// mirror, the emulator) is declared a known authority so msal never calls out to discover it.
const MICROSOFT_LOGIN_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

/** Base64url SHA-256 of the certificate's DER: the `x5t#S256` msal puts in the assertion. */
export function certificateThumbprintSha256(certPem: string): string {
  // X509Certificate gives colon-separated hex; msal wants plain hex and encodes it itself.
  return new X509Certificate(certPem).fingerprint256.replace(/:/g, '').toLowerCase();
}

export function createMsalTokenProvider(options: MsalTokenProviderOptions): TokenProvider {
  const loginUrl = (options.loginUrl ?? 'https://login.microsoftonline.com').replace(/\/+$/, '');
  const login = new URL(loginUrl);
  const { context } = options;
  const scope = options.scope ?? GRAPH_SCOPE;

  const auth: Configuration['auth'] = {
    clientId: options.clientId,
    authority: `${loginUrl}/${options.tenantId}`,
    ...(MICROSOFT_LOGIN_HOSTS.has(login.hostname.toLowerCase()) ? {} : { knownAuthorities: [login.host] }),
    ...credentialOptions(options.credential, context),
  };
  const networkClient = createMsalNetworkClient(options.dispatcher, {
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.onLoginAnswer === undefined ? {} : { onAnswer: options.onLoginAnswer }),
  });
  const app = new ConfidentialClientApplication({
    auth,
    system: {
      networkClient,
      // One retry loop (ours) decides; msal retrying inside it would multiply the attempts.
      disableInternalRetries: true,
    },
  });

  let inFlight: Promise<string> | undefined;
  const fetchToken = async (forceRefresh: boolean): Promise<string> => {
    // Forget failures of an earlier call that later succeeded.
    networkClient.takeLastError();
    networkClient.takeLastRefusal();
    try {
      const result = await app.acquireTokenByClientCredential({ scopes: [scope], skipCache: forceRefresh });
      if (result === null || result.accessToken === '') {
        throw new ExotraceError({
          code: 'unauthorized',
          message: `the identity platform returned no token for tenant '${context.tenant}' (${context.configPath})`,
          fix: `check ${context.configPath}.loginUrl`,
          tenant: context.tenant,
          configKey: `${context.configPath}.loginUrl`,
        });
      }
      return result.accessToken;
    } catch (error) {
      const transport = networkClient.takeLastError();
      const refusal = networkClient.takeLastRefusal();
      // After a 429 or 5xx msal would refuse the same request itself for up to a minute, with an
      // error that has no status; our retry loop decides the waits, so msal's hold is dropped.
      if (refusal !== undefined && (refusal.status === 429 || refusal.status >= 500)) app.clearCache();
      if (!(error instanceof ServerError) && transport === undefined && refusal !== undefined) {
        // msal gave up on an answer (the tenant's metadata refused) without saying what it said.
        const parsed = parseAadBody(refusal.text);
        if (parsed.aadsts !== undefined || parsed.error !== undefined) {
          throw mapAadError(context, { ...parsed, status: refusal.status, cause: error });
        }
      }
      if (transport !== undefined && !(error instanceof ServerError)) {
        throw networkError(transport, `token request to ${login.host}`, context, {
          role: 'login host',
          url: login,
          urlKey: `${context.configPath}.loginUrl`,
          ...(options.proxy === undefined ? {} : { proxy: options.proxy }),
        });
      }
      throw toExotraceError(error, context, refusal?.status);
    }
  };

  return {
    getToken(forceRefresh = false) {
      // Concurrent callers share one request; a forced refresh does not reuse a cached answer.
      if (inFlight !== undefined && !forceRefresh) return inFlight;
      const pending = fetchToken(forceRefresh).finally(() => {
        if (inFlight === pending) inFlight = undefined;
      });
      inFlight = pending;
      return pending;
    },
  };
}

function credentialOptions(
  credential: ClientCredential,
  context: ErrorContext,
): Pick<Configuration['auth'], 'clientSecret' | 'clientCertificate'> {
  if (credential.kind === 'secret') return { clientSecret: credential.secret };
  let privateKey: string;
  let thumbprintSha256: string;
  try {
    // msal signs with the key as given; an encrypted key is decrypted here, once, into PKCS#8.
    privateKey = createPrivateKey(
      credential.passphrase === undefined
        ? credential.keyPem
        : { key: credential.keyPem, passphrase: credential.passphrase },
    )
      .export({ type: 'pkcs8', format: 'pem' })
      .toString();
    thumbprintSha256 = certificateThumbprintSha256(credential.certPem);
  } catch (error) {
    throw new ExotraceError({
      code: 'certificate_not_registered',
      message: `the certificate or key of tenant '${context.tenant}' (${context.configPath}.certificate) could not be read`,
      fix: `check ${context.configPath}.certificate.certFile (PEM certificate), keyFile (PEM key) and passphrase`,
      tenant: context.tenant,
      configKey: `${context.configPath}.certificate`,
      cause: error,
    });
  }
  return {
    clientCertificate: {
      thumbprintSha256,
      privateKey,
      ...(credential.sendX5c === true ? { x5c: credential.certPem } : {}),
    },
  };
}

/** `answeredStatus`: the login host's last non-2xx status, for msal errors that do not keep it. */
function toExotraceError(error: unknown, context: ErrorContext, answeredStatus?: number): ExotraceError {
  if (ExotraceError.is(error)) return error;
  if (error instanceof ServerError) {
    const parsed = parseAadBody(error.errorMessage);
    const errorNo = Number(error.errorNo);
    // msal leaves `status` out of the errors it makes itself (its throttle's): without it a
    // failing identity platform would read as a refused credential, and not be retried.
    const status = error.status ?? answeredStatus;
    return mapAadError(context, {
      ...parsed,
      ...(Number.isInteger(errorNo) && errorNo > 0 ? { aadsts: errorNo } : {}),
      ...(error.errorCode === '' ? {} : { error: error.errorCode }),
      description: error.errorMessage,
      ...(status === undefined ? {} : { status }),
      cause: error,
    });
  }
  const where = `tenant '${context.tenant}' (${context.configPath})`;
  if (error instanceof AuthError) {
    // Client-side msal errors: network failures are transient, configuration ones are not.
    const network = /network|timeout/i.test(`${error.errorCode} ${error.errorMessage}`);
    return new ExotraceError({
      code: network ? 'transient' : 'unauthorized',
      message: `token request for ${where} failed: ${error.errorCode}`,
      fix: network
        ? `check that ${context.configPath}.loginUrl is reachable (proxy, CA in tls.caFile)`
        : `check ${context.configPath}.loginUrl, tenantId, clientId and its credential`,
      retryable: network,
      tenant: context.tenant,
      configKey: `${context.configPath}.loginUrl`,
      cause: error,
    });
  }
  return new ExotraceError({
    code: 'transient',
    message: `token request for ${where} failed`,
    fix: `check that ${context.configPath}.loginUrl is reachable (proxy, CA in tls.caFile)`,
    retryable: true,
    tenant: context.tenant,
    configKey: `${context.configPath}.loginUrl`,
    cause: error,
  });
}

/** A fixed token: for tests and for callers that obtain tokens elsewhere. */
export function staticTokenProvider(token: string): TokenProvider {
  return { getToken: () => Promise.resolve(token) };
}
