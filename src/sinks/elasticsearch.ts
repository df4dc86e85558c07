/**
 * The `elasticsearch` output (OpenSearch speaks the same `_bulk`): our own writer, so that every
 * item's outcome is seen and mapped onto the outbox's vocabulary (SendResult).
 *
 * Exactly once downstream comes from the op type, not from us remembering anything: every event is
 * sent as `create` with `_id` = `event.id`, so sending a batch again after an outage or a lost
 * response makes Elasticsearch answer 409 (version conflict: the document is already there) for
 * what it already holds, which is success. `create` is also the only op a data stream accepts, and
 * the default index is one.
 *
 * How each outcome is classified (an event is dead-lettered only when the event itself is at fault):
 * - item 2xx, or 409 version conflict → written;
 * - item 429 / `es_rejected_execution_exception`, 5xx → sent again (only those items);
 * - item 401/403/404 or a missing ingest pipeline → sent again, with an error naming the config key
 *   (the key lacks a privilege, the index or pipeline is missing: fixing the config fixes it);
 * - other item 4xx (mapping and parsing errors) → dead letter, with Elasticsearch's reason;
 * - whole request 408/429/5xx, network errors → retryable, honouring Retry-After;
 * - whole request 401/403 → retryable, naming apiKey or username/password;
 * - whole request 404, 405, 407, 413 or a redirect → retryable, naming what to fix (the url, the
 *   proxy, a size limit on the way: every event would be dead-lettered for a configuration fault);
 * - other whole-request 4xx → rejected.
 * Credentials never reach an error: messages are built from our words plus redacted upstream text.
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { Dispatcher } from 'undici';

import type { OutputConfig } from '../config/load.js';
import { assertSecureUrl, BODY_LIMITS, boundedRequest } from '../http/bounded-request.js';
import { createDispatcher } from '../http/client.js';
import { ExotraceError, fixOf } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { classifyTransport, outputTransportError, outputTransportHint } from '../http/network-error.js';
import { retryAfterMs as retryAfterHeaders } from '../http/retry-after.js';
import { abortReason } from '../util/abort.js';
import type { OutboxEvent } from '../core/outbox-event.js';
import { once } from '../util/once.js';
import {
  answeredError,
  healthAnswerError,
  type HealthFinding,
  type HealthResult,
  type SendResult,
  type Sink,
} from './types.js';
import { plural } from '../util/plural.js';

const gzip = promisify(gzipCallback);

export type ElasticsearchOutputConfig = Extract<OutputConfig, { readonly type: 'elasticsearch' }>;

export interface ElasticsearchSinkIo {
  /** Use this dispatcher instead of creating one (it is then not closed by `close`). */
  readonly dispatcher?: Dispatcher;
  /** An explicit proxy (the config's http.proxy); wins over the environment. */
  readonly proxyUrl?: string;
  /** Where HTTPS_PROXY / NO_PROXY are read; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Until the response headers arrive; default 60 000 ms (a busy cluster is slow to answer a bulk). */
  readonly timeoutMs?: number;
  /** Clock for an HTTP-date Retry-After; default Date.now. */
  readonly now?: () => number;
  /** gzip the request body; default true. */
  readonly gzip?: boolean;
}

/** The Authorization header of an elasticsearch output (also `setup elasticsearch`'s), if any. */
export function elasticsearchAuthorization(
  output: Pick<ElasticsearchOutputConfig, 'apiKey' | 'username' | 'password'>,
): string | undefined {
  if (output.apiKey !== undefined) {
    // Elasticsearch hands out the key both as `encoded` (base64 of id:key, what the header takes)
    // and as id + key: accept `id:key` too instead of failing with a 401 that looks like a bad key.
    const key = output.apiKey.includes(':')
      ? Buffer.from(output.apiKey, 'utf8').toString('base64')
      : output.apiKey;
    return `ApiKey ${key}`;
  }
  if (output.username !== undefined && output.password !== undefined) {
    return `Basic ${Buffer.from(`${output.username}:${output.password}`, 'utf8').toString('base64')}`;
  }
  return undefined;
}

export function createElasticsearchSink(
  output: ElasticsearchOutputConfig,
  io: ElasticsearchSinkIo = {},
): Sink {
  return new ElasticsearchSink(output, io);
}

/** Reasons quoted in one error message; the rest are counted (a batch holds up to 5000 events). */
const MAX_REASONS = 5;
const MAX_REASON_CHARS = 500;

type ItemOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'retry'; readonly reason: string }
  | { readonly kind: 'rejected'; readonly reason: string };

class ElasticsearchSink implements Sink {
  readonly name: string;
  readonly #base: URL;
  readonly #index: string;
  readonly #pipeline: string | undefined;
  readonly #authorization: string | undefined;
  /** The config keys an auth failure points at. */
  readonly #authKeys: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownDispatcher: boolean;
  readonly #now: () => number;
  /** Each request whole, connect to the last byte of the answer (`http.timeout`). */
  readonly #timeoutMs: number;
  readonly #gzip: boolean;
  readonly close: () => Promise<void>;

  constructor(output: ElasticsearchOutputConfig, io: ElasticsearchSinkIo) {
    this.name = output.name;
    this.#base = new URL(output.url);
    assertSecureUrl(this.#base);
    this.#index = output.index;
    this.#pipeline = output.pipeline;
    const authorization = elasticsearchAuthorization(output);
    if (output.apiKey !== undefined) {
      this.#authorization = authorization;
      this.#authKeys = `the apiKey of output ${output.name}`;
    } else if (output.username !== undefined && output.password !== undefined) {
      this.#authorization = authorization;
      this.#authKeys = `the username and password of output ${output.name}`;
    } else {
      this.#authorization = undefined;
      this.#authKeys = `the apiKey (or username and password) of output ${output.name}: none is set`;
    }
    this.#ownDispatcher = io.dispatcher === undefined;
    this.#dispatcher =
      io.dispatcher ??
      createDispatcher({
        ...(output.caPem === undefined ? {} : { caPem: output.caPem }),
        ...(io.proxyUrl === undefined ? {} : { proxyUrl: io.proxyUrl }),
        ...(io.env === undefined ? {} : { env: io.env }),
        headersTimeoutMs: io.timeoutMs ?? 60_000,
      });
    this.#now = io.now ?? Date.now;
    this.#timeoutMs = io.timeoutMs ?? 60_000;
    this.#gzip = io.gzip ?? true;
    this.close = once(async () => {
      if (this.#ownDispatcher) await this.#dispatcher.close();
    });
  }

  #url(path: string, query?: Record<string, string>): URL {
    const url = new URL(this.#base.href);
    // The base may carry a path (a reverse proxy's prefix): append to it rather than replace it.
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
    for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, value);
    return url;
  }

  /** Scheme, host and path: what an error may show of a URL (never its query). */
  #where(method: string, url: URL): string {
    return `elasticsearch output ${this.name}: ${method} ${url.protocol}//${url.host}${url.pathname}`;
  }

  #headers(extra: Record<string, string>): Record<string, string> {
    return {
      accept: 'application/json',
      ...extra,
      ...(this.#authorization === undefined ? {} : { authorization: this.#authorization }),
    };
  }

  start(): Promise<string | undefined> {
    // Nothing to resume: idempotence lives in Elasticsearch (create + _id), not in a local state.
    return Promise.resolve(undefined);
  }

  async send(batch: readonly OutboxEvent[], signal: AbortSignal): Promise<SendResult> {
    signal.throwIfAborted();
    if (batch.length === 0) return { status: 'ok' };

    const action = (event: OutboxEvent): string =>
      JSON.stringify({ create: { _index: this.#index, _id: event.eventId } });
    let text = '';
    for (const event of batch) text += `${action(event)}\n${event.json}\n`;
    const raw = Buffer.from(text, 'utf8');
    const body = this.#gzip ? await gzip(raw) : raw;

    const url = this.#url('/_bulk', this.#pipeline === undefined ? undefined : { pipeline: this.#pipeline });
    const where = this.#where('POST', url);
    let status: number;
    let headers: Readonly<Record<string, string>>;
    let responseText: string;
    try {
      const res = await boundedRequest(url, {
        method: 'POST',
        headers: this.#headers({
          'content-type': 'application/x-ndjson',
          ...(this.#gzip ? { 'content-encoding': 'gzip' } : {}),
        }),
        body,
        signal,
        dispatcher: this.#dispatcher,
        maxBytes: BODY_LIMITS.outputAnswer,
        timeoutMs: this.#timeoutMs,
      });
      status = res.status;
      headers = res.headers;
      responseText = res.text;
    } catch (error) {
      if (signal.aborted) throw abortReason(signal);
      return { status: 'retryable', error: this.#networkError(where, error) };
    }

    if (status < 200 || status > 299)
      return this.#requestFailure(where, status, headers, responseText, batch);
    return this.#items(where, batch, responseText);
  }

  #networkError(where: string, error: unknown): ExotraceError {
    // The read limits' own errors (a deadline, an answer too large) say what happened.
    if (ExotraceError.is(error)) {
      // The wrap keeps what fixes it (http.timeout for a deadline) and whether it may be retried.
      return new ExotraceError({
        ...fixOf(error),
        code: error.code,
        message: `elasticsearch output ${this.name}: ${error.message}`,
        retryable: error.retryable,
        cause: error,
      });
    }
    // A TLS trust failure is not retried away, but neither is it the events' fault: it is kept
    // retryable (nothing dead-lettered) with the key that fixes it.
    const failure = classifyTransport(error);
    const at = { output: this.name, endpoint: this.#base.host };
    const hint = outputTransportHint(failure, at);
    return outputTransportError(`${where} failed: ${failure.said}${hint}`, failure, error, at);
  }

  #requestFailure(
    where: string,
    status: number,
    headers: Readonly<Record<string, string>>,
    text: string,
    batch: readonly OutboxEvent[],
  ): SendResult {
    const said = describeError(text);
    if (status === 401 || status === 403) {
      return {
        status: 'retryable',
        error: answeredError(
          'output_auth',
          status,
          `${where} was refused with ${status}${said}: check ${this.#authKeys}` +
            (status === 403 ? ' (the credentials need the create_doc privilege on the index)' : ''),
        ),
      };
    }
    if (status === 408 || status === 429 || status >= 500) {
      const retryAfterMs = retryAfterHeaders(headers, this.#now());
      return {
        status: 'retryable',
        error: answeredError('output_unavailable', status, `${where} failed with ${status}${said}`),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    }
    if (status === 404) {
      return {
        status: 'retryable',
        error: answeredError(
          'output_config',
          status,
          `${where} answered 404${said}: check the url of output ${this.name}`,
        ),
      };
    }
    if (status === 405 || status === 407 || status === 413) {
      // The way there, not the events: a wrong endpoint, a proxy wanting credentials, a body
      // limit on the way (http.max_content_length, a proxy's): the events wait for the fix.
      const what =
        status === 405
          ? `check the url of output ${this.name} (this endpoint does not take a bulk)`
          : status === 407
            ? 'a proxy on the way wants credentials: check http.proxy'
            : `the bulk is over a size limit on the way (the cluster's http.max_content_length or a proxy's): lower the batchSize (or batchBytes) of output ${this.name}, or raise that limit`;
      return {
        status: 'retryable',
        error: answeredError('output_config', status, `${where} answered ${status}${said}: ${what}`),
      };
    }
    if (status >= 300 && status < 400) {
      // Redirects are not followed (they would re-send credentials elsewhere): fix the URL.
      return {
        status: 'retryable',
        error: answeredError(
          'output_config',
          status,
          `${where} answered a redirect (${status}): set the url of output ${this.name} to its target`,
        ),
      };
    }
    return {
      status: 'rejected',
      error: answeredError(
        'output_refused',
        status,
        `${where} refused the batch of ${batch.length} ${plural(batch.length, 'event')} with ${status}${said}`,
      ),
      // Not an item's mapping error (those are named per item): the request as a whole.
      batchRefused: true,
    };
  }

  #items(where: string, batch: readonly OutboxEvent[], text: string): SendResult {
    const items = parseItems(text);
    if (items === undefined || items.length !== batch.length) {
      // Nothing can be assumed written; sending again is safe (create + _id).
      return {
        status: 'retryable',
        error: new ExotraceError({
          code: 'output_unreadable',
          message: `${where}: unreadable bulk response (${items === undefined ? 'not a bulk response' : `${items.length} ${plural(items.length, 'item')} for ${batch.length} ${plural(batch.length, 'event')}`})`,
          retryable: true,
        }),
      };
    }
    const retry: number[] = [];
    const rejected: number[] = [];
    const retryReasons: string[] = [];
    const rejectReasons: string[] = [];
    for (let i = 0; i < batch.length; i++) {
      const event = batch[i] as OutboxEvent;
      const outcome = this.#classifyItem(items[i] as BulkItem);
      if (outcome.kind === 'ok') continue;
      const reason = `[_id ${event.eventId}] ${outcome.reason}`;
      if (outcome.kind === 'retry') {
        retry.push(event.seq);
        if (retryReasons.length < MAX_REASONS) retryReasons.push(reason);
      } else {
        rejected.push(event.seq);
        if (rejectReasons.length < MAX_REASONS) rejectReasons.push(reason);
      }
    }
    if (retry.length === 0 && rejected.length === 0) return { status: 'ok' };
    const parts: string[] = [];
    if (rejected.length > 0)
      parts.push(`${rejected.length} refused for good: ${summarize(rejectReasons, rejected.length)}`);
    if (retry.length > 0)
      parts.push(`${retry.length} to send again: ${summarize(retryReasons, retry.length)}`);
    // Counted under what the items say: refused events, or a cluster that pushes back.
    const error = new ExotraceError({
      code: rejected.length > 0 ? 'output_refused' : 'output_unavailable',
      message: `${where}: of ${batch.length} ${plural(batch.length, 'event')}, ${parts.join('; ')}`,
      retryable: retry.length > 0,
    });
    if (retry.length === 0) return { status: 'rejected', error, seqs: rejected };
    return { status: 'partial', error, retry, rejected };
  }

  #classifyItem(item: BulkItem): ItemOutcome {
    const { status, error } = item;
    if (status >= 200 && status < 300) return { kind: 'ok' };
    const reason = `${status} ${error.type}${error.reason === '' ? '' : `: ${error.reason}`}`;
    // create on an existing _id: delivered before (a re-send after an outage or a lost response).
    if (status === 409) return { kind: 'ok' };
    if (status === 429 || status >= 500 || error.type === 'es_rejected_execution_exception')
      return { kind: 'retry', reason };
    if (status === 401 || status === 403)
      return { kind: 'retry', reason: `${reason} (check ${this.#authKeys} and its privileges on the index)` };
    if (status === 404 || error.type === 'index_not_found_exception')
      return { kind: 'retry', reason: `${reason} (check the index of output ${this.name})` };
    if (/pipeline with id \[.*\] does not exist/.test(error.reason))
      return { kind: 'retry', reason: `${reason} (check the pipeline of output ${this.name})` };
    return { kind: 'rejected', reason };
  }

  async healthcheck(signal: AbortSignal): Promise<HealthResult> {
    signal.throwIfAborted();
    const url = this.#url('/');
    const where = this.#where('GET', url);
    try {
      const res = await boundedRequest(url, {
        method: 'GET',
        headers: this.#headers({}),
        signal,
        dispatcher: this.#dispatcher,
        maxBytes: BODY_LIMITS.outputAnswer,
        timeoutMs: this.#timeoutMs,
      });
      const { text, status: statusCode } = res;
      // 403: the credentials are valid but lack the `monitor` privilege cluster info needs, which a
      // least-privilege ingest key (create_doc on the index only) rightly does not have.
      // The index is not looked for: it is a data stream created by the first write from the
      // template `setup elasticsearch` installs, and reading either takes privileges
      // (view_index_metadata, manage_index_templates) an ingest key rightly lacks.
      if ((statusCode >= 200 && statusCode < 300) || statusCode === 403) return { status: 'ok' };
      const said = describeError(text);
      const fix = statusCode === 401 ? `: check ${this.#authKeys}` : `: check the url of output ${this.name}`;
      const finding = this.#healthFinding(statusCode);
      return {
        status: 'failed',
        error: healthAnswerError(`${where} answered ${statusCode}${said}${fix}`, statusCode, finding),
        finding,
      };
    } catch (error) {
      if (signal.aborted) throw abortReason(signal);
      return { status: 'failed', error: this.#networkError(where, error) };
    }
  }

  /** What a health check's answer other than 2xx/403 says to fix. */
  #healthFinding(statusCode: number): HealthFinding {
    if (statusCode === 401) {
      const basic = this.#authKeys.startsWith('the username');
      return {
        code: 'unauthorized',
        key: basic ? 'password' : 'apiKey',
        fix:
          this.#authorization === undefined
            ? 'the cluster wants credentials: set apiKey (or username and password)'
            : basic
              ? 'the cluster refused the username and password: check both'
              : 'the cluster refused the API key: check it (the encoded form, or id:key) and that it is not expired or invalidated',
      };
    }
    if (statusCode >= 500 || statusCode === 429)
      return { code: 'unhealthy', key: 'url', fix: `the cluster answered ${statusCode}: check its health` };
    return {
      code: 'not_found',
      key: 'url',
      fix: `GET / answered ${statusCode}, not Elasticsearch's cluster info: check that url is the cluster's base URL`,
    };
  }
}

interface BulkItem {
  readonly status: number;
  readonly error: { readonly type: string; readonly reason: string };
}

/**
 * The items of a bulk response, in request order (Elasticsearch keeps it), or undefined when the
 * body is not one. Each item is `{"<op>": {"status", "error"?: {"type", "reason"}}}`.
 */
function parseItems(text: string): BulkItem[] | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const items = (body as { items?: unknown }).items;
  if (!Array.isArray(items)) return undefined;
  const out: BulkItem[] = [];
  for (const wrapper of items as unknown[]) {
    if (typeof wrapper !== 'object' || wrapper === null) return undefined;
    const result = Object.values(wrapper)[0] as unknown;
    if (typeof result !== 'object' || result === null) return undefined;
    const r = result as { status?: unknown; error?: unknown };
    if (typeof r.status !== 'number') return undefined;
    out.push({ status: r.status, error: errorOf(r.error) });
  }
  return out;
}

function errorOf(value: unknown): { type: string; reason: string } {
  if (typeof value === 'string') return { type: 'error', reason: clip(value) };
  if (typeof value !== 'object' || value === null) return { type: 'error', reason: '' };
  const e = value as { type?: unknown; reason?: unknown; caused_by?: unknown };
  const type = typeof e.type === 'string' ? e.type : 'error';
  let reason = typeof e.reason === 'string' ? e.reason : '';
  // "failed to parse" alone does not say why; the cause does (e.g. "For input string: …").
  const cause = e.caused_by as { type?: unknown; reason?: unknown } | undefined;
  if (typeof cause === 'object' && typeof cause.reason === 'string' && cause.reason !== '') {
    reason += ` (caused by ${typeof cause.type === 'string' ? cause.type : 'error'}: ${cause.reason})`;
  }
  return { type, reason: clip(reason) };
}

function clip(text: string): string {
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  return redact(line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS)}…` : line);
}

/** `: type: reason` of an Elasticsearch error body (`{"error":{"type","reason"},"status"}`), or ''. */
function describeError(text: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return '';
  }
  if (typeof body !== 'object' || body === null) return '';
  const error = (body as { error?: unknown }).error;
  if (error === undefined) return '';
  const { type, reason } = errorOf(error);
  return `: ${type}${reason === '' ? '' : `: ${reason}`}`;
}

function summarize(reasons: readonly string[], count: number): string {
  const more = count - reasons.length;
  return reasons.join('; ') + (more > 0 ? `; and ${more} more` : '');
}
