import { hash } from 'node:crypto';

/**
 * `event.id`: the idempotency key downstream (Elasticsearch `_id`, Kafka key). It is derived
 * only from what identifies a row in a given state — lower-cased trace id, lower-cased recipient,
 * lower-cased canonical status — so the same row in the same state gets the same id from every
 * API and every run, and a status change gets a new one.
 *
 * Lower-casing the status as well keeps an unknown status (kept as given, so `unknownFutureValue`
 * from Graph v1.0 but `UnknownFutureValue` from beta) from splitting one row into two ids.
 *
 * The id is an RFC 9562 version 8 UUID (custom, name-based) built from SHA-256: 36 characters,
 * valid anywhere a UUID or a keyword is.
 */
export function rowEventId(
  traceId: string,
  recipient: string | undefined,
  status: string | undefined,
): string {
  return uuidFrom(
    'row' +
      SEP +
      traceId.toLowerCase() +
      SEP +
      (recipient ?? '').toLowerCase() +
      SEP +
      (status ?? '').toLowerCase(),
  );
}

/** Detail events: one per (row, step); the step is its time, event and description. */
export function detailEventId(
  traceId: string,
  recipient: string | undefined,
  at: string,
  event: string | undefined,
  description: string | undefined,
): string {
  return uuidFrom(
    [
      'detail',
      traceId.toLowerCase(),
      (recipient ?? '').toLowerCase(),
      at,
      event ?? '',
      description ?? '',
    ].join(SEP),
  );
}

// Parts are joined on NUL, which cannot occur in their meaningful text, so that they stay apart.
const SEP = '\u0000';

const VARIANT_NIBBLE: Record<number, string> = Object.fromEntries(
  '0123456789abcdef'.split('').map((c, i) => [c.charCodeAt(0), ((i & 0x3) | 0x8).toString(16)]),
);

function uuidFrom(joinedParts: string): string {
  // One-shot crypto.hash: a createHash object per event costs about three times as much.
  const hex = hash('sha256', joinedParts, 'hex');
  // Version nibble 8; the variant nibble's top bits 10 (RFC 9562): 8, 9, a or b.
  const variant = VARIANT_NIBBLE[hex.charCodeAt(16)] ?? '8';
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
