/**
 * The one way exotrace sends an HTTP request and reads its answer (the sources' innermost layer,
 * the token endpoint, every output, `setup`, `status`): https only (plain http to loopback), then
 * undici `request()` under a whole-request deadline
 * (connect to the last byte of the body) and with a ceiling on the body's size. undici's own
 * timeouts only bound each wait (headers, the gap between two chunks): a body trickling a byte
 * every few seconds, or one that never ends, passes them for ever. Every direct HTTP read (API
 * pages, the token endpoint, every output's answers) goes through here, so none can hang or fill
 * the memory; the caller decides what an error means (a retry, a failed send).
 */
import { request, type Dispatcher } from 'undici';
import { ExotraceError } from '../core/errors.js';
import { safeUrl } from '../core/redact.js';
import { abortReason } from '../util/abort.js';
import { isLoopbackHost } from '../util/net.js';

const MiB = 1024 * 1024;

/**
 * The body ceilings, sized from what each protocol can answer, with a wide margin: an answer past
 * them is not one the protocol produces but a broken or hostile server (docs/troubleshooting.md).
 */
export const BODY_LIMITS = {
  /**
   * A Graph page holds at most 5,000 rows (`$top` ≤ 5000) and a Reporting Web Service page 2,000;
   * a row is ~0.6 KiB, a few KiB with a long subject escaped as \uXXXX. 64 MiB leaves 13 KiB a
   * Graph row (32 KiB a Reporting row), some 20 times a real 5,000-row page (~3 MiB).
   */
  apiPage: 64 * MiB,
  /** A token answer is a JWT of a few KiB; OpenID metadata some 2 KiB. */
  token: 1 * MiB,
  /**
   * An output's answer: Elasticsearch's `_bulk` reply is ~0.2 KiB an item and ~1 KiB an item that
   * failed, so ~5 MiB for a batch of 5,000 all refused; Splunk HEC, Sekoia and HTTP receivers
   * answer a line or two. 16 MiB covers the largest.
   */
  outputAnswer: 16 * MiB,
  /**
   * A running collector's `/status`, read by `exotrace status`: about 1 KiB a tenant or an output
   * with its last error, so 4 MiB covers thousands of them.
   */
  statusDocument: 4 * MiB,
} as const;

export interface BoundedRequestOptions {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer | null;
  /** The caller's own abort (a stop): rethrown as it is, never turned into a timeout. */
  readonly signal?: AbortSignal | null;
  readonly dispatcher: Dispatcher;
  /** The largest body read, in bytes (`BODY_LIMITS`). */
  readonly maxBytes: number;
  /** The whole request, connect to the last byte of the answer, in ms. */
  readonly timeoutMs: number;
  /** The setting that sets `timeoutMs`, named in the error; default `http.timeout`. */
  readonly timeoutKey?: string;
}

export interface BoundedResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: Record<string, string>;
  readonly text: string;
}

/**
 * Sends one request and reads its whole answer within `timeoutMs` and `maxBytes`. Throws
 * `insecure_url` for a URL `assertSecureUrl` refuses, a retryable `ExotraceError` `request_timeout` or `response_too_large` (naming the host and path,
 * never the query or a credential), the caller's abort reason, or undici's error otherwise.
 */
export async function boundedRequest(url: URL, options: BoundedRequestOptions): Promise<BoundedResponse> {
  assertSecureUrl(url);
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal == null ? deadline : AbortSignal.any([options.signal, deadline]);
  const target = `${options.method} ${safeUrl(url)}`;
  try {
    const res = await request(url, {
      method: options.method,
      headers: { ...options.headers },
      body: options.body ?? null,
      signal,
      dispatcher: options.dispatcher,
    });
    const text = await readBody(res, options.maxBytes, target);
    return { status: res.statusCode, headers: flattenHeaders(res.headers), text };
  } catch (error) {
    if (options.signal?.aborted === true) throw abortReason(options.signal);
    if (deadline.aborted) {
      const key = options.timeoutKey ?? 'http.timeout';
      throw new ExotraceError({
        code: 'request_timeout',
        message: `${target} did not answer in full within ${options.timeoutMs} ms (${key}), so it was abandoned`,
        fix: `none needed if it passes: the request is sent again; if the server is just slow, raise ${key}`,
        retryable: true,
        configKey: key,
        cause: error,
      });
    }
    throw error;
  }
}

/** Refuses anything but https, except plain http to loopback. */
export function assertSecureUrl(url: URL): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return;
  throw new ExotraceError({
    code: 'insecure_url',
    message: `refused ${safeUrl(url)}: only https is allowed (plain http only to loopback)`,
    fix: 'use an https:// URL in the config',
    retryable: false,
  });
}

/** The body as text, failing as soon as it is known to pass `maxBytes` (the rest is never read). */
async function readBody(res: Dispatcher.ResponseData, maxBytes: number, target: string): Promise<string> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.body.destroy();
    throw tooLarge(target, maxBytes, `it announced ${declared} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      // Destroying the body closes its socket: the server stops sending to us, and nothing more
      // of it is buffered.
      res.body.destroy();
      throw tooLarge(target, maxBytes, 'its body went past that');
    }
    chunks.push(chunk);
  }
  // TextDecoder drops a leading BOM, as undici's body.text() does.
  return new TextDecoder().decode(Buffer.concat(chunks, size));
}

function tooLarge(target: string, maxBytes: number, why: string): ExotraceError {
  return new ExotraceError({
    code: 'response_too_large',
    message: `${target} answered more than ${maxBytes} bytes (${why}), more than the protocol ever sends, so it was abandoned`,
    fix: 'none on our side if it passes: the request is sent again; a proxy or server that keeps doing it is broken',
    retryable: true,
  });
}

export function flattenHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
