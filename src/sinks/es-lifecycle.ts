/**
 * The lifecycle `setup elasticsearch` installs beside the index template, so that the data stream
 * neither grows without end nor needs a policy written by hand: Elasticsearch's ILM (the template
 * names the policy in `index.lifecycle.name`), or OpenSearch's ISM (the policy names the backing
 * indices in its `ism_template`). Both do the same: roll the write index over at 50 GB per primary
 * shard or 30 days (sooner when the retention is shorter), and delete a backing index once the
 * retention has passed since its rollover, so that every event is kept at least that long.
 */
import { TEMPLATE_NAME } from './es-template.js';
import type { SearchEngine } from './es-template.js';

/** The policy's name: the template's, so that one name finds both. */
export const LIFECYCLE_POLICY_NAME = TEMPLATE_NAME;
/** What ISM attaches the policy to: the data stream's backing indices. */
export const BACKING_INDEX_PATTERN = `.ds-${TEMPLATE_NAME}-*`;
/** Rollover at this primary shard size: Elastic's recommended upper bound for a shard. */
export const ROLLOVER_SHARD_SIZE = '50gb';
const ROLLOVER_MAX_AGE_MS = 30 * 86_400_000;

export interface IlmPolicy {
  readonly policy: {
    readonly _meta: { readonly description: string; readonly managed_by: string };
    readonly phases: {
      readonly hot: {
        readonly min_age: string;
        readonly actions: { readonly rollover: { max_primary_shard_size: string; max_age: string } };
      };
      readonly delete: { readonly min_age: string; readonly actions: { readonly delete: object } };
    };
  };
}

export interface IsmPolicy {
  readonly policy: {
    readonly description: string;
    readonly default_state: string;
    readonly states: readonly {
      readonly name: string;
      readonly actions: readonly Record<string, object>[];
      readonly transitions: readonly { state_name: string; conditions: Record<string, string> }[];
    }[];
    readonly ism_template: readonly { index_patterns: string[]; priority: number }[];
  };
}

/** A duration as both engines write time values: the largest unit that divides it (90d, 36h). */
export function timeValue(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** What the policy does, in words (its description, and what `setup` prints). */
export function lifecycleSummary(retentionMs: number): string {
  return `rollover at ${ROLLOVER_SHARD_SIZE} per primary shard or ${timeValue(rolloverAgeMs(retentionMs))}, deleted ${timeValue(retentionMs)} after rollover`;
}

function describeRetention(retentionMs: number): string {
  return `Microsoft 365 message trace (exotrace): ${lifecycleSummary(retentionMs)}`;
}

/** A backing index is written to for at most this long: the retention, when it is shorter. */
function rolloverAgeMs(retentionMs: number): number {
  return Math.min(ROLLOVER_MAX_AGE_MS, retentionMs);
}

/** The ILM policy (`PUT _ilm/policy/<name>`): a delete phase's min_age counts from the rollover. */
export function ilmPolicy(retentionMs: number): IlmPolicy {
  return {
    policy: {
      _meta: { description: describeRetention(retentionMs), managed_by: 'exotrace' },
      phases: {
        hot: {
          min_age: '0ms',
          actions: {
            rollover: {
              max_primary_shard_size: ROLLOVER_SHARD_SIZE,
              max_age: timeValue(rolloverAgeMs(retentionMs)),
            },
          },
        },
        delete: { min_age: timeValue(retentionMs), actions: { delete: {} } },
      },
    },
  };
}

/**
 * The ISM policy (`PUT _plugins/_ism/policies/<name>`). `min_rollover_age` rather than
 * `min_index_age`: an index's age counts from its creation, so a 30-day index would lose its
 * newest events 30 days early.
 */
export function ismPolicy(retentionMs: number): IsmPolicy {
  return {
    policy: {
      description: describeRetention(retentionMs),
      default_state: 'hot',
      states: [
        {
          name: 'hot',
          actions: [
            {
              rollover: {
                min_primary_shard_size: ROLLOVER_SHARD_SIZE,
                min_index_age: timeValue(rolloverAgeMs(retentionMs)),
              },
            },
          ],
          transitions: [{ state_name: 'delete', conditions: { min_rollover_age: timeValue(retentionMs) } }],
        },
        { name: 'delete', actions: [{ delete: {} }], transitions: [] },
      ],
      // Above nothing in particular: the only policy meant for these indices.
      ism_template: [{ index_patterns: [BACKING_INDEX_PATTERN], priority: 100 }],
    },
  };
}

export function lifecyclePolicy(engine: SearchEngine, retentionMs: number): IlmPolicy | IsmPolicy {
  return engine === 'opensearch' ? ismPolicy(retentionMs) : ilmPolicy(retentionMs);
}

/**
 * What of a policy decides what it does (phases or states, their actions, rollover and delete
 * conditions, the indices it applies to), as one comparable text. The engines add their own fields
 * to a stored policy (versions, dates, ES's `delete_searchable_snapshot`): comparing whole
 * documents would see a change in every policy.
 */
export function policyEssence(engine: SearchEngine, policy: unknown): string {
  const p = (policy ?? {}) as Record<string, unknown>;
  if (engine === 'opensearch') {
    const states = Array.isArray(p['states']) ? (p['states'] as Record<string, unknown>[]) : [];
    const templates = Array.isArray(p['ism_template'])
      ? (p['ism_template'] as Record<string, unknown>[])
      : p['ism_template'] === undefined || p['ism_template'] === null
        ? []
        : [p['ism_template'] as Record<string, unknown>];
    return JSON.stringify({
      default_state: p['default_state'],
      states: states.map((state) => ({
        name: state['name'],
        actions: (Array.isArray(state['actions']) ? (state['actions'] as Record<string, unknown>[]) : []).map(
          (action) =>
            Object.entries(action)
              .filter(([key]) => key !== 'retry' && key !== 'timeout' && key !== 'custom')
              .map(([key, value]) => (key === 'rollover' ? { rollover: sorted(value) } : key)),
        ),
        transitions: (Array.isArray(state['transitions'])
          ? (state['transitions'] as Record<string, unknown>[])
          : []
        ).map((t) => ({ to: t['state_name'], when: sorted(t['conditions'] ?? {}) })),
      })),
      indices: templates.map((t) => t['index_patterns']),
    });
  }
  const phases = (p['phases'] ?? {}) as Record<
    string,
    { min_age?: unknown; actions?: Record<string, unknown> }
  >;
  return JSON.stringify(
    Object.keys(phases)
      .sort()
      .map((name) => {
        const phase = phases[name] ?? {};
        const actions = phase.actions ?? {};
        return {
          phase: name,
          min_age: phase.min_age ?? '0ms',
          actions: Object.keys(actions)
            .sort()
            .map((action) => (action === 'rollover' ? { rollover: sorted(actions[action]) } : action)),
        };
      }),
  );
}

function sorted(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}
