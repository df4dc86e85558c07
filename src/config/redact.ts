/**
 * Secrets out of a loaded Config: `redactConfig` for logging it, `secretsOf` for asserting (in
 * tests, and in the logger) that none of them ever appears in output.
 *
 * Both walk the config with the same rule, so what one redacts the other lists. The rule is by key
 * name rather than by type so that a secret added to an output later is covered by its name alone;
 * the names are the one list of core/secret-keys.ts, which the logger and error texts use too.
 */
import { isSecretHeader, isSecretKey as isSecretName } from '../core/secret-keys.js';
import type { Config } from './load.js';

export const REDACTED = '[REDACTED]';

/**
 * Whether a value under this key is a secret (the rule redaction and the loader share): the names
 * of core/secret-keys.ts, in any spelling.
 */
export function isSecretKey(key: string): boolean {
  return isSecretName(key);
}

/** Keys whose value is a URL that may carry a password (`http://user:pass@proxy:3128`). */
const URL_KEYS: ReadonlySet<string> = new Set(['proxy']);

export function redactConfig(config: Config): Config {
  return walk(config, undefined, () => undefined) as Config;
}

/** Every secret value in the config, each once (and a URL password also percent-decoded). */
export function secretsOf(config: Config): string[] {
  const found = new Set<string>();
  walk(config, undefined, (secret) => {
    if (secret !== '') found.add(secret);
  });
  return [...found];
}

function walk(value: unknown, key: string | undefined, collect: (secret: string) => void): unknown {
  if (typeof value === 'string') {
    if (key !== undefined && isSecretName(key)) {
      collect(value);
      return REDACTED;
    }
    if (key !== undefined && URL_KEYS.has(key)) return redactUrl(value, collect);
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => walk(item, undefined, collect));
  // Dates (startFrom, notAfter) are values, not records to walk.
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, item]) => {
      if (name === 'headers' && item !== null && typeof item === 'object' && !Array.isArray(item)) {
        return [name, redactHeaders(item as Record<string, unknown>, collect)];
      }
      return [name, walk(item, name, collect)];
    }),
  );
}

function redactHeaders(headers: Record<string, unknown>, collect: (secret: string) => void) {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => {
      if (typeof value === 'string' && isSecretHeader(name)) {
        collect(value);
        return [name, REDACTED];
      }
      return [name, value];
    }),
  );
}

function redactUrl(text: string, collect: (secret: string) => void): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  if (url.password === '') return text;
  collect(url.password);
  try {
    collect(decodeURIComponent(url.password));
  } catch {
    // A malformed escape: the raw form, collected above, is what would leak.
  }
  // Built by hand: assigning url.password would percent-encode the brackets of the marker.
  return `${url.protocol}//${url.username}:${REDACTED}@${url.host}${url.pathname === '/' ? '' : url.pathname}${url.search}`;
}
