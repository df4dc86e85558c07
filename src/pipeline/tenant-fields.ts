/**
 * What the collector tells the normalizer about a tenant, so that every event it stores names the
 * tenant it came from: with several tenants in one index, events without it cannot be attributed
 * (Graph rows carry no organization of their own).
 */
import type { TenantConfig } from '../config/load.js';
import type { NormalizeOptions } from '../normalize/normalizer.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * organization.name for rows without one: the configured `organization`, else the tenant's
 * domain (its `tenantId` when that is a domain such as contoso.onmicrosoft.com, else its first
 * accepted domain), else its configured `name`, so that no event goes without one.
 */
export function organizationOf(tenant: TenantConfig): string {
  if (tenant.organization !== undefined) return tenant.organization;
  if (!GUID.test(tenant.tenantId)) return tenant.tenantId.toLowerCase();
  return tenant.acceptedDomains[0]?.toLowerCase() ?? tenant.name;
}

/** The full profile with the tenant's organization, accepted domains, name and id. */
export function normalizeOptionsOf(tenant: TenantConfig): NormalizeOptions {
  return {
    profile: 'full',
    acceptedDomains: tenant.acceptedDomains,
    organization: organizationOf(tenant),
    tenant: { name: tenant.name, id: tenant.tenantId },
  };
}
