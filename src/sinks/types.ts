/**
 * The output interface every sink implements. The outbox decides what to deliver and when
 * (`pipeline/outbox/`); a sink only sends a batch and says what became of it. Expected outcomes
 * are values, so the delivery loop can retry, dead-letter or acknowledge without parsing
 * exceptions; a sink throws only for bugs and aborts. Imports no sink: every sink imports it.
 */
import type { Writable } from 'node:stream';

import { ExotraceError, type ExotraceErrorCode } from '../core/errors.js';
import type { OutboxEvent } from '../core/outbox-event.js';

export type SendResult =
  /**
   * Every event of the batch is durably written. `meta` is stored with the acknowledgement in the
   * same transaction and handed back to `start` after a restart (the file output's byte offset).
   */
  | { readonly status: 'ok'; readonly meta?: string }
  /** Nothing may be assumed written; send the same events again later. */
  | { readonly status: 'retryable'; readonly error: Error; readonly retryAfterMs?: number }
  /**
   * Refused for good: the events in `seqs` (every event of the batch when omitted) will never be
   * accepted and go to the dead letters; the others are durably written. `batchRefused`: the
   * output refused the request as a whole (an HTTP 400 for the batch) without naming the events at
   * fault, so the delivery sends it again in halves until only those are left.
   */
  | {
      readonly status: 'rejected';
      readonly error: Error;
      readonly seqs?: readonly number[];
      readonly batchRefused?: boolean;
    }
  /**
   * Bulk outputs: `rejected` refused for good, `retry` to send again, the others written. The
   * cursor only moves past the batch once the `retry` ones are written too: what went is not
   * necessarily a prefix (a batch split into several HTTP requests, a later one accepted after an
   * earlier one failed), and the poster remembers it to skip it when the rest is sent again.
   *
   * `prefixWritten`: the output writes the batch in order (syslog over TCP): every event before
   * the first of `retry` is written (or in `rejected`), and `retry` is the rest. That prefix is
   * acknowledged at once, before the rest is sent, so that a stop or a crash in the middle of a
   * slow batch does not send it again. (It is acknowledged without `meta`.)
   */
  | {
      readonly status: 'partial';
      readonly error: Error;
      readonly retry: readonly number[];
      readonly rejected: readonly number[];
      readonly retryAfterMs?: number;
      readonly prefixWritten?: boolean;
    };

/**
 * A health check's verdict (what `doctor` reports per output). A failure below HTTP (refused, DNS,
 * TLS trust, a timeout) keeps the socket's error in `error`'s cause chain, so the reporter names
 * the cause with the sources' own reading (http/transport-cause.ts); anything the output's own
 * answer says (credentials refused, a topic missing, a folder not writable) is a `finding`.
 */
export type HealthResult =
  | { readonly status: 'ok' }
  | { readonly status: 'failed'; readonly error: Error; readonly finding?: HealthFinding };

/** What the receiver said was wrong, with the output's key that fixes it. */
export interface HealthFinding {
  /**
   * `unauthorized`: credentials refused; `not_found`: the index, topic or path the output writes
   * to is not there; `unhealthy`: the receiver says it cannot take events now; `not_writable`: no
   * permission to write there.
   */
  readonly code: 'unauthorized' | 'not_found' | 'unhealthy' | 'not_writable';
  /** The key of the output's own configuration to fix (`token`, `apiKey`, `topic`, `path`…). */
  readonly key: string;
  /** What to do, in a sentence. */
  readonly fix: string;
}

/** The closed code an output error carries for each finding: what it means for the events. */
const FINDING_CODES: Readonly<Record<HealthFinding['code'], ExotraceErrorCode>> = {
  unauthorized: 'output_auth',
  not_found: 'output_config',
  unhealthy: 'output_unavailable',
  not_writable: 'output_config',
};

/**
 * An answered request's failure: `code` says what it means for the events, `http_<status>` is
 * what metrics label a failing output with and /status shows beside the message. Refused for good
 * is the one that is not retried.
 */
export function answeredError(code: ExotraceErrorCode, status: number, message: string): ExotraceError {
  return new ExotraceError({
    code,
    message,
    retryable: code !== 'output_refused',
    status,
    detailCode: `http_${status}`,
  });
}

/**
 * A failed health check's answer as an error with a code, like every output failure: counted and
 * shown under the receiver's status (`http_401`), with the finding's fix. doctor reads the finding
 * itself (its own key path); the message stays as it was.
 */
export function healthAnswerError(message: string, status: number, finding: HealthFinding): ExotraceError {
  return new ExotraceError({
    code: FINDING_CODES[finding.code],
    message,
    fix: finding.fix,
    retryable: true,
    status,
    detailCode: `http_${status}`,
  });
}

export interface Sink {
  readonly name: string;
  /**
   * Resume from the acknowledged state: `meta` is what the last acknowledged `send` returned
   * (undefined for a sink that never acknowledged). Returns a new `meta` to record before anything
   * is sent when the sink's state changed while starting (the file output records which file and
   * offset it starts from, so that a crash before the first acknowledgement is undone too), or
   * undefined when there is nothing to record. Throws when the sink cannot work at all (no
   * permission on the output folder): that stops the collector at start.
   */
  start(meta: string | undefined, context?: SinkStartContext): Promise<string | undefined>;
  /**
   * Send one batch, in sequence order. Sending again the batch that was last sent (because its
   * acknowledgement failed) must not duplicate it for exactly-once outputs. Aborted, it throws, or
   * returns `partial` with `prefixWritten` when it had written part of the batch in order.
   * There is no `flush`: `ok` means written, so an output never holds events past `send` (one that
   * wants to buffer answers `ok` only once they are out).
   */
  send(batch: readonly OutboxEvent[], signal: AbortSignal): Promise<SendResult>;
  /**
   * Told once an acknowledgement is stored, with the `meta` stored with it. The file output records
   * it beside its file, so that a state restored from a backup older than that acknowledgement is
   * told apart from a crash before it (only the latter leaves a tail that is the output's to cut).
   */
  acknowledged?(meta: string | undefined): Promise<void>;
  /**
   * Does what `send` does, minus writing data: reachable, TLS trusted, credentials accepted, and
   * the index, topic or folder there where the receiver's API can say so without writing. Bounded
   * by `http.timeout` (or `signal`); throws only when `signal` aborts.
   */
  healthcheck(signal: AbortSignal): Promise<HealthResult>;
  /** Release resources; idempotent (a second call returns the first call's promise). */
  close(): Promise<void>;
}

/** What a sink is started with besides its own acknowledged state. */
export interface SinkStartContext {
  /**
   * The id of the state the sink is started from (`StateStore.stateId`): the file output records
   * it beside its file, and refuses to append to a file that another state wrote.
   */
  readonly stateId?: string;
}

/** Something a sink wants an operator to know (a file truncated after a crash, a rotation…). */
export interface SinkNotice {
  readonly sink: string;
  /**
   * `replaced`: a file that is not the one the output wrote, or that holds bytes it did not write,
   * was found at its path, and moved aside.
   */
  readonly kind: 'truncated' | 'new-file' | 'rotated' | 'reopened' | 'replaced';
  readonly message: string;
}

export interface SinkIo {
  /** Where the `stdout` output writes; default `process.stdout`. */
  readonly stdout?: Writable;
  /** Receives notices (for the log); default: none. */
  readonly onNotice?: (notice: SinkNotice) => void;
  /** The config's `http.proxy`, for outputs that speak HTTP (else HTTPS_PROXY / NO_PROXY). */
  readonly proxyUrl?: string;
  /** The config's `http.timeout`: how long an HTTP output waits for an answer. */
  readonly timeoutMs?: number;
}

/** A bug or an unsupported configuration, not a runtime condition. */
export class SinkError extends Error {
  override readonly name = 'SinkError';
}
