/**
 * Compact JWS, only what the identity emulator needs: HS256 for the access tokens it issues, and
 * RS256 / PS256 verification for the client assertions it receives. Decoding never trusts the
 * header: callers choose the algorithm and key, then check claims themselves.
 */
import { constants, createHmac, timingSafeEqual, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export type JsonObject = Readonly<Record<string, unknown>>;

export interface DecodedJwt {
  readonly header: JsonObject;
  readonly payload: JsonObject;
  /** `base64url(header).base64url(payload)`, the bytes the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
}

/** Splits and parses a compact JWS; undefined unless it is three base64url parts with JSON objects. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [h = '', p = '', s = ''] = parts;
  if (![h, p, s].every((part) => /^[A-Za-z0-9_-]*$/.test(part)) || h === '' || p === '') return undefined;
  const header = parseObject(h);
  const payload = parseObject(p);
  if (header === undefined || payload === undefined) return undefined;
  return { header, payload, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
}

export function signHs256(payload: JsonObject, key: Buffer, extraHeader: JsonObject = {}): string {
  const header = { alg: 'HS256', typ: 'JWT', ...extraHeader };
  const signingInput = `${encodeJson(header)}.${encodeJson(payload)}`;
  return `${signingInput}.${hmac(signingInput, key).toString('base64url')}`;
}

export function verifyHs256(jwt: DecodedJwt, key: Buffer): boolean {
  if (jwt.header['alg'] !== 'HS256') return false;
  const expected = hmac(jwt.signingInput, key);
  return expected.length === jwt.signature.length && timingSafeEqual(expected, jwt.signature);
}

/** RS256 (PKCS#1 v1.5) or PS256 (PSS, salt = digest length, RFC 7518 §3.5) with SHA-256. */
export function verifyRsa(jwt: DecodedJwt, alg: 'RS256' | 'PS256', publicKey: KeyObject): boolean {
  try {
    return verify(
      'sha256',
      Buffer.from(jwt.signingInput, 'ascii'),
      alg === 'RS256'
        ? { key: publicKey, padding: constants.RSA_PKCS1_PADDING }
        : {
            key: publicKey,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
          },
      jwt.signature,
    );
  } catch {
    // A non-RSA certificate key, for instance: not a signature this key could have made.
    return false;
  }
}

function hmac(signingInput: string, key: Buffer): Buffer {
  return createHmac('sha256', key).update(signingInput, 'ascii').digest();
}

function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function parseObject(part: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as JsonObject)
      : undefined;
  } catch {
    return undefined;
  }
}
