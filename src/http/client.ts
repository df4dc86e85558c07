/**
 * The innermost layer: undici `request()` with an explicit dispatcher (never the global one, which
 * Node's bundled fetch does not share), and the fold that composes policies around it.
 */
import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, ProxyAgent, type Dispatcher } from 'undici';
import { boundedRequest, BODY_LIMITS } from './bounded-request.js';
import { networkError } from './network-error.js';
import { safeUrl } from '../core/redact.js';
import type { Peer } from './transport-cause.js';
import type { HttpPolicy, HttpRequest, HttpResponse, SendNext } from './types.js';

export interface DispatcherOptions {
  /** Extra CA certificates (PEM) trusted on top of Node's roots (`tls.caFile`). */
  readonly caPem?: string;
  /** TCP + TLS connect; default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** Until the response headers arrive; default 60 000 ms (Graph pages of 5000 rows are slow). */
  readonly headersTimeoutMs?: number;
  /** Between body chunks; default 60 000 ms. */
  readonly bodyTimeoutMs?: number;
  /** Idle keep-alive sockets are closed after this; default 30 000 ms. */
  readonly keepAliveTimeoutMs?: number;
  /** Sockets per origin; default 4. */
  readonly connections?: number;
  /** An explicit proxy (config); wins over the environment. */
  readonly proxyUrl?: string;
  /** Where HTTPS_PROXY / NO_PROXY are read; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * One dispatcher per upstream (login host, API host): a keep-alive pool with our timeouts and CA,
 * behind a proxy when the config names one or HTTPS_PROXY is set (NO_PROXY honoured).
 */
export function createDispatcher(options: DispatcherOptions = {}): Dispatcher {
  // `ca` replaces Node's trust store, so the extra CA is added to the public roots, not swapped in.
  const tls = options.caPem === undefined ? {} : { ca: [...rootCertificates, options.caPem] };
  const agentOptions = {
    connect: { timeout: options.connectTimeoutMs ?? 10_000, ...tls },
    headersTimeout: options.headersTimeoutMs ?? 60_000,
    bodyTimeout: options.bodyTimeoutMs ?? 60_000,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    connections: options.connections ?? 4,
  };
  if (options.proxyUrl !== undefined) {
    return new ProxyAgent({ ...agentOptions, uri: options.proxyUrl, requestTls: tls, proxyTls: tls });
  }
  const env = options.env ?? process.env;
  const httpsProxy = env['HTTPS_PROXY'] ?? env['https_proxy'];
  const httpProxy = env['HTTP_PROXY'] ?? env['http_proxy'];
  if (nonEmpty(httpsProxy) || nonEmpty(httpProxy)) {
    const noProxy = env['NO_PROXY'] ?? env['no_proxy'];
    return new EnvHttpProxyAgent({
      ...agentOptions,
      ...(nonEmpty(httpsProxy) ? { httpsProxy } : {}),
      ...(nonEmpty(httpProxy) ? { httpProxy } : {}),
      ...(nonEmpty(noProxy) ? { noProxy } : {}),
      requestTls: tls,
      proxyTls: tls,
    });
  }
  return new Agent(agentOptions);
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

export interface SenderLimits {
  /** The largest answer read; default `BODY_LIMITS.apiPage`. */
  readonly maxBytes?: number;
  /** One attempt, connect to the last byte (`http.timeout`); default 60 000 ms. */
  readonly timeoutMs?: number;
}

/**
 * Sends one request on the dispatcher and reads the whole body, within the limits. `peer` names
 * the host in a transport failure (which host, which setting), the request's URL aside.
 */
export function undiciSender(
  dispatcher: Dispatcher,
  limits: SenderLimits = {},
  peer?: Omit<Peer, 'url'>,
): SendNext {
  return async (request: HttpRequest): Promise<HttpResponse> => {
    try {
      // Always read the body: an unread body keeps its socket out of the pool.
      return await boundedRequest(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body ?? null,
        signal: request.signal,
        dispatcher,
        maxBytes: limits.maxBytes ?? BODY_LIMITS.apiPage,
        timeoutMs: limits.timeoutMs ?? 60_000,
      });
    } catch (error) {
      if (request.signal.aborted) throw error;
      throw networkError(
        error,
        `${request.method} ${safeUrl(request.url)}`,
        undefined,
        peer === undefined ? undefined : { ...peer, url: request.url },
      );
    }
  };
}

export interface HttpClient {
  send(request: HttpRequest): Promise<HttpResponse>;
}

export interface HttpClientOptions {
  /** Outermost first: retry → bearer → budget → attempt. */
  readonly policies: readonly HttpPolicy[];
  /** The dispatcher requests go out on (see `createDispatcher`). */
  readonly agent: Dispatcher;
  /** Replaces undici at the bottom of the stack: for tests of the composition only. */
  readonly transport?: SendNext;
  /** Each attempt's body ceiling and whole-request deadline. */
  readonly limits?: SenderLimits;
  /** Which host the requests are for, named in transport failures. */
  readonly peer?: Omit<Peer, 'url'>;
}

/** Folds the policies around the sender; each policy sees only `next`. Duplicate names are refused. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const names = new Set<string>();
  for (const policy of options.policies) {
    if (names.has(policy.name)) throw new Error(`HTTP policy '${policy.name}' added twice`);
    names.add(policy.name);
  }
  const send = options.policies.reduceRight<SendNext>(
    (next, policy) => (request) => policy.send(request, next),
    options.transport ?? undiciSender(options.agent, options.limits, options.peer),
  );
  return { send };
}
