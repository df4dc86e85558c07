import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCertificate } from '../../src/emulator/tls.js';
import { REDACTED, redactConfig, secretsOf } from '../../src/config/index.js';
import { load } from './helpers.js';

const ENV = {
  SECRET_A: 'secret-a-value',
  PASS: 'key-passphrase',
  ES_KEY: 'es-api-key',
  ES_PASS: 'es-password',
  HEC: 'hec-token',
  SEKOIA: 'sekoia-intake-key',
  BEARER: 'Bearer http-header-token',
  KAFKA_PASS: 'kafka-sasl-password',
  PROXY_PASS: 'proxy-p%40ss',
};

function everySecretConfig() {
  const { certPem, keyPem } = createCertificate({ subject: 'exotrace app' });
  const encrypted = createPrivateKey(keyPem)
    .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: ENV.PASS })
    .toString();
  const config = load(
    `tenants:
  - name: a
    tenantId: a.onmicrosoft.com
    clientId: 11111111-2222-3333-4444-555555555555
    clientSecret: \${SECRET_A}
  - name: b
    tenantId: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
    clientId: 11111111-2222-3333-4444-555555555555
    certificate: { certFile: app.pem, keyFile: app-key.pem, passphrase: "\${PASS}" }
outputs:
  - type: elasticsearch
    url: https://es.example.com
    apiKey: \${ES_KEY}
  - type: elasticsearch
    name: es-basic
    url: https://es.example.com
    username: elastic
    password: \${ES_PASS}
  - type: splunk-hec
    url: https://splunk.example.com:8088
    token: \${HEC}
  - type: sekoia
    intakeKey: \${SEKOIA}
  - type: http
    url: https://collector.example.com/in
    headers: { Authorization: "\${BEARER}", Content-Type: application/x-ndjson }
  - type: kafka
    brokers: [k.example.com:9093]
    topic: trace
    tls: true
    sasl: { username: kafka-user, password: "\${KAFKA_PASS}" }
http:
  proxy: http://proxy-user:\${PROXY_PASS}@proxy.corp:3128
`,
    ENV,
    { 'app.pem': certPem, 'app-key.pem': encrypted },
  );
  return { config, keyPem };
}

describe('redactConfig and secretsOf', () => {
  it('lists every secret and redacts each of them', () => {
    const { config, keyPem } = everySecretConfig();
    const secrets = secretsOf(config);
    // The passphrase is used to decrypt the key at load and not kept; the decrypted key is.
    expect(secrets).toEqual(
      expect.arrayContaining([
        ENV.SECRET_A,
        keyPem,
        ENV.ES_KEY,
        ENV.ES_PASS,
        ENV.HEC,
        ENV.SEKOIA,
        ENV.BEARER,
        ENV.KAFKA_PASS,
        ENV.PROXY_PASS,
        'proxy-p@ss',
      ]),
    );
    const json = JSON.stringify(redactConfig(config));
    for (const secret of secrets) expect(json).not.toContain(JSON.stringify(secret).slice(1, -1));
    for (const secret of Object.values(ENV)) expect(json).not.toContain(secret);
    expect(json).not.toContain('PRIVATE KEY');
  });

  it('keeps everything else readable and leaves the config untouched', () => {
    const { config } = everySecretConfig();
    const before = JSON.stringify(config);
    const redacted = redactConfig(config);
    expect(JSON.stringify(config)).toBe(before);
    expect(redacted.tenants[0]?.credential).toEqual({ kind: 'secret', clientSecret: REDACTED });
    expect(redacted.tenants[1]?.credential).toMatchObject({
      kind: 'certificate',
      privateKeyPem: REDACTED,
      thumbprintSha256: expect.stringMatching(/^[0-9a-f]{64}$/) as string,
    });
    expect(
      redacted.tenants[1]?.credential.kind === 'certificate' && redacted.tenants[1].credential.notAfter,
    ).toBeInstanceOf(Date);
    expect(redacted.outputs[4]).toMatchObject({
      headers: { Authorization: REDACTED, 'Content-Type': 'application/x-ndjson' },
    });
    expect(redacted.outputs[5]).toMatchObject({ sasl: { username: 'kafka-user', password: REDACTED } });
    expect(redacted.http.proxy).toBe(`http://proxy-user:${REDACTED}@proxy.corp:3128`);
    expect(redacted.tenants[0]?.clientId).toBe('11111111-2222-3333-4444-555555555555');
  });

  it('finds no secret where there is none', () => {
    const config = load(
      'tenants:\n  - name: a\n    tenantId: a.com\n    clientId: 11111111-2222-3333-4444-555555555555\n    clientSecret: x\noutputs:\n  - type: stdout\n',
    );
    expect(secretsOf(config)).toEqual(['x']);
  });
});
