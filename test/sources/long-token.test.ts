/**
 * An access token longer than an error message's cut (300 characters of the API's message) is
 * replaced whole before the message is cut: cut first, the token's first part stayed, no longer
 * matching the token in use (issue 11, item 15; found by review).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { classifyResponse, mapAadError } from '../../src/sources/http/api-errors.js';
import { rememberToken } from '../../src/core/tokens-in-use.js';

const ctx = { tenant: 'long-token', configPath: 'tenants[0]' };
// An opaque reference token of 1,200 characters (base64url), as some gateways issue.
const TOKEN = randomBytes(900).toString('base64url');

/** Any 24 characters of the token in `text`: a part long enough to be worth something. */
function leaks(text: string): string | undefined {
  for (let i = 0; i + 24 <= TOKEN.length; i += 8) {
    const part = TOKEN.slice(i, i + 24);
    if (text.includes(part)) return part;
  }
  return undefined;
}

describe('a long token echoed in an API error', () => {
  rememberToken(ctx.tenant, TOKEN);
  const url = new URL('https://graph.example.test/v1.0/admin/exchange/tracing/messageTraces');
  for (const [where, message] of [
    ['at the start', `${TOKEN} is not valid`],
    ['after a prefix', `The access token ${TOKEN} is not valid`],
    ['across the cut', `${'x'.repeat(280)} ${TOKEN}`],
  ] as const) {
    it(`${where}: no part of it in the message or the error's JSON`, () => {
      const error = classifyResponse(
        ctx,
        { method: 'GET', url },
        { status: 400, text: JSON.stringify({ error: { code: 'BadRequest', message } }) },
      );
      expect(error).toBeDefined();
      expect(leaks(error?.message ?? '')).toBeUndefined();
      expect(leaks(JSON.stringify(error))).toBeUndefined();
      expect(error?.message).toContain('REDACTED');
    });
  }

  it("in a token endpoint's description: replaced before the cut too", () => {
    const error = mapAadError(ctx, { description: `The token ${TOKEN} was refused`, status: 400 });
    expect(leaks(error.message)).toBeUndefined();
    expect(error.message).toContain('REDACTED');
  });
});
