/**
 * Redaction: what of a text we did not write may be shown (logs, errors, metrics, state). One
 * place for the patterns and for the secrets known literally (the configuration's, the access
 * tokens in use).
 */
import { secretKeyPattern } from './secret-keys.js';
import { tokensInUse } from './tokens-in-use.js';

const JWT = /\beyJ[\w-]*\.[\w-]*\.[\w-]*/g;
const BEARER = /\b(bearer|basic)\s+[\w.~+/=-]+/gi;
const QUERY = /(https?:\/\/[^\s?#"']+)\?[^\s#"']*/gi;
// `name=value`, `"name": "value"` for every name of the one list (core/secret-keys.ts), any
// spelling; a value already censored (`[redacted]`, REDACTED) is left as it is.
const SEPARATOR = `(["']?\\s*[:=]\\s*["']?)`;
const VALUE = `(?!\\[redacted\\]|REDACTED\\b)[^\\s&"',}]+`;
const SECRET_FIELDS = new RegExp(`\\b(${secretKeyPattern()})\\b${SEPARATOR}${VALUE}`, 'gi');
// `Authorization: <scheme> <credential>`: the scheme stays readable, the credential goes.
const SCHEMES = 'bearer|basic|apikey|splunk|digest|negotiate|ntlm|token|sharedaccesssignature';
const SCHEMED_FIELDS = new RegExp(
  `\\b(${secretKeyPattern(true)})\\b${SEPARATOR}(?!(?:${SCHEMES})\\s+REDACTED\\b)(?:(${SCHEMES})\\s+)?${VALUE}`,
  'gi',
);

/**
 * Removes what could be a credential from text we did not write: the access tokens this process
 * sent (literally: an opaque token matches no pattern), JWTs, Authorization values,
 * secret-looking form or JSON fields, and every URL's query (query values may carry skip tokens
 * or filters with addresses).
 */
export function redact(text: string): string {
  let out = text;
  for (const token of tokensInUse()) if (out.includes(token)) out = out.split(token).join('REDACTED');
  return out
    .replace(SCHEMED_FIELDS, (_, name: string, separator: string, scheme: string | undefined) =>
      scheme === undefined ? `${name}${separator}REDACTED` : `${name}${separator}${scheme} REDACTED`,
    )
    .replace(JWT, 'REDACTED')
    .replace(BEARER, '$1 REDACTED')
    .replace(QUERY, '$1?REDACTED')
    .replace(SECRET_FIELDS, '$1$2REDACTED');
}

/**
 * A secret at least this long is replaced wherever it occurs, even inside a longer word: no word
 * of a message is that long by chance, and a credential glued to other text must still go. A
 * shorter one (a password such as `pass1`) is replaced only where it stands as a token of its
 * own: inside a word it cannot be told apart from the word ("password" is no leak of `pass`), and
 * replacing it there mangled messages ("REDACTEDword").
 */
export const ANYWHERE_SECRET = 16;

/** A letter or digit: what a short secret must not touch on either side to count as itself. */
const WORD_CHARACTER = /[\p{L}\p{N}]/u;

/** `text` with each occurrence of `secret` that is not inside a longer word replaced. */
function replaceAsToken(text: string, secret: string): string {
  let out = '';
  let from = 0;
  for (let at = text.indexOf(secret); at !== -1; at = text.indexOf(secret, at + 1)) {
    if (at < from) continue;
    const before = at === 0 ? '' : (text[at - 1] ?? '');
    const after = text[at + secret.length] ?? '';
    if (WORD_CHARACTER.test(before) || WORD_CHARACTER.test(after)) continue;
    out += `${text.slice(from, at)}REDACTED`;
    from = at + secret.length;
  }
  return out + text.slice(from);
}

/**
 * `redact`, after removing the secrets we know literally (a token, a key, a password of the
 * configuration), longest first so that one containing another goes whole.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  const known = [...new Set(secrets.filter((s) => s !== ''))].sort((a, b) => b.length - a.length);
  for (const secret of known) {
    if (!out.includes(secret)) continue;
    out = secret.length >= ANYWHERE_SECRET ? out.split(secret).join('REDACTED') : replaceAsToken(out, secret);
  }
  return redact(out);
}

/** Scheme, host and path of a URL: what errors and logs may show of it. */
export function safeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
