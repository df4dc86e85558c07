/**
 * The collector's own logs, with pino: on stderr (stdout may carry NDJSON events), one line per
 * record. Three formats: `json` (pino's, with `"level":"info"` as a word and an ISO `time`),
 * `ecs` (Elastic Common Schema: `@timestamp`, `log.level`, `message`, the caller's fields under
 * `exotrace.*`) and `pretty` (pino-pretty, for a person at a terminal); `auto` is pretty on a TTY
 * and JSON otherwise. The call shape stays `log.info(message, fields)`.
 *
 * No secret may reach a log line, so everything passes two filters before it is written:
 * - by key: values of keys such as `authorization`, `clientSecret`, `password`, `token` become
 *   `[redacted]` at any depth (our own walk), and pino's `redact` paths do the same for the
 *   common places (a second, independent net);
 * - by value: every string (the message and each field value) goes through `redactSecrets`, so the
 *   configuration's known secrets are replaced literally wherever they occur, and JWTs, bearer and
 *   basic credentials, URL queries and `password=…`-like text are removed.
 */
import { hostname } from 'node:os';
import { pino, stdTimeFunctions, type DestinationStream, type LoggerOptions as PinoOptions } from 'pino';
import pinoPretty from 'pino-pretty';
import { ECS_VERSION } from '../normalize/ecs.js';
import { MIN_LITERAL_SECRET } from '../config/secrets.js';
import { isSecretKey, secretKeySpellings } from '../core/secret-keys.js';
import { redactSecrets } from '../core/redact.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type Level = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['auto', 'json', 'ecs', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Where lines go: a Writable such as `process.stderr` (`isTTY` decides `auto`). */
export interface LogStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

export interface LoggerOptions {
  /** Least severe level written. Default `info`. */
  readonly level?: Level;
  /** Default `auto`: `pretty` when the stream is a TTY, `json` otherwise. */
  readonly format?: LogFormat;
  /**
   * Secrets to replace literally wherever they occur (the loaded configuration's: `secretsOf`).
   * Ones shorter than 4 characters are skipped: replacing every "abc" of every line would make the
   * logs unreadable, and the by-key filter still covers where such a value is configured.
   */
  readonly secrets?: readonly string[];
}

/** What replaces the value of a secret-named key. */
export const CENSOR = '[redacted]';

/** The ECS `service.name` of the collector's own logs. */
export const SERVICE_NAME = 'exotrace';

/** Where the caller's fields go in the ECS format: a custom namespace, as ECS asks. */
export const ECS_NAMESPACE = 'exotrace';

// The names of secrets (core/secret-keys.ts) as pino `redact` paths: fast-redact is
// case-sensitive, so each name's usual spellings; a kebab-case one only as a quoted header name.
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const REDACT_KEYS = secretKeySpellings().filter((key) => IDENTIFIER.test(key));
const REDACT_HEADERS = secretKeySpellings()
  .filter((key) => key === key.toLowerCase() || key.includes('-'))
  .map((key) => (IDENTIFIER.test(key) ? key : `"${key}"`));

function redactPaths(prefix: string): string[] {
  const headers = REDACT_HEADERS.map((h) => (h.startsWith('"') ? `headers[${h}]` : `headers.${h}`));
  const paths = [
    ...REDACT_KEYS,
    ...REDACT_KEYS.map((key) => `*.${key}`),
    ...headers,
    ...headers.map((h) => `*.${h}`),
  ];
  return paths.map((p) => prefix + p);
}

const MAX_DEPTH = 8;

/** A copy of `value` with secret-named keys censored and every string through `redactSecrets`. */
export function scrub(value: unknown, secrets: readonly string[] = []): unknown {
  return scrubValue(value, secrets, 0, new WeakSet());
}

function scrubValue(
  value: unknown,
  secrets: readonly string[],
  depth: number,
  seen: WeakSet<object>,
): unknown {
  if (typeof value === 'string') return redactSecrets(value, secrets);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (depth >= MAX_DEPTH || seen.has(value)) return '[…]';
  seen.add(value);
  // Bytes could be anything (a key file, a request body): their size only.
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (value instanceof Error) {
    // Name, code and message only: an error's own fields (a request, its headers) stay out.
    const code = (value as { code?: unknown }).code;
    const out: Record<string, unknown> = { name: value.name, message: redactSecrets(value.message, secrets) };
    if (typeof code === 'string' || typeof code === 'number') out['code'] = code;
    if (value.cause !== undefined) out['cause'] = scrubValue(value.cause, secrets, depth + 1, seen);
    return out;
  }
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, secrets, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] =
      isSecretKey(key) && item !== undefined && item !== null && item !== ''
        ? CENSOR
        : scrubValue(item, secrets, depth + 1, seen);
  }
  return out;
}

/** The caller's fields for the ECS format: under `exotrace.*`, an error's message and code also as ECS `error.*`. */
function toEcs(fields: Record<string, unknown>): Record<string, unknown> {
  if (Object.keys(fields).length === 0) return {};
  const out: Record<string, unknown> = { [ECS_NAMESPACE]: fields };
  const error = fields['error'];
  if (error !== null && typeof error === 'object' && !Array.isArray(error)) {
    const { message, code } = error as { message?: unknown; code?: unknown };
    const ecsError: Record<string, string> = {};
    if (typeof message === 'string') ecsError['message'] = message;
    if (typeof code === 'string') ecsError['code'] = code;
    if (Object.keys(ecsError).length > 0) out['error'] = ecsError;
  }
  return out;
}

/**
 * A logger writing to `stream` (the CLI gives `process.stderr`). The second argument is the
 * minimum level alone (the old signature) or the options.
 */
export function createLogger(stream: LogStream, options: Level | LoggerOptions = {}): Logger {
  const {
    level = 'info',
    format = 'auto',
    secrets = [],
  } = typeof options === 'string' ? { level: options } : options;
  const known = secrets.filter((s) => s.length >= MIN_LITERAL_SECRET);
  const resolved = format === 'auto' ? (stream.isTTY === true ? 'pretty' : 'json') : format;
  const ecs = resolved === 'ecs';

  const common: PinoOptions<never, false> = {
    level,
    // The fields are already scrubbed (errors reduced to name, code and message): pino's own
    // error serializer would only add an empty stack and a misleading type.
    serializers: { err: (value: unknown) => value },
    redact: { paths: redactPaths(ecs ? `${ECS_NAMESPACE}.` : ''), censor: CENSOR },
    hooks: {
      // The message, before pino sees it: the fields are handled by formatters.log below.
      logMethod(args, method) {
        const clean = args.map((arg: unknown) => (typeof arg === 'string' ? redactSecrets(arg, known) : arg));
        method.apply(this, clean as Parameters<typeof method>);
      },
    },
  };

  let destination: DestinationStream = stream;
  let specific: PinoOptions<never, false>;
  if (ecs) {
    const bindings = {
      process: { pid: process.pid },
      host: { hostname: hostname() },
      service: { name: SERVICE_NAME },
      ecs: { version: ECS_VERSION },
    };
    specific = {
      messageKey: 'message',
      timestamp: () => `,"@timestamp":"${new Date().toISOString()}"`,
      formatters: {
        level: (label) => ({ log: { level: label } }),
        bindings: () => bindings,
        log: (fields) => toEcs(scrub(fields, known) as Record<string, unknown>),
      },
    };
  } else {
    specific = {
      timestamp: stdTimeFunctions.isoTime,
      formatters: {
        log: (fields) => scrub(fields, known) as Record<string, unknown>,
        ...(resolved === 'json' ? { level: (label: string) => ({ level: label }) } : {}),
      },
    };
    if (resolved === 'pretty') {
      // pino-pretty's formatting function on our own stream, not its transport: lines are written
      // synchronously, in order with what else goes to stderr (the backfill bar), and none is lost
      // when the process exits right after logging.
      const pretty = pinoPretty.prettyFactory({
        colorize: stream.isTTY === true && process.env['NO_COLOR'] === undefined,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
      });
      destination = { write: (line: string) => void stream.write(pretty(line)) };
    }
  }
  const logger = wrap(pino({ ...common, ...specific }, destination));
  return resolved === 'pretty' ? oneLineErrors(logger, known) : logger;
}

/** A field that holds a failure as `describeError` gives it: a message, maybe a code and a fix. */
function failureOf(value: unknown): { message: string; code?: unknown; fix?: unknown } | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { message } = value as { message?: unknown };
  return typeof message === 'string' ? (value as { message: string }) : undefined;
}

/**
 * For a person at a terminal (the pretty format): a record carrying an `error` is one line, the
 * message, the error's message and its fix, then the record's other plain fields in brackets; the
 * whole record (cause chain, status, request ids, nested fields) follows at debug. pino-pretty
 * would print the error object over twenty lines with the fix buried in it. JSON and ECS keep
 * every field on the record itself: machines read them.
 */
function oneLineErrors(logger: Logger, secrets: readonly string[]): Logger {
  const at =
    (level: Level) =>
    (message: string, fields?: Record<string, unknown>): void => {
      const failure = failureOf(fields?.['error']);
      if (fields === undefined || failure === undefined) {
        logger[level](message, fields);
        return;
      }
      // Scrubbed first: the fields become text, past the by-key filter of the record's fields.
      const clean = scrub(fields, secrets) as Record<string, unknown>;
      const error = failureOf(clean['error']) ?? failure;
      const plain = Object.entries(clean)
        .filter(([key, value]) => key !== 'error' && ['string', 'number', 'boolean'].includes(typeof value))
        .map(([key, value]) => `${key}=${String(value)}`);
      if (typeof error.code === 'string') plain.push(`code=${error.code}`);
      // An output's message already ends with its hint: the same sentence is not said twice.
      const fix =
        typeof error.fix === 'string' && !error.message.includes(error.fix) ? ` — fix: ${error.fix}` : '';
      const context = plain.length === 0 ? '' : ` [${plain.join(' ')}]`;
      logger[level](`${message}: ${oneLine(error.message)}${oneLine(fix)}${context}`);
      logger.debug(`${message} (details)`, fields);
    };
  return {
    debug: (message, fields) => {
      logger.debug(message, fields);
    },
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ');

function wrap(logger: pino.Logger<never, false>): Logger {
  const at =
    (level: Level) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (fields === undefined) logger[level](message);
      else logger[level](fields, message);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger that keeps nothing (tests, quiet commands). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
