/**
 * What a failure below HTTP means for a person: which host (the login host, the API host, or the
 * proxy in between) failed how (refused, DNS, connect timeout, no route, TLS trust, TLS name,
 * reset), and the setting that fixes it. Built from the socket error's own fields (`address`,
 * `port`, `hostname`), so a refusal by the proxy is told apart from one by the destination.
 */
import { errorChain } from '../core/errors.js';

/** The host a request was for, as the configuration names it. */
export interface Peer {
  /**
   * Which of a tenant's hosts: `login host` (tokens) or `API host` (message trace); or, for an
   * output (doctor), what it is to the output: `receiver`, `broker`, `syslog server`.
   */
  readonly role: 'login host' | 'API host' | 'receiver' | 'broker' | 'syslog server';
  /** Its URL (`loginUrl` or `apiUrl`, or a next link on the same host). */
  readonly url: URL;
  /** The config key that sets it, e.g. `tenants[0].loginUrl`. */
  readonly urlKey: string;
  /** The proxy requests go through, when one is configured. */
  readonly proxy?: ProxySetting;
}

export interface ProxySetting {
  readonly url: URL;
  /** Where it was set: `http.proxy`, or the environment variable's name (`HTTPS_PROXY`). */
  readonly setting: string;
}

export interface TransportCause {
  /** Completes "… failed: ", e.g. "the login host 127.0.0.1:4 refused the connection (ECONNREFUSED)". */
  readonly what: string;
  readonly fix: string;
  /** The setting to look at. */
  readonly configKey: string;
  /** False when sending again cannot help (a TLS trust or name problem, a proxy refusing the tunnel). */
  readonly retryable: boolean;
}

export const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
export const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);
export const ROUTE_CODES = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'EHOSTDOWN']);
export const CLOSED_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ECONNABORTED',
]);
export const TLS_NAME = 'ERR_TLS_CERT_ALTNAME_INVALID';
// Node's TLS verification failures: a retry cannot fix them, a trusted CA (or proxy setting) can.
export const TLS_TRUST = /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|ERR_TLS/;

/** The proxy a dispatcher uses for `target`, as `createDispatcher` chooses it (NO_PROXY aside). */
export function configuredProxy(
  explicit: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  target: URL,
): ProxySetting | undefined {
  if (explicit !== undefined) return { url: new URL(explicit), setting: 'http.proxy' };
  const names = target.protocol === 'https:' ? ['HTTPS_PROXY', 'https_proxy'] : ['HTTP_PROXY', 'http_proxy'];
  for (const name of names) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    try {
      return { url: new URL(value), setting: name };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The error of the chain with `code` (or, without one, the innermost with any code): its fields. */
function errorWithCode(error: unknown, code?: string): Record<string, unknown> | undefined {
  let found: Record<string, unknown> | undefined;
  for (const e of errorChain(error)) {
    const own = e instanceof Error ? (e as { code?: unknown }).code : undefined;
    if (typeof own === 'string' && (code === undefined || own === code)) {
      found = e as Record<string, unknown>;
    }
  }
  return found;
}

function hostPort(url: URL): string {
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port;
  return `${url.hostname}:${port}`;
}

/**
 * The cause of a transport failure `code` (a code of the error chain: the TLS one when there is
 * one, else the socket's) on the way to `peer`, or undefined for a code this does not explain.
 */
export function transportCause(
  error: unknown,
  code: string | undefined,
  peer: Peer,
): TransportCause | undefined {
  if (code === undefined) return undefined;
  const socket = errorWithCode(error);
  const { proxy } = peer;
  const target = `the ${peer.role} ${peer.url.host}`;
  // Through a proxy the collector only ever connects to, and resolves, the proxy itself.
  const viaProxy = (who: 'address' | 'hostname'): boolean => {
    if (proxy === undefined) return false;
    if (who === 'hostname') return socket?.['hostname'] === proxy.url.hostname;
    const port = socket?.['port'];
    const proxyPort = hostPort(proxy.url).split(':').at(-1);
    return (typeof port !== 'number' && typeof port !== 'string') || String(port) === proxyPort;
  };
  const proxyName = proxy === undefined ? '' : `the proxy ${proxy.url.host} (${proxy.setting})`;

  if (code === 'ECONNREFUSED') {
    if (viaProxy('address')) {
      return {
        what: `${proxyName} refused the connection (${code})`,
        fix: `check ${proxy?.setting ?? 'http.proxy'}: no proxy accepts connections at ${proxy?.url.host ?? ''} (unset it if this machine connects directly)`,
        configKey: proxy?.setting === 'http.proxy' ? 'http.proxy' : peer.urlKey,
        retryable: true,
      };
    }
    return {
      what: `${target} refused the connection (${code})`,
      fix:
        `check the host and port in ${peer.urlKey}: nothing accepts connections at ${hostPort(peer.url)} ` +
        `(or a firewall rejects them); set http.proxy or HTTPS_PROXY if this network only goes out through a proxy`,
      configKey: peer.urlKey,
      retryable: true,
    };
  }
  if (DNS_CODES.has(code)) {
    const name = typeof socket?.['hostname'] === 'string' ? socket['hostname'] : peer.url.hostname;
    const noAnswer =
      code === 'EAI_AGAIN' ? ': the DNS server did not answer (no network, or a temporary failure)' : '';
    if (viaProxy('hostname')) {
      return {
        what: `${proxyName}: its host name ${name} could not be resolved (DNS, ${code})`,
        fix: `check the proxy's host name in ${proxy?.setting ?? 'http.proxy'}, and this machine's DNS resolver${noAnswer}`,
        configKey: proxy?.setting === 'http.proxy' ? 'http.proxy' : peer.urlKey,
        retryable: true,
      };
    }
    return {
      what: `the ${peer.role} ${name} could not be resolved (DNS, ${code})`,
      fix: `check the host name in ${peer.urlKey}, and this machine's DNS resolver${noAnswer}`,
      configKey: peer.urlKey,
      retryable: true,
    };
  }
  if (TIMEOUT_CODES.has(code)) {
    const who = proxy === undefined ? target : proxyName;
    return {
      what: `${who} did not accept the connection in time (${code})`,
      fix:
        proxy === undefined
          ? `check that a firewall lets this machine reach ${hostPort(peer.url)} (${peer.urlKey}), or set http.proxy if it must go through a proxy`
          : `check that the proxy in ${proxy.setting} is up and reachable from this machine`,
      configKey: proxy?.setting === 'http.proxy' ? 'http.proxy' : peer.urlKey,
      retryable: true,
    };
  }
  if (ROUTE_CODES.has(code)) {
    const who = proxy === undefined ? target : proxyName;
    return {
      what: `${who} is unreachable: no network route (${code})`,
      fix: `check this machine's network (route, interface) towards ${proxy === undefined ? hostPort(peer.url) : proxy.url.host}`,
      configKey: proxy?.setting === 'http.proxy' ? 'http.proxy' : peer.urlKey,
      retryable: true,
    };
  }
  if (code === TLS_NAME) {
    // Node puts the certificate it refused on the error: its names say which host it is for.
    const cert = errorWithCode(error, code)?.['cert'];
    const altNames = (cert as { subjectaltname?: unknown } | undefined)?.subjectaltname;
    const names = typeof altNames === 'string' && altNames !== '' ? `; it names ${altNames}` : '';
    return {
      what: `the TLS certificate of ${target} does not name ${peer.url.hostname} (${code})${names}`,
      fix: `use in ${peer.urlKey} a host name the server's certificate is issued for, or have the certificate reissued with this name`,
      configKey: peer.urlKey,
      retryable: false,
    };
  }
  if (TLS_TRUST.test(code)) {
    const inspecting = proxy === undefined ? '' : ` (a proxy that inspects TLS signs with its own CA)`;
    return {
      what: `the TLS certificate of ${target} is not trusted (${code})`,
      fix:
        `set tls.caFile (or NODE_EXTRA_CA_CERTS) to the CA that signs the server${inspecting}, ` +
        `or check ${peer.urlKey}`,
      configKey: 'tls.caFile',
      retryable: false,
    };
  }
  if (CLOSED_CODES.has(code)) {
    const who = proxy === undefined ? target : `${target} (through ${proxyName})`;
    return {
      what: `${who} closed the connection (${code})`,
      fix: `none needed if it passes: run retries it; if it persists, check ${peer.urlKey} (is it an HTTPS server?) and any proxy or firewall in between`,
      configKey: peer.urlKey,
      retryable: true,
    };
  }
  return undefined;
}
