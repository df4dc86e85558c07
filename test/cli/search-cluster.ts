/**
 * A small HTTP server that answers `setup elasticsearch` like a cluster would: the root document
 * (Elasticsearch, or OpenSearch by `version.distribution`), the index template API, Elasticsearch's
 * ILM policy API and OpenSearch's ISM policy API. Policies are validated as the engines do (unknown
 * fields, phases or states, actions, time and size values, phase order, rollover conditions,
 * transitions to states that exist, `ism_template`), stored, and read back in each engine's shape
 * (ILM adds `delete_searchable_snapshot`, ISM a version: replacing needs `if_seq_no` and
 * `if_primary_term`), so that a body one of them would refuse fails the test.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
  readonly body: string;
}

export interface SearchCluster {
  readonly url: string;
  readonly recorded: Recorded[];
  /** `opensearch` makes the root document say so; undefined is Elasticsearch. */
  distribution: string | undefined;
  /** Anything but 200 answers every request with it (a refused key). */
  status: number;
  /** Paths answered 403 (a key without the privilege for them). */
  refuse: RegExp | undefined;
  /** Stored ILM policies, by name, as PUT (the `policy` object). */
  readonly ilm: Map<string, unknown>;
  /** Stored ISM policies, by name. */
  readonly ism: Map<string, { policy: Record<string, unknown>; seqNo: number; primaryTerm: number }>;
  readonly templates: Map<string, Record<string, unknown>>;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    reason: string,
  ) {
    super(reason);
  }
}

const TIME_VALUE = /^\d+(?:nanos|micros|ms|s|m|h|d)$/;
const BYTE_SIZE = /^\d+(?:\.\d+)?(?:b|kb|mb|gb|tb|pb)$/i;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function onlyKeys(where: string, value: Json, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      throw new Refusal(400, 'x_content_parse_exception', `[${where}] unknown field [${key}]`);
  }
}

function timeValue(field: string, value: unknown): number {
  if (typeof value !== 'string' || !TIME_VALUE.test(value)) {
    throw new Refusal(
      400,
      'illegal_argument_exception',
      `failed to parse setting [${field}] with value [${String(value)}] as a time value: unit is missing or unrecognized`,
    );
  }
  const n = Number(/^\d+/.exec(value)?.[0]);
  const unit = value.replace(/^\d+/, '');
  const ms: Record<string, number> = {
    nanos: 1e-6,
    micros: 1e-3,
    ms: 1,
    s: 1e3,
    m: 6e4,
    h: 3.6e6,
    d: 8.64e7,
  };
  return n * (ms[unit] ?? 1);
}

function byteSize(field: string, value: unknown): void {
  if (typeof value !== 'string' || !BYTE_SIZE.test(value)) {
    throw new Refusal(
      400,
      'parse_exception',
      `failed to parse setting [${field}] with value [${String(value)}] as a size in bytes: unit is missing or unrecognized`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Elasticsearch ILM

const ILM_PHASES = ['hot', 'warm', 'cold', 'frozen', 'delete'] as const;
const ILM_ACTIONS: Record<string, readonly string[]> = {
  hot: [
    'set_priority',
    'unfollow',
    'rollover',
    'readonly',
    'downsample',
    'shrink',
    'forcemerge',
    'searchable_snapshot',
  ],
  warm: ['set_priority', 'unfollow', 'readonly', 'downsample', 'allocate', 'migrate', 'shrink', 'forcemerge'],
  cold: [
    'set_priority',
    'unfollow',
    'readonly',
    'downsample',
    'searchable_snapshot',
    'allocate',
    'migrate',
    'freeze',
  ],
  frozen: ['unfollow', 'searchable_snapshot'],
  delete: ['wait_for_snapshot', 'delete'],
};
const ROLLOVER_AGES = ['max_age', 'min_age'];
const ROLLOVER_SIZES = ['max_size', 'max_primary_shard_size', 'min_size', 'min_primary_shard_size'];
const ROLLOVER_DOCS = ['max_docs', 'max_primary_shard_docs', 'min_docs', 'min_primary_shard_docs'];

/** The checks of `PUT _ilm/policy/<name>`; returns the policy as GET will show it. */
export function validateIlmPolicy(body: unknown): Json {
  if (!isObject(body)) throw new Refusal(400, 'parse_exception', 'request body is required');
  onlyKeys('put_lifecycle_request', body, ['policy']);
  const policy = body['policy'];
  if (!isObject(policy))
    throw new Refusal(
      400,
      'x_content_parse_exception',
      '[put_lifecycle_request] failed to parse field [policy]',
    );
  onlyKeys('lifecycle_policy', policy, ['phases', '_meta', 'deprecated']);
  const phases = policy['phases'];
  if (!isObject(phases))
    throw new Refusal(400, 'x_content_parse_exception', '[lifecycle_policy] failed to parse field [phases]');
  let previous = -1;
  let previousName = '';
  const stored: Json = {};
  for (const name of ILM_PHASES) {
    const phase = phases[name];
    if (phase === undefined) continue;
    if (!isObject(phase))
      throw new Refusal(400, 'x_content_parse_exception', `[phases] failed to parse field [${name}]`);
    onlyKeys('phase', phase, ['min_age', 'actions']);
    const minAge = phase['min_age'] === undefined ? 0 : timeValue('min_age', phase['min_age']);
    if (minAge < previous) {
      throw new Refusal(
        400,
        'illegal_argument_exception',
        `Your policy is configured to run the ${name} phase (min_age: ${String(phase['min_age'])}) before the ${previousName} phase: phases must be defined in order of increasing min_age`,
      );
    }
    previous = minAge;
    previousName = name;
    const actions = phase['actions'];
    if (!isObject(actions))
      throw new Refusal(400, 'x_content_parse_exception', '[phase] failed to parse field [actions]');
    const storedActions: Json = {};
    for (const [action, options] of Object.entries(actions)) {
      if (!(ILM_ACTIONS[name] ?? []).includes(action)) {
        throw new Refusal(
          400,
          'illegal_argument_exception',
          `invalid action [${action}] defined in phase [${name}]`,
        );
      }
      if (!isObject(options))
        throw new Refusal(400, 'x_content_parse_exception', `[${action}] expected an object`);
      if (action === 'rollover') {
        onlyKeys('rollover', options, [...ROLLOVER_AGES, ...ROLLOVER_SIZES, ...ROLLOVER_DOCS]);
        for (const key of ROLLOVER_AGES) if (options[key] !== undefined) timeValue(key, options[key]);
        for (const key of ROLLOVER_SIZES) if (options[key] !== undefined) byteSize(key, options[key]);
        if (!Object.keys(options).some((key) => key.startsWith('max_'))) {
          throw new Refusal(
            400,
            'illegal_argument_exception',
            'At least one max_* rollover condition must be set.',
          );
        }
      }
      if (action === 'delete') onlyKeys('delete', options, ['delete_searchable_snapshot']);
      // What GET shows: the delete action with its default spelled out.
      storedActions[action] =
        action === 'delete' ? { delete_searchable_snapshot: true, ...options } : options;
    }
    stored[name] = { min_age: phase['min_age'] ?? '0ms', actions: storedActions };
  }
  for (const name of Object.keys(phases)) {
    if (!(ILM_PHASES as readonly string[]).includes(name)) {
      throw new Refusal(
        400,
        'illegal_argument_exception',
        `Timeseries lifecycle does not support phase [${name}]`,
      );
    }
  }
  return { ...(policy['_meta'] === undefined ? {} : { _meta: policy['_meta'] }), phases: stored };
}

// ---------------------------------------------------------------------------------------------
// OpenSearch ISM

const ISM_ACTIONS = [
  'rollover',
  'delete',
  'read_only',
  'read_write',
  'replica_count',
  'force_merge',
  'close',
  'open',
  'notification',
  'snapshot',
  'index_priority',
  'allocation',
  'rollup',
  'shrink',
  'alias',
  'transform',
];
const ISM_CONDITIONS = ['min_index_age', 'min_rollover_age', 'min_doc_count', 'min_size', 'cron'];

/** The checks of `PUT _plugins/_ism/policies/<name>`; returns the policy as GET will show it. */
export function validateIsmPolicy(id: string, body: unknown): Json {
  if (!isObject(body) || !isObject(body['policy'])) {
    throw new Refusal(400, 'illegal_argument_exception', 'Required [policy] is missing');
  }
  onlyKeys('policy', body, ['policy']);
  const policy = body['policy'];
  onlyKeys('policy', policy, [
    'policy_id',
    'description',
    'last_updated_time',
    'schema_version',
    'error_notification',
    'default_state',
    'states',
    'ism_template',
  ]);
  if (typeof policy['description'] !== 'string')
    throw new Refusal(400, 'illegal_argument_exception', 'description is required');
  const states = policy['states'];
  if (!Array.isArray(states) || states.length === 0) {
    throw new Refusal(400, 'illegal_argument_exception', 'Policy must have at least one state');
  }
  const names = states.map((state) => (isObject(state) ? state['name'] : undefined));
  if (!names.includes(policy['default_state'])) {
    throw new Refusal(
      400,
      'illegal_argument_exception',
      `Policy default_state [${String(policy['default_state'])}] does not exist in states`,
    );
  }
  for (const state of states as unknown[]) {
    if (!isObject(state) || typeof state['name'] !== 'string')
      throw new Refusal(400, 'illegal_argument_exception', 'a state needs a name');
    onlyKeys('state', state, ['name', 'actions', 'transitions']);
    if (!Array.isArray(state['actions']))
      throw new Refusal(400, 'illegal_argument_exception', `state [${state['name']}] needs actions`);
    for (const action of state['actions'] as unknown[]) {
      if (!isObject(action)) throw new Refusal(400, 'illegal_argument_exception', 'an action is an object');
      const kinds = Object.keys(action).filter((key) => key !== 'retry' && key !== 'timeout');
      if (kinds.length !== 1 || !ISM_ACTIONS.includes(kinds[0] ?? '')) {
        throw new Refusal(
          400,
          'illegal_argument_exception',
          `Invalid field: [${kinds.join(', ')}] found in Actions.`,
        );
      }
      const options = action[kinds[0] ?? ''];
      if (kinds[0] === 'rollover') {
        if (!isObject(options)) throw new Refusal(400, 'illegal_argument_exception', 'rollover is an object');
        onlyKeys('rollover', options, [
          'min_size',
          'min_primary_shard_size',
          'min_doc_count',
          'min_index_age',
          'copy_alias',
        ]);
        if (options['min_index_age'] !== undefined) timeValue('min_index_age', options['min_index_age']);
        for (const key of ['min_size', 'min_primary_shard_size'])
          if (options[key] !== undefined) byteSize(key, options[key]);
      }
    }
    const transitions = state['transitions'] ?? [];
    if (!Array.isArray(transitions))
      throw new Refusal(400, 'illegal_argument_exception', 'transitions is a list');
    for (const transition of transitions as unknown[]) {
      if (!isObject(transition))
        throw new Refusal(400, 'illegal_argument_exception', 'a transition is an object');
      onlyKeys('transition', transition, ['state_name', 'conditions']);
      if (!names.includes(transition['state_name'])) {
        throw new Refusal(
          400,
          'illegal_argument_exception',
          `Policy contains a transition to a state [${String(transition['state_name'])}] that does not exist`,
        );
      }
      const conditions = transition['conditions'];
      if (conditions !== undefined) {
        if (!isObject(conditions))
          throw new Refusal(400, 'illegal_argument_exception', 'conditions is an object');
        onlyKeys('conditions', conditions, ISM_CONDITIONS);
        if (Object.keys(conditions).length > 1) {
          throw new Refusal(
            400,
            'illegal_argument_exception',
            'Cannot provide more than one Transition condition',
          );
        }
        for (const key of ['min_index_age', 'min_rollover_age'])
          if (conditions[key] !== undefined) timeValue(key, conditions[key]);
      }
    }
  }
  const template = policy['ism_template'];
  const templates =
    template === undefined || template === null ? [] : Array.isArray(template) ? template : [template];
  for (const entry of templates as unknown[]) {
    if (!isObject(entry)) throw new Refusal(400, 'illegal_argument_exception', 'ism_template is an object');
    onlyKeys('ism_template', entry, ['index_patterns', 'priority', 'last_updated_time']);
    const patterns = entry['index_patterns'];
    if (!Array.isArray(patterns) || patterns.length === 0 || !patterns.every((p) => typeof p === 'string')) {
      throw new Refusal(400, 'illegal_argument_exception', 'ism_template needs index_patterns');
    }
    if (
      entry['priority'] !== undefined &&
      (!Number.isInteger(entry['priority']) || (entry['priority'] as number) < 0)
    ) {
      throw new Refusal(
        400,
        'illegal_argument_exception',
        'ism_template priority must be a non-negative integer',
      );
    }
  }
  const now = Date.now();
  return {
    policy_id: id,
    description: policy['description'],
    last_updated_time: now,
    schema_version: 21,
    error_notification: null,
    default_state: policy['default_state'],
    states,
    ism_template: (templates as Json[]).map((t) => ({ priority: 0, ...t, last_updated_time: now })),
  };
}

// ---------------------------------------------------------------------------------------------
// The server

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      resolve(body);
    });
  });
}

function errorBody(status: number, type: string, reason: string): Json {
  return { error: { root_cause: [{ type, reason }], type, reason }, status };
}

export async function startSearchCluster(): Promise<SearchCluster> {
  const recorded: Recorded[] = [];
  const ilm = new Map<string, unknown>();
  const ism = new Map<string, { policy: Json; seqNo: number; primaryTerm: number }>();
  const templates = new Map<string, Json>();
  let seqNo = 0;
  const cluster = {
    distribution: undefined as string | undefined,
    status: 200,
    refuse: undefined as RegExp | undefined,
  };

  const answer = (method: string, url: URL, body: string): { status: number; json: unknown } => {
    const opensearch = cluster.distribution === 'opensearch';
    if (method === 'GET' && url.pathname === '/') {
      return {
        status: 200,
        json: {
          name: 'n1',
          version: {
            number: opensearch ? '2.17.0' : '8.15.0',
            ...(opensearch ? { distribution: 'opensearch' } : {}),
          },
        },
      };
    }
    const parse = (): unknown => {
      try {
        return JSON.parse(body);
      } catch {
        throw new Refusal(400, 'parse_exception', 'request body is not valid JSON');
      }
    };
    const template = /^\/_index_template\/([^/]+)$/.exec(url.pathname);
    if (template !== null && method === 'PUT') {
      const parsed = parse();
      if (!isObject(parsed)) throw new Refusal(400, 'parse_exception', 'request body is required');
      const settings = (parsed['template'] as Json | undefined)?.['settings'];
      if (isObject(settings)) {
        for (const key of Object.keys(settings)) {
          // OpenSearch has no ILM: its index settings refuse the key, as unknown settings are.
          if (opensearch && key.startsWith('index.lifecycle.')) {
            throw new Refusal(
              400,
              'illegal_argument_exception',
              `unknown setting [${key}] please check that any required plugins are installed, or check the breaking changes documentation for removed settings`,
            );
          }
          if (key === 'index.lifecycle.name' && typeof settings[key] !== 'string') {
            throw new Refusal(
              400,
              'illegal_argument_exception',
              `failed to parse value [${String(settings[key])}] for setting [${key}]`,
            );
          }
        }
      }
      templates.set(template[1] ?? '', parsed);
      return { status: 200, json: { acknowledged: true } };
    }
    const ilmPath = /^\/_ilm\/policy\/([^/]+)$/.exec(url.pathname);
    if (ilmPath !== null && !opensearch) {
      const name = ilmPath[1] ?? '';
      if (method === 'GET') {
        const policy = ilm.get(name);
        if (policy === undefined)
          throw new Refusal(404, 'resource_not_found_exception', `Lifecycle policy not found: ${name}`);
        return {
          status: 200,
          json: {
            [name]: {
              version: 1,
              modified_date: new Date().toISOString(),
              policy,
              in_use_by: { indices: [], data_streams: [], composable_templates: [] },
            },
          },
        };
      }
      if (method === 'PUT') {
        ilm.set(name, validateIlmPolicy(parse()));
        return { status: 200, json: { acknowledged: true } };
      }
    }
    const ismPath = /^\/_plugins\/_ism\/policies\/([^/]+)$/.exec(url.pathname);
    if (ismPath !== null && opensearch) {
      const id = ismPath[1] ?? '';
      const existing = ism.get(id);
      if (method === 'GET') {
        if (existing === undefined) throw new Refusal(404, 'status_exception', 'Policy not found');
        return {
          status: 200,
          json: {
            _id: id,
            _version: 1,
            _seq_no: existing.seqNo,
            _primary_term: existing.primaryTerm,
            policy: existing.policy,
          },
        };
      }
      if (method === 'PUT') {
        const ifSeqNo = url.searchParams.get('if_seq_no');
        const ifPrimaryTerm = url.searchParams.get('if_primary_term');
        if (
          existing !== undefined &&
          (ifSeqNo !== String(existing.seqNo) || ifPrimaryTerm !== String(existing.primaryTerm))
        ) {
          throw new Refusal(
            409,
            'version_conflict_engine_exception',
            `[${id}]: version conflict, document already exists (current version [1])`,
          );
        }
        if (existing === undefined && (ifSeqNo !== null || ifPrimaryTerm !== null)) {
          throw new Refusal(404, 'document_missing_exception', `[${id}]: document missing`);
        }
        const policy = validateIsmPolicy(id, parse());
        seqNo += 1;
        ism.set(id, { policy, seqNo, primaryTerm: 1 });
        return {
          status: existing === undefined ? 201 : 200,
          json: { _id: id, _version: 1, _primary_term: 1, _seq_no: seqNo, policy: { policy } },
        };
      }
    }
    throw new Refusal(
      400,
      'illegal_argument_exception',
      `no handler found for uri [${url.pathname}] and method [${method}]`,
    );
  };

  const server: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      recorded.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body,
      });
      res.setHeader('content-type', 'application/json');
      if (cluster.status !== 200) {
        res.statusCode = cluster.status;
        res.end(JSON.stringify(errorBody(cluster.status, 'security_exception', 'unable to authenticate')));
        return;
      }
      const path = new URL(req.url ?? '/', 'http://cluster').pathname;
      if (cluster.refuse?.test(path) === true) {
        res.statusCode = 403;
        res.end(
          JSON.stringify(
            errorBody(
              403,
              'security_exception',
              `action [${path}] is unauthorized for API key id [k1] of user [exotrace]`,
            ),
          ),
        );
        return;
      }
      try {
        const { status, json } = answer(req.method ?? 'GET', new URL(req.url ?? '/', 'http://cluster'), body);
        res.statusCode = status;
        res.end(JSON.stringify(json));
      } catch (error) {
        const refusal = error instanceof Refusal ? error : new Refusal(500, 'exception', String(error));
        res.statusCode = refusal.status;
        res.end(JSON.stringify(errorBody(refusal.status, refusal.type, refusal.message)));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(cluster, {
    url: `http://127.0.0.1:${port}`,
    recorded,
    ilm,
    ism,
    templates,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  });
}
