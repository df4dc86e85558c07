/**
 * The one classifier of failures below HTTP (no response) for every caller, sources and outputs:
 * TLS trust problems are permanent and name `tls.caFile`; resets, refusals and timeouts are
 * transient and retried; with the peer known, the host at fault and the fix are named
 * (transport-cause.ts).
 */
import { errorCodes, ExotraceError, whereOf, type ErrorContext } from '../core/errors.js';
import { TLS_TRUST, transportCause, type Peer } from './transport-cause.js';

export function networkError(error: unknown, target: string, ctx?: ErrorContext, peer?: Peer): ExotraceError {
  // Our own read limits (bounded-request.ts) already say what happened, and where.
  if (ExotraceError.is(error)) return error;
  // A trust failure anywhere in the chain says most; otherwise the innermost code (the socket's).
  const codes = errorCodes(error);
  const code = codes.find((c) => TLS_TRUST.test(c)) ?? codes.at(-1);
  const said = code ?? (error instanceof Error ? error.name : 'unknown error');
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
