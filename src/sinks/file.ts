/**
 * The file output: NDJSON appended to one file, exactly once across crashes (collection.md,
 * "Identity, dedupe and delivery").
 *
 * How: `send` writes a batch and fsyncs it before answering ok with `meta` = where the file stands
 * (which file, its byte offset, the rotation generation); the delivery loop stores that meta in the
 * same transaction as the acknowledgement. On `start`, anything after the acknowledged offset was
 * written but never acknowledged (a crash between write and ack, a half-written line): it is cut
 * off, and the outbox delivers those events again. A reader therefore never sees a duplicate or a
 * torn line.
 *
 * Files are identified by device and inode, not by name, so that a crash in the middle of a
 * rotation (old file renamed, new one holding an unacknowledged batch) is told apart from a file
 * that is simply shorter or longer than expected.
 *
 * Nothing is ever cut that is not provably our own unacknowledged tail. A small claim beside the
 * output (`.NAME.exotrace`) records which file at `path` is ours and, synced before each write,
 * the offset that write starts at and the size it ends at (and, after its acknowledgement, that it
 * was acknowledged). A tail is cut only when the file is the claimed one, the state acknowledged
 * exactly the claimed write's start, and the file ends inside the claimed write. A matching inode
 * alone proves the file is ours, not its tail: bytes appended by someone else (`cat >>`), or a state
 * restored from a backup older than the file, also leave a file longer than acknowledged. Such a
 * file, and any other file found at `path` with data in it (edited with `sed -i`, restored from a
 * backup, copied and moved back: a new inode), is moved aside whole to `path.kept-TIMESTAMP`, said,
 * and a new file is started at `path`: its content is kept, and the output continues without a gap
 * of its own.
 */
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rename, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { abortReason } from '../util/abort.js';
import type { OutboxEvent } from '../core/outbox-event.js';
import {
  SinkError,
  type HealthFinding,
  type HealthResult,
  type SendResult,
  type Sink,
  type SinkNotice,
  type SinkStartContext,
} from './types.js';
import { encodeNdjson } from './ndjson.js';
import { once } from '../util/once.js';

export interface FileSinkOptions {
  readonly name: string;
  readonly path: string;
  /** Rotate when the next batch would make the file larger than this; a batch is never split. */
  readonly rotateBytes?: number;
  /** Rotated files kept (`path.1` newest … `path.N`); default 5. */
  readonly keep?: number;
  readonly onNotice?: (notice: SinkNotice) => void;
}

export const DEFAULT_KEEP = 5;

/** What `meta` holds: enough to find the acknowledged end of the output again. */
export interface FileMeta {
  readonly v: 1;
  /** `dev:ino` of the file the offset refers to; absent where the file system has no inodes. */
  readonly file?: string;
  /** Bytes of that file that are acknowledged. */
  readonly offset: number;
  /** Files started so far (rotations, or new files after the file disappeared). */
  readonly generation: number;
}

export function createFileSink(options: FileSinkOptions): Sink {
  return new FileSink(options);
}

export function parseFileMeta(meta: string): FileMeta {
  let value: unknown;
  try {
    value = JSON.parse(meta);
  } catch {
    throw new SinkError(`file output: unreadable acknowledged state ${JSON.stringify(meta)}`);
  }
  const m = value as Partial<Record<keyof FileMeta, unknown>> | null;
  if (
    typeof m !== 'object' ||
    m === null ||
    m.v !== 1 ||
    !Number.isSafeInteger(m.offset) ||
    !Number.isSafeInteger(m.generation) ||
    (m.file !== undefined && typeof m.file !== 'string')
  ) {
    throw new SinkError(`file output: unreadable acknowledged state ${JSON.stringify(meta)}`);
  }
  return {
    v: 1,
    offset: m.offset as number,
    generation: m.generation as number,
    ...(typeof m.file === 'string' ? { file: m.file } : {}),
  };
}

/**
 * The claim kept beside the output: which file at `path` this output created or took, in which
 * generation, from which state, and where its last write starts and ends. It is written (and
 * synced) before anything is written to that file, so that after a crash (or a lost or restored
 * state) the file can be told ours or someone else's, and its tail ours or not.
 */
interface FileClaim {
  readonly v: 1;
  /** `dev:ino` of the file. */
  readonly file: string;
  readonly generation: number;
  /** The state it is written from (`StateStore.stateId`), when the output was started from one. */
  readonly state?: string;
  /** The last write: the offset it starts at and the size the file has once it is complete. */
  readonly from?: number;
  readonly to?: number;
  /** Bytes of the file known acknowledged (`to` once the last write's acknowledgement is stored). */
  readonly acked?: number;
}

/** The claim's record of the last write, kept in memory as it is written. */
interface ClaimedWrite {
  readonly from: number;
  readonly to: number;
  readonly acked: number;
}

/** Where an output stands in a file with nothing written past `size`: all of it acknowledged. */
function settledAt(size: number): ClaimedWrite {
  return { from: size, to: size, acked: size };
}

/**
 * Whether the file at `path` (`size` bytes), longer than the state acknowledged (`ackedOffset`),
 * ends inside our last write and that write was never acknowledged: the only tail that is ours to
 * cut. A state restored from an older backup acknowledged less than the claim's write starts at
 * (or the claim says that write was acknowledged); bytes appended by someone else end past it.
 */
function isOwnUnackedTail(
  claim: FileClaim | undefined,
  file: FileInfo,
  generation: number,
  ackedOffset: number,
): boolean {
  if (claim === undefined || file.id === undefined || claim.file !== file.id) return false;
  if (claim.generation !== generation || claim.from === undefined || claim.to === undefined) return false;
  return (
    claim.from === ackedOffset &&
    (claim.acked ?? claim.from) < claim.to &&
    file.size > claim.from &&
    file.size <= claim.to
  );
}

/** Where the claim of the output `path` is kept: a hidden file in the same folder. */
export function claimPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.exotrace`);
}

async function readClaim(path: string): Promise<FileClaim | undefined> {
  let text: string;
  try {
    text = await readFile(claimPath(path), 'utf8');
  } catch (error) {
    // ENOTDIR: a file on the way; the walk up finds it and says so.
    if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return undefined;
    throw error;
  }
  try {
    const c = JSON.parse(text) as Partial<Record<keyof FileClaim, unknown>> | null;
    if (
      typeof c === 'object' &&
      c !== null &&
      c.v === 1 &&
      typeof c.file === 'string' &&
      Number.isSafeInteger(c.generation)
    ) {
      const offset = (value: unknown): number | undefined =>
        Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : undefined;
      const from = offset(c.from);
      const to = offset(c.to);
      const acked = offset(c.acked);
      return {
        v: 1,
        file: c.file,
        generation: c.generation as number,
        ...(typeof c.state === 'string' ? { state: c.state } : {}),
        // A claim from before the write was recorded (an older exotrace) proves no tail.
        ...(from !== undefined && to !== undefined && from <= to ? { from, to } : {}),
        ...(acked === undefined ? {} : { acked }),
      };
    }
  } catch {
    // Unreadable: no proof of anything, which is what undefined says.
  }
  return undefined;
}

/** Why a file is moved aside: another file at `path`, or bytes appended to ours. */
const REPLACED =
  'is not the file this output wrote (another file was put in its place: edited in place, restored or copied back)';
const APPENDED = 'holds bytes after what this output wrote that it did not write (appended by someone else)';

/** A name beside `path` that nothing uses yet, for a foreign file moved aside. */
async function keptName(path: string, now: Date): Promise<string> {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  for (let n = 0; ; n++) {
    const candidate = `${path}.kept-${stamp}${n === 0 ? '' : `-${n}`}`;
    if ((await fileInfo(candidate)) === undefined) return candidate;
  }
}

interface FileInfo {
  /** Undefined where inodes are meaningless (0). */
  readonly id: string | undefined;
  readonly size: number;
}

async function fileInfo(path: string): Promise<FileInfo | undefined> {
  try {
    return toInfo(await stat(path, { bigint: true }));
  } catch (error) {
    // ENOTDIR: a file on the way; the walk up finds it and says so.
    if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return undefined;
    throw error;
  }
}

function toInfo(s: { dev: bigint; ino: bigint; size: bigint }): FileInfo {
  return { id: s.ino === 0n ? undefined : `${s.dev}:${s.ino}`, size: Number(s.size) };
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/** Make a created or renamed entry durable (a fsync of the file does not cover its name). */
async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Windows and some file systems cannot open or fsync a directory; the data itself is synced.
  } finally {
    await handle?.close();
  }
}

class FileSink implements Sink {
  readonly name: string;
  readonly #path: string;
  readonly #rotateBytes: number | undefined;
  readonly #keep: number;
  readonly #onNotice: ((notice: SinkNotice) => void) | undefined;
  #handle: FileHandle | undefined;
  #id: string | undefined;
  /** Bytes of the current file that are ours and complete; anything beyond is cut before writing. */
  #size = 0;
  #generation = 0;
  #started = false;
  /** The state this output is written from, when started from one (recorded in the claim). */
  #stateId: string | undefined;
  /** What the claim says of the current file's last write (recorded before it is written). */
  #claimed: ClaimedWrite = settledAt(0);
  /** The last batch written, so that sending it again (its ack failed) replaces it. */
  #last: { firstSeq: number; lastSeq: number; offsetBefore: number; generation: number } | undefined;
  readonly close: () => Promise<void>;

  constructor(options: FileSinkOptions) {
    this.name = options.name;
    this.#path = options.path;
    this.#rotateBytes = options.rotateBytes;
    this.#keep = Math.max(1, options.keep ?? DEFAULT_KEEP);
    this.#onNotice = options.onNotice;
    this.close = once(async () => {
      const handle = this.#handle;
      this.#handle = undefined;
      await handle?.close();
    });
  }

  #notice(kind: SinkNotice['kind'], message: string): void {
    this.#onNotice?.({ sink: this.name, kind, message: `file output ${this.name}: ${message}` });
  }

  #meta(): string {
    const meta: FileMeta = {
      v: 1,
      ...(this.#id === undefined ? {} : { file: this.#id }),
      offset: this.#size,
      generation: this.#generation,
    };
    return JSON.stringify(meta);
  }

  /** Open (creating with 0600) the file at `path` for appending; `exclusive`: only a new file. */
  async #openCurrent(exclusive = false): Promise<FileInfo> {
    await this.#handle?.close();
    this.#handle = undefined;
    const handle = await open(this.#path, exclusive ? 'ax' : 'a', 0o600);
    this.#handle = handle;
    const info = toInfo(await handle.stat({ bigint: true }));
    this.#id = info.id;
    await syncDir(dirname(this.#path));
    return info;
  }

  /** Record (durably, before anything is written to it) that the current file is ours. */
  async #claim(): Promise<void> {
    if (this.#id === undefined) return;
    const claim: FileClaim = {
      v: 1,
      file: this.#id,
      generation: this.#generation,
      ...(this.#stateId === undefined ? {} : { state: this.#stateId }),
      ...this.#claimed,
    };
    const target = claimPath(this.#path);
    const temp = `${target}.tmp`;
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(claim) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    // A rename, so that a crash leaves the old claim or the new one, never half of one.
    await rename(temp, target);
    await syncDir(dirname(this.#path));
  }

  async #truncate(size: number): Promise<void> {
    if (this.#handle === undefined) throw new SinkError(`file output ${this.name}: not started`);
    await this.#handle.truncate(size);
    await this.#handle.sync();
  }

  /**
   * A file at `path` that is not ours, or not only ours: renamed whole to a name of its own, never
   * cut. `why` says what was found.
   */
  async #moveAside(size: number, why = REPLACED): Promise<void> {
    await this.#handle?.close();
    this.#handle = undefined;
    const kept = await keptName(this.#path, new Date());
    await rename(this.#path, kept);
    await syncDir(dirname(this.#path));
    this.#notice(
      'replaced',
      `${this.#path} ${why}; nothing was cut: its ${size} bytes were moved whole to ${kept}, and a new file is started at ${this.#path}`,
    );
  }

  async start(meta: string | undefined, context: SinkStartContext = {}): Promise<string | undefined> {
    const acked = meta === undefined ? undefined : parseFileMeta(meta);
    // 0700: the folder holds message data, like the state folder.
    await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
    this.#last = undefined;
    this.#stateId = context.stateId;

    if (acked === undefined) {
      // Nothing acknowledged yet: keep what the file holds (it is not ours to delete) and record
      // where our output begins before anything is sent, so a crash before the first ack is undone.
      await this.#refuseAnotherStatesFile();
      const info = await this.#openCurrent();
      this.#size = info.size;
      this.#generation = 0;
      this.#claimed = settledAt(info.size);
      await this.#claim();
      if (info.size > 0)
        this.#notice(
          'new-file',
          `appending after ${info.size} bytes already in ${this.#path}, which this state did not write (if an earlier exotrace wrote them from a state since lost, the events still in the API's history are written again)`,
        );
      this.#started = true;
      return this.#meta();
    }
    this.#started = true;

    this.#generation = acked.generation;
    const next = acked.generation + 1;
    const current = await fileInfo(this.#path);
    if (current !== undefined && (acked.file === undefined || current.id === acked.file)) {
      // The acknowledged file itself.
      if (current.size === acked.offset) {
        await this.#openCurrent();
        this.#size = current.size;
        this.#claimed = settledAt(current.size);
        await this.#claim();
        return undefined;
      }
      if (isOwnUnackedTail(await readClaim(this.#path), current, acked.generation, acked.offset)) {
        // Our last write, never acknowledged (a crash in between): cut, and delivered again.
        // Cut first, then the claim: a crash in between finds the file at its acknowledged size.
        await this.#openCurrent();
        await this.#truncate(acked.offset);
        this.#size = acked.offset;
        this.#claimed = settledAt(acked.offset);
        await this.#claim();
        this.#notice(
          'truncated',
          `removed ${current.size - acked.offset} unacknowledged bytes after offset ${acked.offset} (written before a crash; they are delivered again)`,
        );
        return undefined;
      }
      // Longer than acknowledged, but not by our last unacknowledged write: appended to by someone
      // else, or this state is older than the file (restored from a backup) and never knew of the
      // rest, which would then be lost for good. Or shorter: cut by someone else. Kept whole.
      await this.#moveAside(
        current.size,
        current.size > acked.offset
          ? `holds ${current.size - acked.offset} bytes after the ${acked.offset} this state acknowledged that are not this output's last unacknowledged write (appended by someone else, or the state is older than the file: restored from a backup)`
          : `is shorter than this state acknowledged (${current.size} < ${acked.offset} bytes): it was cut by someone else, or restored from a backup`,
      );
      return this.#startAfterAcked(next);
    }

    // The acknowledged file is no longer at `path`: renamed (by our rotation, with a crash before
    // the next ack, or by someone else), deleted, or replaced by another file.
    const rotated = await fileInfo(`${this.#path}.1`);
    if (rotated?.id !== undefined && rotated.id === acked.file && rotated.size !== acked.offset) {
      // Our rotation only renames a file whose writes are all acknowledged, so whatever differs is
      // not our tail (appended to since, or this state is older than the file): never cut.
      this.#notice(
        'new-file',
        `${this.#path}.1, the file this state acknowledged ${acked.offset} bytes of, holds ${rotated.size}: kept as it is (changed by someone else, or the state is older than the file: restored from a backup)`,
      );
    }
    if (current !== undefined && current.size > 0) {
      const claim = await readClaim(this.#path);
      // Only its first write, never acknowledged (an acknowledged one would be the state's file).
      if (isOwnUnackedTail(claim, current, next, 0)) {
        // Created by our own rotation after the acknowledged file (its claim was written before
        // its first line): all of it is unacknowledged, and delivered again.
        await this.#openCurrent();
        await this.#truncate(0);
        this.#generation = next;
        this.#size = 0;
        this.#claimed = settledAt(0);
        await this.#claim();
        this.#notice(
          'truncated',
          `removed ${current.size} unacknowledged bytes from ${this.#path}, written after the acknowledged file was rotated away`,
        );
        return this.#meta();
      }
      await this.#moveAside(current.size);
    } else {
      this.#notice(
        'new-file',
        `the acknowledged file is no longer at ${this.#path} (rotated or deleted): starting a new file`,
      );
    }
    return this.#startAfterAcked(next);
  }

  /** A new file at `path`, in generation `next`, after the acknowledged file was left behind. */
  async #startAfterAcked(next: number): Promise<string> {
    const info = await this.#openCurrent();
    this.#generation = next;
    // 0, unless a file appeared at `path` in the meantime: that is kept too.
    this.#size = info.size;
    this.#claimed = settledAt(info.size);
    await this.#claim();
    return this.#meta();
  }

  async acknowledged(meta: string | undefined): Promise<void> {
    if (meta === undefined || !this.#started) return;
    const acked = parseFileMeta(meta);
    if (acked.file !== this.#id || acked.generation !== this.#generation) return;
    if (acked.offset === this.#claimed.acked || acked.offset > this.#claimed.to) return;
    // A state restored later from a backup taken before this ack is told apart from a crash
    // before it: the claim says the write was acknowledged, so it is never cut.
    this.#claimed = { ...this.#claimed, acked: acked.offset };
    await this.#claim();
  }

  /**
   * A state that never acknowledged anything to this output, finding a file that exotrace wrote
   * from another state: the old state was deleted, emptied or replaced, and this one would append
   * every event still in the API's history a second time. The file says so by its claim.
   */
  async #refuseAnotherStatesFile(): Promise<void> {
    if (this.#stateId === undefined) return;
    const current = await fileInfo(this.#path);
    if (current === undefined || current.size === 0 || current.id === undefined) return;
    const claim = await readClaim(this.#path);
    if (claim?.file !== current.id || claim.state === undefined || claim.state === this.#stateId) return;
    throw new SinkError(
      `file output ${this.name}: ${this.#path} holds ${current.size} bytes written from another state (${claim.state}; this one is ${this.#stateId}, new: the state was deleted, emptied or replaced), so appending would write a second copy of every event still in the API's history. Restore the state that wrote it into the stateDir, or move ${this.#path} away (or delete it) to start it over from this state`,
    );
  }

  async send(batch: readonly OutboxEvent[], signal: AbortSignal): Promise<SendResult> {
    if (signal.aborted) throw abortReason(signal);
    if (!this.#started) throw new SinkError(`file output ${this.name}: send before start`);
    const first = batch[0];
    const lastEvent = batch.at(-1);
    if (first === undefined || lastEvent === undefined) return { status: 'ok', meta: this.#meta() };

    const last = this.#last;
    if (last !== undefined && first.seq <= last.lastSeq) {
      // The previous batch was written but not acknowledged (its ack failed) and is sent again.
      if (first.seq !== last.firstSeq || last.generation !== this.#generation) {
        throw new SinkError(
          `file output ${this.name}: events from ${first.seq} were already written; restart the sink from its acknowledged state`,
        );
      }
      this.#size = last.offsetBefore;
    }

    try {
      if (this.#handle === undefined) await this.#reopenAfterFailure();
      else await this.#followPath();
      const handle = this.#handle;
      if (handle === undefined) throw new SinkError(`file output ${this.name}: no open file`);
      // Cut what we know is ours and not complete (a failed write, a batch sent again): past what
      // is complete, within our last write. Bytes past that were added by someone else: kept.
      const actual = Number((await handle.stat({ bigint: true })).size);
      if (actual > this.#claimed.to || (actual > this.#size && this.#size < this.#claimed.from)) {
        await this.#startNewFile({ id: this.#id, size: actual }, false, APPENDED);
      } else if (actual > this.#size) await handle.truncate(this.#size);
      else if (actual < this.#size) {
        this.#notice('truncated', `${this.#path} was truncated by someone else to ${actual} bytes`);
        this.#size = actual;
      }

      const data = encodeNdjson(batch);
      if (this.#rotateBytes !== undefined && this.#size > 0 && this.#size + data.length > this.#rotateBytes) {
        await this.#rotate();
      }
      const offsetBefore = this.#size;
      const current = this.#handle;
      if (current === undefined) throw new SinkError(`file output ${this.name}: no open file`);
      // The claim first, synced: after a crash in the middle of the write, what it wrote is
      // provably ours to cut; without the claim it would be kept.
      this.#claimed = { from: offsetBefore, to: offsetBefore + data.length, acked: this.#claimed.acked };
      await this.#claim();
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await current.write(data, written, data.length - written);
        written += bytesWritten;
      }
      await current.sync();
      this.#size = offsetBefore + data.length;
      this.#last = {
        firstSeq: first.seq,
        lastSeq: lastEvent.seq,
        offsetBefore,
        generation: this.#generation,
      };
      return { status: 'ok', meta: this.#meta() };
    } catch (error) {
      // Disk full, I/O error: nothing is acknowledged, and the next send cuts the partial write.
      return {
        status: 'retryable',
        error: new Error(`file output ${this.name}: writing ${this.#path} failed`, { cause: error }),
      };
    }
  }

  /** A rotation failed half-way (the old file closed, maybe renamed): open whatever is at `path`. */
  async #reopenAfterFailure(): Promise<void> {
    const found = await fileInfo(this.#path);
    if (this.#id !== undefined && found?.id === this.#id) {
      await this.#openCurrent();
      return;
    }
    // Our own rotation moved it (and then failed to open the new file): nothing to announce.
    await this.#startNewFile(found, false);
  }

  /** Someone renamed, deleted or replaced the file while we run: start a new one at `path`. */
  async #followPath(): Promise<void> {
    if (this.#id === undefined) return;
    const found = await fileInfo(this.#path);
    if (found?.id === this.#id) return;
    await this.#startNewFile(found, true);
  }

  /**
   * The file we wrote is no longer at `path`, or holds what we did not write (`why`): keep whatever
   * is there now, and go on in a new file.
   */
  async #startNewFile(found: FileInfo | undefined, movedBySomeoneElse: boolean, why?: string): Promise<void> {
    const replaced = found !== undefined && found.size > 0;
    if (replaced) await this.#moveAside(found.size, why);
    const info = await this.#openCurrent();
    this.#generation += 1;
    // 0, or what an empty file put there (logrotate's `create`) got since: never cut.
    this.#size = info.size;
    this.#claimed = settledAt(info.size);
    this.#last = undefined;
    await this.#claim();
    if (!replaced && movedBySomeoneElse)
      this.#notice('reopened', `${this.#path} was renamed or deleted by someone else: started a new file`);
  }

  /** `path` → `path.1` → … → `path.keep` (the oldest is overwritten), then a new `path`. */
  async #rotate(): Promise<void> {
    await this.#handle?.close();
    this.#handle = undefined;
    for (let i = this.#keep - 1; i >= 1; i--) {
      try {
        await rename(`${this.#path}.${i}`, `${this.#path}.${i + 1}`);
      } catch (error) {
        // A gap (fewer rotations so far, or a crash in the middle of a previous shift).
        if (!isCode(error, 'ENOENT')) throw error;
      }
    }
    await rename(this.#path, `${this.#path}.1`);
    // Exclusive: the claim says all of the new file is ours, so it must really be new.
    await this.#openCurrent(true);
    this.#generation += 1;
    this.#size = 0;
    this.#claimed = settledAt(0);
    await this.#claim();
    this.#notice('rotated', `rotated ${this.#path} to ${this.#path}.1`);
  }

  /**
   * Writable as `start` would use it: an existing `path` must be a regular file we may write; a
   * folder not there yet is fine when its nearest existing ancestor is a folder we may write in
   * (`start` creates the rest), so doctor does not fail a setup that `run` accepts.
   */
  async healthcheck(signal: AbortSignal): Promise<HealthResult> {
    if (signal.aborted) throw abortReason(signal);
    const failed = (why: string, finding: HealthFinding, cause?: unknown): HealthResult => ({
      status: 'failed',
      error: new Error(`file output ${this.name}: ${why}`, cause === undefined ? {} : { cause }),
      finding,
    });
    let file: Awaited<ReturnType<typeof stat>> | undefined;
    try {
      file = await statOrMissing(this.#path);
    } catch (error) {
      // A folder on the way we may not look into (EACCES).
      return failed(
        `cannot reach ${this.#path}`,
        {
          code: 'not_writable',
          key: 'path',
          fix: `let the user exotrace runs as read the folders of ${this.#path}, or choose another path`,
        },
        error,
      );
    }
    if (file !== undefined) {
      if (!file.isFile())
        return failed(`${this.#path} exists and is not a regular file`, {
          code: 'not_writable',
          key: 'path',
          fix: `${this.#path} is a folder or another kind of file: give path the name of a file`,
        });
      try {
        await access(this.#path, constants.W_OK);
      } catch (error) {
        return failed(
          `cannot write ${this.#path}`,
          {
            code: 'not_writable',
            key: 'path',
            fix: `let the user exotrace runs as write ${this.#path}, or choose another path`,
          },
          error,
        );
      }
      return { status: 'ok' };
    }
    let folder = dirname(this.#path);
    let found: Awaited<ReturnType<typeof stat>> | undefined;
    try {
      found = await statOrMissing(folder);
      while (found === undefined && dirname(folder) !== folder) {
        folder = dirname(folder);
        found = await statOrMissing(folder);
      }
    } catch (error) {
      return failed(
        `cannot reach ${folder}`,
        {
          code: 'not_writable',
          key: 'path',
          fix: `let the user exotrace runs as read ${folder}, or choose another path`,
        },
        error,
      );
    }
    if (found !== undefined && !found.isDirectory())
      return failed(`${folder} is not a folder`, {
        code: 'not_found',
        key: 'path',
        fix: `${folder} is a file, so the folder ${dirname(this.#path)} cannot be created there: check path`,
      });
    try {
      await access(folder, constants.W_OK);
      return { status: 'ok' };
    } catch (error) {
      return failed(
        `cannot write in ${folder}`,
        {
          code: 'not_writable',
          key: 'path',
          fix: `let the user exotrace runs as write in ${folder}, or choose another path`,
        },
        error,
      );
    }
  }
}

/** The file's stat, or undefined when nothing is there (other errors are thrown). */
async function statOrMissing(path: string): Promise<Awaited<ReturnType<typeof stat>> | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    // ENOTDIR: a file on the way; the walk up finds it and says so.
    if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return undefined;
    throw error;
  }
}
