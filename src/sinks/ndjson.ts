import type { OutboxEvent } from '../core/outbox-event.js';

/** The NDJSON encoding of a batch: one `json` per line, each ending with `\n`. */
export function encodeNdjson(batch: readonly OutboxEvent[]): Buffer {
  let text = '';
  for (const event of batch) text += event.json + '\n';
  return Buffer.from(text, 'utf8');
}
