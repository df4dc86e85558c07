/**
 * Throwaway X.509 material for the emulator's HTTPS: a CA and a server certificate it signs, and
 * certificates that tests register on apps for client assertions.
 *
 * Microsoft's clients (msal-node among them) refuse plain-http authorities, so the emulator must
 * serve TLS, and its users must be able to trust it with one CA file. node:crypto makes keys and
 * signatures but cannot build a certificate, so the DER below encodes just the ASN.1 that RFC 5280
 * needs; nothing here depends on openssl being installed.
 */
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';

export interface CertificateOptions {
  /** The subject's common name (CN). */
  readonly subject: string;
  /** The CA that signs the certificate; self-signed when absent. */
  readonly issuer?: { readonly certPem: string; readonly keyPem: string };
  readonly isCa?: boolean;
  /** Subject alternative names: IP literals (v4 or v6) and DNS names. */
  readonly hosts?: readonly string[];
  /** Validity from now; 365 by default. */
  readonly days?: number;
  /** Reuse this private key (PEM) instead of generating an RSA 2048 one. */
  readonly keyPem?: string;
}

export interface CertificateAndKey {
  readonly certPem: string;
  /** PKCS#8 PEM (`BEGIN PRIVATE KEY`), the form msal-node's clientCertificate expects. */
  readonly keyPem: string;
}

export interface TlsMaterial {
  /** Absolute path of ca.pem, the one file a client must trust. */
  readonly caFile: string;
  readonly caCertPem: string;
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
}

const DAY_MS = 86_400_000;
// Backdated so that a client whose clock runs a little behind still accepts a certificate made now.
const NOT_BEFORE_SLACK_MS = 3_600_000;

export function createCertificate(options: CertificateOptions): CertificateAndKey {
  const days = options.days ?? 365;
  if (!Number.isFinite(days) || days <= 0)
    throw new Error(`certificate validity must be positive days, got ${days}`);
  if (options.subject === '') throw new Error('certificate subject must not be empty');

  const subjectKey =
    options.keyPem === undefined
      ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
      : createPrivateKey(options.keyPem);
  const spki = createPublicKey(subjectKey).export({ type: 'spki', format: 'der' });
  const subjectKeyId = keyIdentifier(spki);
  const subjectName = name(options.subject);

  let issuerName: Buffer;
  let issuerKeyId: Buffer;
  let signingKey: KeyObject;
  if (options.issuer === undefined) {
    issuerName = subjectName;
    issuerKeyId = subjectKeyId;
    signingKey = subjectKey;
  } else {
    const issuerCert = new X509Certificate(options.issuer.certPem);
    signingKey = createPrivateKey(options.issuer.keyPem);
    // A mismatched pair would make certificates no verifier accepts; say so now, not at handshake.
    if (!issuerCert.checkPrivateKey(signingKey))
      throw new Error('issuer key does not match issuer certificate');
    if (!issuerCert.ca) throw new Error('issuer certificate is not a CA');
    const fields = tbsFields(issuerCert.raw);
    // Copied byte for byte: chain building compares the issuer name with the CA's subject.
    issuerName = fields.subject;
    // The AKI must equal the CA's SKI when it has one, or OpenSSL reports a key identifier mismatch.
    issuerKeyId =
      fields.subjectKeyId ?? keyIdentifier(issuerCert.publicKey.export({ type: 'spki', format: 'der' }));
  }

  const now = Date.now();
  const isCa = options.isCa === true;
  const hosts = options.hosts ?? [];
  const extensions = [
    extension(OID.basicConstraints, true, seq(...(isCa ? [boolean(true)] : []))),
    extension(
      OID.keyUsage,
      true,
      isCa
        ? namedBits([KeyUsage.digitalSignature, KeyUsage.keyCertSign, KeyUsage.cRLSign])
        : namedBits([KeyUsage.digitalSignature, KeyUsage.keyEncipherment]),
    ),
  ];
  if (!isCa) {
    const purpose = hosts.length > 0 ? OID.serverAuth : OID.clientAuth;
    extensions.push(extension(OID.extKeyUsage, false, seq(oid(purpose))));
  }
  if (hosts.length > 0) extensions.push(extension(OID.subjectAltName, false, seq(...hosts.map(generalName))));
  extensions.push(extension(OID.subjectKeyIdentifier, false, octetString(subjectKeyId)));
  extensions.push(extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, issuerKeyId))));

  const signatureAlgorithm = seq(oid(OID.sha256WithRSAEncryption), NULL);
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))), // [0] EXPLICIT version: v3
    integer(serialNumber()),
    signatureAlgorithm,
    issuerName,
    seq(time(new Date(now - NOT_BEFORE_SLACK_MS)), time(new Date(now + days * DAY_MS))),
    subjectName,
    spki,
    tlv(0xa3, seq(...extensions)), // [3] EXPLICIT extensions
  );
  // RSA keys sign with PKCS#1 v1.5 by default, which is what sha256WithRSAEncryption names.
  const signature = sign('sha256', tbs, signingKey);
  const certificate = seq(tbs, signatureAlgorithm, bitString(signature));

  return {
    certPem: pem('CERTIFICATE', certificate),
    keyPem: subjectKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/**
 * A CA and a server certificate it signs, written into `dir` as ca.pem, server.pem and
 * server-key.pem. The CA's key is never written: once the emulator stops, nobody can mint more
 * certificates that clients trusting ca.pem would accept.
 */
export async function generateTlsMaterial(
  dir: string,
  hosts: readonly string[] = ['127.0.0.1', 'localhost', '::1'],
): Promise<TlsMaterial> {
  const ca = createCertificate({ subject: 'exotrace emulator CA', isCa: true, days: 3650 });
  const server = createCertificate({ subject: hosts[0] ?? 'localhost', issuer: ca, hosts, days: 825 });
  await mkdir(dir, { recursive: true });
  const caFile = path.resolve(dir, 'ca.pem');
  await writeFresh(caFile, ca.certPem, 0o644);
  await writeFresh(path.resolve(dir, 'server.pem'), server.certPem, 0o644);
  await writeFresh(path.resolve(dir, 'server-key.pem'), server.keyPem, 0o600);
  return { caFile, caCertPem: ca.certPem, serverCertPem: server.certPem, serverKeyPem: server.keyPem };
}

/** base64url SHA-1 and SHA-256 of the certificate's DER: the `x5t` and `x5t#S256` JWT headers. */
export function thumbprints(certPem: string): { x5t: string; x5tS256: string } {
  const der = new X509Certificate(certPem).raw;
  return {
    x5t: createHash('sha1').update(der).digest('base64url'),
    x5tS256: createHash('sha256').update(der).digest('base64url'),
  };
}

// Removing first means the file is created with `mode`: writeFile keeps the mode of a file that
// already exists, which could leave a key readable by others.
async function writeFresh(file: string, text: string, mode: number): Promise<void> {
  await rm(file, { force: true });
  await writeFile(file, text, { mode, flag: 'wx' });
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** 16 random bytes, positive and minimally encoded (RFC 5280 allows up to 20 octets). */
function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  // Top bit clear keeps the INTEGER positive; the next bit set keeps the leading byte significant.
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value. */
function keyIdentifier(spkiDer: Buffer): Buffer {
  const [, subjectPublicKey] = children(readTlv(spkiDer, 0));
  if (subjectPublicKey?.tag !== 0x03) throw new Error('malformed SubjectPublicKeyInfo');
  // Skip the unused-bits octet.
  return createHash('sha1').update(subjectPublicKey.value.subarray(1)).digest();
}

function name(commonName: string): Buffer {
  return seq(set(seq(oid(OID.commonName), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

function generalName(host: string): Buffer {
  const version = isIP(host);
  if (version === 4) return tlv(0x87, Buffer.from(host.split('.').map(Number))); // [7] iPAddress
  if (version === 6) return tlv(0x87, ipv6Bytes(host));
  if (!/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/.test(host))
    throw new Error(`not an IP or DNS name: ${host}`);
  return tlv(0x82, Buffer.from(host, 'ascii')); // [2] dNSName, an IA5String
}

/** The 16 octets of an IPv6 literal already checked by isIP (`::`, zone ids and dotted tails). */
function ipv6Bytes(literal: string): Buffer {
  const address = literal.replace(/%.*$/, '');
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const [head = '', tail] = address.split('::');
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = Buffer.alloc(16);
  all.forEach((group, i) => bytes.writeUInt16BE(group, i * 2));
  return bytes;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  // BOOLEAN FALSE is the DEFAULT, and DER omits defaults.
  return seq(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

const OID = {
  commonName: '2.5.4.3',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

const KeyUsage = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

// ---- DER encoding (X.690), only the types a certificate uses ----

function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(value.length), value]);
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function seq(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function set(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(items));
}

function boolean(value: boolean): Buffer {
  return tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
}

const NULL = Buffer.from([0x05, 0x00]);

/** A non-negative INTEGER from big-endian magnitude bytes. */
function integer(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  // A leading 0x00 stops a high first bit from reading as a negative number.
  const needsPad = ((trimmed[0] ?? 0) & 0x80) !== 0;
  return tlv(0x02, needsPad ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function octetString(value: Buffer): Buffer {
  return tlv(0x04, value);
}

function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/** A NamedBitList BIT STRING: bit 0 is the first byte's top bit; DER drops trailing zero bits. */
function namedBits(bits: readonly number[]): Buffer {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  return bitString(bytes, 7 - (highest & 7));
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const out: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    // Base 128, high bit set on every octet but the last.
    const chunk = [arc & 0x7f];
    for (let rest7 = Math.floor(arc / 128); rest7 > 0; rest7 = Math.floor(rest7 / 128))
      chunk.unshift((rest7 & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime after, as RFC 5280 §4.1.2.5 requires. */
function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return date.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii'))
    : tlv(0x18, Buffer.from(digits, 'ascii'));
}

// ---- DER reading: just enough to take a CA's subject and key identifier ----

interface Tlv {
  readonly tag: number;
  /** The whole element, header included. */
  readonly raw: Buffer;
  readonly value: Buffer;
}

function readTlv(buf: Buffer, offset: number): Tlv {
  const tag = buf[offset];
  let len = buf[offset + 1];
  if (tag === undefined || len === undefined) throw new Error('truncated DER');
  let header = 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    if (count === 0 || count > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < count; i++) len = len * 256 + (buf[offset + 2 + i] ?? 0);
    header += count;
  }
  const end = offset + header + len;
  if (end > buf.length) throw new Error('truncated DER');
  return { tag, raw: buf.subarray(offset, end), value: buf.subarray(offset + header, end) };
}

function children(parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = 0; offset < parent.value.length;) {
    const child = readTlv(parent.value, offset);
    out.push(child);
    offset += child.raw.length;
  }
  return out;
}

function tbsFields(certDer: Buffer): { subject: Buffer; subjectKeyId: Buffer | undefined } {
  const [tbs] = children(readTlv(certDer, 0));
  if (tbs === undefined) throw new Error('malformed certificate');
  const fields = children(tbs);
  // version [0] is optional (absent for v1), which shifts every later field.
  const base = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[base + 4];
  if (subject === undefined) throw new Error('malformed certificate');
  let subjectKeyId: Buffer | undefined;
  const extensions = fields.find((f) => f.tag === 0xa3);
  const list = extensions === undefined ? undefined : children(extensions)[0];
  for (const ext of list === undefined ? [] : children(list)) {
    const parts = children(ext);
    if (parts[0]?.raw.equals(oid(OID.subjectKeyIdentifier)) === true) {
      const wrapped = parts[parts.length - 1];
      if (wrapped !== undefined) subjectKeyId = readTlv(wrapped.value, 0).value;
    }
  }
  return { subject: subject.raw, subjectKeyId };
}
