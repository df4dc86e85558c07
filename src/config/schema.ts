/**
 * The collector's YAML configuration, as `../shared/spec/interface.md` fixes its keys. This file
 * validates the shape and fills defaults; `load.ts` does what needs the file system or the
 * environment (interpolation, relative paths, reading certificates).
 */
import { z } from 'zod';
import { parseDuration } from '../util/duration.js';
import { isLoopbackHost } from '../util/net.js';

export const DEFAULT_LOGIN_URL = 'https://login.microsoftonline.com';
export const DEFAULT_GRAPH_URL = 'https://graph.microsoft.com';
export const DEFAULT_REPORTING_URL = 'https://reports.office365.com';
export const DEFAULT_SEKOIA_URL = 'https://intake.sekoia.io';
export const DEFAULT_ELASTICSEARCH_INDEX = 'logs-office365.message_trace-default';
export const DEFAULT_STATE_DIR = './exotrace-state';
export const DEFAULT_HEALTH_LISTEN = '127.0.0.1:9464';
/** Graph's limit per tenant, shared by every app of the tenant: a budget above it only earns 429s. */
export const MAX_REQUESTS_PER_5_MIN = 100;

export const DEFAULTS = {
  api: 'graph',
  startFromMs: 24 * 3_600_000,
  minAgeMs: 5 * 60_000,
  reconcileLookbackMs: 24 * 3_600_000,
  reconcileEveryMs: 3_600_000,
  requestsPer5Min: 90,
  httpTimeoutMs: 60_000,
  // ~1.5 GB of events at ~1.5 KB each: a day of a large tenant waiting for a broken output.
  outboxMaxEvents: 1_000_000,
  outboxWarnAfterMs: 3_600_000,
  // What a batch sent to an output holds at most (the outbox cuts it): events, and bytes of JSON.
  batchSize: 5000,
  batchBytes: 8 * 1024 * 1024,
  // Filebeat's periodic metrics lines come every 30 s too.
  logProgressEveryMs: 30_000,
} as const;

/** Ten times the default batch: past it a request only gets slower to retry, never cheaper. */
export const MAX_BATCH_SIZE = 50_000;
/** Elasticsearch's own default `http.max_content_length` (100 MiB): a larger bulk is refused anyway. */
export const MAX_BATCH_BYTES = 100 * 1024 * 1024;

export type Api = 'graph' | 'graph-beta' | 'reporting';

// ---------------------------------------------------------------------------------------------
// Scalars

/**
 * A type error message for present-but-wrong values only: a missing key falls through to the
 * loader's "required" message, which says what is actually wrong.
 */
function whenPresent(message: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? undefined : message);
}

const nonEmpty = z.string().min(1, 'must not be empty');

// Values that came from `${VAR}` are always text, so numbers and booleans also accept their
// spelling as text: `port: ${SYSLOG_PORT}` must work.
function integer(min: number, max: number, hint = ''): z.ZodType<number> {
  return z.preprocess(
    (value) => (typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value),
    z
      .number({ error: whenPresent('expected a whole number') })
      .int('expected a whole number')
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}${hint}`),
  );
}

const boolean = z.preprocess(
  (value) => (value === 'true' ? true : value === 'false' ? false : value),
  z.boolean({ error: whenPresent('expected true or false') }),
);

// A unit is required: a bare `300` could mean seconds or milliseconds, and guessing wrong by a
// factor of 1000 is worse than asking.
const DURATION_TEXT = /^\s*\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*$/i;
const DURATION_HINT = 'use a number and a unit: 30s, 5m, 24h, 90d';

function duration(options: { positive: boolean }): z.ZodType<number> {
  return z.unknown().transform((value, ctx) => {
    const ms = durationMs(value);
    if (typeof ms === 'string') {
      ctx.addIssue({ code: 'custom', message: ms });
      return z.NEVER;
    }
    if (options.positive && ms <= 0) {
      ctx.addIssue({ code: 'custom', message: 'must be longer than 0' });
      return z.NEVER;
    }
    return ms;
  });
}

/** Milliseconds, or the message saying what is wrong. */
function durationMs(value: unknown): number | string {
  if (typeof value === 'number') return `${value} has no unit: ${DURATION_HINT}`;
  if (typeof value !== 'string') return `expected a duration: ${DURATION_HINT}`;
  if (/^\s*-/.test(value)) return `must not be negative: ${DURATION_HINT}`;
  const ms = DURATION_TEXT.test(value) ? parseDuration(value) : undefined;
  return ms ?? `not a duration: "${value}" (${DURATION_HINT})`;
}

/** Where the first run starts: a duration back from now, or a fixed instant. */
export type StartFrom =
  { readonly kind: 'ago'; readonly ms: number } | { readonly kind: 'at'; readonly at: Date };

// Date-times need an offset: without one, JavaScript reads them in local time, which differs
// between the laptop that wrote the config and the server that runs it.
const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/i;

const startFrom: z.ZodType<StartFrom> = z.unknown().transform((value, ctx): StartFrom => {
  if (typeof value === 'string') {
    const text = value.trim();
    const instant = ISO_INSTANT.exec(text);
    if (instant) {
      const at = parseInstant(text, instant);
      if (at === undefined) {
        ctx.addIssue({ code: 'custom', message: `not a valid date: "${text}"` });
        return z.NEVER;
      }
      if (at.getTime() > Date.now()) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is in the future` });
        return z.NEVER;
      }
      return { kind: 'at', at };
    }
    if (/^\d{4}-\d{2}-\d{2}T/i.test(text)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${text}" has no time zone: add Z for UTC (2026-01-31T00:00:00Z) or an offset (+01:00)`,
      });
      return z.NEVER;
    }
  }
  const ms = durationMs(value);
  if (typeof ms === 'string') {
    ctx.addIssue({
      code: 'custom',
      message: `${ms}, or an ISO 8601 instant such as 2026-01-31T00:00:00Z`,
    });
    return z.NEVER;
  }
  return { kind: 'ago', ms };
});

function parseInstant(text: string, parts: RegExpExecArray): Date | undefined {
  const [, year, month, day, hour = '0', minute = '0', second = '0'] = parts;
  const y = Number(year);
  const m = Number(month);
  const d = Number(day);
  // Date.parse rolls 2026-02-30 over to March: check the calendar fields ourselves.
  const probe = new Date(Date.UTC(y, m - 1, d));
  if (probe.getUTCMonth() !== m - 1 || probe.getUTCDate() !== d) return undefined;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return undefined;
  const ms = Date.parse(parts[4] === undefined ? `${text}T00:00:00Z` : text.replace(' ', 'T'));
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]$/i;

// z.uuid() checks RFC 9562 version and variant bits, which Entra app ids need not have (the
// interface.md example itself would fail): any 8-4-4-4-12 hex string is accepted.
const guid = z
  .string({ error: whenPresent('expected a GUID such as 11111111-2222-3333-4444-555555555555') })
  .trim()
  .regex(GUID, 'not a GUID: expected 8-4-4-4-12 hex digits, as the app registration shows it');

const domain = z
  .string({ error: whenPresent('expected a domain name such as contoso.com') })
  .trim()
  .regex(DOMAIN, 'not a domain name (expected something like contoso.com)');

const tenantId = z
  .string({ error: whenPresent('expected the tenant GUID or a domain such as contoso.onmicrosoft.com') })
  .trim()
  .refine(
    (value) => GUID.test(value) || DOMAIN.test(value),
    'not a tenant id: use the directory (tenant) GUID or a domain such as contoso.onmicrosoft.com',
  );

export { isLoopbackHost };

/**
 * An http(s) URL. Plain http:// only to loopback, because tokens, secrets and mail metadata
 * travel on it. `base` URLs lose their trailing slashes: paths get appended to them, and a
 * doubled slash broke another collector's authentication.
 */
function url(options: { base: boolean; allowCredentials?: boolean; anyHttp?: boolean }) {
  return z
    .string({ error: whenPresent('expected a URL such as https://example.com') })
    .transform((value, ctx) => {
      let parsed: URL;
      try {
        parsed = new URL(value.trim());
      } catch {
        // Not echoed: a query string can carry a token.
        ctx.addIssue({ code: 'custom', message: 'not a URL: expected https://host[:port][/path]' });
        return z.NEVER;
      }
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
        ctx.addIssue({ code: 'custom', message: `use https:// (got ${parsed.protocol}//)` });
        return z.NEVER;
      }
      if (parsed.protocol === 'http:' && options.anyHttp !== true && !isLoopbackHost(parsed.hostname)) {
        ctx.addIssue({
          code: 'custom',
          message: `plain http:// is accepted only for loopback hosts (127.0.0.1, ::1, localhost): use https://${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`,
        });
        return z.NEVER;
      }
      // The message cannot echo the URL here: its user info is exactly what must not be printed.
      if (options.allowCredentials !== true && (parsed.username !== '' || parsed.password !== '')) {
        ctx.addIssue({
          code: 'custom',
          message: 'credentials do not belong in the URL (they would end up in logs): use the keys for them',
        });
        return z.NEVER;
      }
      if (options.base && (parsed.search !== '' || parsed.hash !== '')) {
        ctx.addIssue({ code: 'custom', message: 'a base URL takes no ?query or #fragment' });
        return z.NEVER;
      }
      return options.base ? parsed.href.replace(/\/+$/, '') : parsed.href;
    });
}

const hostPort = z
  .string({ error: whenPresent('expected host:port') })
  .trim()
  .regex(/^(?:\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$/i, 'expected host:port, such as 127.0.0.1:9464')
  .refine((value) => {
    const port = Number(value.slice(value.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65535;
  }, 'the port must be from 1 to 65535');

// ---------------------------------------------------------------------------------------------
// Tenants

const certificateSchema = z.strictObject({
  certFile: nonEmpty.describe(
    "PEM file with the app registration's certificate (the app's own first, then any chain); relative to the config file",
  ),
  keyFile: nonEmpty.describe("PEM file with the certificate's private key; relative to the config file"),
  passphrase: z.string().optional().describe('Passphrase of an encrypted private key'),
});

export const TENANT_NAME = /^[a-z0-9-]+$/;

const tenantShape = z.strictObject({
  name: z
    .string({ error: whenPresent('expected a name such as contoso') })
    .regex(TENANT_NAME, 'use lower-case letters, digits and dashes only (it names state and metrics)')
    .describe(
      'Unique name of the tenant (lower-case letters, digits, dashes): it keys state, logs and metrics',
    ),
  tenantId: tenantId.describe('Directory (tenant) GUID, or a domain such as contoso.onmicrosoft.com'),
  clientId: guid.describe('Application (client) id of the app registration, a GUID'),
  clientSecret: nonEmpty
    .optional()
    .describe(
      'Client secret of the app registration, e.g. ${CONTOSO_SECRET}; give this or certificate, not both',
    ),
  certificate: certificateSchema
    .optional()
    .describe('Certificate credential of the app registration; give this or clientSecret, not both'),
  api: z
    .enum(['graph', 'graph-beta', 'reporting'], {
      error: whenPresent('expected graph, graph-beta or reporting'),
    })
    .default(DEFAULTS.api)
    .describe(
      'Which API to read: graph (Microsoft Graph), graph-beta, or reporting (the legacy Reporting Web Service)',
    ),
  loginUrl: url({ base: true })
    .default(DEFAULT_LOGIN_URL)
    .describe("Entra ID login endpoint (another cloud's, or an emulator's)"),
  apiUrl: url({ base: true })
    .optional()
    .describe(
      `Base URL of the API; defaults to ${DEFAULT_GRAPH_URL} for graph and graph-beta, ${DEFAULT_REPORTING_URL} for reporting`,
    ),
  organization: nonEmpty
    .optional()
    .describe(
      "organization.name for rows that carry none (Graph rows), e.g. contoso.onmicrosoft.com; default the tenant's domain (tenantId when it is a domain, else the first of acceptedDomains), else name",
    ),
  acceptedDomains: z
    .array(domain)
    .default([])
    .describe("The tenant's own mail domains: they decide email.direction (inbound, outbound, internal)"),
  startFrom: startFrom.default({ kind: 'ago', ms: DEFAULTS.startFromMs }).meta({
    description:
      'Where the first run starts: a duration back from now (clamped to 90 days for Graph, 10 for reporting) or an ISO 8601 instant with a time zone',
    'x-exotrace-kind': 'start-from',
  }),
  minAge: duration({ positive: false }).default(DEFAULTS.minAgeMs).meta({
    description: 'Never ask for rows younger than this (the API fills recent minutes late)',
    'x-exotrace-kind': 'duration',
  }),
  reconcileLookback: duration({ positive: true }).default(DEFAULTS.reconcileLookbackMs).meta({
    description:
      'How far back the reconcile pass re-reads (late rows, status changes), and a backfill reads again what is already collected; longer than minAge',
    'x-exotrace-kind': 'duration',
  }),
  reconcileEvery: duration({ positive: true })
    .default(DEFAULTS.reconcileEveryMs)
    .meta({ description: 'How often the reconcile pass runs', 'x-exotrace-kind': 'duration' }),
  requestsPer5Min: integer(
    1,
    MAX_REQUESTS_PER_5_MIN,
    ' (Microsoft allows 100 per 5 minutes per tenant, shared by every app; the default is 90)',
  )
    .default(DEFAULTS.requestsPer5Min)
    .describe(
      `This tenant's request budget per 5 minutes; Microsoft allows ${MAX_REQUESTS_PER_5_MIN} per tenant, shared by every app`,
    ),
  details: boolean
    .default(false)
    .describe('Detail events (getDetailsByRecipient): not collected yet by this version, so true is refused'),
});

export const tenantSchema = tenantShape
  .superRefine(
    (tenant, ctx) => {
      // `when` below runs this even when other keys failed, so every problem is reported at
      // once: the values may be unvalidated here.
      const loose = tenant as Partial<Record<keyof typeof tenant, unknown>>;
      if (loose.clientSecret !== undefined && loose.certificate !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['certificate'],
          message: 'give clientSecret or certificate, not both: remove one of them',
        });
      } else if (loose.clientSecret === undefined && loose.certificate === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['clientSecret'],
          message:
            'no credential: add clientSecret (e.g. clientSecret: ${MY_SECRET}) or certificate: { certFile, keyFile }',
        });
      }
      if (
        typeof loose.reconcileLookback === 'number' &&
        typeof loose.minAge === 'number' &&
        loose.reconcileLookback <= loose.minAge
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['reconcileLookback'],
          message: 'must be longer than minAge, or the reconcile pass re-reads nothing',
        });
      }
      // Accepted as a key (it is part of the plan: collection.md, "Optional: getDetailsByRecipient")
      // but refused when on: a setting that silently did nothing would be worse than an error.
      if (loose.details === true) {
        ctx.addIssue({
          code: 'custom',
          path: ['details'],
          message:
            'detail events (getDetailsByRecipient) are not collected yet by this version: remove the key or set it to false',
        });
      }
    },
    { when: isObjectPayload },
  )
  .transform((tenant) => ({
    ...tenant,
    apiUrl: tenant.apiUrl ?? (tenant.api === 'reporting' ? DEFAULT_REPORTING_URL : DEFAULT_GRAPH_URL),
  }));

// ---------------------------------------------------------------------------------------------
// Outputs

/** The keys of every output. */
const outputName = {
  name: z
    .string({ error: whenPresent('expected a name') })
    .regex(/^[a-z0-9][a-z0-9_-]*$/i, 'use letters, digits, dashes and underscores')
    .optional()
    .describe(
      "Unique name of the output (letters, digits, dashes, underscores); defaults to its type. It keys the output's cursor and dead letters",
    ),
};

/** The batch limits, for every output (file and stdout too: their batch is one write and fsync). */
const outputBatch = {
  // Optional rather than defaulted: the delivery applies the defaults, so outputs built in code
  // (tests, the library) need not spell them.
  batchSize: integer(1, MAX_BATCH_SIZE)
    .optional()
    .describe(
      `Most events per batch sent to this output (one request for the HTTP outputs); default ${DEFAULTS.batchSize}. Lower it when the receiver answers 413 (a body over its size limit)`,
    ),
  batchBytes: integer(1024, MAX_BATCH_BYTES)
    .optional()
    .describe(
      `Most bytes of event JSON per batch sent to this output (before framing and gzip; a larger event still goes alone); default ${DEFAULTS.batchBytes} (8 MiB)`,
    ),
};

/** The keys of every output that connects somewhere (all but file and stdout). */
const outputCommon = {
  ...outputName,
  caFile: nonEmpty
    .optional()
    .describe('An extra CA (PEM) to trust for this output, besides tls.caFile; relative to the config file'),
  ...outputBatch,
};

const outputType = <T extends string>(type: T) => z.literal(type).describe(`Output type: ${type}`);

const fileOutput = z.strictObject({
  type: outputType('file'),
  ...outputName,
  ...outputBatch,
  path: nonEmpty.describe('NDJSON file the events are appended to; relative to the config file'),
  rotateBytes: integer(1024, Number.MAX_SAFE_INTEGER)
    .optional()
    .describe('Rotate the file once it reaches this many bytes; no rotation when absent'),
});

const stdoutOutput = z.strictObject({ type: outputType('stdout'), ...outputName, ...outputBatch });

/** Graph keeps 90 days of message trace: kept as long downstream, an event outlives its source. */
export const DEFAULT_RETENTION_MS = 90 * 86_400_000;
const DEFAULT_RETENTION_TEXT = '90d';
const MIN_RETENTION_MS = 86_400_000;

/** A duration (at least a day), or `none` for no lifecycle policy at all. */
const retention: z.ZodType<number | 'none'> = z.unknown().transform((value, ctx) => {
  if (typeof value === 'string' && value.trim().toLowerCase() === 'none') return 'none' as const;
  const ms = durationMs(value);
  if (typeof ms === 'string') {
    ctx.addIssue({ code: 'custom', message: `${ms}; or none to install no lifecycle policy` });
    return z.NEVER;
  }
  if (ms < MIN_RETENTION_MS || ms % 1000 !== 0) {
    ctx.addIssue({ code: 'custom', message: 'must be whole seconds, at least 1d (or none)' });
    return z.NEVER;
  }
  return ms;
});

const elasticsearchOutput = z
  .strictObject({
    type: outputType('elasticsearch'),
    ...outputCommon,
    url: url({ base: true }).describe('Elasticsearch base URL, e.g. https://es.example.com:9200'),
    index: nonEmpty
      .default(DEFAULT_ELASTICSEARCH_INDEX)
      .describe('Data stream or index the events are created in'),
    apiKey: nonEmpty
      .optional()
      .describe('API key (the encoded form, or id:key); give this or username + password, not both'),
    username: nonEmpty.optional().describe('Basic authentication user; goes with password'),
    password: nonEmpty.optional().describe('Basic authentication password; goes with username'),
    pipeline: nonEmpty.optional().describe('Ingest pipeline to run on the events'),
    retention: retention.optional().meta({
      description: `How long \`setup elasticsearch\` has the cluster keep the events: its lifecycle policy (ILM, or ISM on OpenSearch) deletes a backing index this long after its rollover; default ${DEFAULT_RETENTION_TEXT}, as long as the API's own history. none: install no lifecycle policy`,
      'x-exotrace-kind': 'retention',
    }),
  })
  .superRefine((output, ctx) => {
    if (output.apiKey !== undefined && (output.username !== undefined || output.password !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['apiKey'],
        message: 'give apiKey or username + password, not both',
      });
    } else if ((output.username === undefined) !== (output.password === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [output.username === undefined ? 'username' : 'password'],
        message: 'username and password go together: add the missing one',
      });
    }
  });

const splunkHecOutput = z.strictObject({
  type: outputType('splunk-hec'),
  ...outputCommon,
  url: url({ base: true }).describe(
    'Splunk HEC base URL (without /services/collector), e.g. https://splunk.example.com:8088',
  ),
  token: nonEmpty.describe('HEC token (sent as Authorization: Splunk <token>)'),
  index: nonEmpty.optional().describe("Splunk index; the token's default when absent"),
  sourcetype: nonEmpty.optional().describe("Splunk sourcetype; the token's default when absent"),
  source: nonEmpty.optional().describe("Splunk source; the token's default when absent"),
});

const sekoiaOutput = z.strictObject({
  type: outputType('sekoia'),
  ...outputCommon,
  url: url({ base: true }).default(DEFAULT_SEKOIA_URL).describe('Sekoia.io intake base URL'),
  intakeKey: nonEmpty.describe('Intake key of the Sekoia.io intake'),
  payload: z
    .enum(['raw', 'ecs'], { error: whenPresent('expected raw or ecs') })
    .default('raw')
    .describe('raw: the API row, which Sekoia.io parses; ecs: the normalized ECS event'),
});

const httpOutput = z.strictObject({
  type: outputType('http'),
  ...outputCommon,
  url: url({ base: false }).describe('URL the batches are POSTed to'),
  format: z
    .enum(['ndjson', 'json-array'], { error: whenPresent('expected ndjson or json-array') })
    .default('ndjson')
    .describe('Body of each request: NDJSON lines or one JSON array'),
  headers: z
    .record(z.string(), z.string({ error: whenPresent('header values are text: quote them') }))
    .default({})
    .describe('Extra request headers (name: value), e.g. an Authorization header from ${VAR}'),
  gzip: boolean.default(false).describe('Compress request bodies with gzip'),
});

const kafkaOutput = z
  .strictObject({
    type: outputType('kafka'),
    ...outputCommon,
    // A list, or one comma-separated string, which is how `${KAFKA_BROKERS}` arrives.
    brokers: z
      .preprocess(
        (value) =>
          typeof value === 'string'
            ? value
                .split(',')
                .map((s) => s.trim())
                .filter((s) => s !== '')
            : value,
        z.array(hostPort).min(1, 'list at least one broker as host:port'),
      )
      .describe(
        'Bootstrap brokers as host:port: a list, or one comma-separated string (as ${KAFKA_BROKERS} arrives)',
      ),
    topic: nonEmpty.describe('Topic the events are produced to'),
    tls: boolean
      .default(false)
      .describe('Connect to the brokers over TLS (required with sasl to a remote broker)'),
    sasl: z
      .strictObject({
        mechanism: z
          .enum(['plain', 'scram-sha-256', 'scram-sha-512'], {
            error: whenPresent('expected plain, scram-sha-256 or scram-sha-512'),
          })
          .default('plain')
          .describe('SASL mechanism'),
        username: nonEmpty.describe('SASL user'),
        password: nonEmpty.describe('SASL password'),
      })
      .optional()
      .describe('SASL authentication; needs tls: true unless every broker is on loopback'),
  })
  .superRefine((output, ctx) => {
    // The same rule as http:// URLs: a password sent in clear must not leave the machine.
    const remote = output.brokers.some((broker) => !isLoopbackHost(broker.replace(/:\d+$/, '')));
    if (output.sasl !== undefined && !output.tls && remote) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls'],
        message: 'sasl without TLS would send the password in clear to a remote broker: set tls: true',
      });
    }
  });

const syslogOutput = z
  .strictObject({
    type: outputType('syslog'),
    ...outputCommon,
    host: nonEmpty.describe('Syslog server host name or address'),
    port: integer(1, 65535)
      .optional()
      .describe('Syslog server port; 6514 for tls, 514 for tcp and udp when absent'),
    protocol: z
      .enum(['tcp', 'tls', 'udp'], { error: whenPresent('expected tcp, tls or udp') })
      .default('tcp')
      .describe('tcp or tls (octet counting), or udp (one datagram per event)'),
    appName: nonEmpty.default('exotrace').describe('APP-NAME of the RFC 5424 messages'),
  })
  // 6514 is syslog over TLS (RFC 5425); 514 the plain port for TCP and UDP.
  .transform((output) => ({ ...output, port: output.port ?? (output.protocol === 'tls' ? 6514 : 514) }));

export const OUTPUT_TYPES = [
  'file',
  'stdout',
  'elasticsearch',
  'splunk-hec',
  'sekoia',
  'http',
  'kafka',
  'syslog',
] as const;
export type OutputType = (typeof OUTPUT_TYPES)[number];

export const outputSchema = z.discriminatedUnion(
  'type',
  [
    fileOutput,
    stdoutOutput,
    elasticsearchOutput,
    splunkHecOutput,
    sekoiaOutput,
    httpOutput,
    kafkaOutput,
    syslogOutput,
  ],
  { error: whenPresent(`unknown output type: expected one of ${OUTPUT_TYPES.join(', ')}`) },
);

// ---------------------------------------------------------------------------------------------
// The file

export const configSchema = z
  .strictObject({
    stateDir: nonEmpty
      .default(DEFAULT_STATE_DIR)
      .describe(
        'Folder of the state database (checkpoints, next links, seen-set, outbox); relative to the config file',
      ),
    tls: z
      .strictObject({
        caFile: nonEmpty
          .optional()
          .describe("An extra CA (PEM) to trust everywhere: an emulator's, a TLS-inspecting proxy's"),
      })
      .optional()
      .describe('TLS settings shared by every connection'),
    http: z
      .strictObject({
        timeout: duration({ positive: true }).default(DEFAULTS.httpTimeoutMs).meta({
          description:
            'Timeout of each HTTP request, whole: from connecting to the last byte of the answer (API, token endpoint, HTTP outputs)',
          'x-exotrace-kind': 'duration',
        }),
        // Proxies are commonly plain http:// on the LAN: requests to the APIs go through them as
        // CONNECT tunnels, so TLS still protects them end to end.
        proxy: url({ base: false, allowCredentials: true, anyHttp: true })
          .optional()
          .describe(
            'HTTP proxy for every request, e.g. http://user:pass@proxy.lan:3128 (APIs go through it as CONNECT tunnels)',
          ),
      })
      .default({ timeout: DEFAULTS.httpTimeoutMs })
      .describe('HTTP client settings'),
    health: z
      .strictObject({
        listen: hostPort
          .default(DEFAULT_HEALTH_LISTEN)
          .describe('host:port the health and metrics server listens on'),
      })
      .optional()
      .describe('Health and metrics endpoints'),
    log: z
      .strictObject({
        level: z
          .enum(['debug', 'info', 'warn', 'error'], {
            error: whenPresent('expected debug, info, warn or error'),
          })
          .default('info')
          .describe('Least severe level logged; --log-level and EXOTRACE_LOG_LEVEL win over it'),
        format: z
          .enum(['auto', 'json', 'ecs', 'pretty'], {
            error: whenPresent('expected auto, json, ecs or pretty'),
          })
          .default('auto')
          .describe(
            'Log lines on stderr: json, ecs (Elastic Common Schema), pretty (for a terminal), or auto (pretty on a terminal, json otherwise); --log-format wins over it',
          ),
        // A long catch-up (a first run of a big tenant takes hours) must not be silent until it ends.
        progressEvery: duration({ positive: true }).default(DEFAULTS.logProgressEveryMs).meta({
          description:
            "A tenant's pass running this long logs its progress at info (windows, rows, requests, ETA), then this often, and one line when it is done; shorter passes say nothing",
          'x-exotrace-kind': 'duration',
        }),
      })
      .optional()
      .describe("The collector's own logs, on stderr; secrets are always redacted"),
    outbox: z
      .strictObject({
        // Back pressure: past this many events waiting for an output, no new page is fetched.
        maxEvents: integer(1000, Number.MAX_SAFE_INTEGER)
          .default(DEFAULTS.outboxMaxEvents)
          .describe('Back pressure: past this many events waiting for an output, no new page is fetched'),
        // An output holding events longer than this is reported loudly (they are kept, never dropped).
        warnAfter: duration({ positive: true }).default(DEFAULTS.outboxWarnAfterMs).meta({
          description: 'An output holding events longer than this is reported (they are kept, never dropped)',
          'x-exotrace-kind': 'duration',
        }),
      })
      .default({ maxEvents: DEFAULTS.outboxMaxEvents, warnAfter: DEFAULTS.outboxWarnAfterMs })
      .describe('The outbox: events collected and not yet delivered to every output'),
    tenants: z
      .array(tenantSchema, { error: whenPresent('expected a list of tenants') })
      .min(1, 'add at least one tenant (see interface.md)')
      .describe('The Microsoft 365 tenants to collect from, at least one'),
    outputs: z
      .array(outputSchema, { error: whenPresent('expected a list of outputs') })
      .min(1, 'add at least one output, e.g. "- type: stdout"')
      .describe('Where the events go, at least one; each output gets every event, in order'),
  })
  .superRefine(
    (config, ctx) => {
      // Runs even when some tenants or outputs are invalid (see `when`): read names defensively.
      const loose = config as { tenants?: unknown; outputs?: unknown };
      duplicates(
        ctx,
        'tenants',
        loose.tenants,
        (item) => stringKey(item, 'name'),
        (name, first) =>
          `duplicate tenant name "${name}" (also tenants[${first}]): names key state and metrics, make them unique`,
      );
      duplicates(
        ctx,
        'outputs',
        loose.outputs,
        (item) => stringKey(item, 'name') ?? stringKey(item, 'type'),
        (name, first) =>
          `duplicate output name "${name}" (also outputs[${first}]): give each output of the same type its own name`,
      );
    },
    { when: isObjectPayload },
  );

function isObjectPayload(payload: { value: unknown }): boolean {
  return payload.value !== null && typeof payload.value === 'object';
}

function stringKey(item: unknown, key: string): string | undefined {
  if (item === null || typeof item !== 'object') return undefined;
  const value = (item as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : undefined;
}

function duplicates(
  ctx: z.RefinementCtx,
  list: string,
  items: unknown,
  nameOf: (item: unknown) => string | undefined,
  message: (name: string, first: number) => string,
): void {
  if (!Array.isArray(items)) return;
  const seen = new Map<string, number>();
  items.forEach((item: unknown, index) => {
    const name = nameOf(item);
    if (name === undefined) return;
    const first = seen.get(name);
    if (first === undefined) seen.set(name, index);
    else ctx.addIssue({ code: 'custom', path: [list, index, 'name'], message: message(name, first) });
  });
}

/** The file as validated, before paths are resolved and certificates read. */
export type ConfigFile = z.output<typeof configSchema>;
export type TenantFile = z.output<typeof tenantSchema>;
export type OutputFile = z.output<typeof outputSchema>;
