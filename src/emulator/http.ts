/**
 * The emulator's small HTTP vocabulary: a request with its body read, and replies in the shapes
 * Microsoft's services use.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

export interface EmulatorRequest {
  readonly method: string;
  /** Absolute URL as the client addressed it (scheme, host and port of this emulator). */
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  /** The request body as text ('' when none). */
  readonly body: string;
}

/** A handler answers the request and returns true, or returns false when the path is not its own. */
export type Handler = (req: EmulatorRequest, res: ServerResponse) => Promise<boolean> | boolean;

// Bodies here are forms and small JSON documents; anything larger is not a client of ours.
const MAX_BODY_BYTES = 1024 * 1024;

export async function readRequest(req: IncomingMessage, baseUrl: string): Promise<EmulatorRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return {
    method: req.method ?? 'GET',
    url: new URL(req.url ?? '/', baseUrl),
    headers: req.headers,
    body: Buffer.concat(chunks).toString('utf8'),
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  sendText(res, status, JSON.stringify(body), 'application/json; charset=utf-8', headers);
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  contentType: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  const body = Buffer.from(text, 'utf8');
  res.writeHead(status, { 'content-type': contentType, 'content-length': String(body.length), ...headers });
  res.end(body);
}

/** How a response is spoiled on its way out (see faults.ts). */
export type SendFault =
  | { readonly kind: 'slow-headers' | 'slow-body'; readonly delayMs: number }
  | { readonly kind: 'trickle-body'; readonly delayMs: number }
  | { readonly kind: 'truncate' }
  | { readonly kind: 'endless-body' };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** sendJson, with a delivery fault applied when one is given. A string body is JSON text already. */
export async function sendJsonWith(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>>,
  fault: SendFault | undefined,
): Promise<void> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  if (fault === undefined) {
    sendText(res, status, text, 'application/json; charset=utf-8', headers);
    return;
  }
  if (fault.kind === 'truncate') {
    // A complete HTTP response whose JSON stops in the middle, as a broken proxy would send it.
    sendText(
      res,
      status,
      text.slice(0, Math.floor(text.length / 2)),
      'application/json; charset=utf-8',
      headers,
    );
    return;
  }
  if (fault.kind === 'endless-body') {
    await sendEndless(res, status, text, headers);
    return;
  }
  if (fault.kind === 'trickle-body') {
    await sendTrickle(res, status, text, headers, fault.delayMs);
    return;
  }
  if (fault.kind === 'slow-headers') {
    await sleep(fault.delayMs);
    if (!res.destroyed) sendText(res, status, text, 'application/json; charset=utf-8', headers);
    return;
  }
  const bytes = Buffer.from(text, 'utf8');
  const half = Math.floor(bytes.length / 2);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(bytes.length),
    ...headers,
  });
  res.write(bytes.subarray(0, half));
  await sleep(fault.delayMs);
  if (!res.destroyed) res.end(bytes.subarray(half));
}

/** Resolves when the response can take more data, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * A body that never ends, chunked (no length): the JSON up to its first array, then that array's
 * content over and over (whitespace when it is empty), as fast as the client reads, until it goes.
 * Written at the client's pace, so the emulator itself holds one chunk, not the endless body.
 */
async function sendEndless(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Readonly<Record<string, string>>,
): Promise<void> {
  const open = text.indexOf('[');
  const close = text.lastIndexOf(']');
  const prefix = open < 0 ? text.slice(0, Math.floor(text.length / 2)) : text.slice(0, open + 1);
  const items = open < 0 || close <= open + 1 ? ' ' : `${text.slice(open + 1, close)},`;
  const chunk = Buffer.from(items.repeat(Math.max(1, Math.ceil(65_536 / items.length))), 'utf8');
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.write(prefix);
  while (!res.destroyed && !res.writableEnded) {
    if (!res.write(chunk)) await drained(res);
  }
}

/** The body with its full length announced, one byte every `delayMs`, until done or the client goes. */
async function sendTrickle(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Readonly<Record<string, string>>,
  delayMs: number,
): Promise<void> {
  const bytes = Buffer.from(text, 'utf8');
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(bytes.length),
    ...headers,
  });
  res.flushHeaders();
  for (let at = 0; at < bytes.length; at++) {
    await sleep(delayMs);
    if (res.destroyed) return;
    res.write(bytes.subarray(at, at + 1));
  }
  res.end();
}
