/**
 * The one list of the names a secret goes by, for every redaction: the configuration's printer
 * and its secrets (config/redact.ts, config/secrets.ts), the logger's by-key censor and its pino
 * paths (observe/log.ts), and the text patterns of error messages (core/redact.ts). Add a name
 * here and it is redacted in all of them.
 *
 * Each name is given as its words; a key matches whatever its case and separators
 * (`clientSecret`, `client_secret`, `Client-Secret` are one name), so the config's camelCase,
 * OAuth's snake_case and HTTP's kebab-case headers need no spelling of their own.
 */
export const SECRET_KEY_WORDS: readonly (readonly string[])[] = [
  ['client', 'secret'],
  ['client', 'assertion'],
  ['assertion'],
  ['password'],
  ['passwd'],
  ['passphrase'],
  ['secret'],
  ['api', 'key'],
  ['x', 'api', 'key'],
  ['intake', 'key'],
  ['private', 'key'],
  ['private', 'key', 'pem'],
  ['token'],
  ['access', 'token'],
  ['refresh', 'token'],
  ['id', 'token'],
  ['authorization'],
  ['proxy', 'authorization'],
  ['cookie'],
  ['set', 'cookie'],
  ['signature'],
];

const NORMALIZED = new Set(SECRET_KEY_WORDS.map((words) => words.join('')));

/** Whether a value under this key (a config key, a log field, a header name) is a secret. */
export function isSecretKey(key: string): boolean {
  return NORMALIZED.has(key.replace(/[-_]/g, '').toLowerCase());
}

/**
 * Whether an HTTP header (an output's configured `headers`) holds a credential. Header names are
 * free-form (`X-Splunk-Token`, `X-Auth-Key`), so a name that merely contains the last word of a
 * listed name counts, or `auth`.
 */
export function isSecretHeader(name: string): boolean {
  const normalized = name.replace(/[-_]/g, '').toLowerCase();
  return normalized.includes('auth') || HEADER_WORDS.some((word) => normalized.includes(word));
}

const HEADER_WORDS = [...new Set(SECRET_KEY_WORDS.map((words) => words.at(-1) ?? ''))].filter(
  (w) => w !== '',
);

const capitalized = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);

/**
 * The usual spellings of every name (camelCase, snake_case, kebab-case, and a capitalized first
 * word as HTTP writes `Authorization`): for matchers that cannot ignore case and separators, such
 * as pino's redact paths.
 */
export function secretKeySpellings(): string[] {
  const out = new Set<string>();
  for (const words of SECRET_KEY_WORDS) {
    const [first = '', ...rest] = words;
    out.add(first + rest.map(capitalized).join(''));
    out.add(words.join('_'));
    out.add(words.join('-'));
    out.add(capitalized(first) + rest.map(capitalized).join(''));
  }
  return [...out];
}

/** Names whose value starts with a scheme (`Authorization: Bearer …`): text rules keep the scheme. */
const SCHEMED = new Set(['authorization', 'proxyauthorization']);

/** Names whose value is a list of secrets (`Cookie: a=1; b=2`): text rules take it whole. */
const WHOLE = new Set(['cookie', 'setcookie']);

/**
 * The names matched in error text as `name: word` too, not only as `name=value` or a JSON field:
 * those that never stand as plain words of a diagnosis. "token" or "signature" do ("invalid
 * token: signature verification failed"), so they are matched only as fields.
 */
const BARE = new Set([
  'clientsecret',
  'clientassertion',
  'accesstoken',
  'refreshtoken',
  'password',
  'passphrase',
  'secret',
  'assertion',
]);

/**
 * How a text rule reads a name's value: `schemed` (a scheme, then a credential), `whole` (the
 * rest of the value), `bare` (also after `name:` in prose), `field` (only `name=value` or a quoted
 * JSON field).
 */
export type SecretKeyKind = 'schemed' | 'whole' | 'bare' | 'field';

function kindOf(words: readonly string[]): SecretKeyKind {
  const name = words.join('');
  if (SCHEMED.has(name)) return 'schemed';
  if (WHOLE.has(name)) return 'whole';
  return BARE.has(name) ? 'bare' : 'field';
}

/**
 * A regex alternation of the names of one kind, any separator between their words (for text
 * patterns, with the `i` flag).
 */
export function secretKeyPattern(kind: SecretKeyKind): string {
  return SECRET_KEY_WORDS.filter((words) => kindOf(words) === kind)
    .map((words) => words.join('[-_]?'))
    .sort((a, b) => b.length - a.length)
    .join('|');
}
