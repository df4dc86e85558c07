/**
 * A collector configuration (YAML) for tenants of a running emulator: what `exotrace demo` writes,
 * and what the tests of the collector start from.
 */
import type { Emulator } from './server.js';

/** Per tenant: replaced or added keys, as YAML values written as they are (`24h`, `${VAR}`). */
export type TenantSettings = Readonly<Record<string, string>>;

export interface CollectorConfigOptions {
  /** The emulator tenants to collect, by name; default all. */
  readonly tenants?: readonly string[];
  /** Keys for every tenant (after the defaults), then per tenant. */
  readonly settings?: TenantSettings;
  readonly tenantSettings?: Readonly<Record<string, TenantSettings>>;
  /** A comment for the file's first line. */
  readonly comment?: string;
}

export function collectorConfigYaml(
  emulator: Pick<Emulator, 'url' | 'caFile' | 'tenants'>,
  options: CollectorConfigOptions = {},
): string {
  const names = options.tenants ?? emulator.tenants().map((t) => t.name);
  const lines = [
    ...(options.comment === undefined ? [] : [`# ${options.comment}`]),
    'stateDir: ./state',
    'tls:',
    `  caFile: ${JSON.stringify(emulator.caFile)}`,
    'tenants:',
  ];
  for (const name of names) {
    const tenant = emulator.tenants().find((t) => t.name === name);
    const app = tenant?.apps[0];
    if (tenant === undefined || app === undefined) throw new Error(`no emulator tenant ${name}`);
    const keys: Record<string, string> = {
      tenantId: tenant.tenantId,
      clientId: app.clientId,
      clientSecret: JSON.stringify(app.secrets[0]?.value ?? ''),
      loginUrl: emulator.url,
      apiUrl: emulator.url,
      organization: tenant.domain,
      acceptedDomains: `[${tenant.acceptedDomains.join(', ')}]`,
      startFrom: '24h',
      ...options.settings,
      ...options.tenantSettings?.[name],
    };
    lines.push(
      `  - name: ${tenant.name}`,
      ...Object.entries(keys).map(([key, value]) => `    ${key}: ${value}`),
    );
  }
  lines.push('outputs:', '  - type: file', '    path: ./events.ndjson', '');
  return lines.join('\n');
}
