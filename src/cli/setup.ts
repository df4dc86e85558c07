/**
 * `exotrace setup elasticsearch --config FILE [--output NAME] [--force]`: installs the lifecycle
 * policy (`es-lifecycle.ts`: ILM, or ISM on OpenSearch, after the output's `retention`) and the
 * index template for our data stream (`es-template.ts`) on the cluster of an `elasticsearch`
 * output, with that output's URL, credentials and CA. Run it once before the first delivery (and
 * again after an upgrade: it replaces the template; existing backing indices keep their mapping
 * until the next rollover). A policy that exists and does what ours would is left as it is; one
 * that differs (edited on the cluster, or another retention) is kept unless --force: it may be
 * someone's deliberate choice, and deleting data on a guess is not ours to do.
 */
import type { Command } from 'commander';
import type { Config, OutputConfig } from '../config/load.js';
import { elasticsearchAuthorization } from '../sinks/elasticsearch.js';
import { DEFAULT_RETENTION_MS } from '../config/schema.js';
import {
  LIFECYCLE_POLICY_NAME,
  lifecyclePolicy,
  lifecycleSummary,
  policyEssence,
  timeValue,
} from '../sinks/es-lifecycle.js';
import { indexTemplate, TEMPLATE_NAME, TEMPLATE_PATTERN, type SearchEngine } from '../sinks/es-template.js';
import { BODY_LIMITS, boundedRequest } from '../http/bounded-request.js';
import { createDispatcher } from '../http/client.js';
import { classifyTransport, outputTransportHint } from '../http/network-error.js';
import { ExotraceError } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { loadConfigOrExplain } from './run.js';

type EsOutput = Extract<OutputConfig, { type: 'elasticsearch' }>;

interface Io {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Exit status when the cluster refused or could not be reached. */
export const EXIT_SETUP_FAILED = 3;

function pickOutput(config: Config, name: string | undefined, io: Io): EsOutput | undefined {
  const candidates = config.outputs.filter((o): o is EsOutput => o.type === 'elasticsearch');
  const chosen = name === undefined ? candidates : candidates.filter((o) => o.name === name);
  if (chosen.length === 1) return chosen[0];
  io.stderr.write(
    chosen.length === 0
      ? `exotrace setup elasticsearch: no elasticsearch output${name === undefined ? '' : ` named '${name}'`} in ${config.file}\n`
      : `exotrace setup elasticsearch: several elasticsearch outputs (${chosen.map((o) => o.name).join(', ')}): choose one with --output\n`,
  );
  return undefined;
}

function authHeaders(output: EsOutput): Record<string, string> {
  const authorization = elasticsearchAuthorization(output);
  return authorization === undefined ? {} : { authorization };
}

interface Cluster {
  readonly base: string;
  readonly headers: Record<string, string>;
  readonly limits: Omit<Parameters<typeof boundedRequest>[1], 'method'>;
  readonly clean: (text: string) => string;
}

/** Where each engine keeps the policy, and how it names it in messages. */
function policyApi(engine: SearchEngine): { path: string; kind: string } {
  return engine === 'opensearch'
    ? { path: `/_plugins/_ism/policies/${LIFECYCLE_POLICY_NAME}`, kind: 'ISM' }
    : { path: `/_ilm/policy/${LIFECYCLE_POLICY_NAME}`, kind: 'ILM' };
}

/**
 * Installs the lifecycle policy unless one that does the same is there; true when the template
 * may go on (the policy is there, ours or kept), false after saying why it could not.
 */
async function installLifecycle(
  cluster: Cluster,
  engine: SearchEngine,
  output: EsOutput,
  retentionMs: number,
  force: boolean,
  io: Io,
): Promise<boolean> {
  const { path, kind } = policyApi(engine);
  const wanted = lifecyclePolicy(engine, retentionMs);
  const what = `${kind}: ${lifecycleSummary(retentionMs)}`;
  const privilege = `the credentials need ${engine === 'opensearch' ? 'the ISM policy permissions (cluster:admin/opendistro/ism/policy/*)' : 'the manage_ilm cluster privilege'}, or set retention: none on outputs '${output.name}'`;
  const refused = (action: string, status: number, text: string): false => {
    io.stderr.write(
      `exotrace setup elasticsearch: the cluster refused to ${action} the lifecycle policy ${LIFECYCLE_POLICY_NAME} (${status})${status === 401 || status === 403 ? ` (${privilege})` : ''}: ${cluster.clean(text).slice(0, 500)}\n`,
    );
    return false;
  };
  const url = new URL(`${cluster.base}${path}`);
  const got = await boundedRequest(url, { method: 'GET', headers: cluster.headers, ...cluster.limits });
  let existing: { policy: unknown; seqNo?: unknown; primaryTerm?: unknown } | undefined;
  if (got.status === 200) {
    const body = JSON.parse(got.text) as Record<string, unknown>;
    // ILM answers { name: { policy } }; ISM { _id, _seq_no, _primary_term, policy }.
    existing =
      engine === 'opensearch'
        ? { policy: body['policy'], seqNo: body['_seq_no'], primaryTerm: body['_primary_term'] }
        : { policy: (body[LIFECYCLE_POLICY_NAME] as { policy?: unknown } | undefined)?.policy };
  } else if (got.status !== 404) {
    return refused('read', got.status, got.text);
  }
  if (existing !== undefined) {
    if (policyEssence(engine, existing.policy) === policyEssence(engine, wanted.policy)) {
      io.stdout.write(`lifecycle policy ${LIFECYCLE_POLICY_NAME} unchanged on ${cluster.base} (${what})\n`);
      return true;
    }
    if (!force) {
      io.stderr.write(
        `warning: the lifecycle policy ${LIFECYCLE_POLICY_NAME} on ${cluster.base} differs from what retention ${timeValue(retentionMs)} of outputs '${output.name}' makes (edited on the cluster, or another retention): kept as it is; run exotrace setup elasticsearch --force to replace it (${what})\n`,
      );
      return true;
    }
  }
  // ISM replaces a policy only at the version it was read at (optimistic concurrency).
  if (engine === 'opensearch' && existing !== undefined) {
    url.searchParams.set('if_seq_no', String(existing.seqNo));
    url.searchParams.set('if_primary_term', String(existing.primaryTerm));
  }
  const put = await boundedRequest(url, {
    method: 'PUT',
    headers: { ...cluster.headers, 'content-type': 'application/json' },
    body: JSON.stringify(wanted),
    ...cluster.limits,
  });
  if (put.status !== 200 && put.status !== 201) return refused('install', put.status, put.text);
  io.stdout.write(
    `lifecycle policy ${LIFECYCLE_POLICY_NAME} ${existing === undefined ? 'installed' : 'replaced (--force)'} on ${cluster.base} (${what})\n`,
  );
  return true;
}

export async function setupElasticsearch(
  opts: { config: string; output?: string; force?: boolean },
  io: Io,
): Promise<number> {
  const config = loadConfigOrExplain(opts.config, io.stderr);
  if (config === undefined) return EXIT_USAGE;
  const output = pickOutput(config, opts.output, io);
  if (output === undefined) return EXIT_USAGE;
  const secrets = [output.apiKey, output.password].filter((s): s is string => s !== undefined);
  const clean = (text: string): string => redactSecrets(text, secrets);
  // The same way to the cluster as the output's: its CA, the config's proxy and timeout.
  const dispatcher = createDispatcher({
    ...(output.caPem === undefined ? {} : { caPem: output.caPem }),
    ...(config.http.proxy === undefined ? {} : { proxyUrl: config.http.proxy }),
    headersTimeoutMs: config.http.timeoutMs,
  });
  const base = output.url.replace(/\/+$/, '');
  const headers = { ...authHeaders(output), accept: 'application/json' };
  try {
    // Which engine: OpenSearch says so in its root document, and lacks two of the field types.
    const limits = { dispatcher, maxBytes: BODY_LIMITS.outputAnswer, timeoutMs: config.http.timeoutMs };
    const info = await boundedRequest(new URL(`${base}/`), { method: 'GET', headers, ...limits });
    const infoText = info.text;
    if (info.status !== 200) {
      io.stderr.write(
        `exotrace setup elasticsearch: ${base}/ answered ${info.status}${info.status === 401 || info.status === 403 ? ` (check outputs '${output.name}' apiKey or username/password)` : ''}: ${clean(infoText).slice(0, 300)}\n`,
      );
      return EXIT_SETUP_FAILED;
    }
    const distribution = (JSON.parse(infoText) as { version?: { distribution?: string } }).version
      ?.distribution;
    const engine: SearchEngine = distribution === 'opensearch' ? 'opensearch' : 'elasticsearch';
    // The policy before the template that names it: an index created in between would follow none.
    const retentionMs = output.retention === 'none' ? undefined : (output.retention ?? DEFAULT_RETENTION_MS);
    if (retentionMs === undefined) {
      io.stdout.write(
        `no lifecycle policy (outputs '${output.name}' retention: none): the data stream keeps every event until it is deleted by other means\n`,
      );
    } else {
      const cluster = { base, headers, limits, clean };
      if (!(await installLifecycle(cluster, engine, output, retentionMs, opts.force === true, io)))
        return EXIT_SETUP_FAILED;
    }
    const put = await boundedRequest(new URL(`${base}/_index_template/${TEMPLATE_NAME}`), {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(
        indexTemplate(engine, retentionMs === undefined ? undefined : LIFECYCLE_POLICY_NAME),
      ),
      ...limits,
    });
    const putText = put.text;
    if (put.status !== 200) {
      io.stderr.write(
        `exotrace setup elasticsearch: the cluster refused the index template (${put.status}): ${clean(putText).slice(0, 500)}\n`,
      );
      return EXIT_SETUP_FAILED;
    }
    io.stdout.write(
      `index template ${TEMPLATE_NAME} (${TEMPLATE_PATTERN}) installed on ${base} (${engine})\n`,
    );
    if (!output.index.startsWith('logs-office365.message_trace-')) {
      io.stderr.write(
        `warning: outputs '${output.name}' writes to '${output.index}', which the template (${TEMPLATE_PATTERN}) does not cover\n`,
      );
    }
    return EXIT_OK;
  } catch (error) {
    // What to check, as the output itself says it (the same classifier): the CA, the url, the network.
    const hint = ExotraceError.is(error)
      ? ''
      : outputTransportHint(classifyTransport(error), { output: output.name, endpoint: new URL(base).host });
    io.stderr.write(
      `exotrace setup elasticsearch: cannot reach ${base}: ${clean(error instanceof Error ? error.message : String(error))}${hint}\n`,
    );
    return EXIT_SETUP_FAILED;
  } finally {
    await dispatcher.close();
  }
}

export function registerSetupCommand(program: Command, io: Io, setExitCode: (code: number) => void): void {
  program
    .command('setup')
    .description('prepare a destination for our events')
    .command('elasticsearch')
    .description(
      "install the lifecycle policy (ILM, or ISM on OpenSearch: the output's retention, default 90d) and the index template (ECS mappings of every field we emit) for the data stream",
    )
    .requiredOption('--config <file>', 'the YAML configuration')
    .option('--output <name>', 'which elasticsearch output (default: the only one)')
    .option('--force', 'replace a lifecycle policy that differs from the one retention makes')
    .action(async (opts: { config: string; output?: string; force?: boolean }) => {
      setExitCode(await setupElasticsearch(opts, io));
    });
}
