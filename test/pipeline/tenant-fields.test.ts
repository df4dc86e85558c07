/**
 * Every collected event names its tenant (issue 11, item 3), in process against the emulator over
 * real HTTPS: two Graph tenants without `organization` configured, into one file output (as
 * into one index). Graph rows carry no organization, so before this the events of both tenants
 * had no organization.name and no tenant id, and could not be told apart.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { collectorConfigYaml } from '../../src/emulator/collector-config.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { silentLogger } from '../../src/observe/log.js';
import { runCollector } from '../../src/pipeline/run.js';
import { organizationOf } from '../../src/pipeline/tenant-fields.js';
import { createSource } from '../../src/sources/create.js';
import { ecsProblems } from '../helpers/ecs.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');

let emulator: Emulator;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-tenant-fields-'));
  emulator = await startEmulator({ tenants: 2, messagesPerDay: 600, seed: 7, throttle: { limit: 1000 } });
  emulator.clock.set(NOW);
  emulator.clock.freeze(true);
});
afterAll(async () => {
  await emulator.close();
  rmSync(folder, { recursive: true, force: true });
});

interface EventLine {
  organization?: { name?: string; id?: string };
  office365: { message_trace: { tenant?: string } };
}

describe('events of several tenants in one output', () => {
  it('each carries its tenant: organization.name (the tenant domain), organization.id and the tenant name', async () => {
    const [first, second] = emulator.tenants();
    if (first === undefined || second === undefined) throw new Error('two emulator tenants expected');
    const file = path.join(folder, 'exotrace.yaml');
    mkdirSync(folder, { recursive: true });
    const yaml = collectorConfigYaml(emulator, {
      settings: { startFrom: '6h', minAge: '5m', reconcileLookback: '6m' },
      // The second tenant is named by its domain, the first by its GUID.
      tenantSettings: { [second.name]: { tenantId: second.domain } },
    });
    // No `organization` configured: the case of the issue.
    writeFileSync(
      file,
      yaml
        .split('\n')
        .filter((line) => !line.trimStart().startsWith('organization:'))
        .join('\n'),
    );
    const config = loadConfig(file);
    expect(config.tenants.map((t) => t.organization)).toEqual([undefined, undefined]);

    const summary = await runCollector(config, {
      once: true,
      signal: new AbortController().signal,
      log: silentLogger,
      now: () => NOW,
      sourceFor: (t) => createSource(t, config, {}, { pageSize: 500 }),
    });
    expect(summary.failed).toBe(false);

    const events = readFileSync(path.join(folder, 'events.ndjson'), 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as EventLine);
    const byTenant = new Map<string | undefined, EventLine[]>();
    for (const event of events) {
      const list = byTenant.get(event.office365.message_trace.tenant) ?? [];
      list.push(event);
      byTenant.set(event.office365.message_trace.tenant, list);
    }
    // Every event is one of the two tenants', and each tenant has events.
    expect([...byTenant.keys()].sort()).toEqual([first.name, second.name].sort());
    const expected = {
      [first.name]: { name: first.acceptedDomains[0], id: first.tenantId },
      [second.name]: { name: second.domain, id: second.domain },
    };
    for (const [tenant, list] of byTenant) {
      expect(list.length).toBeGreaterThan(20);
      const want = expected[tenant ?? ''];
      for (const event of list) expect(event.organization).toEqual(want);
    }
    // Still valid ECS with the new fields.
    for (const event of events.slice(0, 50)) expect(ecsProblems(event)).toEqual([]);
  });

  it('organization.name falls back to the tenant name when no domain is known', () => {
    const config = loadConfig(writeMinimal());
    const [tenant] = config.tenants;
    if (tenant === undefined) throw new Error('one tenant expected');
    expect(organizationOf(tenant)).toBe('contoso');
    expect(organizationOf({ ...tenant, organization: 'Contoso Ltd' })).toBe('Contoso Ltd');
    expect(organizationOf({ ...tenant, acceptedDomains: ['Contoso.com', 'b.com'] })).toBe('contoso.com');
    expect(organizationOf({ ...tenant, tenantId: 'Contoso.onmicrosoft.com' })).toBe(
      'contoso.onmicrosoft.com',
    );
  });
});

function writeMinimal(): string {
  const dir = path.join(folder, 'minimal');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'exotrace.yaml');
  writeFileSync(
    file,
    [
      'tenants:',
      '  - name: contoso',
      '    tenantId: 11111111-2222-3333-4444-555555555555',
      '    clientId: 11111111-2222-3333-4444-666666666666',
      '    clientSecret: not-a-real-secret',
      'outputs:',
      '  - type: stdout',
      '',
    ].join('\n'),
  );
  return file;
}
