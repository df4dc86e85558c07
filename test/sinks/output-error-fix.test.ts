/**
 * Review of issue 13: outputs' errors carried a code but no fix (the hint sat in the message, so
 * the log's "— fix:" never showed), a re-wrap dropped the fix it was given (Elasticsearch's
 * request_timeout lost "raise http.timeout"), health checks failed with plain Errors, and
 * Elasticsearch read only Retry-After where the HTTP outputs also read retry-after-ms.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

import { ExotraceError, failureCode } from '../../src/core/errors.js';
import type { OutboxEvent } from '../../src/core/outbox-event.js';
import { createElasticsearchSink } from '../../src/sinks/elasticsearch.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const events: OutboxEvent[] = [
  { seq: 1, key: 'k', eventId: 'e', json: '{}', tenant: 'contoso', pass: 'fast' },
];
const es = (url: string, timeoutMs?: number) =>
  createElasticsearchSink({ type: 'elasticsearch', name: 'es', url, index: 'logs-x-default' } as never, {
    env: {},
    gzip: false,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });

describe('an output error carries its fix', () => {
  it('a refused connection: fix and key name the url', async () => {
    const url = await serve(() => undefined);
    await new Promise((r) => servers.pop()?.close(r));
    const sink = es(url);
    const result = await sink.send(events, new AbortController().signal);
    await sink.close();
    const error = (result as unknown as { error: ExotraceError }).error;
    expect(ExotraceError.is(error)).toBe(true);
    expect(error.code).toBe('network_error');
    expect(error.configKey).toBe('url');
    expect(error.fix).toMatch(/nothing accepts connections at 127\.0\.0\.1:\d+; check the url of output es/);
  });

  it('a request cut at http.timeout keeps the inner fix and key through the wrap', async () => {
    const url = await serve(() => undefined); // takes the request, never answers
    const sink = es(url, 200);
    const result = await sink.send(events, new AbortController().signal);
    await sink.close();
    const error = (result as unknown as { error: ExotraceError }).error;
    const inner = error.cause as ExotraceError;
    expect(inner.configKey).toBe('http.timeout');
    expect(error.configKey).toBe('http.timeout');
    expect(error.fix).toBe(inner.fix);
    expect(error.retryable).toBe(true);
  });

  it('a failed health check answer is coded (http_401, output_auth), not a plain Error', async () => {
    const url = await serve((_q, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"error":{"type":"security_exception","reason":"missing authentication"}}');
    });
    const sink = es(url);
    const health = await sink.healthcheck(new AbortController().signal);
    await sink.close();
    expect(health.status).toBe('failed');
    if (health.status !== 'failed') return;
    const error = health.error;
    expect(ExotraceError.is(error)).toBe(true);
    if (!ExotraceError.is(error)) return;
    expect(error.code).toBe('output_auth');
    expect(failureCode(error)).toBe('http_401');
    expect(error.fix).toBe(health.finding?.fix);
  });
});

describe('Elasticsearch reads a response’s delay like every HTTP output', () => {
  it('retry-after-ms is read, and a repeated Retry-After reads its first value', async () => {
    const url = await serve((req, res) => {
      const headers: Record<string, string | string[]> =
        req.url?.includes('ms') === true ? { 'retry-after-ms': '2500' } : { 'retry-after': ['120', '120'] };
      res.writeHead(429, { ...headers, 'content-type': 'application/json' });
      res.end('{"error":"too many requests"}');
    });
    for (const [path, expected] of [
      ['/ms', 2500],
      ['/twice', 120_000],
    ] as const) {
      const sink = es(`${url}${path}`);
      const result = await sink.send(events, new AbortController().signal);
      await sink.close();
      expect(result.status).toBe('retryable');
      expect((result as { retryAfterMs?: number }).retryAfterMs).toBe(expected);
    }
  });
});
