import { X509Certificate, createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificate, generateTlsMaterial, thumbprints } from '../../src/emulator/tls.js';
import type { TlsMaterial } from '../../src/emulator/tls.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe('createCertificate', () => {
  const ca = createCertificate({ subject: 'test CA', isCa: true, days: 30 });
  const leaf = createCertificate({
    subject: 'server',
    issuer: ca,
    hosts: ['127.0.0.1', 'localhost', '::1', '2001:db8::7', '::ffff:192.0.2.1'],
  });

  it('makes a CA that node:crypto parses, self-signed', () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe('CN=test CA');
    expect(cert.issuer).toBe('CN=test CA');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
  });

  it('makes a leaf signed by the CA, with every SAN and serverAuth', () => {
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.issuer).toBe('CN=test CA');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkIP('2001:db8::7')).toBe('2001:db8::7');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.subjectAltName).toContain('IP Address:0:0:0:0:0:FFFF:C000:201');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(cert.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);
  });

  it('marks leaf certificates without hosts for client authentication', () => {
    const client = new X509Certificate(createCertificate({ subject: 'app credential' }).certPem);
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(client.subjectAltName).toBeUndefined();
  });

  it('gives each certificate a random positive serial', () => {
    const a = new X509Certificate(createCertificate({ subject: 'a', keyPem: leaf.keyPem }).certPem)
      .serialNumber;
    const b = new X509Certificate(createCertificate({ subject: 'a', keyPem: leaf.keyPem }).certPem)
      .serialNumber;
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[4-7][0-9A-F]{31}$/);
  });

  it('reuses a given key and writes PKCS#8', () => {
    const again = createCertificate({ subject: 'same key', keyPem: leaf.keyPem });
    const spki = (pem: string): string =>
      createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();
    expect(spki(again.certPem)).toBe(spki(leaf.certPem));
    expect(again.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('refuses a mismatched issuer, a non-CA issuer, and bad hosts', () => {
    const other = createCertificate({ subject: 'other CA', isCa: true });
    expect(() =>
      createCertificate({ subject: 'x', issuer: { certPem: ca.certPem, keyPem: other.keyPem } }),
    ).toThrow(/does not match/);
    expect(() => createCertificate({ subject: 'x', issuer: leaf })).toThrow(/not a CA/);
    expect(() => createCertificate({ subject: 'x', hosts: ['bad host!'] })).toThrow(/not an IP or DNS name/);
    expect(() => createCertificate({ subject: 'x', days: 0 })).toThrow(/positive/);
  });

  it('signs through an intermediate CA, keeping the chain linked', () => {
    const intermediate = createCertificate({ subject: 'intermediate', issuer: ca, isCa: true });
    const end = createCertificate({ subject: 'end', issuer: intermediate, hosts: ['localhost'] });
    const endCert = new X509Certificate(end.certPem);
    const interCert = new X509Certificate(intermediate.certPem);
    expect(endCert.checkIssued(interCert)).toBe(true);
    expect(endCert.verify(interCert.publicKey)).toBe(true);
    expect(interCert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
  });
});

describe('thumbprints', () => {
  it('are base64url SHA-1 and SHA-256 of the DER', () => {
    const { certPem } = createCertificate({ subject: 'thumbprinted' });
    const cert = new X509Certificate(certPem);
    const fromFingerprint = (hex: string): string =>
      Buffer.from(hex.replace(/:/g, ''), 'hex').toString('base64url');
    expect(thumbprints(certPem)).toEqual({
      x5t: fromFingerprint(cert.fingerprint),
      x5tS256: fromFingerprint(cert.fingerprint256),
    });
    expect(thumbprints(certPem).x5tS256).toBe(createHash('sha256').update(cert.raw).digest('base64url'));
  });
});

describe('generateTlsMaterial', () => {
  let dir: string;
  let material: TlsMaterial;
  let server: https.Server;
  let port: number;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'exotrace-tls-'));
    material = await generateTlsMaterial(path.join(dir, 'nested'));
    server = https.createServer({ key: material.serverKeyPem, cert: material.serverCertPem }, (_req, res) => {
      res.end('hello over tls');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    await rm(dir, { recursive: true, force: true });
  });

  it('writes ca.pem, server.pem and a private server-key.pem', async () => {
    const nested = path.join(dir, 'nested');
    expect(material.caFile).toBe(path.join(nested, 'ca.pem'));
    expect(await readFile(material.caFile, 'utf8')).toBe(material.caCertPem);
    expect(await readFile(path.join(nested, 'server.pem'), 'utf8')).toBe(material.serverCertPem);
    expect(await readFile(path.join(nested, 'server-key.pem'), 'utf8')).toBe(material.serverKeyPem);
    expect((await stat(path.join(nested, 'server-key.pem'))).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(material.serverCertPem);
    expect(cert.verify(new X509Certificate(material.caCertPem).publicKey)).toBe(true);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkHost('localhost')).toBe('localhost');
  });

  it('replaces an earlier set, keeping the key private', async () => {
    const again = path.join(dir, 'again');
    await generateTlsMaterial(again);
    const second = await generateTlsMaterial(again);
    expect(await readFile(path.join(again, 'server-key.pem'), 'utf8')).toBe(second.serverKeyPem);
    expect((await stat(path.join(again, 'server-key.pem'))).mode & 0o777).toBe(0o600);
  });

  const get = (options: https.RequestOptions): Promise<string> =>
    new Promise((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/', agent: false, ...options }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            resolve(text);
          });
        })
        .on('error', reject);
    });

  it('serves HTTPS that a client trusting only the CA file accepts', async () => {
    const ca = await readFile(material.caFile, 'utf8');
    expect(await get({ ca })).toBe('hello over tls');
    // The name check uses the SAN, here the DNS name rather than the IP.
    expect(await get({ ca, servername: 'localhost' })).toBe('hello over tls');
  });

  it('is refused by a client that does not trust the CA', async () => {
    await expect(get({})).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    const stranger = createCertificate({ subject: 'stranger CA', isCa: true });
    await expect(get({ ca: stranger.certPem })).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });

  it.skipIf(!hasOpenssl)('passes openssl verify against the CA file', () => {
    const result = spawnSync(
      'openssl',
      [
        'verify',
        '-x509_strict',
        '-purpose',
        'sslserver',
        '-CAfile',
        material.caFile,
        path.join(dir, 'nested', 'server.pem'),
      ],
      { encoding: 'utf8' },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toMatch(/server\.pem: OK$/);
    expect(result.status).toBe(0);
  });
});
