/**
 * Review of issue 13: an Authorization scheme outside a fixed list was taken for the credential
 * (`SSWS 00Q…` → `REDACTED 00Q…`, the credential kept), a Cookie header lost only its first pair,
 * and the names that are also words ("token", "signature") ate a server's diagnosis.
 */
import { describe, expect, it } from 'vitest';
import { redact } from '../../src/core/redact.js';

describe('a header value in error text', () => {
  it.each([
    [
      'upstream echoed Authorization: SSWS 00QCjAl4MlV-WPXM9K3pZnF',
      'upstream echoed Authorization: SSWS REDACTED',
    ],
    [
      'Authorization: AWS4-HMAC-SHA256 Credential=AKIA/2026/s3, SignedHeaders=host, Signature=abcdef',
      'Authorization: AWS4-HMAC-SHA256 REDACTED',
    ],
    ['{"authorization":"Basic dXNlcjpwYXNz","x":1}', '{"authorization":"Basic REDACTED","x":1}'],
    ['proxy-authorization: Negotiate YIIabc', 'proxy-authorization: Negotiate REDACTED'],
    ['authorization=opaque123', 'authorization=REDACTED'],
    ['Cookie: a=1; b=2', 'Cookie: REDACTED'],
    ['set-cookie: sid=abc; Path=/; HttpOnly', 'set-cookie: REDACTED'],
  ])('%j → %j (the scheme kept, the rest of the value gone)', (text, expected) => {
    expect(redact(text)).toBe(expected);
    expect(redact(redact(text))).toBe(expected);
  });
});

describe('names that are also words of a diagnosis', () => {
  it('keep the server’s words: only name=value and JSON fields are secrets', () => {
    const said = 'invalid token: signature verification failed; api key: missing';
    expect(redact(said)).toBe(said);
    expect(redact('token=abc&x=1 {"api_key":"k1","token": "t2"} signature=zz')).toBe(
      'token=REDACTED&x=1 {"api_key":"REDACTED","token": "REDACTED"} signature=REDACTED',
    );
  });
  it('the names that never are plain words still match after a colon', () => {
    expect(redact('passphrase: hunter2 password: pw1')).toBe('passphrase: REDACTED password: REDACTED');
  });
});
