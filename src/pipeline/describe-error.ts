/** A failure as it may be logged, kept in the state or returned: code, message and fix, never a secret. */
import { ExotraceError, shownFailure } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';
import { errorCodeOf } from '../observe/metrics.js';

/**
 * Every string of a shown failure, its causes' too, with the configuration's secrets replaced: an
 * ExotraceError is built without secrets, but a cause keeps the words of the library below (a
 * socket's, a client's), and those may quote what they were given.
 */
function redactDeep(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value, secrets);
  if (depth > 6 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, secrets, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redactDeep(v, secrets, depth + 1)]),
  );
}

export function describeError(error: unknown, secrets: readonly string[] = []): Record<string, unknown> {
  if (error instanceof ExotraceError) {
    const shown = shownFailure(error);
    return secrets.length === 0 ? shown : (redactDeep(shown, secrets) as Record<string, unknown>);
  }
  const message = redactSecrets(error instanceof Error ? error.message : String(error), secrets);
  // An output's error carries a short code (`http_401`, `ECONNREFUSED`) when it has one.
  const code = error instanceof Error ? errorCodeOf(error) : undefined;
  return code === undefined || code === 'Error' ? { message } : { code, message };
}
