/**
 * The batch poster the HTTP outputs share (`http`, `splunk-hec`, `sekoia`): it frames a batch into
 * one or more request bodies, POSTs them with undici on an explicit dispatcher (TLS always
 * verified, the output's `caFile` added to the system roots, proxies as for the sources) and turns
 * what came back into a `SendResult`. Each output only says how an event and a body look and how
 * to read its server's answers.
 *
 * Delivery is at-least-once. None of these APIs takes an idempotency key, so a request whose
 * answer is lost (a timeout or a reset after the server read it) is sent again and may be stored
 * twice. Everything that is not ambiguous is not sent twice:
 * - a refused connection or an HTTP error status is unambiguous, the batch is simply sent again;
 * - a batch split into several requests (Sekoia.io's 9 MiB limit) answers `partial` when a later
 *   part fails, so the delivery loop sends again only the parts not yet accepted, and the poster
 *   remembers the sequences it saw accepted (until the batch is acknowledged) so that a batch
 *   re-read from the outbox after the loop gave up skips them too. Only a restart forgets that.
 *
 * Secrets (tokens, keys, configured header values) never reach an error: every message is built
 * from our own words plus server text that goes through `redact` and then through the literal
 * secrets of the output, and causes are replaced by sanitized copies.
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';

import type { Dispatcher } from 'undici';

import { assertSecureUrl, BODY_LIMITS, boundedRequest } from '../http/bounded-request.js';
import { createDispatcher } from '../http/client.js';
import { ExotraceError, fixOf } from '../core/errors.js';
import { classifyTransport, outputTransportError, outputTransportHint } from '../http/network-error.js';
import { redactSecrets, safeUrl } from '../core/redact.js';
import { retryAfterMs } from '../http/retry-after.js';
import { abortReason } from '../util/abort.js';
import type { OutboxEvent } from '../core/outbox-event.js';
import { once } from '../util/once.js';
import {
  answeredError,
  healthAnswerError,
  SinkError,
  type HealthFinding,
  type HealthResult,
  type SendResult,
  type Sink,
  type SinkIo,
} from './types.js';

const gzip = promisify(gzipCallback);

/** What the HTTP outputs take beyond `SinkIo`; all optional (the lead wires the config's). */
export interface HttpSinkIo extends SinkIo {
  /** Per request, connect to last byte of the answer; default 60 000 ms (`http.timeout`). */
  readonly timeoutMs?: number;
  /** An explicit proxy (`http.proxy`); otherwise HTTPS_PROXY / NO_PROXY from `env`. */
  readonly proxyUrl?: string;
  /** Where proxy variables are read; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** For HTTP dates in Retry-After; default Date.now. */
  readonly now?: () => number;
  /** Largest request body before a batch is split (Sekoia.io only); for tests. */
  readonly maxBodyBytes?: number;
}

export const DEFAULT_TIMEOUT_MS = 60_000;
/** Longest reason text taken from a server's answer into an error. */
const REASON_CHARS = 300;

/** How one output writes a body: `open` + elements joined by `separator` + `close`. */
export interface BodyFraming {
  readonly open: string;
  readonly separator: string;
  readonly close: string;
}

/** An event that cannot be encoded for this output, for good (it goes to the dead letters). */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
}

/** A server answer, body read in full (an unread body keeps its socket out of the pool). */
export interface PostResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
}

/**
 * An output's reading of a non-2xx answer, when it knows better than the common rules; undefined
 * leaves it to them. `rejectSeqs` narrows a refusal to some events (the others are sent again).
 */
export type OutputVerdict =
  | { readonly status: 'retryable'; readonly message: string }
  | { readonly status: 'rejected'; readonly message: string; readonly rejectSeqs?: readonly number[] };

export interface BatchPosterOptions {
  /** The output type (`splunk-hec`) and its name: `splunk-hec output main` starts every message. */
  readonly kind: string;
  readonly name: string;
  /** Where batches go. */
  readonly url: string;
  readonly caPem?: string | undefined;
  /** Literal values that must never be printed (tokens, keys, header values). */
  readonly secrets: readonly string[];
  /** Headers of every POST (lower-case names), secrets included. */
  readonly headers: Readonly<Record<string, string>>;
  readonly framing: BodyFraming;
  /** The element of one event in the body; throw `EncodeError` for an event it can never carry. */
  readonly encode: (event: OutboxEvent) => string;
  /** Split a batch into bodies of at most this many bytes (before gzip); default: never split. */
  readonly maxBodyBytes?: number | undefined;
  readonly gzip?: boolean;
  /**
   * Reads a non-2xx answer before the common rules (`seqs`: the events of that request, in
   * order). Its `message` is redacted like the rest.
   */
  readonly classify?: (response: PostResponse, seqs: readonly number[]) => OutputVerdict | undefined;
  /** Checks a 2xx answer; a string is a reason to retry (a proxy's page instead of the API's). */
  readonly accept?: (response: PostResponse) => string | undefined;
  readonly io?: HttpSinkIo | undefined;
}

/** The credentials a reachability check sends, and what a refusal of them means. */
export interface ReachableCredentials {
  readonly headers: Readonly<Record<string, string>>;
  /** The finding of a 401 or 403 (the key is the output's own, e.g. `headers`). */
  readonly refused: HealthFinding;
}

export interface BatchPoster {
  send(batch: readonly OutboxEvent[], signal: AbortSignal): Promise<SendResult>;
  /** One request outside a batch (healthchecks): the answer, or an error already made safe. */
  request(
    method: 'GET' | 'HEAD' | 'POST',
    url: URL,
    headers: Readonly<Record<string, string>>,
    signal: AbortSignal,
  ): Promise<PostResponse | Error>;
  /**
   * `failed` for anything but an answer; any status counts (reachability only), except 401/403
   * when `credentials` are given: they are sent, and a refusal is that finding.
   */
  reachable(url: URL, signal: AbortSignal, credentials?: ReachableCredentials): Promise<HealthResult>;
  /** Text made safe to print: `redact` plus the output's secrets. */
  safe(text: string): string;
  close(): Promise<void>;
}

/** One request of a send: the events it carries and its body. */
interface Part {
  readonly seqs: number[];
  readonly body: string;
}

type PartOutcome =
  | { readonly status: 'ok' }
  | { readonly status: 'retryable'; readonly error: Error; readonly retryAfterMs?: number }
  /** `whole`: the request was refused as a whole, the events at fault not named. */
  | {
      readonly status: 'rejected';
      readonly error: Error;
      readonly seqs: readonly number[];
      readonly whole: boolean;
    };

function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

const REDIRECT_HINT = 'redirects are not followed: set url to where it points';
/** Statuses that say the configuration is wrong, with what to check. */
const CONFIGURATION_ANSWERS = new Map<number, string>([
  [404, 'check the url (its path)'],
  [405, 'check the url: this endpoint does not take POST'],
  [407, 'a proxy on the way wants credentials: check http.proxy'],
  [
    413,
    "the body is over a limit on the way (a proxy or the server): lower this output's batchSize (or batchBytes), or raise that limit; the events wait",
  ],
]);

/**
 * The whole Sink of an output that only posts batches: sending goes through the poster, the
 * health check is "the receiver answers at all" (see `BatchPoster.reachable`), nothing to start.
 */
export function posterSink(
  name: string,
  poster: BatchPoster,
  reachableUrl: URL,
  credentials?: ReachableCredentials,
): Sink {
  return {
    name,
    start: () => Promise.resolve(undefined),
    send: (batch, signal) => poster.send(batch, signal),
    healthcheck: (signal) => poster.reachable(reachableUrl, signal, credentials),
    close: once(() => poster.close()),
  };
}

export function createBatchPoster(options: BatchPosterOptions): BatchPoster {
  const label = `${options.kind} output ${options.name}`;
  const url = new URL(options.url);
  try {
    // The config refuses plain http to anything but loopback; checked again here because a sink
    // can be built from code (the library API, tests) without going through the config.
    assertSecureUrl(url);
  } catch {
    throw new SinkError(`${label}: refused ${safeUrl(url)}: use https:// (plain http only to loopback)`);
  }
  const io = options.io ?? {};
  const timeoutMs = io.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = io.now ?? Date.now;
  const dispatcher: Dispatcher = createDispatcher({
    ...(options.caPem === undefined ? {} : { caPem: options.caPem }),
    connectTimeoutMs: Math.min(10_000, timeoutMs),
    headersTimeoutMs: timeoutMs,
    bodyTimeoutMs: timeoutMs,
    ...(io.proxyUrl === undefined ? {} : { proxyUrl: io.proxyUrl }),
    ...(io.env === undefined ? {} : { env: io.env }),
  });
  // Longest first, so that a secret containing another is replaced whole.
  const target = `POST ${safeUrl(url)}`;
  // Sequences the server accepted in a send that did not end ok: skipped when sent again.
  const accepted = new Set<number>();
  let closed: Promise<void> | undefined;

  function safe(text: string): string {
    return redactSecrets(text, options.secrets);
  }

  function reason(text: string): string {
    // One line of printable text: bodies can be HTML pages or carry control characters.
    const flat = text.replace(/\p{Cc}+/gu, ' ').trim();
    return flat.length > REASON_CHARS ? `${flat.slice(0, REASON_CHARS)}…` : flat;
  }

  /** A network failure as an error that carries no secret (undici errors are copied, not kept). */
  function networkFailure(error: unknown, what: string): Error {
    const failure = classifyTransport(error);
    const at = { output: options.name, endpoint: url.host };
    const hint = outputTransportHint(failure, at);
    const cause = new Error(safe(error instanceof Error ? error.message : String(error)));
    if (failure.code !== undefined) (cause as Error & { code?: string }).code = failure.code;
    return outputTransportError(
      safe(`${label}: ${what} failed (${failure.said})${hint}`),
      failure,
      cause,
      at,
    );
  }

  async function call(
    method: 'GET' | 'HEAD' | 'POST',
    to: URL,
    headers: Readonly<Record<string, string>>,
    body: Buffer | undefined,
    signal: AbortSignal,
  ): Promise<PostResponse | Error> {
    if (signal.aborted) throw abortReason(signal);
    if (closed !== undefined) throw new SinkError(`${label}: used after close`);
    const what = `${method} ${safeUrl(to)}`;
    try {
      // A whole-request deadline on top of undici's per-phase timeouts (a server that reads the
      // body a byte at a time would otherwise hold a send for ever), and a ceiling on the answer.
      return await boundedRequest(to, {
        method,
        headers,
        body: body ?? null,
        signal,
        dispatcher,
        maxBytes: BODY_LIMITS.outputAnswer,
        timeoutMs,
      });
    } catch (error) {
      // Read again: the request may have been aborted while it ran.
      if (isAborted(signal)) throw abortReason(signal);
      // Our read limits' errors carry the setting that fixes them (http.timeout): a re-wrap keeps it.
      if (ExotraceError.is(error) && error.code === 'request_timeout') {
        return new ExotraceError({
          ...fixOf(error),
          code: 'request_timeout',
          message: `${label}: ${what} timed out after ${timeoutMs} ms`,
          retryable: true,
          detailCode: 'timeout',
        });
      }
      if (ExotraceError.is(error))
        return new ExotraceError({
          ...fixOf(error),
          code: error.code,
          message: safe(`${label}: ${error.message}`),
          retryable: error.retryable,
        });
      return networkFailure(error, what);
    }
  }

  /** The common rules, after the output's own reading. */
  function judge(response: PostResponse, seqs: readonly number[]): PartOutcome {
    const { status } = response;
    if (status >= 200 && status < 300) {
      const problem = options.accept?.(response);
      if (problem === undefined) return { status: 'ok' };
      return {
        status: 'retryable',
        error: answeredError(
          'output_unreadable',
          status,
          safe(`${label}: ${target} answered ${status} but ${problem}`),
        ),
      };
    }
    const verdict = options.classify?.(response, seqs);
    const said = reason(response.text);
    const suffix = said === '' ? '' : `: ${said}`;
    if (verdict !== undefined) {
      // The outputs' own readings are about credentials, or about the target (an index, a channel).
      const meaning =
        verdict.status === 'rejected'
          ? 'output_refused'
          : status === 401 || status === 403
            ? 'output_auth'
            : 'output_config';
      const error = answeredError(meaning, status, safe(`${label}: ${verdict.message}${suffix}`));
      if (verdict.status === 'retryable') {
        const after = retryAfterMs(response.headers, now());
        return { status: 'retryable', error, ...(after === undefined ? {} : { retryAfterMs: after }) };
      }
      const named = verdict.rejectSeqs;
      return { status: 'rejected', error, seqs: named ?? seqs, whole: named === undefined };
    }
    if (status === 408 || status === 429 || status >= 500) {
      const after = retryAfterMs(response.headers, now());
      return {
        status: 'retryable',
        error: answeredError(
          'output_unavailable',
          status,
          safe(`${label}: ${target} answered ${status}, retried${suffix}`),
        ),
        ...(after === undefined ? {} : { retryAfterMs: after }),
      };
    }
    // Answers about the address or the way there, not about the events: a redirect (http → https,
    // a moved endpoint: never followed, the credentials would go with it), a wrong path or method,
    // a proxy asking for credentials, a proxy's body limit. Dead-lettering would throw away a
    // stream for a typo; the events wait until the configuration is fixed.
    const where =
      CONFIGURATION_ANSWERS.get(status) ?? (status >= 300 && status < 400 ? REDIRECT_HINT : undefined);
    if (where !== undefined) {
      return {
        status: 'retryable',
        error: answeredError(
          'output_config',
          status,
          safe(`${label}: ${target} answered ${status}${suffix}; ${where}`),
        ),
      };
    }
    return {
      status: 'rejected',
      error: answeredError(
        'output_refused',
        status,
        safe(`${label}: ${target} refused the batch with ${status}${suffix}`),
      ),
      seqs,
      whole: true,
    };
  }

  /** Frame the events into bodies under the size limit; unencodable events are set aside. */
  function frame(batch: readonly OutboxEvent[]): { parts: Part[]; bad: Map<number, string> } {
    const { open, separator, close } = options.framing;
    const fixed = Buffer.byteLength(open) + Buffer.byteLength(close);
    const sepBytes = Buffer.byteLength(separator);
    const limit = options.maxBodyBytes ?? Infinity;
    const parts: Part[] = [];
    const bad = new Map<number, string>();
    let seqs: number[] = [];
    let elements: string[] = [];
    let bytes = fixed;
    const push = (): void => {
      if (elements.length === 0) return;
      parts.push({ seqs, body: open + elements.join(separator) + close });
      seqs = [];
      elements = [];
      bytes = fixed;
    };
    for (const event of batch) {
      let element: string;
      try {
        element = options.encode(event);
      } catch (error) {
        if (!(error instanceof EncodeError)) throw error;
        bad.set(event.seq, safe(`${label}: ${error.message}`));
        continue;
      }
      const size = Buffer.byteLength(element);
      if (fixed + size > limit) {
        // Alone it is still too large: no request can ever carry it.
        bad.set(event.seq, `${label}: event is ${size} bytes, more than the ${limit}-byte request limit`);
        continue;
      }
      const added = elements.length === 0 ? size : sepBytes + size;
      if (bytes + added > limit) push();
      bytes += elements.length === 0 ? size : sepBytes + size;
      elements.push(element);
      seqs.push(event.seq);
    }
    push();
    return { parts, bad };
  }

  async function postPart(part: Part, signal: AbortSignal): Promise<PartOutcome> {
    let body = Buffer.from(part.body, 'utf8');
    const headers: Record<string, string> = { ...options.headers };
    if (options.gzip === true) {
      body = await gzip(body);
      headers['content-encoding'] = 'gzip';
    }
    const answer = await call('POST', url, headers, body, signal);
    if (answer instanceof Error) return { status: 'retryable', error: answer };
    return judge(answer, part.seqs);
  }

  async function send(batch: readonly OutboxEvent[], signal: AbortSignal): Promise<SendResult> {
    if (signal.aborted) throw abortReason(signal);
    const fresh = batch.filter((e) => !accepted.has(e.seq));
    const { parts, bad } = frame(fresh);
    const rejected = new Map(bad);
    // Every refusal was of a whole request (none named its events, none unencodable): the delivery
    // may split the batch to find the events at fault.
    let refusedWhole = bad.size === 0;
    let retry: number[] = [];
    let retryError: Error | undefined;
    let retryAfter: number | undefined;
    // The first request refused, as the server's answer made it (its code and status).
    let firstRefusal: Error | undefined;
    for (const [index, part] of parts.entries()) {
      const outcome = await postPart(part, signal);
      if (outcome.status === 'ok') {
        for (const seq of part.seqs) accepted.add(seq);
        continue;
      }
      if (outcome.status === 'rejected') {
        const refused = new Set(outcome.seqs);
        if (!outcome.whole) refusedWhole = false;
        for (const seq of refused) rejected.set(seq, outcome.error.message);
        firstRefusal ??= outcome.error;
        // Events of a refused request that the server did not name are sent again.
        retry.push(...part.seqs.filter((s) => !refused.has(s)));
        if (refused.size < part.seqs.length) retryError ??= outcome.error;
        continue;
      }
      // A server that fails now will fail the next parts too: leave them for the retry.
      retry = [...retry, ...parts.slice(index).flatMap((p) => p.seqs)];
      retryError = outcome.error;
      retryAfter = outcome.retryAfterMs;
      break;
    }

    if (rejected.size === 0 && retry.length === 0) {
      accepted.clear();
      return { status: 'ok' };
    }
    const first = [...rejected.values()][0];
    // An unencodable event comes first in `rejected`: its reason is the error then.
    const refusal =
      (bad.size === 0 ? firstRefusal : undefined) ??
      new ExotraceError({ code: 'output_refused', message: first ?? `${label}: refused` });
    if (retry.length === 0) {
      // Everything else was accepted: the batch is acknowledged with the rejects dead-lettered.
      accepted.clear();
      return {
        status: 'rejected',
        error: refusal,
        seqs: [...rejected.keys()],
        ...(refusedWhole ? { batchRefused: true } : {}),
      };
    }
    const error = retryError ?? (first === undefined ? new Error(`${label}: failed`) : refusal);
    if (rejected.size === 0 && retry.length === fresh.length) {
      return {
        status: 'retryable',
        error,
        ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
      };
    }
    return {
      status: 'partial',
      error,
      retry,
      rejected: [...rejected.keys()],
      ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }),
    };
  }

  return {
    send,
    request: (method, to, headers, signal) => call(method, to, headers, undefined, signal),
    async reachable(to: URL, signal: AbortSignal, credentials?: ReachableCredentials): Promise<HealthResult> {
      const answer = await call('HEAD', to, credentials?.headers ?? {}, undefined, signal);
      if (answer instanceof Error) return { status: 'failed', error: answer };
      // Without credentials on the request a refusal says nothing about the configuration.
      if (credentials !== undefined && (answer.status === 401 || answer.status === 403)) {
        const finding = credentials.refused;
        const message = safe(
          `${label}: ${safeUrl(to)} refused the credentials (${answer.status}): check its ${finding.key}`,
        );
        return { status: 'failed', error: healthAnswerError(message, answer.status, finding), finding };
      }
      return { status: 'ok' };
    },
    safe,
    close: () => (closed ??= dispatcher.close()),
  };
}
