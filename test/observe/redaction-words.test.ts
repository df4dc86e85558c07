/**
 * A short configured secret (`pass1`, `test`) was replaced wherever it occurred, so ordinary
 * words of messages were mangled ("REDACTEDword"). Short secrets are now replaced where they stand
 * as a token of their own; long ones (random credentials) still wherever they occur.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observe/log.js';
import { ANYWHERE_SECRET, redactSecrets } from '../../src/core/redact.js';

function logged(secrets: string[], message: string, fields?: Record<string, unknown>): string {
  let text = '';
  const stream = {
    isTTY: false,
    write(chunk: string) {
      text += chunk;
      return true;
    },
  };
  createLogger(stream, { secrets }).info(message, fields);
  return text;
}

describe('redaction of a short configured secret', () => {
  const secret = 'test';

  it('no longer mangles the words that contain it', () => {
    const text = 'the latest attestation of the tests passed; contest over';
    expect(redactSecrets(text, [secret])).toBe(text);
    const line = logged([secret], 'latest attestation', { note: 'contest' });
    expect(line).toContain('"msg":"latest attestation"');
    expect(line).toContain('"note":"contest"');
    expect(line).not.toContain('REDACTED');
  });

  it('still removes it wherever it stands as itself', () => {
    const out = redactSecrets(`password=test&x=1 | "test" | 'test' | Basic test | test: | (test) | test`, [
      secret,
    ]);
    expect(out).toBe(
      `password=REDACTED&x=1 | "REDACTED" | 'REDACTED' | Basic REDACTED | REDACTED: | (REDACTED) | REDACTED`,
    );
    const line = logged([secret], 'sent secret test to the server', { sent: 'user:test' });
    expect(line).not.toMatch(/\btest\b/);
    expect(line).toContain('"sent":"user:REDACTED"');
  });
});

describe('redaction of a long configured secret', () => {
  const secret = 'Xq8~vT3.kP0_zR7-wL2mN5';

  it('is as long as a real credential, so it is removed everywhere it was, even inside a word', () => {
    expect(secret.length).toBeGreaterThanOrEqual(ANYWHERE_SECRET);
    for (const text of [`a${secret}b`, `key=${secret}`, `"${secret}"`, `${secret}${secret}`, `x ${secret}`]) {
      expect(redactSecrets(text, [secret])).not.toContain(secret);
      expect(logged([secret], text)).not.toContain(secret);
    }
    expect(redactSecrets(`prefix${secret}suffix`, [secret])).toBe('prefixREDACTEDsuffix');
  });
});
