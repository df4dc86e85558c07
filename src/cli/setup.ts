/**
 * `exotrace setup elasticsearch --config FILE [--output NAME]`: installs the index template for our
 * data stream (`es-template.ts`) on the cluster of an `elasticsearch` output, with that output's
 * URL, credentials and CA. Run it once before the first delivery (and again after an upgrade: it
 * replaces the template; existing backing indices keep their mapping until the next rollover).
 */
import type { Command } from 'commander';
import type { Config, OutputConfig } from '../config/load.js';
import { elasticsearchAuthorization } from '../sinks/elasticsearch.js';
import { indexTemplate, TEMPLATE_NAME, TEMPLATE_PATTERN, type SearchEngine } from '../sinks/es-template.js';
import { BODY_LIMITS, boundedRequest } from '../sources/http/bounded-request.js';
import { createDispatcher } from '../sources/http/client.js';
import { redactSecrets } from '../sources/http/errors.js';
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

export async function setupElasticsearch(opts: { config: string; output?: string }, io: Io): Promise<number> {
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
    const put = await boundedRequest(new URL(`${base}/_index_template/${TEMPLATE_NAME}`), {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(indexTemplate(engine)),
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
    io.stderr.write(
      `exotrace setup elasticsearch: cannot reach ${base}: ${clean(error instanceof Error ? error.message : String(error))}\n`,
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
    .description('install the index template (ECS mappings of every field we emit) for the data stream')
    .requiredOption('--config <file>', 'the YAML configuration')
    .option('--output <name>', 'which elasticsearch output (default: the only one)')
    .action(async (opts: { config: string; output?: string }) => {
      setExitCode(await setupElasticsearch(opts, io));
    });
}
