import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCertificate } from '../../src/emulator/tls.js';
import { loadConfig } from '../../src/config/index.js';
import type { OutputConfig } from '../../src/config/index.js';
import { load, minimal, tempDir, tenantYaml } from './helpers.js';

const EXAMPLE = `
stateDir: ./exotrace-state          # SQLite state and outbox
tls:
  caFile: ./ca.pem                  # extra CA to trust (NODE_EXTRA_CA_CERTS also works)
tenants:
  - name: contoso                   # unique; used in logs, metrics and state
    tenantId: contoso.onmicrosoft.com   # GUID or domain
    clientId: 11111111-2222-3333-4444-555555555555
    clientSecret: \${CONTOSO_SECRET}     # or certificate: { certFile, keyFile, passphrase }
    api: graph                      # graph | graph-beta | reporting
    loginUrl: https://login.microsoftonline.com   # default
    apiUrl: https://graph.microsoft.com           # default for graph; reporting: https://reports.office365.com
    organization: contoso.onmicrosoft.com         # organization.name for Graph rows
    acceptedDomains: [contoso.com]                # email.direction
    startFrom: 24h                  # first run: how far back
    minAge: 5m
    reconcileLookback: 24h
    reconcileEvery: 1h
    requestsPer5Min: 90
outputs:
  - type: file
    path: ./events.ndjson
  - type: stdout
`;

const H = 3_600_000;

describe('loadConfig: the interface.md example', () => {
  it('parses to the typed, defaults-filled config', () => {
    const ca = createCertificate({ subject: 'test CA', isCa: true }).certPem;
    const dir = tempDir();
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, EXAMPLE);
    writeFileSync(path.join(dir, 'ca.pem'), ca);
    const config = loadConfig(file, { CONTOSO_SECRET: 'the-secret' });
    expect(config).toEqual({
      file,
      stateDir: path.join(dir, 'exotrace-state'),
      tls: { caFile: path.join(dir, 'ca.pem'), caPem: ca },
      http: { timeoutMs: 60_000 },
      outbox: { maxEvents: 1_000_000, warnAfterMs: 3_600_000 },
      tenants: [
        {
          name: 'contoso',
          tenantId: 'contoso.onmicrosoft.com',
          clientId: '11111111-2222-3333-4444-555555555555',
          credential: { kind: 'secret', clientSecret: 'the-secret' },
          api: 'graph',
          loginUrl: 'https://login.microsoftonline.com',
          apiUrl: 'https://graph.microsoft.com',
          organization: 'contoso.onmicrosoft.com',
          acceptedDomains: ['contoso.com'],
          startFrom: { kind: 'ago', ms: 24 * H },
          minAgeMs: 5 * 60_000,
          reconcileLookbackMs: 24 * H,
          reconcileEveryMs: H,
          requestsPer5Min: 90,
          details: false,
        },
      ],
      outputs: [
        { type: 'file', name: 'file', path: path.join(dir, 'events.ndjson') },
        { type: 'stdout', name: 'stdout' },
      ],
    });
  });
});

describe('loadConfig: defaults', () => {
  it('fills every tenant default', () => {
    const config = load(minimal());
    const tenant = config.tenants[0];
    expect(tenant).toMatchObject({
      api: 'graph',
      loginUrl: 'https://login.microsoftonline.com',
      apiUrl: 'https://graph.microsoft.com',
      acceptedDomains: [],
      startFrom: { kind: 'ago', ms: 24 * H },
      minAgeMs: 300_000,
      reconcileLookbackMs: 24 * H,
      reconcileEveryMs: H,
      requestsPer5Min: 90,
      details: false,
    });
    expect(tenant).not.toHaveProperty('organization');
    expect(config.stateDir).toBe(path.join(path.dirname(config.file), 'exotrace-state'));
    expect(config.http).toEqual({ timeoutMs: 60_000 });
    expect(config).not.toHaveProperty('tls');
    expect(config).not.toHaveProperty('health');
  });

  it('defaults apiUrl by api', () => {
    expect(load(minimal('api: graph-beta')).tenants[0]?.apiUrl).toBe('https://graph.microsoft.com');
    expect(load(minimal('api: reporting')).tenants[0]?.apiUrl).toBe('https://reports.office365.com');
  });

  it('drops trailing slashes from loginUrl and apiUrl', () => {
    const tenant = load(
      minimal('loginUrl: https://login.microsoftonline.com/\napiUrl: https://127.0.0.1:8443/emu//'),
    ).tenants[0];
    expect(tenant?.loginUrl).toBe('https://login.microsoftonline.com');
    expect(tenant?.apiUrl).toBe('https://127.0.0.1:8443/emu');
  });

  it('accepts plain http:// on loopback', () => {
    for (const host of ['127.0.0.1:8080', '127.1.2.3', '[::1]:9000', 'localhost:8080']) {
      expect(load(minimal(`apiUrl: http://${host}`)).tenants[0]?.apiUrl).toBe(`http://${host}`);
    }
  });

  it('fills output defaults and names', () => {
    const config = load(
      `${tenantYaml()}
outputs:
  - type: elasticsearch
    url: https://es.example.com:9200/
    apiKey: k
  - type: sekoia
    intakeKey: ik
  - type: http
    name: siem
    url: https://collector.example.com/ingest/
  - type: syslog
    host: syslog.example.com
  - type: syslog
    name: syslog-tls
    host: syslog.example.com
    protocol: tls
  - type: kafka
    brokers: k1.example.com:9093, k2.example.com:9093
    topic: trace
    tls: true
    sasl: { mechanism: scram-sha-512, username: u, password: p }
  - type: splunk-hec
    url: https://splunk.example.com:8088
    token: t
  - type: file
    name: rotated
    path: out/events.ndjson
    rotateBytes: 1048576
`,
    );
    const byName = new Map<string, OutputConfig>(config.outputs.map((o) => [o.name, o]));
    expect(byName.get('elasticsearch')).toEqual({
      type: 'elasticsearch',
      name: 'elasticsearch',
      url: 'https://es.example.com:9200',
      index: 'logs-office365.message_trace-default',
      apiKey: 'k',
    });
    expect(byName.get('sekoia')).toMatchObject({ url: 'https://intake.sekoia.io', payload: 'raw' });
    expect(byName.get('siem')).toMatchObject({
      url: 'https://collector.example.com/ingest/',
      format: 'ndjson',
      headers: {},
      gzip: false,
    });
    expect(byName.get('syslog')).toMatchObject({ port: 514, protocol: 'tcp', appName: 'exotrace' });
    expect(byName.get('syslog-tls')).toMatchObject({ port: 6514 });
    expect(byName.get('kafka')).toMatchObject({
      brokers: ['k1.example.com:9093', 'k2.example.com:9093'],
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
    });
    expect(byName.get('splunk-hec')).toMatchObject({ token: 't' });
    expect(byName.get('rotated')).toMatchObject({
      path: path.join(path.dirname(config.file), 'out/events.ndjson'),
      rotateBytes: 1_048_576,
    });
  });

  it('resolves and reads an output caFile, and an unreadable one names its key path', () => {
    const ca = createCertificate({ subject: 'es CA', isCa: true }).certPem;
    const config = load(
      `${tenantYaml()}\noutputs:\n  - type: elasticsearch\n    url: https://es.example.com\n    caFile: certs/es-ca.pem\n`,
      {},
      { 'certs/es-ca.pem': ca },
    );
    expect(config.outputs[0]).toMatchObject({
      caFile: path.join(path.dirname(config.file), 'certs/es-ca.pem'),
      caPem: ca,
    });
    // (On a network output: file and stdout take no caFile, test/config/local-outputs.test.ts.)
    expect(() =>
      load(
        `${tenantYaml()}\noutputs:\n  - type: http\n    url: https://h.example.com/in\n    caFile: nope.pem\n`,
      ),
    ).toThrow(/outputs\[0\]\.caFile: cannot read .*nope\.pem: no such file/);
  });

  it('reads an elasticsearch retention as milliseconds, or none', () => {
    const config = load(
      `${tenantYaml()}\noutputs:\n  - type: elasticsearch\n    url: https://es.example.com\n    retention: 365d\n  - type: elasticsearch\n    name: bare\n    url: https://es2.example.com\n    retention: None\n`,
    );
    expect(config.outputs.map((o) => (o.type === 'elasticsearch' ? o.retention : undefined))).toEqual([
      365 * 86_400_000,
      'none',
    ]);
  });

  it('reads http and health blocks', () => {
    const config = load(`${minimal()}http:\n  timeout: 30s\n  proxy: http://proxy.corp:3128\nhealth: {}\n`);
    expect(config.http).toEqual({ timeoutMs: 30_000, proxy: 'http://proxy.corp:3128/' });
    expect(config.health).toEqual({ listen: '127.0.0.1:9464' });
    expect(() => load(`${minimal()}health:\n  listen: 127.0.0.1:70000\n`)).toThrow(
      /health\.listen: the port must be from 1 to 65535/,
    );
    expect(() => load(`${minimal()}health:\n  listen: 127.0.0.1:0\n`)).toThrow(/health\.listen: the port/);
  });
});

describe('loadConfig: values', () => {
  it('reads durations in every unit', () => {
    const tenant = load(minimal('minAge: 30s\nreconcileLookback: 2d\nreconcileEvery: 90m')).tenants[0];
    expect(tenant).toMatchObject({
      minAgeMs: 30_000,
      reconcileLookbackMs: 2 * 24 * H,
      reconcileEveryMs: 90 * 60_000,
    });
  });

  it('reads startFrom as a duration or an ISO instant; beyond 90 days is left to the collector', () => {
    expect(load(minimal('startFrom: 90d')).tenants[0]?.startFrom).toEqual({ kind: 'ago', ms: 90 * 24 * H });
    expect(load(minimal('startFrom: 400d')).tenants[0]?.startFrom).toEqual({ kind: 'ago', ms: 400 * 24 * H });
    expect(load(minimal('startFrom: 2026-01-31T12:00:00Z')).tenants[0]?.startFrom).toEqual({
      kind: 'at',
      at: new Date('2026-01-31T12:00:00Z'),
    });
    expect(load(minimal("startFrom: '2026-01-31T12:00:00+02:00'")).tenants[0]?.startFrom).toEqual({
      kind: 'at',
      at: new Date('2026-01-31T10:00:00Z'),
    });
    expect(load(minimal('startFrom: 2026-01-31')).tenants[0]?.startFrom).toEqual({
      kind: 'at',
      at: new Date('2026-01-31T00:00:00Z'),
    });
  });

  it('accepts a GUID tenant id and numbers and booleans given as text (from ${VAR})', () => {
    const tenant = load(minimal('tenantId: ${TENANT}\nrequestsPer5Min: ${BUDGET}\ndetails: ${DETAILS}'), {
      TENANT: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      BUDGET: '50',
      DETAILS: 'false',
    }).tenants[0];
    expect(tenant).toMatchObject({
      tenantId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      requestsPer5Min: 50,
      details: false,
    });
  });
});

describe('loadConfig: ${VAR}', () => {
  it('replaces variables in nested places, several per value, and leaves $${ literal', () => {
    const config = load(
      `${tenantYaml('clientSecret: pre-${A}-${B}-post\nacceptedDomains: ["${DOMAIN}", other.com]')}
outputs:
  - type: http
    url: https://\${HOST}/ingest
    headers:
      Authorization: Bearer \${TOKEN}
      X-Template: $\${NOT_A_VAR} and $\${A}
`,
      { A: 'a', B: 'b', DOMAIN: 'contoso.com', HOST: 'collector.example.com', TOKEN: 'tok' },
    );
    const tenant = config.tenants[0];
    expect(tenant?.credential).toEqual({ kind: 'secret', clientSecret: 'pre-a-b-post' });
    expect(tenant?.acceptedDomains).toEqual(['contoso.com', 'other.com']);
    expect(config.outputs[0]).toMatchObject({
      url: 'https://collector.example.com/ingest',
      headers: { Authorization: 'Bearer tok', 'X-Template': '${NOT_A_VAR} and ${A}' },
    });
  });

  it('does not re-expand a value that itself contains ${', () => {
    const tenant = load(minimal('clientSecret: ${S}'), { S: 'x${Y}z', Y: 'no' }).tenants[0];
    expect(tenant?.credential).toEqual({ kind: 'secret', clientSecret: 'x${Y}z' });
  });
});

describe('loadConfig: certificates', () => {
  it('reads the certificate and key, relative to the config file, and decrypts the key', () => {
    const { certPem, keyPem } = createCertificate({ subject: 'exotrace app' });
    const encrypted = createPrivateKey(keyPem)
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' })
      .toString();
    const config = load(
      minimal('certificate:\n  certFile: certs/app.pem\n  keyFile: certs/app-key.pem\n  passphrase: ${PASS}'),
      { PASS: 'pw' },
      { 'certs/app.pem': certPem, 'certs/app-key.pem': encrypted },
    );
    const dir = path.dirname(config.file);
    const der = new X509Certificate(certPem).raw;
    expect(config.tenants[0]?.credential).toEqual({
      kind: 'certificate',
      certFile: path.join(dir, 'certs/app.pem'),
      keyFile: path.join(dir, 'certs/app-key.pem'),
      certificatePem: certPem,
      privateKeyPem: keyPem,
      thumbprintSha256: createHash('sha256').update(der).digest('hex'),
      notAfter: new Date(new X509Certificate(certPem).validTo),
    });
  });

  it('accepts an unencrypted key and a combined PEM file', () => {
    const { certPem, keyPem } = createCertificate({ subject: 'exotrace app' });
    const config = load(
      minimal('certificate: { certFile: both.pem, keyFile: both.pem }'),
      {},
      {
        'both.pem': keyPem + certPem,
      },
    );
    expect(config.tenants[0]?.credential).toMatchObject({ kind: 'certificate', privateKeyPem: keyPem });
  });
});
