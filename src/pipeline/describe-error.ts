/** A failure as it may be logged, kept in the state or returned: code, message and fix, never a secret. */
import { ExotraceError } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';
import { errorCodeOf } from '../observe/metrics.js';

export function describeError(error: unknown, secrets: readonly string[] = []): Record<string, unknown> {
  if (error instanceof ExotraceError) {
    // Already built without secrets; the config's own are replaced too, should one slip in.
    if (secrets.length === 0) return error.toJSON();
    return Object.fromEntries(
      Object.entries(error.toJSON()).map(([k, v]) => [
        k,
        typeof v === 'string' ? redactSecrets(v, secrets) : v,
      ]),
    );
  }
  const message = redactSecrets(error instanceof Error ? error.message : String(error), secrets);
  // An output's error carries a short code (`http_401`, `ECONNREFUSED`) when it has one.
  const code = error instanceof Error ? errorCodeOf(error) : undefined;
  return code === undefined || code === 'Error' ? { message } : { code, message };
}
