/**
 * An Elasticsearch `_bulk` endpoint on loopback, faithful enough that the output's tests exercise
 * the same protocol a real cluster speaks: NDJSON action/source pairs, gzip request bodies,
 * `create` with `_id` (409 `version_conflict_engine_exception` when the id exists), data streams
 * that accept only `create` and need `@timestamp`, the real response shape
 * `{"took","errors","items":[{"<op>":{"_index","_id","status","result"|"error"}}]}`, per-item and
 * whole-request failures on demand, ApiKey/Basic auth, and `GET /` cluster info.
 *
 * Documents live in memory and survive `stop()`/`start()` (a node restart with its data), so an
 * outage test can check that every event ends up stored exactly once.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface EsEmulatorOptions {
  /** Serve https with this certificate and key. */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
  /** Accepted `Authorization: ApiKey <value>` (the encoded form). */
  readonly apiKey?: string;
  /** Accepted `Authorization: Basic` user. */
  readonly basic?: { readonly username: string; readonly password: string };
  /** Ingest pipelines that exist; a bulk naming another one fails per item. Default: any. */
  readonly pipelines?: readonly string[];
  /**
   * `http.max_content_length`: a request whose body is larger (once decompressed, as the cluster
   * checks it) gets 413 with an empty body, and nothing of it is stored. Default: no limit.
   */
  readonly maxContentLength?: number;
}

export interface StoredDoc {
  readonly index: string;
  readonly id: string;
  readonly source: Record<string, unknown>;
  /** The pipeline the document went through, if any. */
  readonly pipeline?: string;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  /** The body as sent (still gzipped when it was). */
  readonly raw: Buffer;
  /** The body decoded (gunzipped) as text. */
  readonly text: string;
}

/** A per-item failure: matches by `_id`, or by a field (dotted path) present in the source. */
export interface ItemFailure {
  readonly id?: string;
  readonly field?: string;
  readonly kind: 'rejected-execution' | 'mapper-parsing' | 'document-parsing';
  /** How many matching items fail before it stops; default forever. */
  readonly times?: number;
}

export interface RequestFailure {
  /**
   * 413 is what a request over `http.max_content_length` gets (with an empty body); 400 a body
   * the cluster cannot read at all (`illegal_argument_exception`).
   */
  readonly status: 429 | 503 | 413 | 400;
  /** How many bulk requests fail; default 1. */
  readonly times?: number;
  /** Retry-After header (seconds). */
  readonly retryAfter?: number;
}

export interface EsEmulator {
  /** e.g. http://127.0.0.1:39211 (no trailing slash). */
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Stored documents, in the order they were created. */
  documents(index?: string): StoredDoc[];
  failItems(failure: ItemFailure): void;
  failRequests(failure: RequestFailure): void;
  /** Process the next `times` bulk requests (documents stored) but drop the connection unanswered. */
  dropResponses(times: number): void;
  clearFailures(): void;
  /** Stop listening and cut every connection; documents are kept. */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

interface Index {
  readonly name: string;
  readonly dataStream: boolean;
  readonly docs: Map<string, StoredDoc>;
}

const VERSION = '8.15.0';

/** Index names that Elasticsearch's built-in `logs-*-*` template turns into data streams. */
function isDataStreamName(name: string): boolean {
  return /^logs-[^-]+-[^-]+$/.test(name);
}

export async function startEsEmulator(options: EsEmulatorOptions = {}): Promise<EsEmulator> {
  const indices = new Map<string, Index>();
  const order: StoredDoc[] = [];
  const requests: RecordedRequest[] = [];
  let itemFailures: { failure: ItemFailure; left: number }[] = [];
  let requestFailures: { failure: RequestFailure; left: number }[] = [];
  let drops = 0;
  let seqNo = 0;
  const today = new Date().toISOString().slice(0, 10).replaceAll('-', '.');

  const indexOf = (name: string): Index => {
    let index = indices.get(name);
    if (index === undefined) {
      index = { name, dataStream: isDataStreamName(name), docs: new Map() };
      indices.set(name, index);
    }
    return index;
  };
  // A data stream answers with its backing index, as the real one does.
  const writeIndex = (index: Index): string =>
    index.dataStream ? `.ds-${index.name}-${today}-000001` : index.name;

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks));
      } catch (error) {
        send(res, 500, esError('exception', error instanceof Error ? error.message : String(error), 500));
      }
    });
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    let text = '';
    if (raw.length > 0) {
      if (req.headers['content-encoding'] === 'gzip') {
        try {
          text = gunzipSync(raw).toString('utf8');
        } catch {
          send(res, 400, esError('parse_exception', 'request body is not valid gzip', 400));
          return;
        }
      } else text = raw.toString('utf8');
    }
    requests.push({ method, path: url.pathname, query: url.searchParams, headers: req.headers, raw, text });
    if (options.maxContentLength !== undefined && Buffer.byteLength(text) > options.maxContentLength) {
      res.writeHead(413, { 'content-length': 0 });
      res.end();
      return;
    }

    if (!authorized(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Basic realm="security", charset="UTF-8", ApiKey');
      send(
        res,
        401,
        esError(
          'security_exception',
          `unable to authenticate with provided credentials and anonymous access is not allowed for this request`,
          401,
        ),
      );
      return;
    }

    if (method === 'GET' && url.pathname === '/') {
      send(res, 200, {
        name: 'es-emulator',
        cluster_name: 'exotrace-test',
        cluster_uuid: 'k3k6Yy7xQ5u3bq1vZ0xH9w',
        version: { number: VERSION, build_flavor: 'default', lucene_version: '9.11.1' },
        tagline: 'You Know, for Search',
      });
      return;
    }

    const bulk = /^(?:\/([^/_][^/]*))?\/_bulk$/.exec(url.pathname);
    if (bulk === null || (method !== 'POST' && method !== 'PUT')) {
      send(
        res,
        404,
        esError('resource_not_found_exception', `no handler for [${method} ${url.pathname}]`, 404),
      );
      return;
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    if (contentType !== 'application/x-ndjson' && contentType !== 'application/json') {
      send(res, 406, { error: `Content-Type header [${contentType}] is not supported`, status: 406 });
      return;
    }

    const failure = requestFailures.find((f) => f.left > 0);
    if (failure !== undefined) {
      failure.left -= 1;
      if (failure.failure.retryAfter !== undefined)
        res.setHeader('retry-after', String(failure.failure.retryAfter));
      if (failure.failure.status === 413) {
        res.writeHead(413, { 'content-length': 0 });
        res.end();
      } else if (failure.failure.status === 400) {
        send(
          res,
          400,
          esError(
            'illegal_argument_exception',
            'The bulk request must be terminated by a newline [\\n]',
            400,
          ),
        );
      } else if (failure.failure.status === 429) {
        send(
          res,
          429,
          esError(
            'es_rejected_execution_exception',
            'rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1024, max_coordinating_and_primary_bytes=1024]',
            429,
          ),
        );
      } else {
        send(
          res,
          503,
          esError(
            'cluster_block_exception',
            'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];',
            503,
          ),
        );
      }
      return;
    }

    if (text.length > 0 && !text.endsWith('\n')) {
      send(
        res,
        400,
        esError('illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]', 400),
      );
      return;
    }
    const lines = text.split('\n');
    lines.pop();
    if (lines.length === 0) {
      send(
        res,
        400,
        esError('action_request_validation_exception', 'Validation Failed: 1: no requests added;', 400),
      );
      return;
    }

    const started = Date.now();
    const pipeline = url.searchParams.get('pipeline') ?? undefined;
    const items: Record<string, unknown>[] = [];
    for (let i = 0; i < lines.length;) {
      let action: unknown;
      try {
        action = JSON.parse(lines[i] ?? '');
      } catch {
        send(
          res,
          400,
          esError('x_content_parse_exception', `[1:1] Unexpected character in action line ${i + 1}`, 400),
        );
        return;
      }
      const op = typeof action === 'object' && action !== null ? Object.keys(action)[0] : undefined;
      if (op === undefined || !['create', 'index', 'delete', 'update'].includes(op)) {
        send(
          res,
          400,
          esError(
            'illegal_argument_exception',
            `Malformed action/metadata line [${i + 1}], expected one of [create, delete, index, update] but found [${op ?? ''}]`,
            400,
          ),
        );
        return;
      }
      const meta = (action as Record<string, { _index?: unknown; _id?: unknown }>)[op] ?? {};
      const indexName = typeof meta._index === 'string' ? meta._index : bulk[1];
      if (indexName === undefined) {
        send(
          res,
          400,
          esError('action_request_validation_exception', 'Validation Failed: 1: index is missing;', 400),
        );
        return;
      }
      if (op === 'delete') {
        i += 1;
        const id = String(meta._id);
        const index = indexOf(indexName);
        const found = index.docs.delete(id);
        items.push({
          delete: {
            _index: writeIndex(index),
            _id: id,
            status: found ? 200 : 404,
            result: found ? 'deleted' : 'not_found',
          },
        });
        continue;
      }
      const sourceLine = lines[i + 1];
      i += 2;
      if (sourceLine === undefined) {
        send(
          res,
          400,
          esError(
            'illegal_argument_exception',
            'The bulk request must be terminated by a newline [\\n]',
            400,
          ),
        );
        return;
      }
      items.push({ [op]: applyItem(op, indexName, meta._id, sourceLine, pipeline) });
    }

    const errors = items.some((item) => {
      const result = Object.values(item)[0] as { status: number };
      return result.status >= 300;
    });
    if (drops > 0) {
      drops -= 1;
      // Stored, but the client never learns it: the case `create` + `_id` makes safe to re-send.
      req.socket.destroy();
      return;
    }
    send(res, 200, { took: Date.now() - started, errors, items });
  };

  const applyItem = (
    op: string,
    indexName: string,
    rawId: unknown,
    sourceLine: string,
    pipeline: string | undefined,
  ): Record<string, unknown> => {
    const index = indexOf(indexName);
    const _index = writeIndex(index);
    const id = typeof rawId === 'string' && rawId !== '' ? rawId : `auto-${++seqNo}`;
    const fail = (status: number, type: string, reason: string, extra: Record<string, unknown> = {}) => ({
      _index,
      _id: id,
      status,
      error: { type, reason, ...extra },
    });
    if (op === 'update')
      return fail(400, 'illegal_argument_exception', 'update is not supported by this emulator');
    if (index.dataStream && op !== 'create') {
      return fail(
        400,
        'illegal_argument_exception',
        'only write ops with an op_type of create are allowed in data streams',
      );
    }
    if (pipeline !== undefined && options.pipelines !== undefined && !options.pipelines.includes(pipeline)) {
      return fail(400, 'illegal_argument_exception', `pipeline with id [${pipeline}] does not exist`);
    }
    let source: unknown;
    try {
      source = JSON.parse(sourceLine);
    } catch {
      return fail(
        400,
        'document_parsing_exception',
        `[1:1] failed to parse: Unexpected character in document with id '${id}'`,
      );
    }
    if (typeof source !== 'object' || source === null || Array.isArray(source)) {
      return fail(
        400,
        'document_parsing_exception',
        `[1:1] failed to parse: source is not an object in document with id '${id}'`,
      );
    }
    const doc = source as Record<string, unknown>;

    const injected = itemFailures.find(
      (f) =>
        f.left > 0 &&
        (f.failure.id === undefined || f.failure.id === id) &&
        (f.failure.field === undefined || fieldValue(doc, f.failure.field) !== undefined),
    );
    if (injected !== undefined) {
      injected.left -= 1;
      const field = injected.failure.field ?? 'email.subject';
      const preview = JSON.stringify(fieldValue(doc, field) ?? 'x');
      switch (injected.failure.kind) {
        case 'rejected-execution':
          return fail(
            429,
            'es_rejected_execution_exception',
            `rejected execution of primary operation [shard_detail=[${_index}][0]] on EsThreadPoolExecutor[name = es-emulator/write, queue capacity = 10000]`,
          );
        case 'mapper-parsing':
          return fail(
            400,
            'mapper_parsing_exception',
            `failed to parse field [${field}] of type [long] in document with id '${id}'. Preview of field's value: '${preview}'`,
            {
              caused_by: { type: 'illegal_argument_exception', reason: `For input string: ${preview}` },
            },
          );
        case 'document-parsing':
          return fail(
            400,
            'document_parsing_exception',
            `[1:2] failed to parse field [${field}] of type [date] in document with id '${id}'. Preview of field's value: '${preview}'`,
            {
              caused_by: {
                type: 'illegal_argument_exception',
                reason: `failed to parse date field [${preview}]`,
              },
            },
          );
      }
    }
    if (index.dataStream && typeof doc['@timestamp'] !== 'string' && typeof doc['@timestamp'] !== 'number') {
      return fail(
        400,
        'document_parsing_exception',
        `[1:1] failed to parse: data stream timestamp field [@timestamp] is missing`,
      );
    }
    const existing = index.docs.get(id);
    if (op === 'create' && existing !== undefined) {
      return fail(
        409,
        'version_conflict_engine_exception',
        `[${id}]: version conflict, document already exists (current version [1])`,
        {
          index_uuid: 'Xq3xk2x4TnKkq1x0bX7t3g',
          shard: '0',
          index: _index,
        },
      );
    }
    const stored: StoredDoc = {
      index: index.name,
      id,
      source: doc,
      ...(pipeline === undefined ? {} : { pipeline }),
    };
    index.docs.set(id, stored);
    if (existing === undefined) order.push(stored);
    else order.splice(order.indexOf(existing), 1, stored);
    return {
      _index,
      _id: id,
      _version: 1,
      result: existing === undefined ? 'created' : 'updated',
      _shards: { total: 2, successful: 1, failed: 0 },
      _seq_no: ++seqNo,
      _primary_term: 1,
      status: existing === undefined ? 201 : 200,
    };
  };

  const authorized = (header: string | undefined): boolean => {
    if (options.apiKey === undefined && options.basic === undefined) return true;
    if (header === undefined) return false;
    const [scheme, value] = header.split(' ', 2);
    if (options.apiKey !== undefined && scheme === 'ApiKey' && value === options.apiKey) return true;
    if (options.basic !== undefined && scheme === 'Basic') {
      const expected = Buffer.from(`${options.basic.username}:${options.basic.password}`, 'utf8').toString(
        'base64',
      );
      return value === expected;
    }
    return false;
  };

  const server: Server =
    options.tls === undefined
      ? createHttpServer(handler)
      : createHttpsServer({ cert: options.tls.certPem, key: options.tls.keyPem }, handler);

  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const port = await listen(0);
  let listening = true;
  const stop = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    server.closeAllConnections();
    await closed;
  };

  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    requests,
    documents: (index) => order.filter((d) => index === undefined || d.index === index),
    failItems: (failure) => itemFailures.push({ failure, left: failure.times ?? Infinity }),
    failRequests: (failure) => requestFailures.push({ failure, left: failure.times ?? 1 }),
    dropResponses: (times) => {
      drops += times;
    },
    clearFailures: () => {
      itemFailures = [];
      requestFailures = [];
      drops = 0;
    },
    stop,
    start: async () => {
      if (listening) return;
      await listen(port);
      listening = true;
    },
    close: stop,
  };
}

function esError(type: string, reason: string, status: number): Record<string, unknown> {
  return { error: { root_cause: [{ type, reason }], type, reason }, status };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-elastic-product': 'Elasticsearch',
  });
  res.end(text);
}

/** A field by dotted path, through nested objects (ECS documents are nested). */
function fieldValue(doc: Record<string, unknown>, path: string): unknown {
  let current: unknown = doc;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}
