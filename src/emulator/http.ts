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
  { readonly kind: 'slow-headers' | 'slow-body'; readonly delayMs: number } | { readonly kind: 'truncate' };

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
