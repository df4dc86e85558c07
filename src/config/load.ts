/**
 * `loadConfig(file)`: the YAML file read, `${VAR}` replaced from the environment, validated,
 * relative paths resolved against the file's folder, certificates read and checked. Every
 * problem found is reported at once, in one ConfigError, by key path as the user reads the YAML.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { closeSync, constants, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, isMap, isNode, isScalar, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { issuePath, stripUndefined } from '../util/objects.js';
import { configSchema } from './schema.js';
import { isSecretKey } from './redact.js';
import { MIN_LITERAL_SECRET } from './secrets.js';
import type { Api, ConfigFile, OutputFile, StartFrom, TenantFile } from './schema.js';

export interface ConfigIssue {
  /** Key path as in the YAML, e.g. `tenants[0].clientSecret`; empty for the file as a whole. */
  readonly path: string;
  readonly message: string;
  /** 1-based line in the file, when known. */
  readonly line?: number;
}

/** Everything wrong with a configuration file. The message lists each issue; it never holds a secret. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(
      `${file}: invalid configuration\n${issues
        .map(
          (issue) =>
            `  ${issue.path === '' ? '(file)' : issue.path}: ${issue.message}${issue.line === undefined ? '' : ` (line ${issue.line})`}`,
        )
        .join('\n')}`,
    );
  }
}

export interface SecretCredential {
  readonly kind: 'secret';
  readonly clientSecret: string;
}

export interface CertificateCredential {
  readonly kind: 'certificate';
  /** Absolute paths of the files read. */
  readonly certFile: string;
  readonly keyFile: string;
  /** The certificate file's PEM certificates, the app's own first (msal-node's `x5c`). */
  readonly certificatePem: string;
  /** The private key as unencrypted PKCS#8 PEM, what msal-node's `clientCertificate` takes. */
  readonly privateKeyPem: string;
  /** SHA-256 of the certificate's DER, lower-case hex (msal-node's `thumbprintSha256`). */
  readonly thumbprintSha256: string;
  readonly notAfter: Date;
}

export type Credential = SecretCredential | CertificateCredential;

export interface TenantConfig {
  readonly name: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly credential: Credential;
  readonly api: Api;
  /** No trailing slash. */
  readonly loginUrl: string;
  /** No trailing slash; the default depends on `api`. */
  readonly apiUrl: string;
  readonly organization?: string;
  readonly acceptedDomains: readonly string[];
  readonly startFrom: StartFrom;
  readonly minAgeMs: number;
  readonly reconcileLookbackMs: number;
  readonly reconcileEveryMs: number;
  readonly requestsPer5Min: number;
  readonly details: boolean;
}

/** An output as configured: `name` filled in, file paths absolute, its CA read. */
export type OutputConfig = OutputFile & {
  readonly name: string;
  /** The PEM of `caFile`, when given. */
  readonly caPem?: string;
};

export interface Config {
  /** Absolute path of the file this came from. */
  readonly file: string;
  /** Absolute. */
  readonly stateDir: string;
  readonly tls?: { readonly caFile: string; readonly caPem: string };
  readonly http: { readonly timeoutMs: number; readonly proxy?: string };
  readonly health?: { readonly listen: string };
  /** The collector's own logs; `auto`/`info` when absent. */
  readonly log?: {
    readonly level: 'debug' | 'info' | 'warn' | 'error';
    readonly format: 'auto' | 'json' | 'ecs' | 'pretty';
    /** `log.progressEvery`: a pass running this long logs its progress at info, then this often. */
    readonly progressEveryMs?: number;
  };
  /** Back pressure and the retention warning; defaults apply when absent (configs built in code). */
  readonly outbox?: { readonly maxEvents: number; readonly warnAfterMs: number };
  readonly tenants: readonly TenantConfig[];
  readonly outputs: readonly OutputConfig[];
}

export type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(file: string, env: Env = process.env): Config {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new ConfigError(absolute, [{ path: '', message: `cannot read the file: ${describe(error)}` }]);
  }
  return parseConfig(text, absolute, env);
}

/**
 * The same as loadConfig, the file read without blocking the process: a configuration given as a
 * pipe (`--config <(…)`, `/dev/stdin`) may wait for its writer, and a stop must still be heard.
 * Rejects with the signal's reason once `signal` aborts (for a pipe, once the read in flight is released).
 */
export async function readConfig(file: string, signal: AbortSignal, env: Env = process.env): Promise<Config> {
  const absolute = path.resolve(file);
  signal.throwIfAborted();
  let text: string;
  try {
    text = await new Promise<string>((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => {
        if (!isPipe(absolute)) {
          reject(signal.reason as Error);
          return;
        }
        // A pipe nobody writes holds a thread of libuv's pool in open(2) or read(2), and a process
        // cannot exit while one is held (the pool's threads are joined at exit): the stop would
        // hang for ever. A byte written into the pipe ourselves ends that call; readConfigText then
        // sees the stop and asks for nothing more.
        const release = (): void => {
          if (settled) {
            reject(signal.reason as Error);
            return;
          }
          pokePipe(absolute);
          setTimeout(release, 20);
        };
        release();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      readConfigText(absolute, signal)
        .then(
          (value) => {
            if (!signal.aborted) resolve(value);
          },
          (error: unknown) => {
            if (!signal.aborted) reject(error instanceof Error ? error : new Error(String(error)));
          },
        )
        .finally(() => {
          settled = true;
          signal.removeEventListener('abort', onAbort);
        });
    });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new ConfigError(absolute, [{ path: '', message: `cannot read the file: ${describe(error)}` }]);
  }
  return parseConfig(text, absolute, env);
}

/** The file's text, a chunk at a time so that a stop between two reads asks for no more. */
async function readConfigText(file: string, signal: AbortSignal): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      signal.throwIfAborted();
      const chunk = Buffer.alloc(65_536);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
    }
    signal.throwIfAborted();
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await handle.close();
  }
}

function isPipe(file: string): boolean {
  try {
    return statSync(file).isFIFO();
  } catch {
    return false;
  }
}

/** One byte into a pipe we are reading, without blocking: it fails (no reader yet) harmlessly. */
function pokePipe(file: string): void {
  try {
    const fd = openSync(file, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      writeSync(fd, '\n');
    } finally {
      closeSync(fd);
    }
  } catch {
    // ENXIO: nobody has the pipe open to read (our read has not started, or has ended).
  }
}

/** The same as loadConfig for text already read; `file` names it in errors and anchors relative paths. */
export function parseConfig(text: string, file: string, env: Env = process.env): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    // Only the first: after a syntax error the parser loses its place, and what follows is noise.
    const [error] = doc.errors;
    const line = error === undefined ? undefined : lineCounter.linePos(error.pos[0]).line;
    const source = line === undefined ? '' : (text.split('\n')[line - 1] ?? '');
    // `[${A}, b]` reads as a flow mapping to YAML: the likeliest cause when a ${ follows [ or {.
    const hint = /[[{].*\$\{/.test(source) ? ': quote values that use ${VAR} inside [ ] or { }' : '';
    // The quoted source text some messages end with is dropped: it may be a literal secret.
    const what = (error?.message.split('\n')[0] ?? 'unreadable').replace(/: ".*"$/, '');
    const message = `YAML: ${what}${hint}`;
    throw new ConfigError(file, [withLine({ path: '', message }, line)]);
  }
  const lineAt = (segments: readonly PropertyKey[], key?: string) => lineOf(doc, lineCounter, segments, key);

  const issues: ConfigIssue[] = [];
  const substituted: Substitution[] = [];
  const raw = interpolate(
    doc.toJS() as unknown,
    [],
    env,
    (segments, message) => issues.push(withLine({ path: keyPath(segments), message }, lineAt(segments))),
    substituted,
  );
  if (issues.length > 0) throw new ConfigError(file, issues);
  if (raw === null || raw === undefined || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [
      { path: '', message: 'expected a mapping with tenants and outputs (see interface.md)' },
    ]);
  }

  const parsed = configSchema.safeParse(raw, { error: defaultMessage });
  if (!parsed.success) {
    throw new ConfigError(
      file,
      parsed.error.issues.flatMap((issue) => {
        // One issue can name several unknown keys: one line each, at each key's own line.
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
        return keys.map((key) =>
          withLine(
            {
              path: keyPath(key === undefined ? issue.path : [...issue.path, key]),
              message:
                key === undefined
                  ? hideSubstituted(issue.message, keyPath(issue.path), substituted)
                  : unknownKeyMessage(raw, issue.path, key),
            },
            lineAt(issue.path, key),
          ),
        );
      }),
    );
  }
  return resolve(parsed.data, file);
}

// ---------------------------------------------------------------------------------------------
// Key paths and lines

/** `tenants[0].clientSecret`: bracketed indexes, as users count list items in YAML. */
export function keyPath(segments: readonly PropertyKey[]): string {
  // issuePath joins with dots; folding each index into the key before it yields the brackets.
  const folded: string[] = [];
  for (const segment of segments) {
    const last = folded.length - 1;
    if (typeof segment === 'number' && last >= 0) folded[last] = `${folded[last] ?? ''}[${segment}]`;
    else folded.push(typeof segment === 'number' ? `[${segment}]` : String(segment));
  }
  return issuePath({ path: folded, code: 'custom' });
}

function withLine(issue: ConfigIssue, line: number | undefined): ConfigIssue {
  return line === undefined ? issue : { ...issue, line };
}

/** The line of the deepest node on the path that exists (a missing key: its parent's line). */
function lineOf(
  doc: Document,
  lineCounter: LineCounter,
  segments: readonly PropertyKey[],
  key?: string,
): number | undefined {
  const walk = [...segments];
  let node: unknown = walk.length === 0 ? doc.contents : doc.getIn(walk, true);
  while (node === undefined && walk.length > 0) {
    walk.pop();
    node = walk.length === 0 ? doc.contents : doc.getIn(walk, true);
  }
  if (key !== undefined && walk.length === segments.length && isMap(node)) {
    const pair = node.items.find((item) => isScalar(item.key) && item.key.value === key);
    if (pair !== undefined && isNode(pair.key) && pair.key.range) node = pair.key;
  }
  return isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : undefined;
}

/** Outputs that make no connection, hence take no CA. */
const LOCAL_OUTPUTS: ReadonlySet<unknown> = new Set(['file', 'stdout']);

/** Why `key` is refused at `segments`: a misspelling, or a key that has no meaning there. */
function unknownKeyMessage(raw: unknown, segments: readonly PropertyKey[], key: string): string {
  if (key === 'caFile' && segments.length === 2 && segments[0] === 'outputs') {
    const output = (raw as { outputs?: unknown[] }).outputs?.[segments[1] as number];
    const type = (output as { type?: unknown } | undefined)?.type;
    if (LOCAL_OUTPUTS.has(type)) {
      return `caFile applies to network outputs (elasticsearch, splunk-hec, sekoia, http, kafka, syslog); a ${String(type)} output connects to nothing: remove it`;
    }
  }
  return 'unknown key: check its spelling and indentation';
}

/** Messages for zod's generic issues, where the schema does not give its own. */
function defaultMessage(issue: { code?: string; input?: unknown; expected?: string }): string | undefined {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return 'required: this key is missing';
  if (issue.expected === 'string' && (typeof issue.input === 'number' || typeof issue.input === 'boolean'))
    return `expected text, got ${typeof issue.input}: quote the value`;
  if (issue.expected === 'object') return 'expected a mapping of keys';
  if (issue.expected === 'array') return 'expected a list';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// ${VAR}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces `${VAR}` in every string value (keys are left alone: they are the contract). `$${`
 * is a literal `${`. Problems go to `report` so that every missing variable is named at once.
 */
function interpolate(
  value: unknown,
  segments: readonly PropertyKey[],
  env: Env,
  report: (segments: readonly PropertyKey[], message: string) => void,
  substituted: Substitution[],
): unknown {
  if (typeof value === 'string') {
    const bare = bareReference(segments, value);
    if (bare !== undefined) {
      report(
        segments,
        `${bare} is taken literally, not read from the environment: write \${${bare.slice(1)}} (with braces) for the variable`,
      );
      return value;
    }
    if (!value.includes('${')) return value;
    return value.replace(REFERENCE, (match, name: string | undefined) => {
      if (match === '$${') return '${';
      if (name === undefined) {
        report(segments, 'unterminated ${: close it with }, or write $${ for a literal ${');
        return match;
      }
      const variable = name.trim();
      if (!VARIABLE_NAME.test(variable)) {
        report(
          segments,
          `\${${name}} is not a variable name (letters, digits and _); write $\${ for a literal \${`,
        );
        return match;
      }
      const replacement = env[variable];
      if (replacement === undefined) {
        report(segments, `environment variable ${variable} is not set: export it, or remove the reference`);
        return match;
      }
      // Shorter values are not hidden: `5m` or `443` from the environment are no secrets, and hiding
      // them garbles every message that holds them (`30s, ${M}, 24h`). The logger's threshold.
      if (replacement.length >= MIN_LITERAL_SECRET)
        substituted.push({ path: keyPath(segments), value: replacement, reference: `\${${variable}}` });
      return replacement;
    });
  }
  if (Array.isArray(value))
    return value.map((item, index) => interpolate(item, [...segments, index], env, report, substituted));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        interpolate(item, [...segments, key], env, report, substituted),
      ]),
    );
  }
  return value;
}

/** `$NAME`, all capitals, digits and underscores: the shell's spelling of a variable. */
const BARE_REFERENCE = /^\$[A-Z_][A-Z0-9_]*$/;

/**
 * A secret written `$CONTOSO_SECRET`: meant as the variable, but only `${VAR}` is replaced, and
 * the literal text would go to Microsoft (or an output) as the secret and fail sign-in with a
 * message that does not say why. Refused at the key; a secret that really is such text can still
 * come from the environment (`${VAR}`: substituted values are not checked).
 */
function bareReference(segments: readonly PropertyKey[], value: string): string | undefined {
  const key = segments[segments.length - 1];
  if (typeof key !== 'string' || !isSecretKey(key)) return undefined;
  return BARE_REFERENCE.test(value.trim()) ? value.trim() : undefined;
}

/** A value that came from the environment: where (the key path of the value holding `${VAR}`) and what. */
interface Substitution {
  readonly path: string;
  readonly value: string;
  readonly reference: string;
}

/**
 * An issue's message with each value that came from the environment at the issue's key path (or
 * under it) shown as its `${VAR}`. Some messages quote the bad value (`not a duration: "…"`), and
 * a value from the environment is likely a secret put under the wrong key (the redaction test found
 * a clientSecret echoed so). Values substituted at other keys are left alone: that issue cannot
 * quote them, and replacing them there would only garble its text.
 */
function hideSubstituted(message: string, issuePath: string, substituted: readonly Substitution[]): string {
  const relevant = substituted.filter((s) => isAtOrUnder(s.path, issuePath));
  let out = message;
  for (const { value, reference } of relevant.sort((a, b) => b.value.length - a.value.length)) {
    out = out.split(value).join(reference);
  }
  return out;
}

/** `tenants[0].headers.x` is under `tenants[0]` and `tenants`; everything is under the file (''). */
function isAtOrUnder(candidate: string, parent: string): boolean {
  if (parent === '' || candidate === parent) return true;
  return candidate.startsWith(`${parent}.`) || candidate.startsWith(`${parent}[`);
}

// ---------------------------------------------------------------------------------------------
// Files

function resolve(config: ConfigFile, file: string): Config {
  const baseDir = path.dirname(file);
  const issues: ConfigIssue[] = [];
  const at = (...segments: PropertyKey[]) => keyPath(segments);
  const fail: Fail = (where, message) => {
    issues.push({ path: where, message });
  };
  const readCa = (where: string, relative: string): string | undefined => {
    const full = path.resolve(baseDir, relative);
    const text = readText(full, where, fail);
    if (text === undefined) return undefined;
    if (!text.includes('-----BEGIN CERTIFICATE-----')) {
      fail(where, `${full} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
      return undefined;
    }
    return text;
  };

  const caFile = config.tls?.caFile === undefined ? undefined : path.resolve(baseDir, config.tls.caFile);
  const caPem = config.tls?.caFile === undefined ? undefined : readCa(at('tls', 'caFile'), config.tls.caFile);

  const tenants = config.tenants.map((tenant, index) =>
    toTenant(tenant, baseDir, (...key) => at('tenants', index, ...key), fail),
  );

  const outputs = config.outputs.map((output, index): OutputConfig => {
    const resolved = { ...output, name: output.name ?? output.type };
    if (resolved.type === 'file') {
      resolved.path = path.resolve(baseDir, resolved.path);
      return resolved;
    }
    // file and stdout make no connection: they take no caFile (the schema refuses it there).
    if (resolved.type !== 'stdout' && resolved.caFile !== undefined) {
      const relative = resolved.caFile;
      resolved.caFile = path.resolve(baseDir, relative);
      const caPem = readCa(at('outputs', index, 'caFile'), relative);
      if (caPem !== undefined) return { ...resolved, caPem };
    }
    return resolved;
  });

  if (issues.length > 0) throw new ConfigError(file, issues);
  return stripUndefined({
    file,
    stateDir: path.resolve(baseDir, config.stateDir),
    tls: caFile === undefined || caPem === undefined ? undefined : { caFile, caPem },
    http: stripUndefined({ timeoutMs: config.http.timeout, proxy: config.http.proxy }),
    health: config.health,
    log:
      config.log === undefined
        ? undefined
        : { level: config.log.level, format: config.log.format, progressEveryMs: config.log.progressEvery },
    outbox: { maxEvents: config.outbox.maxEvents, warnAfterMs: config.outbox.warnAfter },
    tenants: tenants.filter((tenant) => tenant !== undefined),
    outputs,
  });
}

type Fail = (where: string, message: string) => void;

function toTenant(
  tenant: TenantFile,
  baseDir: string,
  at: (...key: PropertyKey[]) => string,
  fail: Fail,
): TenantConfig | undefined {
  let credential: Credential | undefined;
  if (tenant.certificate !== undefined) {
    credential = readCertificate(tenant.certificate, baseDir, (key) => at('certificate', key), fail);
  } else if (tenant.clientSecret !== undefined) {
    credential = { kind: 'secret', clientSecret: tenant.clientSecret };
  }
  if (credential === undefined) return undefined;
  return stripUndefined({
    name: tenant.name,
    tenantId: tenant.tenantId,
    clientId: tenant.clientId,
    credential,
    api: tenant.api,
    loginUrl: tenant.loginUrl,
    apiUrl: tenant.apiUrl,
    organization: tenant.organization,
    acceptedDomains: tenant.acceptedDomains,
    startFrom: tenant.startFrom,
    minAgeMs: tenant.minAge,
    reconcileLookbackMs: tenant.reconcileLookback,
    reconcileEveryMs: tenant.reconcileEvery,
    requestsPer5Min: tenant.requestsPer5Min,
    details: tenant.details,
  });
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function readCertificate(
  certificate: { certFile: string; keyFile: string; passphrase?: string | undefined },
  baseDir: string,
  at: (key: string) => string,
  fail: Fail,
): CertificateCredential | undefined {
  const certFile = path.resolve(baseDir, certificate.certFile);
  const keyFile = path.resolve(baseDir, certificate.keyFile);
  const certText = readText(certFile, at('certFile'), fail);
  const keyText = readText(keyFile, at('keyFile'), fail);
  if (certText === undefined || keyText === undefined) return undefined;

  const blocks = certText.match(PEM_CERTIFICATE) ?? [];
  const first = blocks[0];
  if (first === undefined) {
    fail(
      at('certFile'),
      `${certFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----): export the certificate as PEM (Base-64)`,
    );
    return undefined;
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(first);
  } catch (error) {
    {
      fail(at('certFile'), `${certFile}: not a valid certificate: ${describe(error)}`);
      return undefined;
    }
  }
  if (Date.parse(x509.validTo) < Date.now()) {
    fail(
      at('certFile'),
      `${certFile}: the certificate expired on ${x509.validTo}: make a new one and upload it to the app registration`,
    );
    return undefined;
  }

  // Checked by content: Node's error for a missing passphrase differs between versions.
  if (certificate.passphrase === undefined && /ENCRYPTED PRIVATE KEY|Proc-Type: 4,ENCRYPTED/.test(keyText)) {
    fail(at('keyFile'), `${keyFile}: the key is encrypted: add certificate.passphrase`);
    return undefined;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(
      certificate.passphrase === undefined
        ? { key: keyText, format: 'pem' }
        : { key: keyText, format: 'pem', passphrase: certificate.passphrase },
    );
  } catch {
    // Node's own message is left out: nothing in it should risk echoing key material.
    fail(
      at('keyFile'),
      certificate.passphrase === undefined
        ? `${keyFile}: no readable PEM private key (-----BEGIN PRIVATE KEY-----)`
        : `${keyFile}: cannot read the private key: wrong passphrase, or not a PEM private key`,
    );
    return undefined;
  }
  if (!x509.checkPrivateKey(key)) {
    fail(at('keyFile'), `${keyFile}: this key does not belong to the certificate in ${certFile}`);
    return undefined;
  }

  return {
    kind: 'certificate',
    certFile,
    keyFile,
    certificatePem: blocks.join('\n') + '\n',
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    thumbprintSha256: x509.fingerprint256.replaceAll(':', '').toLowerCase(),
    notAfter: new Date(x509.validTo),
  };
}

function readText(full: string, where: string, fail: Fail): string | undefined {
  try {
    return readFileSync(full, 'utf8');
  } catch (error) {
    {
      fail(where, `cannot read ${full}: ${describe(error)}`);
      return undefined;
    }
  }
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder, not a file';
  return error instanceof Error ? error.message : String(error);
}
