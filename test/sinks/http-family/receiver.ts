/**
 * A test receiver on a real socket (node:http, or node:https with a throwaway CA): it records
 * every request with its body decoded (gzip undone) and answers with a scriptable handler. It can
 * be stopped and started again on the same port, which is how the outage tests take it down.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

import { createCertificate } from '../../../src/emulator/tls.js';

export interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  /** Decoded: gunzipped when the request said content-encoding: gzip. */
  readonly body: string;
  /** Bytes on the wire. */
  readonly rawBytes: number;
}

export interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Never answer (for timeouts). */
  readonly hang?: boolean;
}

export type Handler = (request: Received, index: number) => Reply;

export interface Receiver {
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  readonly origin: string;
  readonly port: number;
  readonly requests: Received[];
  handler: Handler;
  /** Stop listening and cut every open connection (a later request is refused). */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  start(): Promise<void>;
}

export interface Tls {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** A CA and a server certificate for 127.0.0.1 it signs (RSA: about a second, so made once). */
export function makeTls(): Tls {
  const ca = createCertificate({ subject: 'http-family test CA', isCa: true, days: 2 });
  const server = createCertificate({
    subject: '127.0.0.1',
    issuer: ca,
    hosts: ['127.0.0.1', 'localhost'],
    days: 2,
  });
  return { caPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem };
}

export async function startReceiver(options: { tls?: Tls; handler?: Handler } = {}): Promise<Receiver> {
  const requests: Received[] = [];
  let port = 0;
  let server: http.Server | undefined;

  const receiver: Receiver = {
    get origin() {
      return `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    requests,
    handler: options.handler ?? (() => ({ status: 200, body: '{}' })),
    async stop() {
      const s = server;
      server = undefined;
      if (s === undefined) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => {
        s.close(() => {
          resolve();
        });
      });
    },
    start,
  };

  function listener(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const decoded = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const received: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: decoded.toString('utf8'),
        rawBytes: raw.length,
      };
      requests.push(received);
      const reply = receiver.handler(received, requests.length - 1);
      if (reply.hang === true) return;
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body ?? '');
    });
  }

  async function start(): Promise<void> {
    const s =
      options.tls === undefined
        ? http.createServer(listener)
        : https.createServer({ cert: options.tls.certPem, key: options.tls.keyPem }, listener);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        resolve();
      });
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  }

  await start();
  return receiver;
}
