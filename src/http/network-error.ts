/**
 * The one classifier of failures below HTTP (no response) for every caller, sources and outputs
 * (HTTP or not: Kafka and syslog sockets meet the same codes): `classifyTransport` says which code
 * tells most and whether sending again can help; `networkError` (sources: the host at fault and
 * the fix, transport-cause.ts) and `outputTransportError` (outputs: the output and its url) build
 * the `ExotraceError` from it; the retry strategies ask `isTransientError`.
 */
import { ExotraceError, errorCodes, PLAIN_CODE, whereOf, type ErrorContext } from '../core/errors.js';
import {
  CLOSED_CODES,
  DNS_CODES,
  ROUTE_CODES,
  TIMEOUT_CODES,
  TLS_NAME,
  TLS_TRUST,
  transportCause,
  type Peer,
} from './transport-cause.js';

/** What a failure below HTTP is, read off its error chain. */
export interface TransportFailure {
  /** The code that tells most: a TLS trust failure's anywhere in the chain, else the innermost (the socket's). */
  readonly code: string | undefined;
  /** How a message names it: the code, else the error's name. */
  readonly said: string;
  /** A TLS trust failure: the CA setting fixes it, a retry cannot. */
  readonly untrusted: boolean;
  /**
   * Sending the same request again can help: a reset, a refusal, a DNS or connect timeout, no
   * route. False for TLS trust and name problems and for codes this does not know.
   */
  readonly transient: boolean;
}

// undici's own waits, on top of the socket codes transport-cause.ts sorts.
const UNDICI_TRANSIENT = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RESPONSE_STATUS_CODE',
]);

function isTransientCode(code: string): boolean {
  return (
    code === 'ECONNREFUSED' ||
    code === 'EAI_AGAIN' ||
    CLOSED_CODES.has(code) ||
    TIMEOUT_CODES.has(code) ||
    ROUTE_CODES.has(code) ||
    UNDICI_TRANSIENT.has(code)
  );
}

// A client library's codes for "several things failed" say nothing of what did.
const WRAPPER_CODE = /^PLT_KFK_(MULTIPLE|NETWORK|USER)$/;

export function classifyTransport(error: unknown): TransportFailure {
  // Plain-word codes only: they are quoted in messages and become metric labels.
  const codes = errorCodes(error).filter((c) => PLAIN_CODE.test(c) && !WRAPPER_CODE.test(c));
  const code = codes.find((c) => TLS_TRUST.test(c)) ?? codes.at(-1);
  // A host-name mismatch is a TLS code too, but no CA fixes it: the url does (outputTransportHint).
  const untrusted = code !== undefined && TLS_TRUST.test(code) && code !== TLS_NAME;
  return {
    code,
    said: code ?? (error instanceof Error ? error.name : 'unknown error'),
    untrusted,
    transient: codes.some(isTransientCode) && !untrusted && code !== TLS_NAME,
  };
}

/** True for errors worth sending the same request again (resets, timeouts, retryable ExotraceErrors). */
export function isTransientError(error: unknown): boolean {
  if (ExotraceError.is(error)) return error.retryable;
  return classifyTransport(error).transient;
}

/** Where an output's transport failure happened: its name and the host:port it sends to. */
export interface OutputEndpoint {
  readonly output: string;
  readonly endpoint: string;
  /** How the other end is called in the TLS hint; default `server`. */
  readonly peer?: 'server' | 'broker';
  /** The output's place in the configuration (`outputs[2]`), for a full config key; else bare. */
  readonly configPath?: string;
}

/** What to check for a transport failure: the output's key at fault and the fix, in a sentence. */
export interface OutputTransportAdvice {
  /** The output's own key (`caFile`, `url`, `brokers`). */
  readonly key: string;
  readonly fix: string;
}

/**
 * What to check for an output's transport failure, or undefined when the code says nothing
 * actionable: the CA for a trust failure; the url for a host-name mismatch, nothing listening, a
 * name that does not resolve, a host out of reach. Never the events' fault, so the outputs keep
 * them (retryable) whatever it says.
 */
export function outputTransportAdvice(
  failure: TransportFailure,
  at: OutputEndpoint,
): OutputTransportAdvice | undefined {
  const { code } = failure;
  const { output, endpoint } = at;
  const peer = at.peer ?? 'server';
  const urlKey = peer === 'broker' ? 'brokers' : 'url';
  if (failure.untrusted)
    return {
      key: 'caFile',
      fix: `the ${peer}'s TLS certificate is not trusted; set the caFile of output ${output} to the CA that signs it`,
    };
  if (code === undefined) return undefined;
  if (code === TLS_NAME)
    return {
      key: urlKey,
      fix: `the ${peer}'s TLS certificate does not name the host of ${endpoint}; set the ${urlKey} of output ${output} to a host name the certificate is issued for, or have it reissued with this one`,
    };
  if (code === 'ECONNREFUSED')
    return {
      key: urlKey,
      fix: `nothing accepts connections at ${endpoint}; check the ${urlKey} of output ${output} and that the receiver is running`,
    };
  if (DNS_CODES.has(code))
    return {
      key: urlKey,
      fix: `the host name of ${endpoint} does not resolve (DNS); check the ${urlKey} of output ${output} and this machine's resolver`,
    };
  if (TIMEOUT_CODES.has(code) || ROUTE_CODES.has(code))
    return {
      key: urlKey,
      fix: `${endpoint} cannot be reached; check the ${urlKey} of output ${output}, the network and any firewall between`,
    };
  return undefined;
}

/** `: …` naming what to check (`outputTransportAdvice`), for a message; '' when nothing is. */
export function outputTransportHint(failure: TransportFailure, at: OutputEndpoint): string {
  const advice = outputTransportAdvice(failure, at);
  return advice === undefined ? '' : `: ${advice.fix}`;
}

/**
 * An output's transport failure as the error it reports: `network_error`, retryable (the events
 * wait: nothing below HTTP is their fault), counted under the socket's code (`ECONNREFUSED`).
 * `message` already carries the hint (`outputTransportHint`); `cause` is what may be kept of the
 * original (an output with literal secrets passes a sanitized copy). Given where (`at`), the
 * error carries the advice as its `fix` and config key too, so the log's "— fix:" shows it.
 */
export function outputTransportError(
  message: string,
  failure: TransportFailure,
  cause: unknown,
  at?: OutputEndpoint,
): ExotraceError {
  const advice = at === undefined ? undefined : outputTransportAdvice(failure, at);
  const key = advice?.key ?? (failure.untrusted ? 'caFile' : undefined);
  return new ExotraceError({
    code: 'network_error',
    message,
    retryable: true,
    ...(failure.code === undefined ? {} : { detailCode: failure.code }),
    ...(key === undefined
      ? {}
      : { configKey: at?.configPath === undefined ? key : `${at.configPath}.${key}` }),
    ...(advice === undefined ? {} : { fix: advice.fix }),
    cause,
  });
}

export function networkError(error: unknown, target: string, ctx?: ErrorContext, peer?: Peer): ExotraceError {
  // Our own read limits (bounded-request.ts) already say what happened, and where.
  if (ExotraceError.is(error)) return error;
  const { code, said } = classifyTransport(error);
  const who = ctx === undefined ? '' : ` for ${whereOf(ctx)}`;
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
  if (classifyTransport(error).untrusted) {
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
