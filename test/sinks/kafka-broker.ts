/**
 * A single-node Kafka broker subset on loopback, for the kafka output's tests: no Kafka server can
 * run here (stack-notes "Local servers"), so this speaks just enough of the wire protocol for our
 * producer (@platformatic/kafka) and for an independent consumer (kcat, i.e. librdkafka) to agree
 * on what was written. Written from the protocol reference, not from any client's code.
 *
 * Implemented (and advertised in ApiVersions: only these, only these versions):
 * - ApiVersions v0–v3 (v3 has a flexible request header but, by the protocol's own exception, a v0
 *   response header, so that a client can read the answer before knowing what the broker speaks);
 * - Metadata v1–v12 (this node is the only broker and the leader of everything; topics are created
 *   with one partition when first asked for);
 * - InitProducerId v3–v4 (for the idempotent producer);
 * - Produce v3–v7 (RecordBatch v2 only: magic, length and CRC32C are checked; offsets assigned by
 *   rewriting the batch's base offset, which the CRC does not cover; idempotent sequences checked
 *   per producer and partition, a re-sent batch answered with its first offset, as Kafka does);
 * - Fetch v4–v11 and ListOffsets v1–v5 (what kcat needs to read from the beginning to the end);
 * - optionally TLS, and SASL PLAIN (SaslHandshake v0–v1, SaslAuthenticate v0–v2), per connection.
 *
 * The log and the producers' sequence state survive `stop()` + `start()` on the same object, as a
 * real broker keeps them on disk: that is what a "broker down, then back" test needs.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

// ---------------------------------------------------------------------------------------------
// CRC32C (Castagnoli), table-driven over the reflected polynomial 0x82F63B78: RecordBatch v2 uses
// it, not the zlib CRC32 that Node ships.

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(data: Uint8Array, start = 0, end = data.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++)
    crc = (CRC32C_TABLE[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Primitive types. `flexible` switches strings, arrays and bytes to their compact (varint length)
// forms and enables tagged fields, as the protocol does from each API's "flexible" version on.

class Reader {
  offset = 0;
  constructor(
    readonly buf: Buffer,
    readonly flexible = false,
  ) {}

  int8(): number {
    const v = this.buf.readInt8(this.offset);
    this.offset += 1;
    return v;
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  int64(): bigint {
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  uvarint(): number {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = this.buf.readUInt8(this.offset++);
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
      shift += 7;
    }
  }
  bytesOf(length: number): Buffer {
    const v = this.buf.subarray(this.offset, this.offset + length);
    if (v.length !== length) throw new Error('truncated request');
    this.offset += length;
    return v;
  }
  /** Nullable string in the current encoding. */
  string(): string | null {
    const length = this.flexible ? this.uvarint() - 1 : this.int16();
    return length < 0 ? null : this.bytesOf(length).toString('utf8');
  }
  /** Always the non-compact form: the request header's client_id keeps it even when flexible. */
  legacyString(): string | null {
    const length = this.int16();
    return length < 0 ? null : this.bytesOf(length).toString('utf8');
  }
  bytes(): Buffer | null {
    const length = this.flexible ? this.uvarint() - 1 : this.int32();
    return length < 0 ? null : this.bytesOf(length);
  }
  array<T>(item: () => T): T[] | null {
    const length = this.flexible ? this.uvarint() - 1 : this.int32();
    if (length < 0) return null;
    const out: T[] = [];
    for (let i = 0; i < length; i++) out.push(item());
    return out;
  }
  /** Tagged fields: none is understood here, so they are skipped. */
  tags(): void {
    if (this.flexible) this.taggedFields();
  }
  /** Tagged fields whatever the encoding: the request header v2 has them after a legacy string. */
  taggedFields(): void {
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint();
      this.bytesOf(this.uvarint());
    }
  }
}

class Writer {
  readonly #chunks: Buffer[] = [];
  constructor(readonly flexible = false) {}

  #push(size: number, write: (b: Buffer) => void): this {
    const b = Buffer.alloc(size);
    write(b);
    this.#chunks.push(b);
    return this;
  }
  int8(v: number): this {
    return this.#push(1, (b) => b.writeInt8(v));
  }
  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }
  int16(v: number): this {
    return this.#push(2, (b) => b.writeInt16BE(v));
  }
  int32(v: number): this {
    return this.#push(4, (b) => b.writeInt32BE(v));
  }
  int64(v: bigint): this {
    return this.#push(8, (b) => b.writeBigInt64BE(v));
  }
  uvarint(v: number): this {
    const out: number[] = [];
    let rest = v;
    while (rest >= 0x80) {
      out.push((rest & 0x7f) | 0x80);
      rest = Math.floor(rest / 128);
    }
    out.push(rest);
    this.#chunks.push(Buffer.from(out));
    return this;
  }
  raw(b: Buffer): this {
    this.#chunks.push(b);
    return this;
  }
  string(v: string | null): this {
    if (v === null) return this.flexible ? this.uvarint(0) : this.int16(-1);
    const b = Buffer.from(v, 'utf8');
    (this.flexible ? this.uvarint(b.length + 1) : this.int16(b.length)).raw(b);
    return this;
  }
  bytes(v: Buffer | null): this {
    if (v === null) return this.flexible ? this.uvarint(0) : this.int32(-1);
    (this.flexible ? this.uvarint(v.length + 1) : this.int32(v.length)).raw(v);
    return this;
  }
  array<T>(items: readonly T[] | null, item: (w: this, value: T) => void): this {
    if (items === null) return this.flexible ? this.uvarint(0) : this.int32(-1);
    if (this.flexible) this.uvarint(items.length + 1);
    else this.int32(items.length);
    for (const value of items) item(this, value);
    return this;
  }
  tags(): this {
    return this.flexible ? this.uvarint(0) : this;
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

// ---------------------------------------------------------------------------------------------
// The APIs this broker speaks: key, name, versions, first flexible version.

const API = {
  Produce: { key: 0, min: 3, max: 7, flexibleFrom: 9 },
  Fetch: { key: 1, min: 4, max: 11, flexibleFrom: 12 },
  ListOffsets: { key: 2, min: 1, max: 5, flexibleFrom: 6 },
  Metadata: { key: 3, min: 1, max: 12, flexibleFrom: 9 },
  ApiVersions: { key: 18, min: 0, max: 3, flexibleFrom: 3 },
  InitProducerId: { key: 22, min: 3, max: 4, flexibleFrom: 2 },
  // Advertised only by a broker started with `sasl` (PLAIN), as a SASL listener does.
  // librdkafka insists on v0 being offered; v0 is followed by raw (unframed-by-API) auth bytes.
  SaslHandshake: { key: 17, min: 0, max: 1, flexibleFrom: 99 },
  SaslAuthenticate: { key: 36, min: 0, max: 2, flexibleFrom: 2 },
} as const;
const SASL_APIS: ReadonlySet<ApiName> = new Set(['SaslHandshake', 'SaslAuthenticate']);

type ApiName = keyof typeof API;
const API_BY_KEY = new Map<number, ApiName>(
  (Object.keys(API) as ApiName[]).map((name) => [API[name].key, name]),
);

/** Kafka error codes used here. */
export const KafkaErrorCode = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  MESSAGE_TOO_LARGE: 10,
  UNSUPPORTED_VERSION: 35,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  SASL_AUTHENTICATION_FAILED: 58,
  UNSUPPORTED_SASL_MECHANISM: 33,
  INVALID_RECORD: 87,
} as const;

// RecordBatch v2 header layout (byte offsets from the batch start).
const BATCH_LENGTH_AT = 8;
const MAGIC_AT = 16;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const MAX_TIMESTAMP_AT = 35;
const PRODUCER_ID_AT = 43;
const PRODUCER_EPOCH_AT = 51;
const BASE_SEQUENCE_AT = 53;
const RECORD_COUNT_AT = 57;
const BATCH_HEADER_BYTES = 61;

interface StoredBatch {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  readonly maxTimestamp: bigint;
  readonly bytes: Buffer;
}

interface PartitionLog {
  readonly batches: StoredBatch[];
  next: bigint;
}

/** Per producer and partition: the last batches' sequences, to recognize a re-sent batch. */
interface SequenceState {
  epoch: number;
  readonly recent: { baseSeq: number; lastSeq: number; baseOffset: bigint }[];
}

/** One record of a stored batch, decoded (for assertions; compression is not supported). */
export interface StoredRecord {
  readonly offset: bigint;
  readonly key: string | null;
  readonly value: string | null;
}

export interface KafkaBrokerOptions {
  /** Create a topic (1 partition) when a client asks for an unknown one; default true. */
  readonly autoCreateTopics?: boolean;
  /** Largest record batch accepted (Kafka's message.max.bytes); default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Node id this broker reports; default 1. */
  readonly nodeId?: number;
  /** Serve TLS with this certificate (an SSL listener). */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
  /** Require SASL PLAIN with these credentials before any other request (a SASL listener). */
  readonly sasl?: { readonly username: string; readonly password: string };
}

/** What one connection has done: SASL authentication is per connection. */
interface ConnectionState {
  authenticated: boolean;
  /** After a SaslHandshake v0, the next frame is the bare PLAIN token, not a request. */
  rawTokenNext: boolean;
}

export class KafkaBroker {
  readonly host = '127.0.0.1';
  #port = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #topics = new Map<string, PartitionLog[]>();
  readonly #producers = new Map<bigint, SequenceState>();
  /** Keyed by `${producerId}:${topic}:${partition}`. */
  readonly #sequences = new Map<string, SequenceState>();
  #nextProducerId = 1000n;
  readonly #autoCreate: boolean;
  readonly #maxMessageBytes: number;
  readonly #nodeId: number;
  readonly #sasl: { readonly username: string; readonly password: string } | undefined;
  /** Error codes answered, one per partition of the next Produce requests, before appending. */
  readonly produceFaults: number[] = [];
  /**
   * Produce requests to append and then answer by dropping the connection: a lost acknowledgement,
   * which the idempotent producer's sequences must turn into no duplicate when sent again.
   */
  dropProduceResponses = 0;
  /** SASL authentications that failed (wrong mechanism or credentials). */
  authFailures = 0;
  /** Every request seen, in order: which APIs and versions the clients negotiated. */
  readonly requests: { api: string; version: number; clientId: string | null }[] = [];
  /** Batches refused, with why (the tests assert a broken batch is noticed). */
  readonly refused: { topic: string; partition: number; code: number; reason: string }[] = [];

  constructor(options: KafkaBrokerOptions = {}) {
    this.#autoCreate = options.autoCreateTopics ?? true;
    this.#maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024;
    this.#nodeId = options.nodeId ?? 1;
    this.#sasl = options.sasl;
    const accept = (socket: Socket): void => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      this.#serve(socket);
    };
    this.#server =
      options.tls === undefined
        ? createServer(accept)
        : createTlsServer({ cert: options.tls.certPem, key: options.tls.keyPem }, accept);
    // A client refusing our certificate ends its handshake; that is the test's point, not an error.
    this.#server.on('tlsClientError', () => undefined);
  }

  get port(): number {
    return this.#port;
  }

  get address(): string {
    return `${this.host}:${this.#port}`;
  }

  /** Listen; `port` 0 picks a free one the first time, and later starts reuse the same one. */
  async start(port = this.#port): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, this.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    this.#port = address.port;
  }

  /** Stop listening and drop every connection (a crash, as the clients see it); the log stays. */
  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  createTopic(name: string, partitions = 1): void {
    if (this.#topics.has(name)) return;
    this.#topics.set(
      name,
      Array.from({ length: partitions }, () => ({ batches: [], next: 0n })),
    );
  }

  /** The records of a partition, decoded from the stored batches. */
  records(topic: string, partition = 0): StoredRecord[] {
    const log = this.#topics.get(topic)?.[partition];
    if (log === undefined) return [];
    return log.batches.flatMap((batch) => decodeRecords(batch.bytes));
  }

  // -------------------------------------------------------------------------------------------
  // Framing: int32 size + request. Requests of one connection are answered in order, as Kafka
  // guarantees, so they go through one promise chain per socket.

  #serve(socket: Socket): void {
    let pending: Buffer = Buffer.alloc(0);
    let chain = Promise.resolve();
    const state: ConnectionState = { authenticated: this.#sasl === undefined, rawTokenNext: false };
    socket.on('error', () => {
      // A client going away mid-request is normal; the socket is closed by Node.
    });
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (pending.length < 4 + size) break;
        const frame = pending.subarray(4, 4 + size);
        pending = pending.subarray(4 + size);
        chain = chain.then(async () => {
          if (socket.destroyed) return;
          try {
            const response = await this.#handle(frame, state);
            if (response === undefined) {
              socket.destroy();
              return;
            }
            const size = Buffer.alloc(4);
            size.writeInt32BE(response.length);
            socket.write(Buffer.concat([size, response]));
          } catch {
            // An unreadable request: Kafka closes the connection.
            socket.destroy();
          }
        });
      }
    });
  }

  /** The response frame (header + body), or undefined to close the connection. */
  async #handle(frame: Buffer, state: ConnectionState): Promise<Buffer | undefined> {
    if (state.rawTokenNext) {
      // SASL v0 flow: success is an empty frame; a failure closes the connection.
      state.rawTokenNext = false;
      if (!this.#checkPlain(frame)) return undefined;
      state.authenticated = true;
      return Buffer.alloc(0);
    }
    const header = new Reader(frame);
    const apiKey = header.int16();
    const version = header.int16();
    const correlationId = header.int32();
    const clientId = header.legacyString();
    const name = API_BY_KEY.get(apiKey);
    this.requests.push({ api: name ?? `key ${apiKey}`, version, clientId });

    if (name === 'ApiVersions') {
      // Answered even for a version we do not speak: in v0 form with UNSUPPORTED_VERSION, so that
      // the client learns the range and asks again.
      const supported = version <= API.ApiVersions.max;
      if (supported && version >= API.ApiVersions.flexibleFrom) header.taggedFields();
      const body = this.#apiVersions(supported ? version : 0, supported);
      // ApiVersions responses always have a v0 header (no tagged fields).
      return Buffer.concat([new Writer().int32(correlationId).toBuffer(), body]);
    }
    if (name === undefined || !this.#speaks(name)) return undefined;
    // A SASL listener answers nothing but the handshake before authentication; Kafka closes the
    // connection of a client that tries.
    if (!state.authenticated && !SASL_APIS.has(name)) return undefined;
    const api = API[name];
    if (version < api.min || version > api.max) return undefined;
    const flexible = version >= api.flexibleFrom;
    if (flexible) header.taggedFields();
    const body = new Reader(frame.subarray(header.offset), flexible);
    const out = new Writer(flexible);
    out.int32(correlationId);
    out.tags(); // response header v1 for flexible versions
    switch (name) {
      case 'Metadata':
        this.#metadata(version, body, out);
        break;
      case 'InitProducerId':
        this.#initProducerId(body, out);
        break;
      case 'Produce':
        this.#produce(version, body, out);
        if (this.dropProduceResponses > 0) {
          this.dropProduceResponses -= 1;
          return undefined;
        }
        break;
      case 'Fetch':
        await this.#fetch(version, body, out);
        break;
      case 'ListOffsets':
        this.#listOffsets(version, body, out);
        break;
      case 'SaslHandshake': {
        const mechanism = body.string();
        const ok = mechanism === 'PLAIN';
        if (!ok) this.authFailures += 1;
        state.rawTokenNext = ok && version === 0;
        out.int16(ok ? KafkaErrorCode.NONE : KafkaErrorCode.UNSUPPORTED_SASL_MECHANISM);
        out.array(['PLAIN'], (x, m) => x.string(m));
        break;
      }
      case 'SaslAuthenticate':
        this.#saslAuthenticate(version, body, out, state);
        break;
    }
    return out.toBuffer();
  }

  #apiVersions(version: number, supported: boolean): Buffer {
    const flexible = version >= API.ApiVersions.flexibleFrom;
    const w = new Writer(flexible);
    w.int16(supported ? KafkaErrorCode.NONE : KafkaErrorCode.UNSUPPORTED_VERSION);
    w.array(
      (Object.keys(API) as ApiName[]).filter((name) => this.#speaks(name)).map((name) => API[name]),
      (x, api) => {
        x.int16(api.key).int16(api.min).int16(api.max).tags();
      },
    );
    if (version >= 1) w.int32(0); // throttle_time_ms
    w.tags();
    return w.toBuffer();
  }

  #speaks(name: ApiName): boolean {
    return this.#sasl !== undefined || !SASL_APIS.has(name);
  }

  #checkPlain(token: Buffer): boolean {
    const [, username, password] = token.toString('utf8').split('\0');
    const ok = username === this.#sasl?.username && password === this.#sasl?.password;
    if (!ok) this.authFailures += 1;
    return ok;
  }

  /** PLAIN: the auth bytes are `authzid \0 username \0 password`. */
  #saslAuthenticate(version: number, r: Reader, w: Writer, state: ConnectionState): void {
    const bytes = r.bytes() ?? Buffer.alloc(0);
    r.tags();
    const ok = this.#checkPlain(bytes);
    if (ok) state.authenticated = true;
    w.int16(ok ? KafkaErrorCode.NONE : KafkaErrorCode.SASL_AUTHENTICATION_FAILED);
    // Kafka's wording: it never says which of the two was wrong.
    w.string(ok ? null : 'Authentication failed: Invalid username or password');
    w.bytes(Buffer.alloc(0));
    if (version >= 1) w.int64(0n); // session_lifetime_ms: no re-authentication
    w.tags();
  }

  #metadata(version: number, r: Reader, w: Writer): void {
    const topics = r.array(() => {
      if (version >= 10) r.bytesOf(16); // topic_id: we are asked by name
      const topicName = r.string();
      if (version >= 9) r.tags();
      return topicName;
    });
    const allowAutoCreate = version >= 4 ? r.int8() !== 0 : true;
    if (version >= 8 && version <= 10) r.int8(); // include_cluster_authorized_operations
    if (version >= 8) r.int8(); // include_topic_authorized_operations
    r.tags();

    const names = topics === null ? [...this.#topics.keys()] : topics.filter((t): t is string => t !== null);
    if (this.#autoCreate && allowAutoCreate) for (const topic of names) this.createTopic(topic);

    if (version >= 3) w.int32(0); // throttle_time_ms
    w.array([this.#nodeId], (x, nodeId) => {
      x.int32(nodeId).string(this.host).int32(this.#port);
      x.string(null); // rack
      x.tags();
    });
    if (version >= 2) w.string('exotrace-test-cluster');
    w.int32(this.#nodeId); // controller_id
    w.array(names, (x, topic) => {
      const partitions = this.#topics.get(topic);
      x.int16(partitions === undefined ? KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION : KafkaErrorCode.NONE);
      x.string(topic);
      if (version >= 10) x.raw(topicId(topic));
      x.bool(false); // is_internal
      x.array(partitions ?? [], (y, _log) => {
        const index = partitions?.indexOf(_log) ?? 0;
        y.int16(KafkaErrorCode.NONE).int32(index).int32(this.#nodeId);
        if (version >= 7) y.int32(0); // leader_epoch
        y.array([this.#nodeId], (z, n) => z.int32(n)); // replicas
        y.array([this.#nodeId], (z, n) => z.int32(n)); // isr
        if (version >= 5) y.array([], (z, n: number) => z.int32(n)); // offline_replicas
        y.tags();
      });
      if (version >= 8) x.int32(-2147483648); // topic_authorized_operations: not computed
      x.tags();
    });
    if (version >= 8 && version <= 10) w.int32(-2147483648);
    w.tags();
  }

  #initProducerId(r: Reader, w: Writer): void {
    r.string(); // transactional_id: transactions are not supported, only idempotence
    r.int32(); // transaction_timeout_ms
    const producerId = r.int64();
    const epoch = r.int16();
    r.tags();
    let id: bigint;
    let state: SequenceState | undefined;
    if (
      producerId >= 0n &&
      (state = this.#producers.get(producerId)) !== undefined &&
      epoch === state.epoch
    ) {
      // A known producer bumping its epoch: its sequences start again from 0.
      id = producerId;
      state.epoch += 1;
    } else {
      id = this.#nextProducerId++;
      state = { epoch: 0, recent: [] };
      this.#producers.set(id, state);
    }
    w.int32(0).int16(KafkaErrorCode.NONE).int64(id).int16(state.epoch).tags();
  }

  #produce(version: number, r: Reader, w: Writer): void {
    r.string(); // transactional_id
    r.int16(); // acks: every append is "replicated" at once, so 1 and all are the same here
    r.int32(); // timeout_ms
    const topics =
      r.array(() => {
        const name = r.string() ?? '';
        const partitions = r.array(() => ({ index: r.int32(), records: r.bytes() ?? Buffer.alloc(0) })) ?? [];
        return { name, partitions };
      }) ?? [];
    w.array(topics, (x, topic) => {
      x.string(topic.name);
      x.array(topic.partitions, (y, p) => {
        const result = this.#append(topic.name, p.index, p.records);
        y.int32(p.index).int16(result.code).int64(result.baseOffset);
        y.int64(-1n); // log_append_time: CreateTime topics
        if (version >= 5) y.int64(0n); // log_start_offset
      });
    });
    w.int32(0); // throttle_time_ms
  }

  #append(topic: string, partition: number, records: Buffer): { code: number; baseOffset: bigint } {
    const fail = (code: number, reason: string): { code: number; baseOffset: bigint } => {
      this.refused.push({ topic, partition, code, reason });
      return { code, baseOffset: -1n };
    };
    const fault = this.produceFaults.shift();
    if (fault !== undefined) return fail(fault, 'injected fault');
    if (this.#autoCreate) this.createTopic(topic);
    const log = this.#topics.get(topic)?.[partition];
    if (log === undefined) return fail(KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'no such partition');

    // Validate every batch before appending any, so that a request is all or nothing.
    const batches: Buffer[] = [];
    for (let at = 0; at < records.length;) {
      if (records.length - at < BATCH_HEADER_BYTES)
        return fail(KafkaErrorCode.CORRUPT_MESSAGE, 'short batch');
      const size = 12 + records.readInt32BE(at + BATCH_LENGTH_AT);
      if (size < BATCH_HEADER_BYTES || at + size > records.length)
        return fail(KafkaErrorCode.CORRUPT_MESSAGE, 'batch length past the records');
      const batch = records.subarray(at, at + size);
      at += size;
      if (batch.readInt8(MAGIC_AT) !== 2)
        return fail(KafkaErrorCode.CORRUPT_MESSAGE, 'not a v2 record batch');
      // The CRC covers from the attributes to the end: base offset, length and leader epoch are
      // left out so that the broker can set them without recomputing it.
      if (batch.readUInt32BE(CRC_AT) !== crc32c(batch, ATTRIBUTES_AT))
        return fail(KafkaErrorCode.CORRUPT_MESSAGE, 'CRC32C mismatch');
      if (batch.readInt32BE(RECORD_COUNT_AT) !== batch.readInt32BE(LAST_OFFSET_DELTA_AT) + 1)
        return fail(KafkaErrorCode.INVALID_RECORD, 'record count and last offset delta disagree');
      if (size > this.#maxMessageBytes)
        return fail(KafkaErrorCode.MESSAGE_TOO_LARGE, `batch of ${size} bytes over ${this.#maxMessageBytes}`);
      batches.push(batch);
    }
    if (batches.length === 0) return fail(KafkaErrorCode.CORRUPT_MESSAGE, 'no batch');

    let firstOffset: bigint | undefined;
    for (const batch of batches) {
      const producerId = batch.readBigInt64BE(PRODUCER_ID_AT);
      const delta = batch.readInt32BE(LAST_OFFSET_DELTA_AT);
      let state: SequenceState | undefined;
      let baseSeq = -1;
      if (producerId >= 0n) {
        const epoch = batch.readInt16BE(PRODUCER_EPOCH_AT);
        baseSeq = batch.readInt32BE(BASE_SEQUENCE_AT);
        const key = `${producerId}:${topic}:${partition}`;
        state = this.#sequences.get(key);
        if (state === undefined || state.epoch !== epoch) {
          state = { epoch, recent: [] };
          this.#sequences.set(key, state);
        }
        // A batch sent again (its acknowledgement was lost): answer with its first offset, append
        // nothing. This is what makes the idempotent producer's own retries duplicate-free.
        const seen = state.recent.find((b) => b.baseSeq === baseSeq && b.lastSeq === baseSeq + delta);
        if (seen !== undefined) {
          firstOffset ??= seen.baseOffset;
          continue;
        }
        const expected = (state.recent.at(-1)?.lastSeq ?? -1) + 1;
        if (baseSeq !== expected)
          return fail(
            KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            `sequence ${baseSeq}, expected ${expected}`,
          );
      }
      const baseOffset = log.next;
      const stored = Buffer.from(batch); // a copy: the request buffer is reused
      stored.writeBigInt64BE(baseOffset, 0);
      log.batches.push({
        baseOffset,
        lastOffset: baseOffset + BigInt(delta),
        maxTimestamp: stored.readBigInt64BE(MAX_TIMESTAMP_AT),
        bytes: stored,
      });
      log.next = baseOffset + BigInt(delta) + 1n;
      firstOffset ??= baseOffset;
      if (state !== undefined) {
        state.recent.push({ baseSeq, lastSeq: baseSeq + delta, baseOffset });
        // Kafka remembers the last five batches per producer and partition.
        if (state.recent.length > 5) state.recent.shift();
      }
    }
    return { code: KafkaErrorCode.NONE, baseOffset: firstOffset ?? -1n };
  }

  async #fetch(version: number, r: Reader, w: Writer): Promise<void> {
    r.int32(); // replica_id
    const maxWaitMs = r.int32();
    r.int32(); // min_bytes
    r.int32(); // max_bytes
    r.int8(); // isolation_level
    if (version >= 7) {
      r.int32(); // session_id
      r.int32(); // session_epoch
    }
    const topics =
      r.array(() => {
        const name = r.string() ?? '';
        const partitions =
          r.array(() => {
            const index = r.int32();
            if (version >= 9) r.int32(); // current_leader_epoch
            const offset = r.int64();
            if (version >= 5) r.int64(); // log_start_offset
            const maxBytes = r.int32();
            return { index, offset, maxBytes };
          }) ?? [];
        return { name, partitions };
      }) ?? [];
    // Sessions, forgotten topics and rack are not needed: every fetch is a full fetch.

    const answer = topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p) => this.#read(topic.name, p.index, p.offset, p.maxBytes)),
    }));
    // Nothing to return: wait a little as a real broker would (up to max_wait_ms), so that a
    // polling consumer does not spin.
    const empty = answer.every((t) => t.partitions.every((p) => p.records.length === 0 && p.code === 0));
    if (empty && maxWaitMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(maxWaitMs, 100)));

    w.int32(0); // throttle_time_ms
    if (version >= 7) w.int16(KafkaErrorCode.NONE).int32(0); // error_code, session_id
    w.array(answer, (x, topic) => {
      x.string(topic.name);
      x.array(topic.partitions, (y, p) => {
        y.int32(p.index).int16(p.code).int64(p.highWatermark);
        y.int64(p.highWatermark); // last_stable_offset: no transactions
        if (version >= 5) y.int64(0n); // log_start_offset
        y.array([], () => undefined); // aborted_transactions
        if (version >= 11) y.int32(-1); // preferred_read_replica
        y.bytes(p.records);
      });
    });
  }

  #read(
    topic: string,
    index: number,
    offset: bigint,
    maxBytes: number,
  ): { index: number; code: number; highWatermark: bigint; records: Buffer } {
    const log = this.#topics.get(topic)?.[index];
    if (log === undefined)
      return {
        index,
        code: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        highWatermark: -1n,
        records: Buffer.alloc(0),
      };
    if (offset < 0n || offset > log.next)
      return {
        index,
        code: KafkaErrorCode.OFFSET_OUT_OF_RANGE,
        highWatermark: log.next,
        records: Buffer.alloc(0),
      };
    // Whole batches from the one holding `offset` (the consumer skips the records before it), up
    // to maxBytes, but always at least one so that a large batch cannot stall the consumer.
    const out: Buffer[] = [];
    let size = 0;
    for (const batch of log.batches) {
      if (batch.lastOffset < offset) continue;
      if (out.length > 0 && size + batch.bytes.length > maxBytes) break;
      out.push(batch.bytes);
      size += batch.bytes.length;
    }
    return { index, code: KafkaErrorCode.NONE, highWatermark: log.next, records: Buffer.concat(out) };
  }

  #listOffsets(version: number, r: Reader, w: Writer): void {
    r.int32(); // replica_id
    if (version >= 2) r.int8(); // isolation_level
    const topics =
      r.array(() => {
        const name = r.string() ?? '';
        const partitions =
          r.array(() => {
            const index = r.int32();
            if (version >= 4) r.int32(); // current_leader_epoch
            return { index, timestamp: r.int64() };
          }) ?? [];
        return { name, partitions };
      }) ?? [];
    if (version >= 2) w.int32(0); // throttle_time_ms
    w.array(topics, (x, topic) => {
      x.string(topic.name);
      x.array(topic.partitions, (y, p) => {
        const log = this.#topics.get(topic.name)?.[p.index];
        if (log === undefined) {
          y.int32(p.index).int16(KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION).int64(-1n).int64(-1n);
        } else {
          // -2: earliest, -1: latest, otherwise the first batch with a timestamp at or after it.
          let offset: bigint;
          if (p.timestamp === -2n) offset = 0n;
          else if (p.timestamp === -1n) offset = log.next;
          else offset = log.batches.find((b) => b.maxTimestamp >= p.timestamp)?.baseOffset ?? log.next;
          y.int32(p.index).int16(KafkaErrorCode.NONE).int64(-1n).int64(offset);
        }
        if (version >= 4) y.int32(0); // leader_epoch
      });
    });
  }
}

export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const broker = new KafkaBroker(options);
  await broker.start(0);
  return broker;
}

/** A stable 16-byte topic id derived from the name (Metadata v10+ carries one). */
function topicId(name: string): Buffer {
  const id = Buffer.alloc(16);
  Buffer.from(name, 'utf8').copy(id, 0, 0, 16);
  id[15] = (id[15] ?? 0) | 1; // never the all-zero "no id"
  return id;
}

// ---------------------------------------------------------------------------------------------
// Records inside a batch (uncompressed): varint-prefixed, with zigzag varints.

function decodeRecords(batch: Buffer): StoredRecord[] {
  const attributes = batch.readInt16BE(ATTRIBUTES_AT);
  if ((attributes & 0x7) !== 0) throw new Error('compressed batches are not decoded by this emulator');
  const base = batch.readBigInt64BE(0);
  const count = batch.readInt32BE(RECORD_COUNT_AT);
  const r = new Reader(batch);
  r.offset = BATCH_HEADER_BYTES;
  const varint = (): number => {
    const u = r.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  };
  const out: StoredRecord[] = [];
  for (let i = 0; i < count; i++) {
    varint(); // length
    r.int8(); // attributes
    varint(); // timestamp delta
    const offsetDelta = varint();
    const keyLength = varint();
    const key = keyLength < 0 ? null : r.bytesOf(keyLength).toString('utf8');
    const valueLength = varint();
    const value = valueLength < 0 ? null : r.bytesOf(valueLength).toString('utf8');
    const headers = varint();
    for (let h = 0; h < headers; h++) {
      r.bytesOf(varint());
      const l = varint();
      if (l > 0) r.bytesOf(l);
    }
    out.push({ offset: base + BigInt(offsetDelta), key, value });
  }
  return out;
}
