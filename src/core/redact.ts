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
// A header's value (`name: value`, a JSON field) runs to the end of the line or the closing
// quote (REST); a form's (`name=value`) to the next space or `&` (VALUE).
const SEPARATOR = `(["']?\\s*[:=]\\s*["']?)`;
const HEADER_SEPARATOR = `(["']?\\s*:\\s*["']?)`;
const FORM_SEPARATOR = `(\\s*=\\s*["']?)`;
const CENSORED = `\\[redacted\\]|REDACTED\\b`;
const VALUE = `(?!${CENSORED})[^\\s&"',}]+`;
const BARE_FIELDS = new RegExp(`\\b(${secretKeyPattern('bare')})\\b${SEPARATOR}${VALUE}`, 'gi');
// Names that are also words of a diagnosis ("invalid token: signature verification failed"):
// only `name=value` and a quoted JSON field (`"token": "…"`), never `name: word` in prose.
const FORM_FIELDS = new RegExp(`\\b(${secretKeyPattern('field')})\\b${FORM_SEPARATOR}${VALUE}`, 'gi');
const JSON_FIELDS = new RegExp(`(["'])(${secretKeyPattern('field')})(["']\\s*:\\s*["']?)${VALUE}`, 'gi');
const REST = `(?!${CENSORED})[^\\s"'](?:[^\\r\\n"']*[^\\s"'])?`;
const SCHEMED = secretKeyPattern('schemed');
// `Authorization: <scheme> <credential>`: any word followed by a space is the scheme (SSWS,
// AWS4-HMAC-SHA256, Bearer…) and stays readable; everything after it goes.
const SCHEMED_HEADERS = new RegExp(
  `\\b(${SCHEMED})\\b${HEADER_SEPARATOR}(?![\\w-]+ +(?:${CENSORED}))(?:([A-Za-z][\\w-]*) +(?=\\S))?${REST}`,
  'gi',
);
const SCHEMED_FORMS = new RegExp(`\\b(${SCHEMED})\\b${FORM_SEPARATOR}${VALUE}`, 'gi');
// `Cookie: a=1; b=2`: every pair is a secret, so the value goes whole.
const WHOLE = secretKeyPattern('whole');
const WHOLE_HEADERS = new RegExp(`\\b(${WHOLE})\\b${HEADER_SEPARATOR}${REST}`, 'gi');
const WHOLE_FORMS = new RegExp(`\\b(${WHOLE})\\b${FORM_SEPARATOR}${VALUE}`, 'gi');

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
    .replace(SCHEMED_HEADERS, (_, name: string, separator: string, scheme: string | undefined) =>
      scheme === undefined ? `${name}${separator}REDACTED` : `${name}${separator}${scheme} REDACTED`,
    )
    .replace(SCHEMED_FORMS, '$1$2REDACTED')
    .replace(WHOLE_HEADERS, '$1$2REDACTED')
    .replace(WHOLE_FORMS, '$1$2REDACTED')
    .replace(JWT, 'REDACTED')
    .replace(BEARER, '$1 REDACTED')
    .replace(QUERY, '$1?REDACTED')
    .replace(BARE_FIELDS, '$1$2REDACTED')
    .replace(FORM_FIELDS, '$1$2REDACTED')
    .replace(JSON_FIELDS, '$1$2$3REDACTED');
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
