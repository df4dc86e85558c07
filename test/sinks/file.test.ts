import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { deliverOnce, startSinks } from '../../src/pipeline/outbox/index.js';
import { createFileSink, parseFileMeta } from '../../src/sinks/file.js';
import type { SinkNotice } from '../../src/sinks/types.js';
import type { StateStore } from '../../src/state/store.js';
import { STORE_KINDS, addEvents, fakeEvents, ndjson, noSleep, tempDir } from './helpers.js';

const signal = new AbortController().signal;
const opts = { sleep: noSleep, retry: { backoffMs: 1 } };

/** Every line of the output, rotated files first (oldest first), then the current file. */
function allLines(path: string, keep = 5): string {
  let text = '';
  for (let i = keep; i >= 1; i--)
    if (existsSync(`${path}.${i}`)) text += readFileSync(`${path}.${i}`, 'utf8');
  if (existsSync(path)) text += readFileSync(path, 'utf8');
  return text;
}

/** The files a foreign file at `path` was moved to, full paths. */
function keptFiles(path: string): string[] {
  return readdirSync(dirname(path))
    .filter((f) => f.startsWith(`${basename(path)}.kept-`))
    .map((f) => join(dirname(path), f));
}

/** What `sed -i`, an editor or a restore does: new content in a new file renamed over `path`. */
function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

describe.each(STORE_KINDS)('file output with the $kind store', (kind) => {
  let dir: string;
  let cleanup: () => void;
  let store: StateStore;
  let path: string;

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    store = kind.open(dir);
    path = join(dir, 'out', 'nested', 'events.ndjson');
  });
  afterEach(async () => {
    await store.close();
    cleanup();
  });

  it('appends exactly the outbox events, in order, 0600 in a created folder', async () => {
    const lines = [...(await addEvents(store, 7)), ...(await addEvents(store, 5))];
    const sink = createFileSink({ name: 'file', path });
    await startSinks(store, [sink]);
    const [result] = await deliverOnce(store, [sink], { ...opts, batchSize: 3 });
    expect(result).toMatchObject({ sink: 'file', delivered: 12, retried: 0, deadLettered: 0 });
    expect(result?.error).toBeUndefined();
    expect(readFileSync(path, 'utf8')).toBe(ndjson(lines));
    if (process.platform !== 'win32') expect(statSync(path).mode & 0o777).toBe(0o600);
    const state = await store.sinkState('file');
    expect(state?.ackedSeq).toBe(await store.outboxHead());
    expect(parseFileMeta(state?.meta ?? '').offset).toBe(Buffer.byteLength(ndjson(lines)));
    await sink.close();
    await sink.close();
  });

  it('fsyncs every batch before answering ok', async () => {
    const { FileHandle } = await import('node:fs/promises').then(async (fs) => {
      const handle = await fs.open(join(dir, 'probe'), 'w');
      const proto = Object.getPrototypeOf(handle) as { sync: () => Promise<void> };
      await handle.close();
      return { FileHandle: proto };
    });
    const spy = vi.spyOn(FileHandle, 'sync');
    try {
      await addEvents(store, 6);
      const sink = createFileSink({ name: 'file', path });
      await startSinks(store, [sink]);
      spy.mockClear();
      await deliverOnce(store, [sink], { ...opts, batchSize: 2 });
      expect(spy.mock.calls.length).toBeGreaterThanOrEqual(3);
      await sink.close();
    } finally {
      spy.mockRestore();
    }
  });

  it('crash between write and ack: the unacked tail is cut on restart and delivered once', async () => {
    const first = await addEvents(store, 4);
    const sink = createFileSink({ name: 'file', path });
    await startSinks(store, [sink]);
    await deliverOnce(store, [sink], opts);
    const second = await addEvents(store, 3);
    // Written and fsynced, but the process dies before the acknowledgement.
    const batch = await store.readOutbox('file', { limit: 100, maxBytes: 1 << 20 });
    expect(await sink.send(batch, signal)).toMatchObject({ status: 'ok' });
    expect(readFileSync(path, 'utf8')).toBe(ndjson([...first, ...second]));
    await sink.close();

    store = await kind.reopen(store, dir);
    const notices: SinkNotice[] = [];
    const restarted = createFileSink({ name: 'file', path, onNotice: (n) => notices.push(n) });
    await startSinks(store, [restarted]);
    expect(notices.map((n) => n.kind)).toEqual(['truncated']);
    expect(readFileSync(path, 'utf8')).toBe(ndjson(first));
    const [result] = await deliverOnce(store, [restarted], opts);
    expect(result?.delivered).toBe(3);
    expect(readFileSync(path, 'utf8')).toBe(ndjson([...first, ...second]));
    await restarted.close();
  });

  it('crash before the very first ack is undone too (start records the offset)', async () => {
    const lines = await addEvents(store, 3);
    const sink = createFileSink({ name: 'file', path });
    await startSinks(store, [sink]);
    const batch = await store.readOutbox('file', { limit: 100, maxBytes: 1 << 20 });
    await sink.send(batch, signal);
    await sink.close();

    store = await kind.reopen(store, dir);
    const restarted = createFileSink({ name: 'file', path });
    await startSinks(store, [restarted]);
    await deliverOnce(store, [restarted], opts);
    expect(readFileSync(path, 'utf8')).toBe(ndjson(lines));
    await restarted.close();
  });

  it('removes a torn last line on start', async () => {
    const lines = await addEvents(store, 3);
    const sink = createFileSink({ name: 'file', path });
    await startSinks(store, [sink]);
    await deliverOnce(store, [sink], opts);
    // The next write is torn by a crash (power lost before its fsync): half of it is on disk.
    const more = await addEvents(store, 2);
    const batch = await store.readOutbox('file', { limit: 100, maxBytes: 1 << 20 });
    expect((await sink.send(batch, signal)).status).toBe('ok');
    await sink.close();
    truncateSync(path, Buffer.byteLength(ndjson(lines)) + 16);

    store = await kind.reopen(store, dir);
    const restarted = createFileSink({ name: 'file', path });
    await startSinks(store, [restarted]);
    expect(readFileSync(path, 'utf8')).toBe(ndjson(lines));
    await deliverOnce(store, [restarted], opts);
    expect(readFileSync(path, 'utf8')).toBe(ndjson([...lines, ...more]));
    await restarted.close();
  });

  it('rotation keeps every line exactly once across files, also across a crash mid-rotation', async () => {
    const sink = createFileSink({ name: 'file', path, rotateBytes: 1024 });
    await startSinks(store, [sink]);
    const lines: string[] = [];
    for (let round = 0; round < 6; round++) {
      lines.push(...(await addEvents(store, 10)));
      await deliverOnce(store, [sink], { ...opts, batchSize: 10 });
    }
    expect(existsSync(`${path}.1`)).toBe(true);
    for (const file of [path, `${path}.1`]) expect(statSync(file).size).toBeLessThanOrEqual(1024);
    expect(allLines(path)).toBe(ndjson(lines));

    // The next batch rotates; the process dies before its ack.
    lines.push(...(await addEvents(store, 10)));
    const batch = await store.readOutbox('file', { limit: 10, maxBytes: 1 << 20 });
    const before = parseFileMeta((await store.sinkState('file'))?.meta ?? '');
    const sent = await sink.send(batch, signal);
    expect(sent.status).toBe('ok');
    expect(parseFileMeta(sent.status === 'ok' ? (sent.meta ?? '') : '').generation).toBe(
      before.generation + 1,
    );
    await sink.close();

    store = await kind.reopen(store, dir);
    const restarted = createFileSink({ name: 'file', path, rotateBytes: 1024 });
    await startSinks(store, [restarted]);
    await deliverOnce(store, [restarted], { ...opts, batchSize: 10 });
    expect(allLines(path)).toBe(ndjson(lines));
    await restarted.close();
  });

  it('keeps at most `keep` rotated files', async () => {
    const sink = createFileSink({ name: 'file', path, rotateBytes: 1024, keep: 2 });
    await startSinks(store, [sink]);
    for (let round = 0; round < 8; round++) {
      await addEvents(store, 10);
      await deliverOnce(store, [sink], { ...opts, batchSize: 10 });
    }
    expect(existsSync(`${path}.2`)).toBe(true);
    expect(existsSync(`${path}.3`)).toBe(false);
    await sink.close();
  });

  it('a file replaced while stopped (sed -i, a restored copy: a new inode) is kept whole beside it, never cut', async () => {
    const first = await addEvents(store, 3);
    const sink = createFileSink({ name: 'file', path });
    await startSinks(store, [sink]);
    await deliverOnce(store, [sink], opts);
    await sink.close();
    // Longer than acknowledged, so that cutting "the unacknowledged tail" would look plausible.
    const copy = ndjson(first) + '{"added":"by hand"}\n';
    replaceFile(path, copy);

    store = await kind.reopen(store, dir);
    const notices: SinkNotice[] = [];
    const restarted = createFileSink({ name: 'file', path, onNotice: (n) => notices.push(n) });
    await startSinks(store, [restarted]);
    expect(notices.map((n) => n.kind)).toEqual(['replaced']);
    const kept = keptFiles(path);
    expect(kept).toHaveLength(1);
    expect(readFileSync(kept[0] ?? '', 'utf8')).toBe(copy);
    expect(notices[0]?.message).toContain(path);
    expect(notices[0]?.message).toContain(kept[0]);
    const more = await addEvents(store, 2);
    await deliverOnce(store, [restarted], opts);
    expect(readFileSync(path, 'utf8')).toBe(ndjson(more));
    expect(readFileSync(kept[0] ?? '', 'utf8')).toBe(copy);
    await restarted.close();
  });

  it('bytes appended while stopped (same inode, cat >>) are kept whole beside it, never cut', async () => {
    const first = await addEvents(store, 3);
    const sink = createFileSink({ name: 'file', path });
    await startSinks(store, [sink]);
    await deliverOnce(store, [sink], opts);
    await sink.close();
    // A kept file merged back by hand, say: longer than acknowledged, on the same inode.
    appendFileSync(path, '{"user":"my own line"}\n');

    store = await kind.reopen(store, dir);
    const notices: SinkNotice[] = [];
    const restarted = createFileSink({ name: 'file', path, onNotice: (n) => notices.push(n) });
    await startSinks(store, [restarted]);
    expect(notices.map((n) => n.kind)).toEqual(['replaced']);
    const kept = keptFiles(path);
    expect(kept).toHaveLength(1);
    expect(readFileSync(kept[0] ?? '', 'utf8')).toBe(ndjson(first) + '{"user":"my own line"}\n');
    expect(notices[0]?.message).toContain(path);
    expect(notices[0]?.message).toContain(kept[0]);
    expect(notices[0]?.message).not.toContain('delivered again');
    const more = await addEvents(store, 2);
    await deliverOnce(store, [restarted], opts);
    expect(readFileSync(path, 'utf8')).toBe(ndjson(more));
    await restarted.close();
  });

  it('a file shorter than acknowledged on start (cut in place by someone else) is kept whole beside it', async () => {
    const first = await addEvents(store, 3);
    const sink = createFileSink({ name: 'file', path });
    await startSinks(store, [sink]);
    await deliverOnce(store, [sink], opts);
    await sink.close();
    truncateSync(path, Buffer.byteLength(ndjson(first.slice(0, 1))));

    store = await kind.reopen(store, dir);
    const notices: SinkNotice[] = [];
    const restarted = createFileSink({ name: 'file', path, onNotice: (n) => notices.push(n) });
    await startSinks(store, [restarted]);
    expect(notices.map((n) => n.kind)).toEqual(['replaced']);
    const kept = keptFiles(path);
    expect(readFileSync(kept[0] ?? '', 'utf8')).toBe(ndjson(first.slice(0, 1)));
    const more = await addEvents(store, 2);
    await deliverOnce(store, [restarted], opts);
    expect(readFileSync(path, 'utf8')).toBe(ndjson(more));
    await restarted.close();
  });

  it.skipIf(kind.kind === 'memory')(
    'a state restored from a backup older than the file: what it never knew of is kept, not cut',
    async () => {
      const first = await addEvents(store, 3);
      const sink = createFileSink({ name: 'file', path });
      await startSinks(store, [sink]);
      await deliverOnce(store, [sink], opts);
      await store.close();
      cpSync(join(dir, 'state'), join(dir, 'state.bak'), { recursive: true });
      // One more batch, written and acknowledged after the backup: it starts exactly at the
      // backup's acknowledged offset, as a write that a crash kept from its ack would.
      store = kind.open(dir);
      const second = await addEvents(store, 4);
      const [result] = await deliverOnce(store, [sink], opts);
      expect(result?.delivered).toBe(4);
      await sink.close();
      await store.close();
      rmSync(join(dir, 'state'), { recursive: true });
      cpSync(join(dir, 'state.bak'), join(dir, 'state'), { recursive: true });

      store = kind.open(dir);
      const notices: SinkNotice[] = [];
      const restarted = createFileSink({ name: 'file', path, onNotice: (n) => notices.push(n) });
      await startSinks(store, [restarted]);
      expect(notices.map((n) => n.kind)).toEqual(['replaced']);
      expect(notices[0]?.message).toContain('restored from a backup');
      const kept = keptFiles(path);
      expect(kept).toHaveLength(1);
      expect(readFileSync(kept[0] ?? '', 'utf8')).toBe(ndjson([...first, ...second]));
      const more = await addEvents(store, 2);
      await deliverOnce(store, [restarted], opts);
      expect(readFileSync(path, 'utf8')).toBe(ndjson(more));
      await restarted.close();
    },
  );

  it('after a crash mid-rotation, a file at the path that the rotation did not create is kept', async () => {
    const sink = createFileSink({ name: 'file', path });
    await startSinks(store, [sink]);
    const lines = await addEvents(store, 5);
    await deliverOnce(store, [sink], opts);
    await sink.close();
    // Restarted with a bound the next batch crosses: it rotates, and the process dies before its ack.
    const rotateBytes = statSync(path).size + 1;
    const rotating = createFileSink({ name: 'file', path, rotateBytes });
    await startSinks(store, [rotating]);
    lines.push(...(await addEvents(store, 5)));
    const batch = await store.readOutbox('file', { limit: 5, maxBytes: 1 << 20 });
    expect((await rotating.send(batch, signal)).status).toBe('ok');
    await rotating.close();
    expect(readFileSync(`${path}.1`, 'utf8')).toBe(ndjson(lines.slice(0, 5)));
    // Then someone puts another file in the new one's place.
    replaceFile(path, 'not written by exotrace\n');

    store = await kind.reopen(store, dir);
    const notices: SinkNotice[] = [];
    const restarted = createFileSink({ name: 'file', path, rotateBytes, onNotice: (n) => notices.push(n) });
    await startSinks(store, [restarted]);
    expect(notices.map((n) => n.kind)).toEqual(['replaced']);
    const kept = keptFiles(path);
    expect(kept).toHaveLength(1);
    expect(readFileSync(kept[0] ?? '', 'utf8')).toBe('not written by exotrace\n');
    await deliverOnce(store, [restarted], opts);
    expect(allLines(path)).toBe(ndjson(lines));
    await restarted.close();
  });

  it('a new state (the old one deleted or emptied) refuses to append a second copy to a file another state wrote', async () => {
    const first = await addEvents(store, 3);
    const sink = createFileSink({ name: 'file', path });
    await startSinks(store, [sink]);
    await deliverOnce(store, [sink], opts);
    await sink.close();
    await store.close();

    // The state is lost; the same events come back from the API into a new outbox.
    rmSync(join(dir, 'state'), { recursive: true, force: true });
    store = kind.open(dir);
    await addEvents(store, 3);
    const fresh = createFileSink({ name: 'file', path });
    const refused = await startSinks(store, [fresh]).then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    expect(refused).toContain(
      `${path} holds ${Buffer.byteLength(ndjson(first))} bytes written from another state`,
    );
    expect(refused).toContain(`move ${path} away`);
    await fresh.close();
    expect(readFileSync(path, 'utf8')).toBe(ndjson(first));
    // Moved away, as the error says: the new state starts a new file.
    renameSync(path, `${path}.old`);
    const restarted = createFileSink({ name: 'file', path });
    await startSinks(store, [restarted]);
    await deliverOnce(store, [restarted], opts);
    expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(4);
    await restarted.close();
  });

  it('starts a new file, and says so, when the file was rotated or deleted while stopped', async () => {
    const first = await addEvents(store, 3);
    const sink = createFileSink({ name: 'file', path });
    await startSinks(store, [sink]);
    await deliverOnce(store, [sink], opts);
    await sink.close();
    renameSync(path, `${path}.old`);

    const notices: SinkNotice[] = [];
    const restarted = createFileSink({ name: 'file', path, onNotice: (n) => notices.push(n) });
    await startSinks(store, [restarted]);
    expect(notices.map((n) => n.kind)).toEqual(['new-file']);
    const more = await addEvents(store, 2);
    await deliverOnce(store, [restarted], opts);
    expect(readFileSync(`${path}.old`, 'utf8')).toBe(ndjson(first));
    expect(readFileSync(path, 'utf8')).toBe(ndjson(more));
    await restarted.close();
  });
});

describe('file output, in process', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => {
    cleanup();
  });

  it('sending the last batch again (its ack failed) replaces it instead of duplicating it', async () => {
    const path = join(dir, 'out.ndjson');
    const sink = createFileSink({ name: 'file', path });
    await sink.start(undefined);
    await sink.send(fakeEvents(1, 3), signal);
    await sink.send(fakeEvents(4, 2), signal);
    await sink.send(fakeEvents(4, 3), signal);
    expect(readFileSync(path, 'utf8')).toBe(ndjson(fakeEvents(1, 6).map((e) => e.json)));
    await expect(sink.send(fakeEvents(2, 1), signal)).rejects.toThrow(/already written/);
    await sink.close();
  });

  it('appends after content that was there before its first start', async () => {
    const path = join(dir, 'out.ndjson');
    writeFileSync(path, 'previous\n');
    const sink = createFileSink({ name: 'file', path });
    const meta = await sink.start(undefined);
    expect(parseFileMeta(meta ?? '').offset).toBe(9);
    await sink.send(fakeEvents(1, 1), signal);
    expect(readFileSync(path, 'utf8')).toBe('previous\n{"seq":1}\n');
    await sink.close();
  });

  it('follows a file deleted while running', async () => {
    const path = join(dir, 'out.ndjson');
    const notices: SinkNotice[] = [];
    const sink = createFileSink({ name: 'file', path, onNotice: (n) => notices.push(n) });
    await sink.start(undefined);
    await sink.send(fakeEvents(1, 1), signal);
    renameSync(path, `${path}.moved`);
    await sink.send(fakeEvents(2, 1), signal);
    expect(readFileSync(path, 'utf8')).toBe('{"seq":2}\n');
    expect(notices.map((n) => n.kind)).toContain('reopened');
    await sink.close();
  });

  it('a file replaced while running (sed -i) is kept whole beside it; the next batch starts a new file', async () => {
    const path = join(dir, 'out.ndjson');
    const notices: SinkNotice[] = [];
    const sink = createFileSink({ name: 'file', path, onNotice: (n) => notices.push(n) });
    await sink.start(undefined);
    await sink.send(fakeEvents(1, 2), signal);
    replaceFile(path, '{"seq":2}\n');
    expect((await sink.send(fakeEvents(3, 1), signal)).status).toBe('ok');
    const kept = keptFiles(path);
    expect(kept).toHaveLength(1);
    expect(readFileSync(kept[0] ?? '', 'utf8')).toBe('{"seq":2}\n');
    expect(readFileSync(path, 'utf8')).toBe('{"seq":3}\n');
    expect(notices.map((n) => n.kind)).toEqual(['replaced']);
    // An empty file put in its place (logrotate's `create`) is taken as it is: nothing to keep.
    renameSync(path, `${path}.rotated`);
    writeFileSync(path, '');
    await sink.send(fakeEvents(4, 1), signal);
    expect(readFileSync(path, 'utf8')).toBe('{"seq":4}\n');
    expect(keptFiles(path)).toHaveLength(1);
    await sink.close();
  });

  it('bytes appended while running (same inode) are kept whole beside it, and said; the next batch starts a new file', async () => {
    const path = join(dir, 'out.ndjson');
    const notices: SinkNotice[] = [];
    const sink = createFileSink({ name: 'file', path, onNotice: (n) => notices.push(n) });
    await sink.start(undefined);
    await sink.send(fakeEvents(1, 2), signal);
    appendFileSync(path, '{"user":"my own line"}\n');
    expect((await sink.send(fakeEvents(3, 1), signal)).status).toBe('ok');
    const kept = keptFiles(path);
    expect(kept).toHaveLength(1);
    expect(readFileSync(kept[0] ?? '', 'utf8')).toBe('{"seq":1}\n{"seq":2}\n{"user":"my own line"}\n');
    expect(readFileSync(path, 'utf8')).toBe('{"seq":3}\n');
    expect(notices.map((n) => n.kind)).toEqual(['replaced']);
    expect(notices[0]?.message).toContain('appended by someone else');
    expect(notices[0]?.message).toContain(kept[0]);
    await sink.close();
  });

  // Changed by review state-edges finding 2: a missing folder was not_found although start()
  // creates it; now the walk up reaches a file, which no start() can get past.
  it('a health check failure says what to fix: a file where a folder should be is not_found, key path', async () => {
    writeFileSync(join(dir, 'plain'), '');
    const sink = createFileSink({ name: 'file', path: join(dir, 'plain', 'none', 'b.ndjson') });
    expect(await sink.healthcheck(signal)).toMatchObject({
      status: 'failed',
      finding: { code: 'not_found', key: 'path' },
    });
  });

  it('a folder not there yet passes the health check when its nearest existing ancestor is writable (start creates it)', async () => {
    const path = join(dir, 'new', 'deeper', 'b.ndjson');
    const sink = createFileSink({ name: 'file', path });
    expect(await sink.healthcheck(signal)).toEqual({ status: 'ok' });
    expect(existsSync(join(dir, 'new'))).toBe(false);
    await sink.start(undefined);
    expect(existsSync(join(dir, 'new', 'deeper'))).toBe(true);
    await sink.close();
  });

  it('a path that is an existing folder fails the health check, key path', async () => {
    mkdirSync(join(dir, 'is-a-folder'));
    const sink = createFileSink({ name: 'file', path: join(dir, 'is-a-folder') });
    const result = await sink.healthcheck(signal);
    expect(result).toMatchObject({ status: 'failed', finding: { code: 'not_writable', key: 'path' } });
    if (result.status === 'failed') expect(result.error.message).toMatch(/not a regular file/);
  });

  it.skipIf(process.getuid?.() === 0)(
    'an existing file that is not writable fails the health check',
    async () => {
      const path = join(dir, 'read-only.ndjson');
      writeFileSync(path, '', { mode: 0o400 });
      const sink = createFileSink({ name: 'file', path });
      expect(await sink.healthcheck(signal)).toMatchObject({
        status: 'failed',
        finding: { code: 'not_writable', key: 'path' },
      });
    },
  );

  it.skipIf(process.getuid?.() === 0)(
    'a missing folder under a folder not writable is not_writable',
    async () => {
      const locked = join(dir, 'locked-parent');
      mkdirSync(locked, { mode: 0o500 });
      const sink = createFileSink({ name: 'file', path: join(locked, 'sub', 'b.ndjson') });
      expect(await sink.healthcheck(signal)).toMatchObject({
        status: 'failed',
        finding: { code: 'not_writable', key: 'path' },
      });
    },
  );

  // root writes anywhere: a folder's mode cannot refuse it.
  it.skipIf(process.getuid?.() === 0)('a folder not writable is not_writable, key path', async () => {
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o500 });
    const sink = createFileSink({ name: 'file', path: join(locked, 'b.ndjson') });
    expect(await sink.healthcheck(signal)).toMatchObject({
      status: 'failed',
      finding: { code: 'not_writable', key: 'path' },
    });
  });

  // The health check before start: 'ok' since review state-edges finding 2 (start creates the
  // folder, the check no longer fails for its absence).
  it('refuses to send before start, and its health check passes before and after start', async () => {
    const sink = createFileSink({ name: 'file', path: join(dir, 'a', 'b.ndjson') });
    await expect(sink.send(fakeEvents(1, 1), signal)).rejects.toThrow(/before start/);
    expect((await sink.healthcheck(signal)).status).toBe('ok');
    await sink.start(undefined);
    expect((await sink.healthcheck(signal)).status).toBe('ok');
    await sink.close();
  });
});
