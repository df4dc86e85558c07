/**
 * `$VAR` without braces in a secret: only `${VAR}` is read from the environment, so the literal
 * text went to Microsoft (or an output) as the secret. It is refused at its key, with the fix.
 */
import { describe, expect, it } from 'vitest';
import { load, loadError, minimal, tenantYaml } from './helpers.js';

describe('a secret written $VAR (no braces)', () => {
  it('is refused at its key path, with the ${VAR} spelling to use', () => {
    const error = loadError(minimal('clientSecret: $CONTOSO_SECRET'), { CONTOSO_SECRET: 'the-real-one' });
    expect(error.issues).toEqual([
      {
        path: 'tenants[0].clientSecret',
        message:
          '$CONTOSO_SECRET is taken literally, not read from the environment: write ${CONTOSO_SECRET} (with braces) for the variable',
        line: 5,
      },
    ]);
  });

  it('in every secret-named key: an output apiKey, a certificate passphrase', () => {
    const error = loadError(
      `${tenantYaml()}\noutputs:\n  - type: elasticsearch\n    url: https://es.example.com\n    apiKey: $ES_API_KEY\n`,
    );
    expect(error.issues.map((i) => [i.path, i.message.split(':')[0]])).toEqual([
      ['outputs[0].apiKey', '$ES_API_KEY is taken literally, not read from the environment'],
    ]);
    const passphrase = loadError(
      minimal('certificate:\n  certFile: a.pem\n  keyFile: a.key\n  passphrase: $KEY_PASS'),
    );
    expect(passphrase.issues.map((i) => i.path)).toContain('tenants[0].certificate.passphrase');
  });

  it('${VAR} still works, and a secret that really is such text can come from the environment', () => {
    expect(load(minimal('clientSecret: ${S}'), { S: 'the-real-one' }).tenants[0]?.credential).toEqual({
      kind: 'secret',
      clientSecret: 'the-real-one',
    });
    expect(load(minimal('clientSecret: ${S}'), { S: '$LITERAL_TEXT' }).tenants[0]?.credential).toEqual({
      kind: 'secret',
      clientSecret: '$LITERAL_TEXT',
    });
    // Not a variable's spelling (lower case, other characters): an ordinary secret.
    expect(load(minimal('clientSecret: $abc.Def~1')).tenants[0]?.credential).toEqual({
      kind: 'secret',
      clientSecret: '$abc.Def~1',
    });
    // Outside secrets a $ is just text.
    expect(load(minimal('organization: $ORG')).tenants[0]?.organization).toBe('$ORG');
  });
});
