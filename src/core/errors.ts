/**
 * One error type for everything exotrace can meet: each carries a code from a closed list, a
 * message naming the tenant or output and the config key, and the fix a person can act on.
 * Nothing secret reaches a message or `toJSON()`: messages are built from our own words plus
 * upstream text that goes through `redact`, and `toJSON()` copies an allow-list of fields only.
 * Shared vocabulary: sources, outputs, state and the CLI all raise and read it.
 */
import { redact } from './redact.js';

export const ERROR_CODES = [
  'bad_secret',
  'secret_expired',
  'app_not_found',
  'tenant_not_found',
  'certificate_not_registered',
  'clock_skew',
  'service_principal_missing',
  'permission_missing',
  'throttled',
  'foreign_next_link',
  'no_progress',
  'insecure_url',
  'window_too_old',
  'transient',
  'network_error',
  'response_too_large',
  'request_timeout',
  'unauthorized',
  'http_error',
  /** A page's rows counted by the source are not its events plus rejects (the collector's check). */
  'page_mismatch',
  /** A processor (pipeline/processors) threw on a page: the page was not committed. */
  'processor_failed',
  // An output's failures (every output's, HTTP or not): what they mean for the events waiting.
  /** The output is busy or down (408, 429, 5xx, a broker without a leader): sent again later. */
  'output_unavailable',
  /** The output refused our credentials (401, 403, SASL): sent again once the key is fixed. */
  'output_auth',
  /** The output's address or target is wrong (a path, an index, a topic, a proxy, a size limit on the way): sent again once fixed. */
  'output_config',
  /** The output refused the events themselves for good: they go to the dead letters. */
  'output_refused',
  /** The output answered something that is not its protocol's answer: sent again. */
  'output_unreadable',
] as const;

export type ExotraceErrorCode = (typeof ERROR_CODES)[number];

/** A code that may be shown and used as a label: a word, never a message. */
export const PLAIN_CODE = /^[\w.-]{1,64}$/;

/** Which tenant and which part of the config an error is about. */
export interface ErrorContext {
  /** The tenant's `name` from the config. */
  readonly tenant: string;
  /** Its path in the config, e.g. `tenants[0]`; keys in messages and fixes hang off it. */
  readonly configPath: string;
  /** Which API the tenant reads: decides the permission named in a 403's fix. Default graph. */
  readonly api?: 'graph' | 'graph-beta' | 'reporting';
  /** The configured `tenantId` (a GUID or a domain, not a secret): named when it is not found. */
  readonly tenantId?: string;
}

export interface ExotraceErrorOptions {
  readonly code: ExotraceErrorCode;
  readonly message: string;
  readonly fix?: string;
  readonly retryable?: boolean;
  readonly status?: number;
  /** When a retry is worth it no earlier than this (e.g. a 429's Retry-After), in ms. */
  readonly retryAfterMs?: number;
  readonly tenant?: string;
  readonly configKey?: string;
  /**
   * The finer code of what the other end said or the socket met, a plain word: `http_503`,
   * `ECONNREFUSED`, `timeout`, Kafka's `UNKNOWN_TOPIC_OR_PARTITION`. Metrics label a failing
   * output with it, and /status shows it; the closed `code` says what it means for us.
   */
  readonly detailCode?: string;
  readonly cause?: unknown;
}

export class ExotraceError extends Error {
  override readonly name = 'ExotraceError';
  readonly code: ExotraceErrorCode;
  readonly fix: string | undefined;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly tenant: string | undefined;
  readonly configKey: string | undefined;
  readonly detailCode: string | undefined;

  constructor(options: ExotraceErrorOptions) {
    super(redact(options.message), options.cause === undefined ? {} : { cause: options.cause });
    this.code = options.code;
    this.fix = options.fix;
    this.retryable = options.retryable ?? false;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.tenant = options.tenant;
    this.configKey = options.configKey;
    // Only a plain word: it becomes a metric label.
    this.detailCode =
      options.detailCode !== undefined && PLAIN_CODE.test(options.detailCode)
        ? options.detailCode
        : undefined;
  }

  /** Matches by name too, so an error from another copy of this module is still recognised. */
  static is(value: unknown): value is ExotraceError {
    return (
      value instanceof ExotraceError ||
      (value instanceof Error && value.name === 'ExotraceError' && 'code' in value)
    );
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
    };
    if (this.fix !== undefined) out['fix'] = this.fix;
    if (this.status !== undefined) out['status'] = this.status;
    if (this.retryAfterMs !== undefined) out['retryAfterMs'] = this.retryAfterMs;
    if (this.tenant !== undefined) out['tenant'] = this.tenant;
    if (this.configKey !== undefined) out['configKey'] = this.configKey;
    if (this.detailCode !== undefined) out['detailCode'] = this.detailCode;
    if (this.cause !== undefined) out['cause'] = sanitizeCause(this.cause);
    return out;
  }
}

/** A cause reduced to its name, a code-like field and a redacted message: never its own fields. */
function sanitizeCause(cause: unknown, depth = 0): Record<string, unknown> | string {
  if (ExotraceError.is(cause)) return cause.toJSON();
  if (!(cause instanceof Error)) return 'non-error cause';
  const out: Record<string, unknown> = { name: cause.name, message: redact(cause.message) };
  const code =
    (cause as { code?: unknown; errorCode?: unknown }).code ?? (cause as { errorCode?: unknown }).errorCode;
  if (typeof code === 'string' && PLAIN_CODE.test(code)) out['code'] = code;
  if (cause.cause !== undefined && depth < 3) out['cause'] = sanitizeCause(cause.cause, depth + 1);
  return out;
}

/**
 * What of an error a wrapper keeps so that the fix is not lost on the way up: its `fix` and
 * `configKey` (the wrapper states its own retryability and message).
 */
export function fixOf(error: ExotraceError): { fix?: string; configKey?: string } {
  return {
    ...(error.fix === undefined ? {} : { fix: error.fix }),
    ...(error.configKey === undefined ? {} : { configKey: error.configKey }),
  };
}

/** How an error names the tenant it is about: `tenant 'x' (tenants[0])`. */
export function whereOf(ctx: ErrorContext): string {
  return `tenant '${ctx.tenant}' (${ctx.configPath})`;
}

/**
 * The one walk of an error chain, for every reader of it (metrics' `failureCode`, the transport
 * classifier, the sources' transport cause, Kafka's protocol names): the error itself, an
 * aggregate's members (a client that tried several addresses or brokers) and causes, outermost
 * first, each once; non-Error values included where they stand (a library may reject with one).
 */
export function errorChain(error: unknown, out: unknown[] = [], depth = 0): unknown[] {
  if (depth > 6 || out.length >= 32 || error === undefined || error === null || out.includes(error))
    return out;
  out.push(error);
  if (error instanceof AggregateError)
    for (const member of error.errors as unknown[]) errorChain(member, out, depth + 1);
  if (error instanceof Error && error.cause !== undefined) errorChain(error.cause, out, depth + 1);
  return out;
}

/** The string `code`s along `errorChain`, outermost first. */
export function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (const e of errorChain(error)) {
    const code = e instanceof Error ? (e as { code?: unknown }).code : undefined;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}

/**
 * The code a failure is counted and shown under: an `ExotraceError`'s `detailCode` when it has
 * one (an output's `http_503`, `ECONNREFUSED`), else its own code; for any other error, the first
 * plain-word `code` along its cause chain (a network failure's is in its cause), else its name.
 */
export function failureCode(error: unknown): string {
  if (ExotraceError.is(error)) return error.detailCode ?? error.code;
  const code = errorCodes(error).find((c) => PLAIN_CODE.test(c));
  return code ?? (error instanceof Error ? error.name : 'unknown');
}

/**
 * An `ExotraceError` as logs and /status show it: `toJSON()`, with `code` the one it is counted
 * under (`failureCode`) so that /status and /metrics name a failing output alike, and the closed
 * code kept as `kind` when that differs (`network_error` behind `ECONNREFUSED`).
 */
export function shownFailure(error: ExotraceError): Record<string, unknown> {
  const json = error.toJSON();
  if (error.detailCode === undefined) return json;
  const { detailCode, ...rest } = json;
  return { ...rest, code: detailCode, kind: error.code };
}
