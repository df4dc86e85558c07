import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCertificate } from '../../src/emulator/tls.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { STDOUT, loadError, minimal, tempDir, tenantYaml } from './helpers.js';

/** The issue at `path`, failing the test with every issue listed when there is none. */
function issueAt(error: ConfigError, path: string): { path: string; message: string; line?: number } {
  const issue = error.issues.find((candidate) => candidate.path === path);
  if (issue === undefined) throw new Error(`no issue at ${path}; got:\n${error.message}`);
  return issue;
}

function expectIssue(error: ConfigError, path: string, message: RegExp): void {
  expect(issueAt(error, path).message).toMatch(message);
  // The message users read lists the issue by the same key path.
  expect(error.message).toContain(`  ${path}: `);
}

describe('ConfigError: each kind of bad config names its key path', () => {
  it('names the file, the key path and the line', () => {
    const error = loadError(minimal('clientId: not-a-guid'));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/config\.yaml: invalid configuration\n/);
    expect(issueAt(error, 'tenants[0].clientId')).toMatchObject({ message: /not a GUID/, line: 5 });
    expect(error.message).toMatch(/ {2}tenants\[0\]\.clientId: not a GUID.*\(line 5\)/);
  });

  it('missing tenant id', () => {
    const error = loadError(
      'tenants:\n  - name: contoso\n    clientId: 11111111-2222-3333-4444-555555555555\n    clientSecret: x\n' +
        STDOUT,
    );
    expectIssue(error, 'tenants[0].tenantId', /required/);
  });

  it('both a secret and a certificate, without echoing the secret', () => {
    const error = loadError(
      minimal('clientSecret: very-secret-value\ncertificate: { certFile: c.pem, keyFile: k.pem }'),
    );
    expectIssue(error, 'tenants[0].certificate', /not both/);
    expect(error.message).not.toContain('very-secret-value');
    expect(JSON.stringify(error.issues)).not.toContain('very-secret-value');
  });

  it('neither a secret nor a certificate', () => {
    const error = loadError(
      'tenants:\n  - name: contoso\n    tenantId: contoso.com\n    clientId: 11111111-2222-3333-4444-555555555555\n' +
        STDOUT,
    );
    expectIssue(error, 'tenants[0].clientSecret', /no credential: add clientSecret .* or certificate/);
  });

  it('a bad GUID and a bad tenant id', () => {
    const error = loadError(minimal('clientId: 1234\ntenantId: not a domain'));
    expectIssue(error, 'tenants[0].clientId', /expected a GUID|not a GUID/);
    expectIssue(error, 'tenants[0].tenantId', /tenant GUID|domain/);
  });

  it('duplicate tenant names', () => {
    const tenant = (name: string) =>
      `  - name: ${name}\n    tenantId: ${name}.com\n    clientId: 11111111-2222-3333-4444-555555555555\n    clientSecret: x\n`;
    const error = loadError(`tenants:\n${tenant('a')}${tenant('b')}${tenant('a')}${STDOUT}`);
    expectIssue(error, 'tenants[2].name', /duplicate tenant name "a" \(also tenants\[0\]\)/);
  });

  it('a tenant name that is not [a-z0-9-]+', () => {
    expectIssue(
      loadError(minimal('name: Contoso_EU')),
      'tenants[0].name',
      /lower-case letters, digits and dashes/,
    );
  });

  it('unknown keys, each by its own path and line', () => {
    const error = loadError(`${tenantYaml('reconcileEvry: 1h')}\n${STDOUT}stateDirectory: x\n`);
    expect(issueAt(error, 'tenants[0].reconcileEvry')).toMatchObject({ message: /unknown key/, line: 6 });
    expect(issueAt(error, 'stateDirectory')).toMatchObject({ message: /unknown key/, line: 9 });
  });

  it('unknown keys inside a certificate and an output', () => {
    const error = loadError(
      `${tenantYaml('certificate: { certFile: c.pem, keyFile: k.pem, password: x }')}\noutputs:\n  - type: stdout\n    colour: true\n`,
    );
    expectIssue(error, 'tenants[0].certificate.password', /unknown key/);
    expectIssue(error, 'outputs[0].colour', /unknown key/);
  });

  it('bad durations: no unit, unknown unit, negative', () => {
    const error = loadError(minimal('minAge: 300\nreconcileEvery: 1w\nreconcileLookback: -1h'));
    expectIssue(error, 'tenants[0].minAge', /no unit: use a number and a unit: 30s, 5m, 24h, 90d/);
    expectIssue(error, 'tenants[0].reconcileEvery', /not a duration: "1w"/);
    expectIssue(error, 'tenants[0].reconcileLookback', /must not be negative/);
  });

  it('bad startFrom: negative, unparseable, no time zone, impossible date, future', () => {
    expectIssue(loadError(minimal('startFrom: -24h')), 'tenants[0].startFrom', /must not be negative/);
    expectIssue(loadError(minimal('startFrom: yesterday')), 'tenants[0].startFrom', /ISO 8601/);
    expectIssue(loadError(minimal('startFrom: 2026-01-31T00:00:00')), 'tenants[0].startFrom', /time zone/);
    expectIssue(loadError(minimal('startFrom: 2026-02-30')), 'tenants[0].startFrom', /not a valid date/);
    expectIssue(loadError(minimal('startFrom: 2999-01-01T00:00:00Z')), 'tenants[0].startFrom', /future/);
  });

  it('reconcileLookback not longer than minAge', () => {
    expectIssue(
      loadError(minimal('minAge: 1h\nreconcileLookback: 30m')),
      'tenants[0].reconcileLookback',
      /longer than minAge/,
    );
  });

  it('plain http:// to a non-loopback host, for API and output URLs, with the https fix', () => {
    const error = loadError(
      `${tenantYaml('loginUrl: http://login.example.com\napiUrl: http://10.0.0.1:8080/x')}
outputs:
  - type: elasticsearch
    url: http://es.example.com:9200
  - type: http
    url: ftp://example.com/
`,
    );
    expectIssue(error, 'tenants[0].loginUrl', /only for loopback hosts.*use https:\/\/login\.example\.com/);
    expectIssue(error, 'tenants[0].apiUrl', /only for loopback hosts/);
    expectIssue(error, 'outputs[0].url', /only for loopback hosts/);
    expectIssue(error, 'outputs[1].url', /use https:\/\//);
  });

  it('credentials in an output URL, without echoing them', () => {
    const error = loadError(
      `${tenantYaml()}\noutputs:\n  - type: http\n    url: https://u:hunter2@x.example.com/\n`,
    );
    expectIssue(error, 'outputs[0].url', /credentials do not belong in the URL/);
    expect(error.message).not.toContain('hunter2');
  });

  it('a missing environment variable, named with its key path', () => {
    const error = loadError(
      `${tenantYaml('clientSecret: ${CONTOSO_SECRET}')}\noutputs:\n  - type: http\n    url: https://x.example.com/\n    headers: { Authorization: "Bearer \${HEC_TOKEN}" }\n`,
      {},
    );
    expectIssue(error, 'tenants[0].clientSecret', /environment variable CONTOSO_SECRET is not set/);
    expectIssue(error, 'outputs[0].headers.Authorization', /environment variable HEC_TOKEN is not set/);
  });

  it('a value from the environment is hidden only in the issue about its own key', () => {
    // 300s came from ${M} at minAge: the issue about reconcileLookback quotes its own literal.
    const error = loadError(minimal('minAge: ${M}\nreconcileLookback: 300ss'), { M: '300s' });
    expectIssue(error, 'tenants[0].reconcileLookback', /not a duration: "300ss" \(use a number and a unit/);
    expect(error.message).not.toContain('${M}');
    // At its own key, the same value is named by its variable.
    const own = loadError(minimal('reconcileLookback: ${M}s'), { M: '300s' });
    expectIssue(own, 'tenants[0].reconcileLookback', /not a duration: "\$\{M\}s"/);
    expect(own.message).not.toContain('300ss');
  });

  it('a short value from the environment is not hidden (it garbles and hides nothing)', () => {
    // The review's reproduction: 5m from the environment at minAge, a typo at reconcileLookback.
    const error = loadError(minimal('minAge: ${M}\nreconcileLookback: 5mm'), { M: '5m' });
    expect(issueAt(error, 'tenants[0].reconcileLookback').message).toBe(
      'not a duration: "5mm" (use a number and a unit: 30s, 5m, 24h, 90d)',
    );
    // Even at its own key: 5m is no secret.
    const own = loadError(minimal('reconcileLookback: ${M}m'), { M: '5m' });
    expect(issueAt(own, 'tenants[0].reconcileLookback').message).toBe(
      'not a duration: "5mm" (use a number and a unit: 30s, 5m, 24h, 90d)',
    );
  });

  it('a secret from the environment under a wrong key is never echoed, in a list or a mapping too', () => {
    const secret = 'sup3r-secret-from-env';
    const error = loadError(
      `${tenantYaml('reconcileLookback: ${S}\nrequestsPer5Min: ${S}')}\noutputs:\n  - type: splunk-hec\n    url: https://splunk.example.com\n    token: ["\${S}"]\n`,
      { S: secret },
    );
    expectIssue(error, 'tenants[0].reconcileLookback', /not a duration: "\$\{S\}"/);
    expect(error.message).not.toContain(secret);
    expect(JSON.stringify(error.issues)).not.toContain(secret);
  });

  it('a bad ${…} reference', () => {
    expectIssue(
      loadError(minimal('organization: ${not valid}')),
      'tenants[0].organization',
      /not a variable name/,
    );
    expectIssue(loadError(minimal('organization: ${OPEN')), 'tenants[0].organization', /unterminated/);
  });

  it('an unreadable certificate or key file names the key path and the file', () => {
    const error = loadError(minimal('certificate: { certFile: missing.pem, keyFile: missing-key.pem }'));
    expect(issueAt(error, 'tenants[0].certificate.certFile').message).toMatch(
      /cannot read .*missing\.pem: no such file/,
    );
    expect(issueAt(error, 'tenants[0].certificate.keyFile').message).toMatch(
      /missing-key\.pem: no such file/,
    );
  });

  it('a certificate file that holds no certificate, a key of another certificate, a certificate as key', () => {
    const a = createCertificate({ subject: 'a' });
    const b = createCertificate({ subject: 'b' });
    expectIssue(
      loadError(minimal('certificate: { certFile: k.pem, keyFile: k.pem }'), {}, { 'k.pem': a.keyPem }),
      'tenants[0].certificate.certFile',
      /no PEM certificate/,
    );
    expectIssue(
      loadError(
        minimal('certificate: { certFile: c.pem, keyFile: k.pem }'),
        {},
        { 'c.pem': a.certPem, 'k.pem': b.keyPem },
      ),
      'tenants[0].certificate.keyFile',
      /does not belong to the certificate/,
    );
    expectIssue(
      loadError(minimal('certificate: { certFile: c.pem, keyFile: c.pem }'), {}, { 'c.pem': a.certPem }),
      'tenants[0].certificate.keyFile',
      /no readable PEM private key/,
    );
  });

  it('an encrypted key without its passphrase, or with a wrong one', () => {
    const a = createCertificate({ subject: 'a' });
    const encrypted = createPrivateKey(a.keyPem)
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'right' })
      .toString();
    const files = { 'c.pem': a.certPem, 'k.pem': encrypted };
    expectIssue(
      loadError(minimal('certificate: { certFile: c.pem, keyFile: k.pem }'), {}, files),
      'tenants[0].certificate.keyFile',
      /the key is encrypted: add certificate\.passphrase/,
    );
    const wrong = loadError(
      minimal('certificate: { certFile: c.pem, keyFile: k.pem, passphrase: wrong-pw }'),
      {},
      files,
    );
    expectIssue(wrong, 'tenants[0].certificate.keyFile', /wrong passphrase/);
    expect(wrong.message).not.toContain('wrong-pw');
  });

  it('an unknown output type lists the known ones', () => {
    expectIssue(
      loadError(`${tenantYaml()}\noutputs:\n  - type: splunk\n`),
      'outputs[0].type',
      /unknown output type: expected one of file, stdout, elasticsearch, splunk-hec, sekoia, http, kafka, syslog/,
    );
  });

  it('requestsPer5Min above Graph limit, with why', () => {
    expectIssue(
      loadError(minimal('requestsPer5Min: 150')),
      'tenants[0].requestsPer5Min',
      /at most 100 \(Microsoft allows 100 per 5 minutes per tenant/,
    );
  });

  it('outbox bounds: too small a maxEvents, a warnAfter without unit', () => {
    const error = loadError(`${minimal()}outbox:\n  maxEvents: 10\n  warnAfter: 30\n`);
    expectIssue(error, 'outbox.maxEvents', /at least 1000/);
    expectIssue(error, 'outbox.warnAfter', /unit/);
  });

  it('batch bounds per output: batchSize from 1 to 50000, batchBytes from 1024 to 100 MiB', () => {
    const error = loadError(
      `${tenantYaml()}\noutputs:\n  - type: stdout\n    batchSize: 0\n  - type: file\n    path: a.ndjson\n    batchSize: 50001\n    batchBytes: 100\n  - type: syslog\n    host: 127.0.0.1\n    batchSize: lots\n    batchBytes: 104857601\n`,
    );
    expectIssue(error, 'outputs[0].batchSize', /^must be at least 1$/);
    expectIssue(error, 'outputs[1].batchSize', /^must be at most 50000$/);
    expectIssue(error, 'outputs[1].batchBytes', /^must be at least 1024$/);
    expectIssue(error, 'outputs[2].batchSize', /^expected a whole number$/);
    expectIssue(error, 'outputs[2].batchBytes', /^must be at most 104857600$/);
  });

  it('elasticsearch retention: a duration of at least a day, or none', () => {
    const es = (retention: string) =>
      `${tenantYaml()}\noutputs:\n  - type: elasticsearch\n    url: https://es.example.com:9200\n    retention: ${retention}\n`;
    expectIssue(
      loadError(es('90')),
      'outputs[0].retention',
      /^90 has no unit: .*; or none to install no lifecycle policy$/,
    );
    expectIssue(
      loadError(es('12h')),
      'outputs[0].retention',
      /^must be whole seconds, at least 1d \(or none\)$/,
    );
    expectIssue(loadError(es('forever')), 'outputs[0].retention', /not a duration: "forever".*or none/);
  });

  it('details: true is refused (not collected yet) rather than silently ignored', () => {
    expectIssue(
      loadError(minimal('details: true')),
      'tenants[0].details',
      /getDetailsByRecipient\) are not collected yet.*set it to false/,
    );
  });

  it('output problems: missing keys, duplicate names, auth pairs, sasl without TLS', () => {
    const error = loadError(
      `${tenantYaml()}
outputs:
  - type: file
  - type: stdout
  - type: stdout
  - type: elasticsearch
    url: https://es.example.com
    username: elastic
  - type: kafka
    brokers: [k.example.com:9092]
    topic: t
    sasl: { username: u, password: p }
  - type: splunk-hec
    url: https://splunk.example.com
`,
    );
    expectIssue(error, 'outputs[0].path', /required/);
    expectIssue(error, 'outputs[2].name', /duplicate output name "stdout" \(also outputs\[1\]\)/);
    expectIssue(error, 'outputs[3].password', /username and password go together/);
    expectIssue(error, 'outputs[4].tls', /set tls: true/);
    expectIssue(error, 'outputs[5].token', /required/);
  });

  it('no tenants, no outputs, wrong types', () => {
    const error = loadError('tenants: []\noutputs: {}\nstateDir: 5\n');
    expectIssue(error, 'tenants', /at least one tenant/);
    expectIssue(error, 'outputs', /expected a list/);
    expectIssue(error, 'stateDir', /expected text, got number: quote the value/);
  });

  it('a number where text belongs says to quote it', () => {
    expectIssue(loadError(minimal('clientSecret: 12345')), 'tenants[0].clientSecret', /quote the value/);
  });

  it('broken YAML names the line', () => {
    const error = loadError('tenants:\n  - name: a\n   bad: [\n');
    expect(error.issues[0]).toMatchObject({ path: '', line: expect.any(Number) as number });
    expect(error.message).toMatch(/\(file\): YAML: .*\(line \d+\)/);
  });

  it('a ${VAR} in a flow list unquoted gets the quoting hint', () => {
    const error = loadError(minimal('acceptedDomains: [${D}]'), { D: 'x.com' });
    expect(error.message).toMatch(/quote values that use \$\{VAR\}/);
  });

  it('an empty file and a missing file', () => {
    expect(loadError('').message).toMatch(/expected a mapping with tenants and outputs/);
    const missing = `${tempDir()}/nope.yaml`;
    expect(() => loadConfig(missing, {})).toThrow(
      /nope\.yaml: invalid configuration\n {2}\(file\): cannot read the file: no such file/,
    );
  });
});
