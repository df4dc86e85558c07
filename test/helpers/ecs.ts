/**
 * Checks an emitted event against the ECS field table of @elastic/ecs: every leaf is an ECS field
 * (or lives under office365.message_trace.*), has the ECS type, is an array only where ECS
 * normalizes to arrays, and uses allowed values for the categorization fields.
 */
import { isIP } from 'node:net';
import { EcsFlat } from '@elastic/ecs';

const CUSTOM_NAMESPACE = 'office365.message_trace.';

interface EcsFieldDef {
  type: string;
  normalize?: string[];
  allowed_values?: { name: string }[];
}

const FLAT = EcsFlat as unknown as Record<string, EcsFieldDef | undefined>;

/** Dotted leaf names and values; arrays of scalars are leaves. */
export function flatten(
  value: unknown,
  prefix = '',
  out: Record<string, unknown> = {},
): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value))
      flatten(inner, prefix === '' ? key : `${prefix}.${key}`, out);
  } else {
    out[prefix] = value;
  }
  return out;
}

const STRING_TYPES = new Set(['keyword', 'constant_keyword', 'wildcard', 'match_only_text', 'text']);
const NUMBER_TYPES = new Set([
  'long',
  'integer',
  'short',
  'byte',
  'float',
  'double',
  'scaled_float',
  'half_float',
]);
const TIMESTAMP_6 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function typeProblem(name: string, type: string, value: unknown): string | undefined {
  if (STRING_TYPES.has(type))
    return typeof value === 'string' ? undefined : `${name}: ${type} wants a string`;
  if (NUMBER_TYPES.has(type))
    return typeof value === 'number' && Number.isFinite(value)
      ? undefined
      : `${name}: ${type} wants a number`;
  if (type === 'ip')
    return typeof value === 'string' && isIP(value) !== 0
      ? undefined
      : `${name}: not an IP: ${String(value)}`;
  if (type === 'date') {
    return typeof value === 'string' && TIMESTAMP_6.test(value) && !Number.isNaN(Date.parse(value))
      ? undefined
      : `${name}: not a 6-digit UTC date: ${String(value)}`;
  }
  if (type === 'boolean') return typeof value === 'boolean' ? undefined : `${name}: wants a boolean`;
  return `${name}: unexpected ECS type ${type}`;
}

/** The list of problems; empty when the event is valid ECS. */
export function ecsProblems(event: unknown): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(flatten(event))) {
    if (name.startsWith(CUSTOM_NAMESPACE)) {
      if (name === `${CUSTOM_NAMESPACE}Size`) {
        if (!Number.isSafeInteger(value) || (value as number) < 0)
          problems.push(`${name}: must be a whole number of bytes`);
      } else if (typeof value !== 'string') {
        problems.push(`${name}: custom field must be a string`);
      }
      continue;
    }
    const def = FLAT[name];
    if (def === undefined) {
      problems.push(`${name}: not an ECS field`);
      continue;
    }
    const isArrayField = def.normalize?.includes('array') === true;
    if (Array.isArray(value)) {
      if (!isArrayField) problems.push(`${name}: ECS does not normalize it to an array`);
      if (value.length === 0) problems.push(`${name}: empty array`);
      for (const item of value) {
        const p = typeProblem(name, def.type, item);
        if (p !== undefined) problems.push(p);
      }
    } else {
      if (isArrayField) problems.push(`${name}: ECS wants an array`);
      const p = typeProblem(name, def.type, value);
      if (p !== undefined) problems.push(p);
    }
    if (def.allowed_values !== undefined) {
      const allowed = new Set(def.allowed_values.map((v) => v.name));
      for (const item of Array.isArray(value) ? value : [value]) {
        if (!allowed.has(item as string)) problems.push(`${name}: ${String(item)} is not an allowed value`);
      }
    }
  }
  return problems;
}
