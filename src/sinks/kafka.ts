/**
 * The `kafka` output, on @platformatic/kafka's producer (pure JS, no native addon: stack-notes §4).
 * Each event is one record: key = `event.id` (so a compacted topic or a consumer keyed on it keeps
 * one copy), value = the event JSON.
 *
 * Delivery guarantees, and why:
 * - acks = all (-1): a batch counts as written only when every in-sync replica has it, so losing
 *   the leader right after the acknowledgement loses nothing.
 * - The idempotent producer: the broker dedups a batch it already appended by (producer id,
 *   sequence). The client advances a partition's sequence only after an acknowledged send, so when
 *   an acknowledgement is lost (broker restart, network cut) and `deliver.ts` sends the same events
 *   again through this same sink, they go out with the same sequences and the broker answers with
 *   the first copy's offset instead of appending a second one. What is NOT covered: a process
 *   restart between the broker's append and our acknowledgement gives a new producer id, so those
 *   events may appear twice (at least once; consumers dedupe on the key, which is `event.id`).
 * - A batch from the outbox (up to 8 MiB) is sent as several produce calls of at most
 *   `maxRequestBytes`, because brokers refuse record batches over message.max.bytes (1 MiB by
 *   default) and that refusal must not dead-letter thousands of good events. Chunks go out in
 *   order; once one fails, the events from it on are sent again later (`partial`).
 * - MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE for a chunk of several events: it is halved and
 *   sent again; for a single event: that event is refused for good (dead letter). Every other
 *   failure (network, broker down, leader moves, timeouts, authentication, unknown topic) is
 *   retryable: it is the cluster's or the config's fault, never the events'.
 * Secrets never reach an error: messages are our words plus the library's, with the SASL password
 * and username scrubbed (a library message could echo them).
 */
import { rootCertificates } from 'node:tls';

import {
  ProduceAcks,
  Producer,
  SASLMechanisms,
  stringSerializers,
  type ProducerOptions,
  type SASLOptions,
} from '@platformatic/kafka';

import type { OutputConfig } from '../config/load.js';
import { errorChain, ExotraceError, PLAIN_CODE, type ExotraceErrorCode } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';
import { classifyTransport, outputTransportHint } from '../http/network-error.js';
import { TLS_NAME, TLS_TRUST } from '../http/transport-cause.js';
import { abortReason } from '../util/abort.js';
import type { OutboxEvent } from '../core/outbox-event.js';
import { once } from '../util/once.js';
import { type HealthFinding, type HealthResult, type SendResult, type Sink } from './types.js';
import { plural } from '../util/plural.js';

export type KafkaOutputConfig = Extract<OutputConfig, { readonly type: 'kafka' }>;

export interface KafkaSinkIo {
  /** Bytes of keys + values per produce call; default 900 000 (under the broker's 1 MiB default). */
  readonly maxRequestBytes?: number;
  /** Retries per produce call inside the client before `send` reports retryable; default 3, at least 2. */
  readonly retries?: number;
  /** Between those tries; default 250 ms. */
  readonly retryDelayMs?: number;
  /** Per request (connect and response); default 30 000 ms. */
  readonly timeoutMs?: number;
  /** Kafka client id; default `exotrace`. */
  readonly clientId?: string;
}

export function createKafkaSink(output: KafkaOutputConfig, io: KafkaSinkIo = {}): Sink {
  return new KafkaSink(output, io);
}

/** Per-record overhead on the wire beyond key and value (varints, attributes, deltas). */
const RECORD_OVERHEAD_BYTES = 32;
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
const MAX_REASONS = 3;

type ChunkOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'too-large'; readonly error: ExotraceError }
  | { readonly kind: 'retry'; readonly error: ExotraceError };

class KafkaSink implements Sink {
  readonly name: string;
  readonly #topic: string;
  readonly #producer: Producer<string, string, string, string>;
  readonly #maxRequestBytes: number;
  readonly #secrets: readonly string[];
  readonly #where: string;
  readonly close: () => Promise<void>;

  constructor(output: KafkaOutputConfig, io: KafkaSinkIo) {
    this.name = output.name;
    this.#topic = output.topic;
    this.#maxRequestBytes = io.maxRequestBytes ?? 900_000;
    this.#where = `kafka output ${output.name} (topic ${output.topic} on ${output.brokers.join(',')})`;
    this.#secrets = output.sasl === undefined ? [] : [output.sasl.password, output.sasl.username];
    const timeoutMs = io.timeoutMs ?? 30_000;
    const options: ProducerOptions<string, string, string, string> = {
      clientId: io.clientId ?? 'exotrace',
      bootstrapBrokers: [...output.brokers],
      idempotent: true,
      acks: ProduceAcks.ALL,
      serializers: stringSerializers,
      // An explicit count of at least 2: with `idempotent` the client turns a count of 0, 1 or
      // none into "retry forever", and a send that never returns would hold the delivery loop;
      // deliver.ts owns the longer backoff.
      retries: Math.max(2, io.retries ?? 3),
      retryDelay: io.retryDelayMs ?? 250,
      timeout: timeoutMs,
      connectTimeout: timeoutMs,
      requestTimeout: timeoutMs,
      // Like the Java producer: ask for the topic to be created; the broker's
      // auto.create.topics.enable decides.
      autocreateTopics: true,
      ...(output.tls
        ? // Our CA is added to the system roots, not substituted for them (a cluster behind a
          // public certificate keeps working when caFile is set for another reason).
          { tls: output.caPem === undefined ? {} : { ca: [...rootCertificates, output.caPem] } }
        : {}),
      ...(output.sasl === undefined ? {} : { sasl: saslOptions(output.sasl) }),
    };
    this.#producer = new Producer(options);
    this.close = once(async () => {
      await this.#producer.close();
    });
  }

  start(): Promise<string | undefined> {
    // Nothing to resume: the outbox's cursor is the state, the producer id is per process.
    return Promise.resolve(undefined);
  }

  async send(batch: readonly OutboxEvent[], signal: AbortSignal): Promise<SendResult> {
    signal.throwIfAborted();
    const queue: OutboxEvent[][] = this.#chunks(batch);
    const rejected: number[] = [];
    const reasons: string[] = [];
    for (let chunk = queue.shift(); chunk !== undefined; chunk = queue.shift()) {
      const outcome = await this.#produce(chunk, signal);
      if (outcome.kind === 'ok') continue;
      if (outcome.kind === 'too-large') {
        if (chunk.length === 1) {
          const event = chunk[0] as OutboxEvent;
          rejected.push(event.seq);
          if (reasons.length < MAX_REASONS) reasons.push(`[key ${event.eventId}] ${outcome.error.message}`);
          continue;
        }
        // The broker's limit is lower than ours: halve and send both halves, in order.
        const half = Math.ceil(chunk.length / 2);
        queue.unshift(chunk.slice(0, half), chunk.slice(half));
        continue;
      }
      // Retryable: this chunk and everything after it are sent again; the chunks before it are
      // written (acknowledged by every in-sync replica).
      const retry = [...chunk, ...queue.flat()].map((e) => e.seq);
      const written = batch.length - retry.length - rejected.length;
      if (written === 0 && rejected.length === 0) return { status: 'retryable', error: outcome.error };
      return {
        status: 'partial',
        error: new ExotraceError({
          code: outcome.error.code,
          message:
            `${outcome.error.message} (${written} of ${batch.length} ${plural(batch.length, 'event')} ${written === 1 ? 'was' : 'were'} written before it` +
            (rejected.length > 0 ? `, ${rejected.length} refused as too large` : '') +
            ')',
          retryable: true,
          ...(outcome.error.detailCode === undefined ? {} : { detailCode: outcome.error.detailCode }),
          cause: outcome.error,
        }),
        retry,
        rejected,
      };
    }
    if (rejected.length === 0) return { status: 'ok' };
    const more = rejected.length - reasons.length;
    return {
      status: 'rejected',
      seqs: rejected,
      error: new ExotraceError({
        code: 'output_refused',
        message:
          `${this.#where}: ${rejected.length} ${plural(rejected.length, 'event')} ${rejected.length === 1 ? 'is' : 'are'} larger than the broker accepts (message.max.bytes): ` +
          reasons.join('; ') +
          (more > 0 ? `; and ${more} more` : ''),
        detailCode: 'MESSAGE_TOO_LARGE',
      }),
    };
  }

  /** Split in order into calls of at most maxRequestBytes (an event larger than that goes alone). */
  #chunks(batch: readonly OutboxEvent[]): OutboxEvent[][] {
    const chunks: OutboxEvent[][] = [];
    let current: OutboxEvent[] = [];
    let bytes = 0;
    for (const event of batch) {
      const size =
        Buffer.byteLength(event.json, 'utf8') +
        Buffer.byteLength(event.eventId, 'utf8') +
        RECORD_OVERHEAD_BYTES;
      if (current.length > 0 && bytes + size > this.#maxRequestBytes) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(event);
      bytes += size;
    }
    if (current.length > 0) chunks.push(current);
    return chunks;
  }

  async #produce(chunk: readonly OutboxEvent[], signal: AbortSignal): Promise<ChunkOutcome> {
    const sending = this.#producer.send({
      messages: chunk.map((event) => ({ topic: this.#topic, key: event.eventId, value: event.json })),
    });
    try {
      // The client takes no AbortSignal: stop waiting on abort (what was sent is sent again by
      // the next run, and the broker dedups it while this producer lives).
      await raceAbort(sending, signal);
      return { kind: 'ok' };
    } catch (error) {
      if (signal.aborted) throw abortReason(signal);
      const ids = apiIds(error);
      if (ids.some((id) => TOO_LARGE.has(id))) {
        return {
          kind: 'too-large',
          error: this.#error('the broker refused the records as too large', error),
        };
      }
      return { kind: 'retry', error: this.#error('produce failed', error) };
    }
  }

  /**
   * A client failure as the output reports it: what it means (the closed code), Kafka's own error
   * name or the socket's code (what metrics count it under), and what to check. The library's
   * error is not kept as the cause: its fields could hold the SASL password.
   */
  #error(what: string, error: unknown): ExotraceError {
    const ids = apiIds(error);
    const said = describe(error);
    const transport = classifyTransport(error);
    let hint = '';
    let code: ExotraceErrorCode = 'output_unavailable';
    // Kafka's own error name when a broker answered, else the socket's code.
    let detail = ids[0] ?? transport.code;
    if (ids.includes('UNKNOWN_TOPIC_OR_PARTITION') || /unknown topic/i.test(said)) {
      hint = `: create the topic ${this.#topic}, or allow auto.create.topics.enable on the cluster`;
      code = 'output_config';
      detail = 'UNKNOWN_TOPIC_OR_PARTITION';
    } else if (ids.includes('TOPIC_AUTHORIZATION_FAILED') || ids.includes('CLUSTER_AUTHORIZATION_FAILED')) {
      hint = `: the principal of output ${this.name} needs Write and IdempotentWrite on the topic`;
      code = 'output_auth';
    } else if (ids.some((id) => id.startsWith('SASL') || id.includes('SASL')) || isAuthentication(error)) {
      hint = `: check the sasl of output ${this.name}`;
      code = 'output_auth';
      detail = ids.find((id) => id.includes('SASL')) ?? 'PLT_KFK_AUTHENTICATION';
    } else if (transport.code === TLS_NAME) {
      hint = outputTransportHint(transport, { output: this.name, endpoint: 'the broker', peer: 'broker' });
      code = 'network_error';
    } else if (transport.untrusted || TLS_TRUST.test(said)) {
      hint = outputTransportHint(
        { ...transport, untrusted: true },
        { output: this.name, endpoint: '', peer: 'broker' },
      );
      code = 'network_error';
    } else if (ids.some((id) => TOO_LARGE.has(id))) {
      code = 'output_refused';
    } else if (ids.length === 0 && transport.transient) {
      // No broker answered: the socket's failure (refused, reset, DNS).
      code = 'network_error';
    }
    return new ExotraceError({
      code,
      message: this.#scrub(`${this.#where}: ${what}: ${said}${hint}`),
      // Nothing the client meets is the events' fault but their size (TOO_LARGE, decided by the caller).
      retryable: true,
      ...(detail !== undefined && PLAIN_CODE.test(detail) ? { detailCode: detail } : {}),
    });
  }

  #scrub(text: string): string {
    return redactSecrets(text, this.#secrets);
  }

  async healthcheck(signal: AbortSignal): Promise<HealthResult> {
    signal.throwIfAborted();
    try {
      // A metadata request: reaches a broker, authenticates, and sees whether the topic exists,
      // without creating it or writing anything.
      await raceAbort(this.#producer.metadata({ topics: [this.#topic], autocreateTopics: false }), signal);
      return { status: 'ok' };
    } catch (error) {
      if (signal.aborted) throw abortReason(signal);
      // The client's error stays the cause: a refused or untrusted broker is named from its codes.
      const reported = new Error(this.#error('metadata request failed', error).message, { cause: error });
      const finding = this.#healthFinding(error);
      return finding === undefined
        ? { status: 'failed', error: reported }
        : { status: 'failed', error: reported, finding };
    }
  }

  /** What the broker's refusal says to fix; undefined for a failure of the network (see the cause). */
  #healthFinding(error: unknown): HealthFinding | undefined {
    const ids = apiIds(error);
    if (ids.includes('UNKNOWN_TOPIC_OR_PARTITION') || /unknown topic/i.test(describe(error)))
      return {
        code: 'not_found',
        key: 'topic',
        fix: `create the topic ${this.#topic} (doctor does not create it), or allow auto.create.topics.enable on the cluster`,
      };
    if (ids.includes('TOPIC_AUTHORIZATION_FAILED') || ids.includes('CLUSTER_AUTHORIZATION_FAILED'))
      return {
        code: 'unauthorized',
        key: 'sasl.username',
        fix: `give this principal Write and IdempotentWrite on the topic ${this.#topic}`,
      };
    if (ids.some((id) => id.includes('SASL')) || isAuthentication(error))
      return {
        code: 'unauthorized',
        key: 'sasl',
        fix: 'the broker refused the SASL login: check sasl.username, sasl.password and sasl.mechanism',
      };
    return undefined;
  }
}

function saslOptions(sasl: NonNullable<KafkaOutputConfig['sasl']>): SASLOptions {
  const mechanism =
    sasl.mechanism === 'scram-sha-256'
      ? SASLMechanisms.SCRAM_SHA_256
      : sasl.mechanism === 'scram-sha-512'
        ? SASLMechanisms.SCRAM_SHA_512
        : SASLMechanisms.PLAIN;
  return { mechanism, username: sasl.username, password: sasl.password };
}

async function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    // The loser must not become an unhandled rejection.
    promise.catch(() => undefined);
  }
}

/** Kafka protocol error names (`MESSAGE_TOO_LARGE`…) anywhere in the error. */
function apiIds(error: unknown): string[] {
  const ids: string[] = [];
  for (const e of errorChain(error)) {
    const id = (e as { apiId?: unknown }).apiId;
    if (typeof id === 'string') ids.push(id);
  }
  return ids;
}

function isAuthentication(error: unknown): boolean {
  return errorChain(error).some((e) => (e as { code?: unknown }).code === 'PLT_KFK_AUTHENTICATION');
}

/** The distinct messages of the leaves (a library error says "Producing messages failed." on top). */
function describe(error: unknown): string {
  const parts: string[] = [];
  for (const e of errorChain(error)) {
    if (!(e instanceof Error)) {
      parts.push(String(e));
      continue;
    }
    const isLeaf = !(e instanceof AggregateError && e.errors.length > 0) && e.cause === undefined;
    const id = (e as { apiId?: unknown }).apiId;
    const code = (e as { code?: unknown }).code;
    const label = typeof id === 'string' ? id : typeof code === 'string' ? code : '';
    if (isLeaf || typeof id === 'string') parts.push(label === '' ? e.message : `${label}: ${e.message}`);
  }
  const unique = [...new Set(parts)];
  if (unique.length === 0) return error instanceof Error ? error.message : String(error);
  return unique.slice(0, MAX_REASONS).join('; ') + (unique.length > MAX_REASONS ? '; …' : '');
}
