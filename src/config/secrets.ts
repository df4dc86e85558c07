/**
 * What the logger replaces literally: every secret of the loaded configuration (`secretsOf`) and
 * the forms they take on the wire, so that an echo of a request (an `Authorization: Basic …` or
 * `ApiKey …` header, a proxy's `Proxy-Authorization`) is caught even where it is not labelled.
 */
import type { Config } from './load.js';
import { secretsOf } from './redact.js';

/** The config's secrets, their base64 forms, and base64 of each `user:password` pair it holds. */
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
  return [...new Set([...plain, ...pairs, ...encoded])];
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
