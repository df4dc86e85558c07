import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { DB_FILE, openSqliteStore } from '../../src/state/sqlite.js';
import { SINK, TENANT, newKeys, pageFor } from './fixtures/pages.js';
import { createRandom } from '../../src/emulator/data/prng.js';

const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const KILLS = 20;
const MAX_DELAY_MS = 150;
const SEED = 0x5eed;

/** Run the writer, SIGKILL it `delayMs` after it is ready; return the last page it reported committed. */
function runAndKill(dir: string, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (err += chunk));
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (timer === undefined && out.includes('ready\n')) {
        timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      if (signal !== 'SIGKILL') {
        reject(new Error(`writer exited with ${String(code)} before it was killed: ${err}`));
        return;
      }
      const committed = [...out.matchAll(/^committed (\d+)$/gm)].map((m) => Number(m[1]));
      resolve(committed.at(-1) ?? -1);
    });
  });
}

const root = mkdtempSync(join(tmpdir(), 'exotrace-crash-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('crash safety (SIGKILL while committing)', () => {
  it(`loses nothing, duplicates nothing and never half-commits a page across ${KILLS} kills`, async () => {
    const dir = join(root, 'state');
    const random = createRandom(SEED);
    let pagesBefore = 0;
    for (let i = 0; i < KILLS; i++) {
      const reported = await runAndKill(dir, Math.floor(random() * MAX_DELAY_MS));

      const store = openSqliteStore(dir);
      try {
        const cp = await store.getCheckpoint(TENANT, 'fast');
        const pages = cp?.cursor ?? 0;
        // Every page the writer saw committed is there (it may have committed one more
        // before it could say so).
        expect(pages).toBeGreaterThanOrEqual(reported + 1);
        expect(pages).toBeGreaterThanOrEqual(pagesBefore);
        if (pages > 0) {
          expect(cp).toMatchObject(pageFor(pages - 1).checkpoint);
        }
        // The outbox holds exactly the first-seen keys of pages 0..pages-1, once each, in order:
        // nothing of a later page (no half page), nothing twice, nothing missing.
        await store.registerSinks(['verify'], 'beginning');
        const rows = await store.readOutbox('verify', { afterSeq: 0, limit: 1_000_000, maxBytes: 1e12 });
        const expected = Array.from({ length: pages }, (_, p) => newKeys(p)).flat();
        expect(rows.length).toBe(expected.length);
        expect(rows.map((r) => r.key)).toEqual(expected);
        expect(rows.map((r) => r.seq)).toEqual(expected.map((_, j) => j + 1));
        // Rejects commit with their page: one per page, never repeated.
        const rejects = await store.rejects({ limit: 1_000_000 });
        expect(rejects.map((r) => r.reason)).toEqual(Array.from({ length: pages }, (_, p) => `page ${p}`));
        // The sink's meta commits with its acknowledgement.
        const sink = await store.sinkState(SINK);
        expect(sink?.meta ?? 'seq=0').toBe(`seq=${sink?.ackedSeq ?? 0}`);
        await store.unregisterSink('verify');
        pagesBefore = pages;
      } finally {
        await store.close();
      }
    }
    const db = new Database(join(dir, DB_FILE), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
    // The kills must have landed while pages were being committed, not only at start-up.
    expect(pagesBefore).toBeGreaterThan(KILLS);
  }, 60_000);
});
