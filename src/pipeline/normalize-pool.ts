/**
 * Normalizing on worker threads, so the main thread commits page N while a worker normalizes page
 * N + 1 (and, with several tenants, several pages at once). One pool serves every tenant: the
 * options travel with each page and a worker keeps one normalizer per set of options.
 *
 * A worker that dies (a bug, out of memory) fails the pages it held, of whichever tenants: each
 * such tenant's pass fails like on any error and is retried from its checkpoint (the daemon at its
 * next attempt, `--once` by the next run); the next page gets a new worker.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { NormalizeOptions } from '../normalize/normalizer.js';
import type { PageEvent } from '../state/store.js';
import type { NormalizeJob, NormalizeReply } from './normalize-worker.js';
import { inlinePageNormalizer, type PageEvents, type PageNormalizer } from './page-events.js';

export interface NormalizePoolOptions {
  /** Worker threads; default one less than the CPUs, at least 1, at most 4. */
  readonly size?: number;
  /** The compiled worker script; default `normalize-worker.js` beside this module. */
  readonly script?: URL;
}

const DEFAULT_SCRIPT = new URL('./normalize-worker.js', import.meta.url);

interface Pending {
  resolve(value: PageEvents): void;
  reject(error: Error): void;
}

interface PoolWorker {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
}

/**
 * A pool of normalizer threads, or the inline normalizer when there is no compiled worker script
 * (running from the TypeScript sources, as unit tests do).
 */
export function createPageNormalizer(options: NormalizePoolOptions = {}): PageNormalizer {
  const script = options.script ?? DEFAULT_SCRIPT;
  if (!existsSync(fileURLToPath(script))) return inlinePageNormalizer();
  return createNormalizePool(script, options.size ?? Math.min(4, Math.max(1, availableParallelism() - 1)));
}

function createNormalizePool(script: URL, size: number): PageNormalizer {
  const workers: PoolWorker[] = [];
  let nextId = 1;
  let closed = false;

  const fail = (entry: PoolWorker, error: Error): void => {
    const index = workers.indexOf(entry);
    if (index >= 0) workers.splice(index, 1);
    for (const pending of entry.pending.values()) pending.reject(error);
    entry.pending.clear();
  };

  const spawn = (): PoolWorker => {
    // No inherited flags: the parent's (`--input-type`, a debugger port) may not apply to a worker.
    // A small young generation: a page's objects outlive many scavenges anyway, and the default
    // one (tens of MiB per worker) only adds to the resident size.
    const worker = new Worker(script, { execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    const entry: PoolWorker = { worker, pending: new Map() };
    worker.on('message', (reply: NormalizeReply) => {
      const pending = entry.pending.get(reply.id);
      if (pending === undefined) return;
      entry.pending.delete(reply.id);
      // An idle worker must not keep the process alive; a busy one must (its caller awaits it).
      if (entry.pending.size === 0) worker.unref();
      if ('error' in reply) pending.reject(new Error(`normalizer worker failed: ${reply.error}`));
      else pending.resolve(decode(reply));
    });
    // A reply that cannot be deserialized would leave its job waiting forever: fail the worker.
    worker.on('messageerror', (error) => {
      fail(
        entry,
        new Error(`normalizer worker sent an unreadable reply: ${error.message}`, { cause: error }),
      );
      void worker.terminate();
    });
    worker.on('error', (error) => {
      fail(entry, new Error(`normalizer worker failed: ${error.message}`, { cause: error }));
    });
    worker.on('exit', (code) => {
      fail(entry, new Error(`normalizer worker exited (code ${code})`));
    });
    worker.unref();
    workers.push(entry);
    return entry;
  };

  /** The least busy worker, or a new one while the pool is below its size. */
  const pick = (): PoolWorker => {
    let best: PoolWorker | undefined;
    for (const entry of workers)
      if (best === undefined || entry.pending.size < best.pending.size) best = entry;
    if (best !== undefined && (best.pending.size === 0 || workers.length >= size)) return best;
    return spawn();
  };

  return {
    normalize(pageText: string, normalizeOptions: NormalizeOptions): Promise<PageEvents> {
      if (closed) return Promise.reject(new Error('the normalizer pool is closed'));
      const entry = pick();
      const id = nextId++;
      return new Promise<PageEvents>((resolve, reject) => {
        entry.pending.set(id, { resolve, reject });
        entry.worker.ref();
        const job: NormalizeJob = { id, text: pageText, options: normalizeOptions };
        entry.worker.postMessage(job);
      });
    },
    async close() {
      closed = true;
      const all = workers.splice(0);
      await Promise.all(all.map((entry) => entry.worker.terminate()));
    },
  };
}

function decode(reply: Extract<NormalizeReply, { json: string[] }>): PageEvents {
  const keys = reply.keys === '' ? [] : reply.keys.split('\n');
  const ids = reply.ids === '' ? [] : reply.ids.split('\n');
  const { statuses } = reply;
  const events: PageEvent[] = reply.json.map((json, i) => {
    const status = statuses[i] ?? '';
    return { key: keys[i] ?? '', eventId: ids[i] ?? '', json, ...(status === '' ? {} : { status }) };
  });
  return { events, rejects: reply.rejects };
}
