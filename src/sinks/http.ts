/**
 * The `http` output: each batch POSTed to one URL as NDJSON (default) or a JSON array, with the
 * configured headers (authentication goes there) and optional gzip. At-least-once (see
 * http-post.ts): a receiver that must not store duplicates can dedupe on `event.id`.
 *
 * Healthcheck: a HEAD with the configured headers: reachability (DNS, connect, TLS trust, proxy,
 * an HTTP answer) and, where the receiver checks them on HEAD, the credentials (401/403 fail).
 * Other statuses pass: many receivers answer 404 or 405 to anything but POST, and a POST would
 * write data.
 */
import type { OutputConfig } from '../config/load.js';
import type { OutboxEvent } from '../core/outbox-event.js';
import { createBatchPoster, posterSink, type HttpSinkIo } from './http-post.js';
import type { Sink } from './types.js';

export type HttpOutputConfig = Extract<OutputConfig, { type: 'http' }>;

export function createHttpSink(output: HttpOutputConfig, io: HttpSinkIo = {}): Sink {
  const array = output.format === 'json-array';
  const configured: Record<string, string> = {};
  for (const [name, value] of Object.entries(output.headers)) configured[name.toLowerCase()] = value;
  // Ours cannot be overridden where they describe the body we build; the content type can.
  delete configured['content-length'];
  delete configured['content-encoding'];
  delete configured['host'];
  const poster = createBatchPoster({
    kind: 'http',
    name: output.name,
    url: output.url,
    caPem: output.caPem,
    // Header values are where credentials go (Authorization, API keys): all treated as secrets.
    secrets: Object.values(output.headers),
    headers: { 'content-type': array ? 'application/json' : 'application/x-ndjson', ...configured },
    framing: array ? { open: '[', separator: ',', close: ']' } : { open: '', separator: '\n', close: '\n' },
    encode: (event: OutboxEvent) => event.json,
    gzip: output.gzip,
    classify: (response) =>
      response.status === 401 || response.status === 403
        ? {
            status: 'retryable',
            message: `the receiver refused our credentials (${response.status}): check the headers of output ${output.name}; the events stay in the outbox`,
          }
        : undefined,
    io,
  });
  // The check sends the configured headers (without ours about the body): a receiver that refuses
  // them is found by doctor, not by the first batch.
  const credentials: Record<string, string> = { ...configured };
  delete credentials['content-type'];
  return posterSink(output.name, poster, new URL(output.url), {
    headers: credentials,
    refused: {
      code: 'unauthorized',
      key: 'headers',
      fix: 'the receiver refused the configured headers: check the credentials in them (Authorization, API key)',
    },
  });
}
