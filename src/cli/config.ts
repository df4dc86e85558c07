/**
 * `exotrace config schema`: the JSON Schema (draft 2020-12) of the YAML configuration, for editors
 * (yaml-language-server). It is generated from the zod schema that validates the file, as is
 * docs/configuration.md (`renderConfigDoc`, written by `npm run docs:config`), so neither drifts.
 *
 * The schema describes what the user writes (`io: 'input'`, before transforms): durations are
 * text such as `5m`, defaults are shown as they would be written.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { configSchema } from '../config/schema.js';
import { configCheckCommand } from './config-check.js';
import { EXIT_OK } from './exit-codes.js';
import { formatDuration } from '../util/duration.js';

/** A JSON Schema node, as far as this file reads and writes it. */
export interface SchemaNode {
  [key: string]: unknown;
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  additionalProperties?: boolean | SchemaNode;
}

/** The marker schema.ts sets in `.meta()` on values whose JSON Schema zod cannot derive. */
const KIND = 'x-exotrace-kind';

/** What the loader accepts as a duration (schema.ts `DURATION_TEXT`): a number and a unit. */
export const DURATION_PATTERN = '^\\s*\\d+(?:\\.\\d+)?\\s*(?:ms|s|m|h|d)\\s*$';
const INSTANT_PATTERN =
  '^\\d{4}-\\d{2}-\\d{2}(?:[T ]\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d+)?)?(?:Z|z|[+-]\\d{2}:?\\d{2}))?$';

const DESCRIPTION = [
  'Configuration of exotrace, the Microsoft 365 message trace collector (one YAML file).',
  'Any string value may hold ${VAR}, replaced from the environment before validation ($${ is a literal ${);',
  'numbers and booleans also accept their spelling as text, so `port: ${SYSLOG_PORT}` works even where this',
  'schema says integer. Durations are a number and a unit: 500ms, 30s, 5m, 24h, 90d.',
].join(' ');

/** The default as the user would write it, for defaults zod leaves out (those of transformed values). */
function inputDefault(kind: unknown, value: unknown): unknown {
  if (kind === 'duration' && typeof value === 'number') return formatDuration(value, 'config');
  if (kind === 'start-from' && typeof value === 'object' && value !== null && 'ms' in value) {
    return typeof value.ms === 'number' ? formatDuration(value.ms, 'config') : undefined;
  }
  // An object's defaults are those of its keys, documented with them.
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return undefined;
  return value;
}

function override(ctx: { zodSchema: unknown; jsonSchema: SchemaNode }): void {
  const json = ctx.jsonSchema;
  const kind = json[KIND];
  const def = (ctx.zodSchema as { _zod: { def: { type: string; defaultValue?: unknown } } })._zod.def;
  if (def.type === 'default' && json.default === undefined) {
    const value = inputDefault(kind, def.defaultValue);
    if (value !== undefined) json.default = value;
  }
  if (kind === 'duration') {
    json.type = 'string';
    json.pattern = DURATION_PATTERN;
    json.examples = ['30s', '5m', '24h', '90d'];
  } else if (kind === 'retention') {
    json.anyOf = [
      { type: 'string', pattern: DURATION_PATTERN, description: 'a duration, at least 1d' },
      { type: 'string', const: 'none', description: 'install no lifecycle policy' },
    ];
    json.examples = ['90d', '365d', 'none'];
  } else if (kind === 'start-from') {
    json.anyOf = [
      { type: 'string', pattern: DURATION_PATTERN, description: 'a duration back from now' },
      {
        type: 'string',
        pattern: INSTANT_PATTERN,
        description: 'an ISO 8601 date, or date-time with a time zone',
      },
    ];
    json.examples = ['24h', '30d', '2026-01-31T00:00:00Z'];
  }
  Reflect.deleteProperty(json, KIND);
}

/** The JSON Schema of the configuration file, as `exotrace config schema` prints it. */
export function configJsonSchema(): SchemaNode {
  const generated = z.toJSONSchema(configSchema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
    override: override as never,
  }) as SchemaNode;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'exotrace configuration',
    description: DESCRIPTION,
    ...rest,
  };
}

// ---------------------------------------------------------------------------------------------
// docs/configuration.md

interface Row {
  readonly key: string;
  readonly type: string;
  readonly default: string;
  readonly required: boolean;
  readonly description: string;
}

const code = (text: string): string => `\`${text}\``;
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The type of a node, as the reference shows it. */
export function typeOf(node: SchemaNode): string {
  if (node.const !== undefined) return code(JSON.stringify(node.const));
  if (node.enum !== undefined) return node.enum.map((v) => code(String(v))).join(' | ');
  if (node.pattern === DURATION_PATTERN) return 'duration';
  if (node.oneOf !== undefined) return 'output (below)';
  const words = node.anyOf?.filter((b) => b.const !== undefined) ?? [];
  if (words.length > 0 && node.anyOf?.some((b) => b.pattern === DURATION_PATTERN) === true) {
    return `duration or ${words.map((b) => code(JSON.stringify(b.const))).join(' or ')}`;
  }
  if (node.anyOf !== undefined && node.anyOf.every((b) => b.type === 'string')) {
    return node.anyOf.some((b) => b.pattern === DURATION_PATTERN) ? 'duration or instant' : 'string';
  }
  if (node.type === 'array') {
    const items = node.items === undefined ? 'any' : typeOf(node.items);
    return `list of ${items}${node.minItems !== undefined ? ` (at least ${node.minItems})` : ''}`;
  }
  if (node.type === 'object' && typeof node.additionalProperties === 'object') {
    return `map of ${typeOf(node.additionalProperties)}`;
  }
  if (node.type === 'integer') {
    const max =
      node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER ? node.maximum : undefined;
    if (node.minimum !== undefined && max !== undefined) return `integer, ${node.minimum} to ${max}`;
    if (node.minimum !== undefined) return `integer, at least ${node.minimum}`;
    return 'integer';
  }
  if (Array.isArray(node.type)) return node.type.join(' or ');
  return node.type ?? 'any';
}

function rows(node: SchemaNode, prefix: string, into: Row[], skip: readonly string[] = []): Row[] {
  const required = new Set(node.required ?? []);
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    if (skip.includes(name)) continue;
    const key = `${prefix}${name}`;
    into.push({
      key,
      type: typeOf(child),
      default: child.default === undefined ? '' : code(JSON.stringify(child.default)),
      required: required.has(name),
      description: child.description ?? '',
    });
    if (child.type === 'object' && child.properties !== undefined) rows(child, `${key}.`, into);
  }
  return into;
}

function table(list: readonly Row[]): string {
  const lines = [
    '| Key | Type | Default | Required | Description |',
    '| --- | --- | --- | --- | --- |',
    ...list.map(
      (r) =>
        `| ${code(r.key)} | ${cell(r.type)} | ${cell(r.default)} | ${r.required ? 'yes' : 'no'} | ${cell(r.description)} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/** Every key of a schema, by path (`tenants[].minAge`, `outputs[type=kafka].sasl.mechanism`). */
export function configRows(schema: SchemaNode = configJsonSchema()): {
  general: Row[];
  tenants: Row[];
  outputs: { type: string; rows: Row[] }[];
} {
  const tenants = schema.properties?.tenants?.items;
  const outputs = schema.properties?.outputs?.items?.oneOf;
  if (tenants === undefined || outputs === undefined) throw new Error('unexpected schema shape');
  return {
    general: rows(schema, '', []),
    tenants: rows(tenants, 'tenants[].', []),
    outputs: outputs.map((output) => {
      const type = String(output.properties?.type?.const);
      return { type, rows: rows(output, `outputs[type=${type}].`, []) };
    }),
  };
}

/** docs/configuration.md: the reference, rendered from the JSON Schema above. */
export function renderConfigDoc(): string {
  const schema = configJsonSchema();
  const { general, tenants, outputs } = configRows(schema);
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`: edit the schema, not this file. -->',
    '',
    'exotrace reads one YAML file (`--config FILE`). Every key is listed below by its path:',
    '`tenants[].minAge` is `minAge` in each item of `tenants`, `outputs[type=kafka].sasl.mechanism` is',
    '`sasl.mechanism` in an output of `type: kafka`. Unknown keys are errors.',
    '',
    '- **`${VAR}`**: any string value may hold `${VAR}`, replaced from the environment before',
    '  validation (a missing variable is an error naming it; `$${` is a literal `${`). Numbers and',
    '  booleans also accept their spelling as text, so `port: ${SYSLOG_PORT}` works. Only the braced',
    '  form is replaced: a secret written `$CONTOSO_SECRET` is refused, naming its key.',
    '- **Durations** are a number and a unit: `500ms`, `30s`, `5m`, `24h`, `90d` (a bare number is refused).',
    '- **Relative paths** are resolved against the folder of the configuration file.',
    '- **Secrets**: each tenant needs exactly one of `clientSecret` and `certificate`.',
    '',
    '## Checking a configuration',
    '',
    '`exotrace config check --config FILE` reads and validates the file exactly as `run` does (the',
    'same `${VAR}` substitution, paths, certificates and keys parsed, CA files read), checks `stateDir`',
    'as `run` would (a folder other users can write to, linked state files, a folder it cannot write',
    'or create) and prints the warnings `run` would give at start (a secret in a file every local',
    'user can read, a new state for outputs that cannot tell what an earlier state delivered). It',
    'contacts nothing (no DNS lookup, no connection) and creates nothing (no state folder or',
    'database). It prints the tenants, outputs and state it found and exits 0, or prints the errors',
    'as `run` does (naming the key path and line) and exits 2; `--json` prints either as one JSON',
    'document. `exotrace doctor` then checks what needs the network. Two checks of `run` need the',
    'state opened and are left to it: whether another exotrace process holds the state (exit 4), and',
    "whether a `file` output's existing file was written from this state (else it is moved aside).",
    '',
    '## JSON Schema for editors',
    '',
    '`exotrace config schema` prints the JSON Schema (draft 2020-12) of this file. With the YAML',
    'extension of VS Code (yaml-language-server), save it and point the configuration at it:',
    '',
    '```sh',
    'exotrace config schema > exotrace.schema.json',
    '```',
    '',
    '```yaml',
    '# yaml-language-server: $schema=./exotrace.schema.json',
    '```',
    '',
    'The editor then completes keys, shows these descriptions and flags unknown keys and wrong types',
    '(a `${VAR}` where a number is expected is flagged although exotrace accepts it). Checks that',
    'span several keys (a credential per tenant, unique names) are made by exotrace when it loads the file.',
    '',
    '## General',
    '',
    table(general),
    '## Tenants',
    '',
    table(tenants),
    '## Outputs',
    '',
    'Each item of `outputs` has a `type`; the keys of each type follow. An output without `name` is',
    'named after its type: two outputs of the same type need names.',
    '',
    ...outputs.flatMap((output) => [`### \`type: ${output.type}\``, '', table(output.rows)]),
  ]
    .join('\n')
    .replace(/\n+$/, '\n');
}

// ---------------------------------------------------------------------------------------------
// The command

interface Io {
  readonly stdout: NodeJS.WritableStream;
  /** Default process.stderr. */
  readonly stderr?: NodeJS.WriteStream;
}

export function registerConfigCommand(program: Command, io: Io, setExitCode: (code: number) => void): void {
  const config = program
    .command('config')
    .description('the configuration file: check it without contacting anything, or print its JSON Schema');
  config
    .command('check')
    .description(
      'read and validate the configuration as run does (${VAR}, files, certificates, stateDir, warnings), ' +
        'contacting nothing and creating nothing; print a summary',
    )
    .requiredOption('--config <file>', 'the YAML configuration')
    .option('--json', 'print the summary (or the errors) as one JSON document')
    .addHelpText(
      'after',
      `
Exit status: 0 the configuration is valid (warnings, if any, are printed), 2 it is not (the errors are printed as run prints them).`,
    )
    .action((opts: { config: string; json?: boolean }) => {
      setExitCode(
        configCheckCommand(opts.config, opts.json === true, {
          stdout: io.stdout,
          stderr: io.stderr ?? process.stderr,
        }),
      );
    });
  config
    .command('schema')
    .description(
      'print the JSON Schema (draft 2020-12) of the configuration file, for editors (yaml-language-server)',
    )
    .action(() => {
      io.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      setExitCode(EXIT_OK);
    });
}
