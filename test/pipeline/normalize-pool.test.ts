/**
 * The normalizer pool on real worker threads (the compiled worker in dist/: `npm test` builds
 * first): same events as inline, pages of several tenants at once, and a dying worker failing its
 * pages rather than the process.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPageNormalizer } from '../../src/pipeline/normalize-pool.js';
import { inlinePageNormalizer, type PageEvents } from '../../src/pipeline/page-events.js';
import { REPO_ROOT, readFixture, SEED_FIXTURES, type SeedFixture } from '../helpers/fixtures.js';

const WORKER = pathToFileURL(path.join(REPO_ROOT, 'dist/pipeline/normalize-worker.js'));
let folder: string;

/**
 * A Reporting Web Service page (verbose) of `n` rows made from the seed sample, each row its own
 * trace and recipient, without `Organization` so that the options' organization applies.
 */
function page(n: number, subject = 'Quarterly report'): string {
  const seed = readFixture<SeedFixture>(SEED_FIXTURES[0]);
  const base = JSON.parse(seed.input.message) as Record<string, unknown>;
  delete base['Organization'];
  const rows = Array.from({ length: n }, (_, i) => ({
    ...base,
    MessageTraceId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    RecipientAddress: `user${i}@contoso.example`,
    Subject: `${subject} ${i}`,
  }));
  return JSON.stringify({ d: { results: rows } });
}

const OPTIONS = { organization: 'contoso.example', acceptedDomains: ['contoso.example'] };

beforeAll(() => {
  if (!existsSync(new URL(WORKER))) throw new Error(`${WORKER.href} is missing: run npm run build first`);
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-pool-'));
});
afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

describe('the normalizer pool', () => {
  it('gives the inline normalizer’s events, keys and rejects, in order', async () => {
    const pool = createPageNormalizer({ script: WORKER, size: 2 });
    try {
      // A malformed row (no id) among good ones: rejected with its reason, the others kept.
      const body = JSON.parse(page(40, 'Отчёт 📈')) as { d: { results: Record<string, unknown>[] } };
      delete body.d.results[7]?.['Received'];
      // A status nobody documents, with a line break in it: each event keeps its own.
      const odd = body.d.results[3];
      if (odd !== undefined) odd['Status'] = 'Delivered\nFailed';
      const text = JSON.stringify(body);
      const [fromPool, inline] = await Promise.all([
        pool.normalize(text, OPTIONS),
        inlinePageNormalizer().normalize(text, OPTIONS),
      ]);
      expect(fromPool).toEqual(inline);
      expect(fromPool.events[3]?.status).toBe('Delivered\nFailed');
      expect(fromPool.events).toHaveLength(39);
      expect(fromPool.rejects).toHaveLength(1);
      expect(fromPool.rejects[0]?.reason).toMatch(/Received/);
    } finally {
      await pool.close();
    }
  });

  it('normalizes pages of several tenants at once, each with its own options', async () => {
    const pool = createPageNormalizer({ script: WORKER, size: 2 });
    try {
      const jobs: Promise<PageEvents>[] = [];
      for (let i = 0; i < 8; i++) {
        jobs.push(pool.normalize(page(200), { ...OPTIONS, organization: `tenant${i % 3}.example` }));
      }
      const pages = await Promise.all(jobs);
      pages.forEach((result, i) => {
        expect(result.events).toHaveLength(200);
        const first = JSON.parse(result.events[0]?.json ?? '{}') as { organization?: { name?: string } };
        expect(first.organization?.name).toBe(`tenant${i % 3}.example`);
      });
    } finally {
      await pool.close();
    }
  });

  it('a worker that dies fails the pages it held, and the next page gets a new worker', async () => {
    // A worker script that dies on its first job, then (as a new thread) works.
    const marker = path.join(folder, 'died-once');
    const script = path.join(folder, 'dies-once.mjs');
    writeFileSync(
      script,
      `import { existsSync, writeFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
if (!existsSync(${JSON.stringify(marker)})) {
  writeFileSync(${JSON.stringify(marker)}, '');
  parentPort.once('message', () => process.exit(7));
} else {
  await import(${JSON.stringify(WORKER.href)});
}
`,
    );
    const pool = createPageNormalizer({ script: pathToFileURL(script), size: 1 });
    try {
      await expect(pool.normalize(page(3), OPTIONS)).rejects.toThrow(/normalizer worker exited \(code 7\)/);
      const result = await pool.normalize(page(3), OPTIONS);
      expect(result.events).toHaveLength(3);
    } finally {
      await pool.close();
    }
  });

  it('without a compiled worker (running from sources) it normalizes inline', async () => {
    const normalizer = createPageNormalizer({ script: pathToFileURL(path.join(folder, 'missing.js')) });
    const result = await normalizer.normalize(page(5), OPTIONS);
    expect(result.events).toHaveLength(5);
    await normalizer.close();
  });
});
