/**
 * The Elasticsearch index template for our events, built from the field reference (`FIELDS`):
 * every field we emit gets its ECS type, so nothing is left to dynamic mapping (which would map
 * `source.ip` as text, or `email.to.address` as text with a keyword sub-field, and break ECS
 * queries and dashboards).
 */
import { FIELDS, type FieldType } from '../normalize/fields.js';

/** Matches the default data stream `logs-office365.message_trace-default` and its namespaces. */
export const TEMPLATE_NAME = 'logs-office365.message_trace';
export const TEMPLATE_PATTERN = 'logs-office365.message_trace-*';

type Mapping = { type: FieldType | 'text' | 'object'; properties?: Record<string, Mapping> };

export interface IndexTemplate {
  readonly index_patterns: string[];
  readonly data_stream: Record<string, never>;
  /** Above Elasticsearch's built-in `logs` template (100), so that ours applies to these streams. */
  readonly priority: number;
  readonly template: {
    readonly settings: Record<string, unknown>;
    readonly mappings: { dynamic: boolean; properties: Record<string, Mapping> };
  };
  readonly _meta: { description: string; managed_by: string };
}

/** Where the template goes: OpenSearch has neither `wildcard` nor `match_only_text`. */
export type SearchEngine = 'elasticsearch' | 'opensearch';

const OPENSEARCH_TYPES: Partial<Record<FieldType, FieldType | 'text'>> = {
  wildcard: 'keyword',
  match_only_text: 'text',
};

/**
 * `lifecyclePolicy`: the ILM policy the backing indices follow (Elasticsearch only: an OpenSearch
 * ISM policy names its indices itself, and OpenSearch refuses the `index.lifecycle.*` settings).
 */
export function indexTemplate(
  engine: SearchEngine = 'elasticsearch',
  lifecyclePolicy?: string,
): IndexTemplate {
  const properties: Record<string, Mapping> = {};
  for (const field of FIELDS) {
    const parts = field.name.split('.');
    let level = properties;
    for (const part of parts.slice(0, -1)) {
      const node = (level[part] ??= { type: 'object', properties: {} });
      node.properties ??= {};
      level = node.properties;
    }
    const leaf = parts.at(-1) ?? field.name;
    level[leaf] = {
      type: engine === 'opensearch' ? (OPENSEARCH_TYPES[field.type] ?? field.type) : field.type,
    };
  }
  return {
    index_patterns: [TEMPLATE_PATTERN],
    data_stream: {},
    priority: 200,
    template: {
      settings: {
        'index.mapping.total_fields.limit': 2000,
        ...(lifecyclePolicy === undefined || engine === 'opensearch'
          ? {}
          : { 'index.lifecycle.name': lifecyclePolicy }),
      },
      // Fields we do not know (a later exotrace) are kept in _source without being indexed wrongly.
      mappings: { dynamic: false, properties: stripObjectTypes(properties) },
    },
    _meta: { description: 'Microsoft 365 message trace, ECS (exotrace)', managed_by: 'exotrace' },
  };
}

/** `{ type: 'object', properties }` is written as just `{ properties }`, as Elasticsearch does. */
function stripObjectTypes(properties: Record<string, Mapping>): Record<string, Mapping> {
  const out: Record<string, Mapping> = {};
  for (const [key, value] of Object.entries(properties)) {
    out[key] =
      value.type === 'object'
        ? ({ properties: stripObjectTypes(value.properties ?? {}) } as Mapping)
        : { type: value.type };
  }
  return out;
}
