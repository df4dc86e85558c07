/**
 * The emulator's YAML configuration file (`exotrace emulator --config FILE`): tenants and the
 * behaviours marked as inferences in microsoft-api.md, made configurable. Flags override it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../util/duration.js';
import { issuePath, stripUndefined } from '../util/objects.js';
import type { EmulatorOptions } from './server.js';
import type { TenantSpec } from './tenants.js';

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `not a duration: ${String(value)} (use 30s, 5m, 24h, 90d or milliseconds)`,
    });
    return z.NEVER;
  }
  return ms;
});

const rate = z.number().min(0).max(1);

const faultTargets = z.array(z.enum(['graph-list', 'graph-detail', 'reporting', 'token']));

/** One queued fault, as `POST /_emulator/faults {"queue": [...]}` takes it. */
export const faultSchema = z.strictObject({
  kind: z.enum([
    'status',
    'reset',
    'slow-headers',
    'slow-body',
    'truncate',
    'revoke-token',
    'expire-next-link',
    'short-page',
    'duplicate-rows',
    'extra-page-key',
    'extra-row-key',
    'echo-token',
    'endless-body',
    'trickle-body',
    'stuck-next-link',
    'empty-next-link',
  ]),
  status: z.number().int().min(400).max(599).optional(),
  delayMs: z.number().int().nonnegative().optional(),
  targets: faultTargets.optional(),
  tenant: z.string().optional(),
});

/** Fault rates, in the config file and in `POST /_emulator/faults {"rates": …}`. */
export const faultRatesSchema = z.strictObject({
  errorRate: rate.optional(),
  errorStatuses: z.array(z.number().int().min(400).max(599)).optional(),
  resetRate: rate.optional(),
  truncateRate: rate.optional(),
  slowRate: rate.optional(),
  slowMs: z.number().int().nonnegative().optional(),
  shortPageRate: rate.optional(),
  duplicateRate: rate.optional(),
});

const tenantSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/i, 'letters, digits and dashes, starting with a letter'),
  tenantId: z.uuid().optional(),
  acceptedDomains: z.array(z.string().min(1)).optional(),
  messagesPerDay: z.number().int().nonnegative().optional(),
  servicePrincipal: z.boolean().optional(),
  reportingReader: z.boolean().optional(),
  clientId: z.uuid().optional(),
  clientSecret: z.string().min(1).optional(),
  /** Paths of PEM certificates the tenant's app accepts, relative to the config file. */
  certificates: z.array(z.string()).optional(),
  graphRoles: z.array(z.string()).optional(),
  reportingRoles: z.array(z.string()).optional(),
});

export const emulatorConfigSchema = z.strictObject({
  host: z.string().optional(),
  port: z.number().int().min(0).max(65535).optional(),
  seed: z.number().int().optional(),
  dir: z.string().optional(),
  messagesPerDay: z.number().int().nonnegative().optional(),
  tokenLifetime: duration.optional(),
  opaqueTokens: z.boolean().optional(),
  throttle: z
    .strictObject({
      limit: z.number().int().positive().optional(),
      window: duration.optional(),
      fractionalRetryAfter: z.boolean().optional(),
      separateDetailQuota: z.boolean().optional(),
    })
    .optional(),
  api: z
    .strictObject({
      graphMode: z.enum(['observed', 'strict']).optional(),
      unknownDetails: z.enum(['empty', '404']).optional(),
      nextLinkTtl: duration.optional(),
      reportingPageSize: z.number().int().positive().optional(),
      reportingHistory: duration.optional(),
      relativeNextLinks: z.boolean().optional(),
    })
    .optional(),
  faults: faultRatesSchema.optional(),
  tenants: z.union([z.number().int().positive().max(1000), z.array(tenantSchema).min(1)]).optional(),
});

export type EmulatorConfig = z.infer<typeof emulatorConfigSchema>;

/** A readable error naming the file, the key path and what is wrong. */
export class EmulatorConfigError extends Error {}

export function loadEmulatorConfig(file: string): EmulatorOptions {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new EmulatorConfigError(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = emulatorConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issuePath(issue) || '(top)'}: ${issue.message}`);
    throw new EmulatorConfigError(`${file}: invalid emulator configuration\n${lines.join('\n')}`);
  }
  return toOptions(parsed.data, path.dirname(file));
}

function toOptions(config: EmulatorConfig, baseDir: string): EmulatorOptions {
  const readCert = (p: string): string => {
    const full = path.resolve(baseDir, p);
    try {
      return readFileSync(full, 'utf8');
    } catch (error) {
      throw new EmulatorConfigError(
        `certificate ${full}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  };
  const tenants =
    config.tenants === undefined || typeof config.tenants === 'number'
      ? config.tenants
      : config.tenants.map((t): TenantSpec => {
          const { certificates, ...rest } = t;
          return stripUndefined({ ...rest, certificates: certificates?.map(readCert) });
        });
  const { throttle, api } = config;
  return stripUndefined({
    host: config.host,
    port: config.port,
    seed: config.seed,
    dir: config.dir === undefined ? undefined : path.resolve(baseDir, config.dir),
    messagesPerDay: config.messagesPerDay,
    tokenLifetimeSeconds:
      config.tokenLifetime === undefined ? undefined : Math.round(config.tokenLifetime / 1000),
    opaqueTokens: config.opaqueTokens,
    tenants,
    throttle:
      throttle === undefined
        ? undefined
        : stripUndefined({
            limit: throttle.limit,
            windowMs: throttle.window,
            fractionalRetryAfter: throttle.fractionalRetryAfter,
            separateDetailQuota: throttle.separateDetailQuota,
          }),
    api:
      api === undefined
        ? undefined
        : stripUndefined({
            graphMode: api.graphMode,
            unknownDetails: api.unknownDetails,
            nextLinkTtlMs: api.nextLinkTtl,
            reportingPageSize: api.reportingPageSize,
            reportingHistoryDays:
              api.reportingHistory === undefined ? undefined : api.reportingHistory / 86_400_000,
            relativeNextLinks: api.relativeNextLinks,
          }),
    faults: config.faults === undefined ? undefined : stripUndefined(config.faults),
  });
}
