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

/**
 * A regex alternation of the names, any separator between their words (for text patterns, with
 * the `i` flag): those whose value is a scheme and a credential (`schemed`), or all the others.
 */
export function secretKeyPattern(schemed = false): string {
  return SECRET_KEY_WORDS.filter((words) => SCHEMED.has(words.join('')) === schemed)
    .map((words) => words.join('[-_]?'))
    .sort((a, b) => b.length - a.length)
    .join('|');
}
