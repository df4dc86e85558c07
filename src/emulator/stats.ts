/**
 * What the emulator served, counted so that tests can compare a collector's own metrics with it
 * (429s served, requests per API and status, tokens issued).
 */
import type { ServerResponse } from 'node:http';

export type ApiName = 'graph-list' | 'graph-detail' | 'reporting' | 'token' | 'control' | 'other';

export interface Stats {
  /** Remembers which tenant a response was for (known only once the token is read). */
  tag(res: ServerResponse, tenantName: string): void;
  record(res: ServerResponse, api: ApiName): void;
  /** `{ tenant: { api: { status: count } } }`; requests before a tenant was known count under "-". */
  snapshot(): Record<string, Record<string, Record<string, number>>>;
  reset(): void;
}

export function createStats(): Stats {
  const tenants = new WeakMap<ServerResponse, string>();
  let counts: Record<string, Record<string, Record<string, number>>> = {};
  return {
    tag(res, tenantName) {
      tenants.set(res, tenantName);
    },
    record(res, api) {
      const tenant = tenants.get(res) ?? '-';
      const byApi = (counts[tenant] ??= {});
      const byStatus = (byApi[api] ??= {});
      const status = res.headersSent || res.writableEnded ? String(res.statusCode) : 'reset';
      byStatus[status] = (byStatus[status] ?? 0) + 1;
    },
    snapshot() {
      return structuredClone(counts);
    },
    reset() {
      counts = {};
    },
  };
}
