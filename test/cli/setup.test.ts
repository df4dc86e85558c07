/**
 * `exotrace setup elasticsearch` through the built binary, against a small HTTP server that
 * answers like a cluster (root document, index template, ILM and ISM policy APIs, validating what
 * it is sent: search-cluster.ts) and records what it was sent.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIELDS } from '../../src/normalize/fields.js';
import { runCli } from '../helpers/cli.js';
import { tenantYaml } from '../config/helpers.js';
import { startSearchCluster, type SearchCluster } from './search-cluster.js';

let dir: string;
let cluster: SearchCluster;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'exotrace-setup-'));
  cluster = await startSearchCluster();
});
afterEach(async () => {
  await cluster.close();
  rmSync(dir, { recursive: true, force: true });
});

function config(extra = ''): string {
  const file = path.join(dir, 'exotrace.yaml');
  writeFileSync(
    file,
    `${tenantYaml()}\noutputs:\n  - type: elasticsearch\n    url: ${cluster.url}\n    apiKey: s3cr3t-api-key\n${extra}`,
  );
  return file;
}

/** The mapping of a dotted field in the template's properties. */
function mappingOf(properties: Record<string, unknown>, name: string): unknown {
  let level: Record<string, unknown> | undefined = properties;
  const parts = name.split('.');
  for (const part of parts.slice(0, -1)) {
    level = (level?.[part] as { properties?: Record<string, unknown> } | undefined)?.properties;
  }
  return level?.[parts.at(-1) ?? name];
}

describe('exotrace setup elasticsearch', () => {
  it('installs a data stream template mapping every field we emit with its ECS type', async () => {
    const result = await runCli(['setup', 'elasticsearch', '--config', config()]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('index template logs-office365.message_trace');
    // The template comes last, after the lifecycle policy it names.
    const put = cluster.recorded.filter((r) => r.method === 'PUT').at(-1);
    expect(put?.url).toBe('/_index_template/logs-office365.message_trace');
    expect(put?.authorization).toBe('ApiKey s3cr3t-api-key');
    const template = JSON.parse(put?.body ?? '{}') as {
      index_patterns: string[];
      data_stream: object;
      priority: number;
      template: { mappings: { properties: Record<string, unknown> } };
    };
    expect(template.index_patterns).toEqual(['logs-office365.message_trace-*']);
    expect(template.data_stream).toEqual({});
    expect(template.priority).toBeGreaterThan(100);
    for (const field of FIELDS) {
      expect(mappingOf(template.template.mappings.properties, field.name), field.name).toEqual({
        type: field.type,
      });
    }
  });

  it('an API key given as id:key is sent encoded, as the output sends it', async () => {
    const file = path.join(dir, 'idkey.yaml');
    writeFileSync(
      file,
      `${tenantYaml()}\noutputs:\n  - type: elasticsearch\n    url: ${cluster.url}\n    apiKey: "myid:mykey"\n`,
    );
    const result = await runCli(['setup', 'elasticsearch', '--config', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(cluster.recorded[0]?.authorization).toBe(`ApiKey ${Buffer.from('myid:mykey').toString('base64')}`);
  });

  it('on OpenSearch, types it lacks become their nearest equivalents', async () => {
    cluster.distribution = 'opensearch';
    const result = await runCli(['setup', 'elasticsearch', '--config', config()]);
    expect(result.code, result.stderr).toBe(0);
    const body = cluster.recorded.filter((r) => r.method === 'PUT').at(-1)?.body ?? '';
    expect(body).not.toContain('"wildcard"');
    expect(body).not.toContain('"match_only_text"');
    expect(result.stdout).toContain('(opensearch)');
  });

  it('a refused key: exit 3, the setting to check named, the key never printed', async () => {
    cluster.status = 401;
    const result = await runCli(['setup', 'elasticsearch', '--config', config()]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/answered 401 \(check outputs 'elasticsearch' apiKey/);
    expect(result.stderr + result.stdout).not.toContain('s3cr3t-api-key');
  });

  it('no elasticsearch output is a usage error', async () => {
    const file = path.join(dir, 'plain.yaml');
    writeFileSync(file, `${tenantYaml()}\noutputs:\n  - type: stdout\n`);
    const result = await runCli(['setup', 'elasticsearch', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no elasticsearch output');
  });
});

interface Template {
  template: { settings: Record<string, unknown> };
}

const POLICY = 'logs-office365.message_trace';

describe('exotrace setup elasticsearch: the lifecycle policy', () => {
  it('Elasticsearch: an ILM policy (rollover 50gb or 30d, delete 90d after rollover), put before the template that names it', async () => {
    const result = await runCli(['setup', 'elasticsearch', '--config', config()]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      `lifecycle policy ${POLICY} installed on ${cluster.url} (ILM: rollover at 50gb per primary shard or 30d, deleted 90d after rollover)`,
    );
    expect(cluster.recorded.filter((r) => r.method === 'PUT').map((r) => r.url)).toEqual([
      `/_ilm/policy/${POLICY}`,
      `/_index_template/${POLICY}`,
    ]);
    expect(cluster.ilm.get(POLICY)).toMatchObject({
      _meta: { managed_by: 'exotrace' },
      phases: {
        hot: { min_age: '0ms', actions: { rollover: { max_primary_shard_size: '50gb', max_age: '30d' } } },
        delete: { min_age: '90d', actions: { delete: {} } },
      },
    });
    const template = cluster.templates.get(POLICY) as unknown as Template;
    expect(template.template.settings['index.lifecycle.name']).toBe(POLICY);
  });

  it('run again: the same policy is left unchanged (not put again); the template is', async () => {
    expect((await runCli(['setup', 'elasticsearch', '--config', config()])).code).toBe(0);
    const again = await runCli(['setup', 'elasticsearch', '--config', config()]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`lifecycle policy ${POLICY} unchanged`);
    expect(again.stderr).toBe('');
    expect(cluster.recorded.filter((r) => r.method === 'PUT' && r.url.startsWith('/_ilm/'))).toHaveLength(1);
    expect(
      cluster.recorded.filter((r) => r.method === 'PUT' && r.url.startsWith('/_index_template/')),
    ).toHaveLength(2);
  });

  it('a policy that differs (edited on the cluster, another retention) is kept with a warning naming --force; --force replaces it', async () => {
    expect((await runCli(['setup', 'elasticsearch', '--config', config()])).code).toBe(0);
    const longer = config('    retention: 365d\n');
    const kept = await runCli(['setup', 'elasticsearch', '--config', longer]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stderr).toContain(
      `warning: the lifecycle policy ${POLICY} on ${cluster.url} differs from what retention 365d of outputs 'elasticsearch' makes (edited on the cluster, or another retention): kept as it is; run exotrace setup elasticsearch --force to replace it`,
    );
    expect(cluster.ilm.get(POLICY)).toMatchObject({ phases: { delete: { min_age: '90d' } } });
    const forced = await runCli(['setup', 'elasticsearch', '--config', longer, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`lifecycle policy ${POLICY} replaced (--force)`);
    expect(cluster.ilm.get(POLICY)).toMatchObject({
      phases: { hot: { actions: { rollover: { max_age: '30d' } } }, delete: { min_age: '365d' } },
    });
  });

  it('a retention shorter than 30 days rolls over as often; retention: none installs no policy and names none', async () => {
    const week = await runCli(['setup', 'elasticsearch', '--config', config('    retention: 7d\n')]);
    expect(week.code, week.stderr).toBe(0);
    expect(cluster.ilm.get(POLICY)).toMatchObject({
      phases: { hot: { actions: { rollover: { max_age: '7d' } } }, delete: { min_age: '7d' } },
    });

    cluster.ilm.clear();
    cluster.recorded.length = 0;
    const none = await runCli(['setup', 'elasticsearch', '--config', config('    retention: none\n')]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toContain("no lifecycle policy (outputs 'elasticsearch' retention: none)");
    expect(cluster.recorded.filter((r) => r.url.includes('_ilm'))).toEqual([]);
    const template = cluster.templates.get(POLICY) as unknown as Template;
    expect(template.template.settings).not.toHaveProperty('index.lifecycle.name');
  });

  it('OpenSearch: an ISM policy on the backing indices (hot → delete 90d after rollover), no ILM setting in the template; --force replaces it at its version', async () => {
    cluster.distribution = 'opensearch';
    const result = await runCli(['setup', 'elasticsearch', '--config', config()]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(
      `lifecycle policy ${POLICY} installed on ${cluster.url} (ISM: rollover at 50gb per primary shard or 30d, deleted 90d after rollover)`,
    );
    expect(cluster.recorded.filter((r) => r.method === 'PUT').map((r) => r.url)).toEqual([
      `/_plugins/_ism/policies/${POLICY}`,
      `/_index_template/${POLICY}`,
    ]);
    expect(cluster.ism.get(POLICY)?.policy).toMatchObject({
      default_state: 'hot',
      states: [
        {
          name: 'hot',
          actions: [{ rollover: { min_primary_shard_size: '50gb', min_index_age: '30d' } }],
          transitions: [{ state_name: 'delete', conditions: { min_rollover_age: '90d' } }],
        },
        { name: 'delete', actions: [{ delete: {} }], transitions: [] },
      ],
      ism_template: [{ index_patterns: ['.ds-logs-office365.message_trace-*'] }],
    });
    const template = cluster.templates.get(POLICY) as unknown as Template;
    expect(template.template.settings).not.toHaveProperty('index.lifecycle.name');

    const same = await runCli(['setup', 'elasticsearch', '--config', config()]);
    expect(same.stdout, same.stderr).toContain(`lifecycle policy ${POLICY} unchanged`);
    const forced = await runCli([
      'setup',
      'elasticsearch',
      '--config',
      config('    retention: 180d\n'),
      '--force',
    ]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`lifecycle policy ${POLICY} replaced (--force)`);
    expect(cluster.ism.get(POLICY)?.policy).toMatchObject({
      states: [{ transitions: [{ conditions: { min_rollover_age: '180d' } }] }, { name: 'delete' }],
    });
  });

  it('no privilege for lifecycle policies: exit 3 naming the privilege and retention: none; no template put', async () => {
    cluster.refuse = /^\/_ilm\//;
    const denied = await runCli(['setup', 'elasticsearch', '--config', config()]);
    expect(denied.code).toBe(3);
    expect(denied.stderr).toContain(
      `the cluster refused to read the lifecycle policy ${POLICY} (403) (the credentials need the manage_ilm cluster privilege, or set retention: none on outputs 'elasticsearch')`,
    );
    expect(cluster.templates.size).toBe(0);
    expect(denied.stderr + denied.stdout).not.toContain('s3cr3t-api-key');
  });
});

describe('the test cluster refuses what a real one would', () => {
  it('ILM: a time value without unit, an unknown field, a rollover without max_*, phases out of order', async () => {
    const put = async (body: unknown): Promise<string> => {
      const res = await fetch(`${cluster.url}/_ilm/policy/p`, { method: 'PUT', body: JSON.stringify(body) });
      return `${res.status} ${await res.text()}`;
    };
    const phases = (hot: unknown, del: unknown) => ({ policy: { phases: { hot, delete: del } } });
    const good = { min_age: '0ms', actions: { rollover: { max_age: '30d' } } };
    expect(await put(phases(good, { min_age: '90d', actions: { delete: {} } }))).toMatch(/^200 /);
    expect(await put(phases(good, { min_age: '90 days', actions: { delete: {} } }))).toMatch(
      /^400 .*as a time value/,
    );
    expect(await put(phases(good, { min_age: '90d', after: '1d', actions: { delete: {} } }))).toMatch(
      /^400 .*unknown field \[after\]/,
    );
    expect(
      await put(
        phases({ actions: { rollover: { min_age: '1d' } } }, { min_age: '90d', actions: { delete: {} } }),
      ),
    ).toMatch(/^400 .*max_\*/);
    expect(
      await put(phases({ min_age: '100d', actions: {} }, { min_age: '90d', actions: { delete: {} } })),
    ).toMatch(/^400 .*increasing min_age/);
    expect(
      await put(
        phases({ actions: { rollover: { max_primary_shard_size: 50 } } }, { actions: { delete: {} } }),
      ),
    ).toMatch(/^400 .*size in bytes/);
  });

  it('ISM: a transition to a missing state, an unknown condition, a replace without its version', async () => {
    cluster.distribution = 'opensearch';
    const put = async (body: unknown, query = ''): Promise<string> => {
      const res = await fetch(`${cluster.url}/_plugins/_ism/policies/p${query}`, {
        method: 'PUT',
        body: JSON.stringify(body),
      });
      return `${res.status} ${await res.text()}`;
    };
    const policy = (transition: unknown) => ({
      policy: {
        description: 'd',
        default_state: 'hot',
        states: [
          { name: 'hot', actions: [{ rollover: { min_index_age: '30d' } }], transitions: [transition] },
          { name: 'delete', actions: [{ delete: {} }], transitions: [] },
        ],
        ism_template: [{ index_patterns: ['.ds-x-*'], priority: 100 }],
      },
    });
    expect(await put(policy({ state_name: 'gone', conditions: { min_index_age: '1d' } }))).toMatch(
      /^400 .*does not exist/,
    );
    expect(await put(policy({ state_name: 'delete', conditions: { max_age: '1d' } }))).toMatch(
      /^400 .*unknown field \[max_age\]/,
    );
    expect(await put(policy({ state_name: 'delete', conditions: { min_rollover_age: '90d' } }))).toMatch(
      /^201 /,
    );
    expect(await put(policy({ state_name: 'delete', conditions: { min_rollover_age: '30d' } }))).toMatch(
      /^409 .*version conflict/,
    );
    const { seqNo, primaryTerm } = cluster.ism.get('p') ?? { seqNo: -1, primaryTerm: -1 };
    expect(
      await put(
        policy({ state_name: 'delete', conditions: { min_rollover_age: '30d' } }),
        `?if_seq_no=${seqNo}&if_primary_term=${primaryTerm}`,
      ),
    ).toMatch(/^200 /);
  });
});
