/**
 * What the logger replaces literally: every secret of the loaded configuration (`secretsOf`) and
 * the forms they take on the wire, so that an echo of a request (an `Authorization: Basic …` or
 * `ApiKey …` header, a proxy's `Proxy-Authorization`) is caught even where it is not labelled.
 */
import type { Config } from './load.js';
import { secretsOf } from './redact.js';

/** Secrets shorter than this are not replaced literally wherever they occur. */
export const MIN_LITERAL_SECRET = 4;

/** The config's secrets (at least MIN_LITERAL_SECRET long), their base64 forms, and base64 of each `user:password` pair it holds. */
export function logSecretsOf(config: Config): string[] {
  const plain = secretsOf(config);
  const pairs: string[] = [];
  for (const output of config.outputs) {
    const o = output as {
      username?: unknown;
      password?: unknown;
      sasl?: { username?: unknown; password?: unknown };
    };
    if (typeof o.username === 'string' && typeof o.password === 'string')
      pairs.push(`${o.username}:${o.password}`);
    if (typeof o.sasl?.username === 'string' && typeof o.sasl.password === 'string')
      pairs.push(`${o.sasl.username}:${o.sasl.password}`);
  }
  const proxy = config.http.proxy === undefined ? undefined : urlCredentials(config.http.proxy);
  if (proxy !== undefined) pairs.push(proxy);
  const encoded = [...plain, ...pairs].flatMap((s) => [
    Buffer.from(s).toString('base64'),
    Buffer.from(s).toString('base64url'),
  ]);
  // Shorter ones are not replaced literally: every "abc" of every message would become REDACTED,
  // and where such a value is configured the by-key redaction still covers it.
  return [...new Set([...plain, ...pairs, ...encoded])].filter((s) => s.length >= MIN_LITERAL_SECRET);
}

function urlCredentials(text: string): string | undefined {
  try {
    const url = new URL(text);
    if (url.password === '') return undefined;
    return `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  } catch {
    return undefined;
  }
}
