/**
 * The syslog output: one RFC 5424 message per event, the event's JSON as MSG, over TCP or TLS with
 * octet-counting framing (RFC 6587 3.4.1, RFC 5425 4.3: `LEN SP MSG`) or over UDP, one datagram
 * per event (RFC 5426).
 *
 * The header, and why:
 * - PRI `<134>`: facility local0, severity informational, for every event. local0 is a facility
 *   meant for the site to route (rsyslog `local0.*`, a dedicated file or forwarder), so these
 *   events do not mix with the host's own `user` messages. The severity is constant: an event is
 *   a record of mail flow, not a condition of this collector, and a rejected or spam-filtered mail
 *   is not an error of the syslog pipeline; SIEM rules key on `event.outcome`/`event.action`.
 * - TIMESTAMP: the event's `@timestamp` (when the mail was received), not the time of sending, so
 *   that a receiver that indexes on the syslog time files the event at the right moment after a
 *   backlog or an outage. More than 6 fractional digits are cut (RFC 5424 allows 6); an event
 *   without a usable `@timestamp` gets the NILVALUE `-`.
 * - HOSTNAME this host's name, APP-NAME `appName`, PROCID the process id, MSGID `message_trace`
 *   (receivers can route these messages without parsing the JSON), no STRUCTURED-DATA.
 * - MSG: the JSON as UTF-8 without the BOM. RFC 5424 says SHOULD for the BOM, but MSG-ANY is
 *   allowed, and a BOM in front of the JSON breaks the JSON parsers of common receivers
 *   (Logstash's json codec, Splunk's KV_MODE=json), which would then see a non-JSON message.
 *
 * Acknowledgement: syslog over TCP/TLS has no application-level acknowledgement. A batch is `ok`
 * when every byte of it was handed to the kernel (all write callbacks called), which says nothing
 * of whether the receiver read it: a receiver that stops (a restart) with our bytes unread in its
 * socket, or that closed the connection just before we wrote (the first write after the peer's
 * close succeeds locally), loses them silently. Two things narrow this, neither closes it:
 * - before each batch the sink lets pending socket events in, so a close that already arrived is
 *   seen and the batch goes to a new connection instead of into the dead one;
 * - when a connection breaks within REPLAY_WINDOW_MS (10 s) of a batch written on it, the batches
 *   written in that window (at most MAX_REPLAY_BYTES) are sent again first on the next connection.
 *   In the rsyslog tests, a receiver stopped right after a batch under load lost that batch
 *   without this. The price is duplicates downstream after a receiver restart; every event
 *   carries `event.id` to drop them by.
 * What remains: a receiver that dies holding our bytes for longer than the window, a collector
 * crash between the write and a break (the replay is in memory; the outbox acknowledged the
 * batch), and data in the receiver's own memory queue when it is killed. At-least-once up to the
 * receiver's socket is the best plain syslog offers; RELP acknowledges per message and is out of
 * scope. A batch that fails half-way is sent again whole, which is a second source of duplicates.
 * A send that runs out of its time, or is stopped, reports the part it wrote (`partial` with
 * `prefixWritten`), which the delivery acknowledges at once; stopped, the chunk in flight (which
 * the kernel may have taken in part) is sent again.
 * Over UDP nothing is acknowledged at all: a datagram the receiver drops (down, overloaded) is
 * lost, and an outage of the receiver usually goes unnoticed.
 *
 * Sizes: a UDP datagram carries at most 65,507 bytes (the largest IPv4 UDP payload); a larger
 * event cannot be sent over UDP and is rejected (dead letter) rather than truncated, since a cut
 * JSON is unreadable. Receivers cut messages over their own limit (rsyslog's maxMessageSize is
 * 8 KiB by default): raise it on the receiver for large events, over any transport.
 */
import { lookup } from 'node:dns/promises';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { Socket, connect as netConnect, isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { connect as tlsConnect, rootCertificates } from 'node:tls';

import type { OutputConfig } from '../config/load.js';
import { ExotraceError } from '../core/errors.js';
import { classifyTransport, outputTransportError } from '../http/network-error.js';
import { abortReason } from '../util/abort.js';
import type { OutboxEvent } from '../core/outbox-event.js';
import { SinkError, type HealthResult, type SendResult, type Sink, type SinkIo } from './types.js';
import { once } from '../util/once.js';
import { plural } from '../util/plural.js';

export type SyslogOutputConfig = Extract<OutputConfig, { type: 'syslog' }>;

export interface SyslogSinkIo extends SinkIo {
  /** HOSTNAME in the header; default this host's name. */
  readonly hostname?: string;
  /** PROCID in the header; default the process id. */
  readonly procId?: string;
  /** Longest wait for a connection (TCP and TLS handshake); default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Clock for the replay window; default Date.now. */
  readonly now?: () => number;
  /**
   * Longest wait for the receiver to take any data (one that stops reading), and the time a send
   * writes before it reports what was written (a slow receiver gets a batch over several sends,
   * each acknowledging its part); default 30 s.
   */
  readonly writeTimeoutMs?: number;
}

/** The largest UDP payload over IPv4 (65,535 − 20 IP − 8 UDP); IPv6 allows a little more. */
export const UDP_MAX_BYTES = 65_507;
export const FACILITY_LOCAL0 = 16;
export const SEVERITY_INFO = 6;
export const MSGID = 'message_trace';
/**
 * A connection that breaks within this time after a batch was written gets that batch again on
 * the next connection (see `#markBroken`). A receiver reads what arrives within milliseconds; 10 s
 * covers a loaded one without replaying after idle closes.
 */
export const REPLAY_WINDOW_MS = 10_000;
/** At most this much is kept for a replay (two default batches); older batches are dropped. */
export const MAX_REPLAY_BYTES = 16 * 1024 * 1024;
/**
 * A batch is written in chunks of about this size (whole frames), each handed to the kernel
 * before the next: a chunk is the unit of progress, and of what a failure sends again. 64 KiB is
 * a few dozen events, and a fraction of a second even at a slow receiver's 100 KiB/s.
 */
export const WRITE_CHUNK_BYTES = 64 * 1024;

interface Retained {
  readonly data: Buffer;
  readonly events: number;
  readonly at: number;
}

const NIL = '-';
const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export interface HeaderFields {
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
}

/**
 * A header field is PRINTUSASCII (33–126) of at most `max` characters, or NILVALUE. A host name
 * with other characters is made printable rather than refused: it is informative only.
 */
function headerField(value: string, max: number): string {
  const printable = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return printable === '' ? NIL : printable;
}

/** RFC 5424's TIMESTAMP from an ECS `@timestamp`, or NILVALUE when it is missing or not RFC 3339. */
export function syslogTimestamp(json: string): string {
  // The normalizer writes `@timestamp` once, at the top level. A raw `"@timestamp":"` can only be
  // a key there: inside a JSON string every `"` is escaped. This avoids parsing every event.
  const key = '"@timestamp":"';
  let value: unknown;
  const at = json.indexOf(key);
  if (at >= 0) {
    const start = at + key.length;
    const end = json.indexOf('"', start);
    if (end > start) value = json.slice(start, end);
  } else {
    try {
      value = (JSON.parse(json) as Record<string, unknown> | null)?.['@timestamp'];
    } catch {
      value = undefined;
    }
  }
  if (typeof value !== 'string') return NIL;
  const match = RFC3339.exec(value);
  if (match === null) return NIL;
  const [, dateTime = '', fraction = '', zone = ''] = match;
  return dateTime + fraction.slice(0, 7) + zone;
}

/** One RFC 5424 message for an event: header, no structured data, the JSON as MSG (no BOM). */
export function formatSyslogMessage(json: string, fields: HeaderFields): Buffer {
  const pri = FACILITY_LOCAL0 * 8 + SEVERITY_INFO;
  const header = `<${pri}>1 ${syslogTimestamp(json)} ${fields.hostname} ${fields.appName} ${fields.procId} ${MSGID} ${NIL} `;
  return Buffer.from(header + json, 'utf8');
}

/** Octet counting (RFC 6587 3.4.1, RFC 5425 4.3): `LEN SP MSG`, LEN in bytes. */
export function frameOctetCounted(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

export function createSyslogSink(output: SyslogOutputConfig, io: SyslogSinkIo = {}): Sink {
  if (!/^[\x21-\x7e]{1,48}$/.test(output.appName)) {
    // RFC 5424 APP-NAME: a space would shift every field after it, and receivers cut at 48.
    throw new SinkError(
      `output ${output.name}: appName must be 1 to 48 printable ASCII characters without spaces, got ${JSON.stringify(output.appName)}`,
    );
  }
  const fields: HeaderFields = {
    hostname: headerField(io.hostname ?? osHostname(), 255),
    appName: output.appName,
    procId: headerField(io.procId ?? String(process.pid), 128),
  };
  return output.protocol === 'udp'
    ? new UdpSyslogSink(output, fields)
    : new StreamSyslogSink(output, fields, io);
}

/**
 * Read through a call: after an early `if (signal.aborted) throw`, TypeScript takes the flag as
 * false for the rest of the function, but an abort can happen during any await.
 */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** TCP and TLS: one long-lived connection, octet-counted frames. */
class StreamSyslogSink implements Sink {
  readonly name: string;
  readonly #output: SyslogOutputConfig;
  readonly #fields: HeaderFields;
  readonly #io: SyslogSinkIo;
  readonly #connectTimeoutMs: number;
  readonly #writeTimeoutMs: number;
  readonly #now: () => number;
  #socket: Socket | undefined;
  /** Set when the connection can no longer carry data: peer closed (FIN), error, or destroyed. */
  #broken = true;
  /** A connection was up before, so a new one is a reconnection worth a notice. */
  #connectedBefore = false;
  /** The batches written on the current connection within the replay window, oldest first. */
  #retained: Retained[] = [];
  /** Frames to send again first on the next connection: the receiver may never have read them. */
  #replay: { data: Buffer; events: number } | undefined;
  #closed = false;
  readonly close: () => Promise<void>;

  constructor(output: SyslogOutputConfig, fields: HeaderFields, io: SyslogSinkIo) {
    this.name = output.name;
    this.#output = output;
    this.#fields = fields;
    this.#io = io;
    this.#connectTimeoutMs = io.connectTimeoutMs ?? 10_000;
    this.#writeTimeoutMs = io.writeTimeoutMs ?? 30_000;
    this.#now = io.now ?? Date.now;
    this.close = once(async () => {
      this.#closed = true;
      const socket = this.#socket;
      this.#socket = undefined;
      this.#broken = true;
      this.#retained = [];
      if (socket === undefined || socket.destroyed) return;
      // end() sends what is still queued, then FIN; a receiver that never closes is not waited for.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          socket.destroy();
        }, 2000);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.end();
      });
    });
  }

  #where(): string {
    return `${this.#output.protocol}://${this.#output.host}:${this.#output.port}`;
  }

  start(): Promise<string | undefined> {
    // Nothing to resume: what was sent is the receiver's. Connecting waits for the first send, so
    // a receiver that is down delays delivery instead of stopping the collector.
    return Promise.resolve(undefined);
  }

  async #connect(signal: AbortSignal): Promise<Socket> {
    if (this.#socket !== undefined) this.#markBroken();
    this.#socket?.destroy();
    this.#socket = undefined;
    this.#broken = true;
    const { host, port } = this.#output;
    const socket: Socket =
      this.#output.protocol === 'tls'
        ? tlsConnect({
            host,
            port,
            // SNI carries names only; an IP literal is checked against the certificate's IP SANs.
            ...(isIP(host) === 0 ? { servername: host } : {}),
            // `ca` replaces Node's roots; the public roots stay trusted next to the configured CA.
            ...(this.#output.caPem === undefined ? {} : { ca: [...rootCertificates, this.#output.caPem] }),
            rejectUnauthorized: true,
          })
        : netConnect({ host, port });
    const markBroken = (): void => {
      if (this.#socket === socket) this.#markBroken();
    };
    // Errors are reported through the pending connect or write, or mark an idle connection broken;
    // a listener is always there, so that no socket error is ever an uncaught exception.
    socket.on('error', markBroken);
    socket.on('end', markBroken);
    socket.on('close', markBroken);
    const ready = this.#output.protocol === 'tls' ? 'secureConnect' : 'connect';
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off(ready, onReady);
        socket.off('error', onError);
        if (error === undefined) resolve();
        else {
          socket.destroy();
          reject(error);
        }
      };
      const onReady = (): void => {
        done();
      };
      const onError = (error: Error): void => {
        done(error);
      };
      const onAbort = (): void => {
        done(abortReason(signal));
      };
      const timer = setTimeout(() => {
        done(new Error(`no connection within ${this.#connectTimeoutMs} ms`));
      }, this.#connectTimeoutMs);
      socket.once(ready, onReady);
      socket.once('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    // Receivers send nothing, but reading is how a close by the peer (FIN) is noticed.
    socket.on('data', () => undefined);
    this.#socket = socket;
    this.#broken = false;
    if (this.#connectedBefore) {
      this.#io.onNotice?.({
        sink: this.name,
        kind: 'reopened',
        message: `syslog output ${this.name}: reconnected to ${this.#where()}`,
      });
    }
    this.#connectedBefore = true;
    return socket;
  }

  /**
   * The current connection broke (peer closed, reset, error, write failure). When that happened
   * soon after our last batch, the receiver may have gone away with that batch unread in its
   * socket (a restart does exactly this): the batch is kept to be sent again first on the next
   * connection. A duplicate downstream is better than a silent loss, and `event.id` lets a SIEM
   * drop it. A break long after the last write (an idle connection closed by a load balancer) is
   * not followed by a replay: the receiver had all the time it needed to read the batch.
   */
  #markBroken(): void {
    if (this.#broken) return;
    this.#broken = true;
    const since = this.#now() - REPLAY_WINDOW_MS;
    const recent = this.#retained.filter((r) => r.at >= since);
    this.#retained = [];
    if (recent.length === 0) return;
    // Added to a replay still pending (the previous reconnection failed): nothing is dropped.
    const parts = [...(this.#replay === undefined ? [] : [this.#replay]), ...recent];
    this.#replay = {
      data: Buffer.concat(parts.map((r) => r.data)),
      events: parts.reduce((sum, r) => sum + r.events, 0),
    };
  }

  /** Keep a written batch for a replay: only the window's worth, and at most MAX_REPLAY_BYTES. */
  #retain(data: Buffer, events: number): void {
    const now = this.#now();
    this.#retained.push({ data, events, at: now });
    let bytes = this.#retained.reduce((sum, r) => sum + r.data.length, 0);
    while (this.#retained.length > 1) {
      const oldest = this.#retained[0];
      if (oldest === undefined || (oldest.at >= now - REPLAY_WINDOW_MS && bytes <= MAX_REPLAY_BYTES)) break;
      this.#retained.shift();
      bytes -= oldest.data.length;
    }
  }

  /** The current connection if it still looks usable, after letting pending socket events in. */
  async #usable(): Promise<Socket | undefined> {
    // One turn of the event loop's poll phase, so that a FIN that already arrived is seen now
    // rather than after we wrote into a connection the receiver has closed (those bytes are lost).
    await new Promise<void>((resolve) => setImmediate(resolve));
    const socket = this.#socket;
    if (socket === undefined || this.#broken || socket.destroyed || socket.readableEnded) return undefined;
    return socket;
  }

  async send(batch: readonly OutboxEvent[], signal: AbortSignal): Promise<SendResult> {
    if (signal.aborted) throw abortReason(signal);
    if (this.#closed) throw new SinkError(`syslog output ${this.name}: send after close`);
    if (batch.length === 0) return { status: 'ok' };
    const frames = batch.map((event) => frameOctetCounted(formatSyslogMessage(event.json, this.#fields)));
    // The time this send may take before it reports what it wrote: a slow receiver gets the batch
    // over several sends, each acknowledging its part, instead of all of it again after a timeout.
    const budgetEnds = this.#now() + this.#writeTimeoutMs;

    const existing = await this.#usable();
    // A connection that was up may have broken since (receiver restarted): one new connection and
    // what is left of the batch again. A new connection that fails is a retry for the delivery loop.
    const attempts: (Socket | undefined)[] = existing === undefined ? [undefined] : [existing, undefined];
    let lastError: unknown;
    let written = 0;
    for (const candidate of attempts) {
      let socket: Socket | undefined;
      try {
        socket = candidate ?? (await this.#connect(signal));
        const replay = candidate === undefined ? this.#replay : undefined;
        if (replay !== undefined) {
          await this.#write(socket, replay.data, signal);
          this.#replay = undefined;
          this.#io.onNotice?.({
            sink: this.name,
            kind: 'reopened',
            message: `syslog output ${this.name}: sent the ${replay.events} ${plural(replay.events, 'event')} written just before the connection broke again (they may arrive twice)`,
          });
        }
      } catch (error) {
        if (isAborted(signal)) throw abortReason(signal);
        lastError = error;
        this.#markBroken();
        this.#socket?.destroy();
        continue;
      }
      const outcome = await this.#writeFrames(socket, frames, budgetEnds, signal);
      if (outcome.error === undefined) {
        written = outcome.written;
        this.#retain(Buffer.concat(frames.slice(0, written)), written);
        break;
      }
      if (isAborted(signal)) {
        // Stopped in the middle of the batch (the flush deadline): what was handed to the kernel
        // before is said, to be acknowledged, rather than sent again after the restart.
        if (outcome.written > 0) return this.#writtenPart(batch, outcome.written, abortReason(signal));
        throw abortReason(signal);
      }
      // What the broken connection took may have gone with it: the batch again, whole, on a new one.
      lastError = outcome.error;
      this.#markBroken();
      this.#socket?.destroy();
    }
    if (written === batch.length) return { status: 'ok' };
    const where = this.#where();
    if (written > 0) {
      // Not a failure: the receiver reads slower than one send's time allows. What it took is
      // acknowledged, and the rest goes in the next send.
      return this.#writtenPart(
        batch,
        written,
        new ExotraceError({
          code: 'output_unavailable',
          message: `syslog output ${this.name}: ${where} took ${written} of ${batch.length} ${plural(batch.length, 'event')} within ${this.#writeTimeoutMs} ms; the rest follows`,
          retryable: true,
          detailCode: 'write_timeout',
        }),
      );
    }
    return {
      status: 'retryable',
      error: outputTransportError(
        `syslog output ${this.name}: sending to ${where} failed: ${describe(lastError)}`,
        classifyTransport(lastError),
        lastError,
      ),
    };
  }

  /** The first `written` events of `batch` went, in order: acknowledged now, the rest sent again. */
  #writtenPart(batch: readonly OutboxEvent[], written: number, error: Error): SendResult {
    return {
      status: 'partial',
      error,
      retry: batch.slice(written).map((event) => event.seq),
      rejected: [],
      prefixWritten: true,
    };
  }

  /**
   * Writes `frames` in chunks of about WRITE_CHUNK_BYTES, each handed to the kernel before the
   * next is written, so that what was written is known frame by frame. Stops before a new chunk
   * once `budgetEnds` has passed (after at least one), or at the first failure; returns how many
   * frames were then written whole, and the failure.
   */
  async #writeFrames(
    socket: Socket,
    frames: readonly Buffer[],
    budgetEnds: number,
    signal: AbortSignal,
  ): Promise<{ written: number; error?: unknown }> {
    let written = 0;
    while (written < frames.length) {
      if (written > 0 && this.#now() >= budgetEnds) return { written };
      let end = written + 1;
      let bytes = frames[written]?.length ?? 0;
      while (end < frames.length && bytes + (frames[end]?.length ?? 0) <= WRITE_CHUNK_BYTES) {
        bytes += frames[end]?.length ?? 0;
        end++;
      }
      try {
        await this.#write(socket, Buffer.concat(frames.slice(written, end)), signal);
      } catch (error) {
        return { written, error };
      }
      written = end;
    }
    return { written };
  }

  /**
   * Resolves once every byte is handed to the kernel; rejects on error, close, abort, or when the
   * receiver takes none of it for writeTimeoutMs.
   */
  #write(socket: Socket, data: Buffer, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('close', onClose);
        socket.off('error', onError);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onClose = (): void => {
        done(new Error('connection closed'));
      };
      const onError = (error: Error): void => {
        done(error);
      };
      const onAbort = (): void => {
        socket.destroy();
        done(abortReason(signal));
      };
      const timer = setTimeout(() => {
        socket.destroy();
        done(new Error(`the receiver took no data for ${this.#writeTimeoutMs} ms`));
      }, this.#writeTimeoutMs);
      socket.once('close', onClose);
      socket.once('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.write(data, (error) => {
        done(error ?? undefined);
      });
    });
  }

  async healthcheck(signal: AbortSignal): Promise<HealthResult> {
    if (signal.aborted) throw abortReason(signal);
    if ((await this.#usable()) !== undefined) return { status: 'ok' };
    try {
      await this.#connect(signal);
      return { status: 'ok' };
    } catch (error) {
      if (isAborted(signal)) throw abortReason(signal);
      return {
        status: 'failed',
        // Coded like a send's transport failure (network_error, the socket's code): a plain
        // Error counted as `Error`.
        error: outputTransportError(
          `syslog output ${this.name}: cannot connect to ${this.#where()}: ${describe(error)}`,
          classifyTransport(error),
          error,
        ),
      };
    }
  }
}

/** UDP: one datagram per event, on a connected socket (so ICMP errors come back as send errors). */
class UdpSyslogSink implements Sink {
  readonly name: string;
  readonly #output: SyslogOutputConfig;
  readonly #fields: HeaderFields;
  #socket: UdpSocket | undefined;
  #closed = false;
  readonly close: () => Promise<void>;

  constructor(output: SyslogOutputConfig, fields: HeaderFields) {
    this.name = output.name;
    this.#output = output;
    this.#fields = fields;
    this.close = once(async () => {
      this.#closed = true;
      await this.#drop();
    });
  }

  async #drop(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) return;
    await new Promise<void>((resolve) => {
      try {
        socket.close(() => {
          resolve();
        });
      } catch {
        resolve(); // already closed
      }
    });
  }

  start(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  async #open(): Promise<UdpSocket> {
    if (this.#socket !== undefined) return this.#socket;
    const { address, family } = await lookup(this.#output.host);
    const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(this.#output.port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // An idle error (an ICMP unreachable after the last send) must not crash the process; the
    // socket is dropped and the next send opens a new one.
    socket.on('error', () => {
      if (this.#socket === socket) void this.#drop();
    });
    this.#socket = socket;
    return socket;
  }

  async send(batch: readonly OutboxEvent[], signal: AbortSignal): Promise<SendResult> {
    if (signal.aborted) throw abortReason(signal);
    if (this.#closed) throw new SinkError(`syslog output ${this.name}: send after close`);
    const tooLarge: number[] = [];
    let largest = 0;
    try {
      for (const event of batch) {
        if (isAborted(signal)) throw abortReason(signal);
        const message = formatSyslogMessage(event.json, this.#fields);
        if (message.length > UDP_MAX_BYTES) {
          tooLarge.push(event.seq);
          largest = Math.max(largest, message.length);
          continue;
        }
        const socket = await this.#open();
        await new Promise<void>((resolve, reject) => {
          socket.send(message, (error) => {
            if (error === null) resolve();
            else reject(error);
          });
        });
      }
    } catch (error) {
      if (isAborted(signal)) throw abortReason(signal);
      await this.#drop();
      return {
        status: 'retryable',
        error: outputTransportError(
          `syslog output ${this.name}: sending to udp://${this.#output.host}:${this.#output.port} failed: ${describe(error)}`,
          classifyTransport(error),
          error,
        ),
      };
    }
    if (tooLarge.length > 0) {
      return {
        status: 'rejected',
        seqs: tooLarge,
        error: new ExotraceError({
          code: 'output_refused',
          message: `syslog output ${this.name}: a message of ${largest} bytes does not fit in one UDP datagram (at most ${UDP_MAX_BYTES}); use protocol tcp or tls for large events`,
          detailCode: 'datagram_too_large',
        }),
      };
    }
    return { status: 'ok' };
  }

  async healthcheck(signal: AbortSignal): Promise<HealthResult> {
    if (signal.aborted) throw abortReason(signal);
    // UDP has no connection: this checks that the host resolves and a socket can be opened.
    try {
      await this.#open();
      return { status: 'ok' };
    } catch (error) {
      return {
        status: 'failed',
        error: outputTransportError(
          `syslog output ${this.name}: cannot reach udp://${this.#output.host}:${this.#output.port}: ${describe(error)}`,
          classifyTransport(error),
          error,
        ),
      };
    }
  }
}
