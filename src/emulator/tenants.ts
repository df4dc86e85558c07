/**
 * The emulator's tenants: given in a config file, or made up from the seed. Made-up tenants get
 * stable identifiers and secrets (the same seed prints the same ones), so that a collector config
 * written once keeps working against a restarted emulator.
 */
import { createHash } from 'node:crypto';
import type { EmulatorApp, EmulatorTenant } from './model.js';
import { GRAPH_ROLE } from './graph.js';
import { REPORTING_ROLE } from './reporting.js';

const NAMES = ['contoso', 'fabrikam', 'northwind', 'tailspin', 'adatum', 'litware', 'woodgrove', 'proseware'];

/** What a config file may say about a tenant; everything else is derived. */
export interface TenantSpec {
  readonly name: string;
  readonly tenantId?: string;
  readonly acceptedDomains?: readonly string[];
  readonly messagesPerDay?: number;
  readonly servicePrincipal?: boolean;
  readonly reportingReader?: boolean;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** PEM certificates the app accepts for client assertions. */
  readonly certificates?: readonly string[];
  readonly graphRoles?: readonly string[];
  readonly reportingRoles?: readonly string[];
}

function digest(...parts: (string | number)[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

/** A GUID-shaped identifier derived from the parts (version 8: custom, name-based). */
function derivedGuid(...parts: (string | number)[]): string {
  const h = digest(...parts);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function defaultTenantSpecs(count: number): TenantSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    name: i < NAMES.length ? (NAMES[i] ?? `tenant${i + 1}`) : `tenant${i + 1}`,
  }));
}

export function buildTenant(spec: TenantSpec, seed: number, defaultMessagesPerDay: number): EmulatorTenant {
  const name = spec.name.toLowerCase();
  const app: EmulatorApp = {
    clientId: spec.clientId ?? derivedGuid('client', seed, name),
    displayName: `exotrace collector (${name})`,
    // A made-up secret in the shape of Entra's (40 characters); stable for a given seed.
    secrets: [
      {
        value:
          spec.clientSecret ??
          `emu~${Buffer.from(digest('secret', seed, name), 'hex')
            .toString('base64url')
            .slice(0, 36)}`,
      },
    ],
    certificates: spec.certificates ?? [],
    graphRoles: spec.graphRoles ?? [GRAPH_ROLE],
    reportingRoles: spec.reportingRoles ?? [REPORTING_ROLE],
  };
  return {
    name,
    // GUIDs compare case-insensitively; keep one spelling.
    tenantId: (spec.tenantId ?? derivedGuid('tenant', seed, name)).toLowerCase(),
    domain: `${name}.onmicrosoft.com`,
    acceptedDomains: spec.acceptedDomains ?? [`${name}.com`],
    messagesPerDay: spec.messagesPerDay ?? defaultMessagesPerDay,
    seed: parseInt(digest('seed', seed, name).slice(0, 8), 16),
    servicePrincipal: spec.servicePrincipal ?? true,
    reportingReader: spec.reportingReader ?? true,
    apps: [app],
  };
}
