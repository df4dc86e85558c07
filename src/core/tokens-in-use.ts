/**
 * The access tokens this process has sent, so that `redact` can replace them literally wherever
 * they occur, like the configuration's secrets: a token is not always a JWT (the JWT pattern
 * misses an opaque one), and an API or a proxy may echo it back in an error body, which would
 * carry it into the log, the state (tenant_cycle.last_error) and `status`.
 *
 * Process-wide, because the places that clean text (an error's constructor, the logger) are
 * far from the bearer policy that knows the token. Bounded: the last few tokens of each tenant
 * (the one in use and those it replaced, which an answer still in flight may echo).
 */

/** Tokens kept per tenant: the current one and the previous few. */
const PER_TENANT = 4;
/** Shorter values are no token; replacing them everywhere would garble ordinary text. */
const MIN_TOKEN_CHARS = 16;

const byTenant = new Map<string, string[]>();
let all: readonly string[] = [];

/** Records a token about to be sent for `tenant`. Never logs it. */
export function rememberToken(tenant: string, token: string): void {
  if (token.length < MIN_TOKEN_CHARS) return;
  const recent = byTenant.get(tenant) ?? [];
  if (recent[0] === token) return; // the usual case: the cached token again
  const next = [token, ...recent.filter((t) => t !== token)].slice(0, PER_TENANT);
  byTenant.set(tenant, next);
  // Longest first, so that a token containing another is replaced whole.
  all = [...new Set([...byTenant.values()].flat())].sort((a, b) => b.length - a.length);
}

/** Every token remembered, longest first. */
export function tokensInUse(): readonly string[] {
  return all;
}
