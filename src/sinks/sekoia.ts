/**
 * The `sekoia` output: each batch POSTed to `{url}/batch` as `{"intake_key": …, "jsons": [...]}`,
 * each element one event as a JSON string. `payload: raw` (the default) sends the original API
 * row, which Sekoia.io's message trace parser reads; it is the ECS event's `message` field. `ecs`
 * sends the ECS event itself.
 *
 * Sekoia.io refuses requests of 9 MiB or more, so a batch is split into several POSTs, each under
 * `MAX_BODY_BYTES`. A send is ok only when every part is; when a later part fails, the parts
 * already accepted are not sent again (`partial`, and the poster remembers them: http-post.ts).
 * Delivery is at-least-once all the same: a part whose answer is lost is sent again.
 *
 * 401 / 403 mean the intake key is wrong or revoked: retryable (not the events' fault), naming the
 * `intakeKey` key. Healthcheck: reachability only (DNS, connect, TLS, an HTTP answer of any
 * status): the intake has no health endpoint, and a HEAD of `/batch` proves nothing more.
 */
import type { OutputConfig } from '../config/load.js';
import type { OutboxEvent } from '../core/outbox-event.js';
import { EncodeError, createBatchPoster, posterSink, type HttpSinkIo } from './http-post.js';
import type { Sink } from './types.js';

export type SekoiaOutputConfig = Extract<OutputConfig, { type: 'sekoia' }>;

/** Under Sekoia.io's 9 MiB, with room for a proxy's or the intake's own accounting. */
export const MAX_BODY_BYTES = 9 * 1024 * 1024 - 1024;

/** The element of `jsons` for one event. */
export function sekoiaElement(event: OutboxEvent, payload: 'raw' | 'ecs'): string {
  if (payload === 'ecs') return JSON.stringify(event.json);
  let parsed: unknown;
  try {
    parsed = JSON.parse(event.json);
  } catch {
    throw new EncodeError(`event ${event.eventId} is not JSON`);
  }
  const message =
    typeof parsed === 'object' && parsed !== null
      ? (parsed as Record<string, unknown>)['message']
      : undefined;
  if (typeof message !== 'string' || message === '') {
    throw new EncodeError(`event ${event.eventId} has no message field (the original row) to send as raw`);
  }
  return JSON.stringify(message);
}

export function createSekoiaSink(output: SekoiaOutputConfig, io: HttpSinkIo = {}): Sink {
  const payload = output.payload;
  const poster = createBatchPoster({
    kind: 'sekoia',
    name: output.name,
    url: `${output.url}/batch`,
    caPem: output.caPem,
    secrets: [output.intakeKey],
    headers: { 'content-type': 'application/json' },
    framing: {
      open: `{"intake_key":${JSON.stringify(output.intakeKey)},"jsons":[`,
      separator: ',',
      close: ']}',
    },
    encode: (event) => sekoiaElement(event, payload),
    maxBodyBytes: io.maxBodyBytes ?? MAX_BODY_BYTES,
    classify: (response) =>
      response.status === 401 || response.status === 403
        ? {
            status: 'retryable',
            message: `the intake refused the key (${response.status}): check the intakeKey key of output ${output.name}; the events stay in the outbox`,
          }
        : undefined,
    io,
  });
  return posterSink(output.name, poster, new URL(output.url));
}
