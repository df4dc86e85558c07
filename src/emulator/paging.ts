/**
 * Graph's `$skiptoken`: opaque to clients, a position to us. It names the last row already
 * returned (keyset paging, stable while rows keep arriving), the query it belongs to, and when it
 * was issued (so that next links can expire).
 */
import { createHash } from 'node:crypto';
import type { RowKey } from './model.js';

interface TokenBody {
  readonly r: number;
  readonly k: number;
  readonly p: string;
  readonly t: string;
  readonly q: string;
  readonly i: number;
  /** The `stuck-next-link` fault: how many links to this same position came before (absent: none). */
  readonly s?: number;
  /** The `empty-next-link` fault: the page at this link is empty (absent: it is not). */
  readonly e?: 1;
}

/** A short digest of what defines the result set; a token is only valid for the same query. */
export function queryFingerprint(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16);
}

export function encodeSkipToken(
  after: RowKey,
  fingerprint: string,
  issuedAt: number,
  stuck?: number,
  empty?: boolean,
): string {
  const body: TokenBody = {
    r: after.received,
    k: after.receivedTicks,
    p: after.recipient,
    t: after.traceId,
    q: fingerprint,
    i: issuedAt,
    ...(stuck === undefined ? {} : { s: stuck }),
    ...(empty === true ? { e: 1 as const } : {}),
  };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

export type DecodedToken =
  | {
      readonly ok: true;
      readonly after: RowKey;
      readonly issuedAt: number;
      readonly stuck?: number;
      readonly empty?: boolean;
    }
  | { readonly ok: false; readonly reason: 'malformed' | 'other-query' };

export function decodeSkipToken(token: string, fingerprint: string): DecodedToken {
  let body: Partial<TokenBody>;
  try {
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<TokenBody>;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const { r, k, p, t, q, i, s, e } = body;
  if (
    typeof r !== 'number' ||
    typeof k !== 'number' ||
    typeof p !== 'string' ||
    typeof t !== 'string' ||
    typeof q !== 'string' ||
    typeof i !== 'number'
  ) {
    return { ok: false, reason: 'malformed' };
  }
  if (q !== fingerprint) return { ok: false, reason: 'other-query' };
  const after = { received: r, receivedTicks: k, recipient: p, traceId: t };
  return {
    ok: true,
    after,
    issuedAt: i,
    ...(typeof s === 'number' ? { stuck: s } : {}),
    ...(e === 1 ? { empty: true } : {}),
  };
}
