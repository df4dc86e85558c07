/**
 * The worker thread's side of `normalize-pool.ts`: page text in, events out. Each event's JSON
 * travels as its own string: joined into one, a single non-Latin-1 character (a subject in
 * Cyrillic) made the whole page a two-byte string and every slice of it slower to store. Keys and
 * ids are joined by newlines (neither can contain one).
 */
import { parentPort } from 'node:worker_threads';
import type { NormalizeOptions } from '../normalize/normalizer.js';
import { optionsKey, pageEventsFn, type PageEventsFn } from './page-events.js';

export interface NormalizeJob {
  readonly id: number;
  readonly text: string;
  readonly options: NormalizeOptions;
}

export type NormalizeReply =
  | {
      readonly id: number;
      readonly json: string[];
      readonly keys: string;
      readonly ids: string;
      /** Each event's status (`event.action`), '' when none. */
      readonly statuses: string[];
      readonly rejects: { reason: string; input: string }[];
    }
  | { readonly id: number; readonly error: string };

const port = parentPort;
if (port === null) throw new Error('normalize-worker.js runs as a worker thread only');
const fns = new Map<string, PageEventsFn>();

port.on('message', (job: NormalizeJob) => {
  let reply: NormalizeReply;
  try {
    const key = optionsKey(job.options);
    let fn = fns.get(key);
    if (fn === undefined) {
      fn = pageEventsFn(job.options);
      fns.set(key, fn);
    }
    const { events, rejects } = fn(job.text);
    reply = {
      id: job.id,
      json: events.map((e) => e.json),
      keys: events.map((e) => e.key).join('\n'),
      ids: events.map((e) => e.eventId).join('\n'),
      // An array, not joined text: a status is whatever the API sent, newlines included.
      statuses: events.map((e) => e.status ?? ''),
      rejects,
    };
    port.postMessage(reply);
  } catch (error) {
    // The normalizer never throws on input; this is a bug, reported to the page's caller.
    reply = { id: job.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    port.postMessage(reply);
  }
});
