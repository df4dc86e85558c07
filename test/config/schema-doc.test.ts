/**
 * The configuration reference cannot drift: docs/configuration.md is the rendering of the JSON
 * Schema, which is generated from the zod schema that validates the file; the JSON Schema says
 * what the loader accepts (strict objects, required keys, enums, durations as text) and documents
 * every key; `exotrace config schema` prints it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  DURATION_PATTERN,
  configJsonSchema,
  configRows,
  renderConfigDoc,
  type SchemaNode,
} from '../../src/cli/config.js';
import { DEFAULTS, OUTPUT_TYPES } from '../../src/config/schema.js';
import { parseDuration } from '../../src/util/duration.js';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

const schema = configJsonSchema();
const tenant = schema.properties?.tenants?.items as SchemaNode;
const outputs = schema.properties?.outputs?.items?.oneOf as SchemaNode[];
const output = (type: string): SchemaNode => {
  const found = outputs.find((o) => o.properties?.type?.const === type);
  if (found === undefined) throw new Error(`no output ${type}`);
  return found;
};

/** Every object node with properties, by key path. */
function objects(node: SchemaNode, at = ''): [string, SchemaNode][] {
  const found: [string, SchemaNode][] = [];
  if (node.properties !== undefined) found.push([at, node]);
  for (const [name, child] of Object.entries(node.properties ?? {}))
    found.push(...objects(child, `${at}.${name}`));
  if (node.items !== undefined) found.push(...objects(node.items, `${at}[]`));
  node.oneOf?.forEach((branch) =>
    found.push(...objects(branch, `${at}[type=${String(branch.properties?.type?.const)}]`)),
  );
  return found;
}

/**
 * What the schema says against a parsed YAML value, for the keywords the schema uses on keys and
 * scalars (unknown keys, required keys, type, enum, const, pattern): how an editor would read it.
 */
function problems(node: SchemaNode, value: unknown, at: string): string[] {
  if (node.oneOf !== undefined) {
    const fits = node.oneOf.filter((branch) => problems(branch, value, at).length === 0);
    return fits.length === 1 ? [] : [`${at}: matches ${fits.length} of the oneOf branches`];
  }
  if (node.anyOf !== undefined) {
    return node.anyOf.some((branch) => problems(branch, value, at).length === 0)
      ? []
      : [`${at}: no anyOf branch`];
  }
  const kind = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  const type = node.type === 'integer' ? 'number' : node.type;
  if (type !== undefined && type !== kind) return [`${at}: expected ${String(node.type)}, got ${kind}`];
  if (node.const !== undefined && value !== node.const)
    return [`${at}: expected ${JSON.stringify(node.const)}`];
  if (node.enum !== undefined && !node.enum.includes(value))
    return [`${at}: not one of ${node.enum.join(', ')}`];
  if (node.pattern !== undefined && !new RegExp(node.pattern, 'i').test(String(value))) {
    return [`${at}: does not match ${node.pattern}`];
  }
  if (Array.isArray(value) && node.items !== undefined) {
    const items = node.items;
    return value.flatMap((item: unknown, i) => problems(items, item, `${at}[${i}]`));
  }
  if (kind === 'object' && node.properties !== undefined) {
    const object = value as Record<string, unknown>;
    const found = (node.required ?? [])
      .filter((key) => !(key in object))
      .map((key) => `${at}.${key}: required`);
    for (const [key, child] of Object.entries(object)) {
      const known = node.properties[key];
      if (known !== undefined) found.push(...problems(known, child, `${at}.${key}`));
      else if (node.additionalProperties === false) found.push(`${at}.${key}: unknown key`);
    }
    return found;
  }
  return [];
}

function readmeExample(): unknown {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Configuration'));
  const match = /```yaml\n([\s\S]*?)```/.exec(section);
  if (match?.[1] === undefined) throw new Error('no YAML example under ### Configuration in README.md');
  return parse(match[1]) as unknown;
}

describe('configuration reference', () => {
  it('docs/configuration.md is the rendering of the schema (run `npm run docs:config` after changing schema.ts)', () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs/configuration.md'), 'utf8');
    expect(doc).toBe(renderConfigDoc());
  });

  it('lists every key by path, outputs in one table per type', () => {
    const { general, tenants, outputs: perType } = configRows(schema);
    expect(general.map((r) => r.key)).toContain('http.timeout');
    expect(tenants.map((r) => r.key)).toContain('tenants[].minAge');
    expect(perType.map((o) => o.type)).toEqual([...OUTPUT_TYPES]);
    const kafka = perType.find((o) => o.type === 'kafka')?.rows ?? [];
    expect(kafka.find((r) => r.key === 'outputs[type=kafka].sasl.mechanism')).toMatchObject({
      type: '`plain` | `scram-sha-256` | `scram-sha-512`',
      default: '`"plain"`',
      required: false,
    });
  });
});

describe('JSON Schema of the configuration', () => {
  it('is draft 2020-12 and says how ${VAR} and durations are written', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.description).toContain('${VAR}');
    expect(schema.description).toContain('5m');
  });

  it('refuses unknown keys on every object, as the loader does', () => {
    for (const [at, node] of objects(schema)) expect(node.additionalProperties, at || '(top)').toBe(false);
    expect(objects(schema).map(([at]) => at)).toEqual(
      expect.arrayContaining(['', '.tenants[]', '.outputs[][type=kafka]', '.outputs[][type=kafka].sasl']),
    );
  });

  it('requires what the loader requires', () => {
    expect(schema.required).toEqual(['tenants', 'outputs']);
    expect(schema.properties?.tenants?.minItems).toBe(1);
    expect(schema.properties?.outputs?.minItems).toBe(1);
    expect(tenant.required).toEqual(['name', 'tenantId', 'clientId']);
    expect(output('file').required).toEqual(['type', 'path']);
    expect(output('splunk-hec').required).toEqual(['type', 'url', 'token']);
    expect(output('kafka').required).toEqual(['type', 'brokers', 'topic']);
  });

  it('enumerates api and the output types', () => {
    expect(tenant.properties?.api?.enum).toEqual(['graph', 'graph-beta', 'reporting']);
    expect(tenant.properties?.api?.default).toBe('graph');
    expect(outputs.map((o) => o.properties?.type?.const)).toEqual([...OUTPUT_TYPES]);
  });

  it('documents durations as text with a unit, defaults as they would be written', () => {
    const durations: [SchemaNode | undefined, number][] = [
      [tenant.properties?.minAge, DEFAULTS.minAgeMs],
      [tenant.properties?.reconcileLookback, DEFAULTS.reconcileLookbackMs],
      [tenant.properties?.reconcileEvery, DEFAULTS.reconcileEveryMs],
      [schema.properties?.http?.properties?.timeout, DEFAULTS.httpTimeoutMs],
      [schema.properties?.outbox?.properties?.warnAfter, DEFAULTS.outboxWarnAfterMs],
    ];
    for (const [node, ms] of durations) {
      expect(node).toMatchObject({ type: 'string', pattern: DURATION_PATTERN });
      expect(parseDuration(String(node?.default))).toBe(ms);
    }
    const startFrom = tenant.properties?.startFrom;
    expect(parseDuration(String(startFrom?.default))).toBe(DEFAULTS.startFromMs);
    expect(problems(tenant.properties?.startFrom ?? {}, '2026-01-31T00:00:00Z', 'startFrom')).toEqual([]);
    expect(problems(tenant.properties?.startFrom ?? {}, '90d', 'startFrom')).toEqual([]);
    expect(problems(tenant.properties?.startFrom ?? {}, 'yesterday', 'startFrom')).not.toEqual([]);
    expect(tenant.properties?.requestsPer5Min).toMatchObject({
      type: 'integer',
      default: DEFAULTS.requestsPer5Min,
    });
  });

  it('describes every key and types every value', () => {
    for (const [at, node] of objects(schema)) {
      for (const [key, child] of Object.entries(node.properties ?? {})) {
        expect(child.description, `${at}.${key}`).toMatch(/\S/);
        expect(child.type ?? child.anyOf, `${at}.${key}`).toBeDefined();
      }
    }
  });

  it("accepts the README's example configuration", () => {
    expect(problems(schema, readmeExample(), '')).toEqual([]);
  });

  it('rejects an unknown key and a wrong type', () => {
    const example = readmeExample() as {
      tenants: Record<string, unknown>[];
      outputs: Record<string, unknown>[];
    };
    const typo = structuredClone(example);
    (typo.tenants[0] as Record<string, unknown>).minage = '5m';
    expect(problems(schema, typo, '')).toEqual(['.tenants[0].minage: unknown key']);
    const top = { ...structuredClone(example), stateDirectory: './state' };
    expect(problems(schema, top, '')).toEqual(['.stateDirectory: unknown key']);
    const bare = structuredClone(example);
    (bare.tenants[0] as Record<string, unknown>).minAge = 300;
    expect(problems(schema, bare, '')).toEqual(['.tenants[0].minAge: expected string, got number']);
    const api = structuredClone(example);
    (api.tenants[0] as Record<string, unknown>).api = 'ews';
    expect(problems(schema, api, '')).toHaveLength(1);
    const kind = structuredClone(example);
    kind.outputs.push({ type: 'carrier-pigeon' });
    expect(problems(schema, kind, '')).toEqual(['.outputs[2]: matches 0 of the oneOf branches']);
  });

  it('is what `exotrace config schema` prints', async () => {
    const result = await runCli(['config', 'schema']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as SchemaNode;
    expect(printed.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(printed).toEqual(schema);
  });
});
