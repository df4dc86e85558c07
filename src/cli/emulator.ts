/**
 * `exotrace emulator`: the Microsoft message trace APIs on loopback, for trying exotrace (and any
 * other client) without a tenant. Prints its URLs, the CA file to trust and each tenant's
 * credentials, then serves until SIGINT or SIGTERM.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { collectorConfigYaml } from '../emulator/collector-config.js';
import { EmulatorConfigError, loadEmulatorConfig } from '../emulator/config.js';
import type { EmulatorTenant } from '../emulator/model.js';
import {
  EmulatorListenError,
  startEmulator,
  type Emulator,
  type EmulatorOptions,
} from '../emulator/server.js';
import { parseDuration } from '../util/duration.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { numberOption, optionalWholeNumber, UsageError } from './numeric-option.js';
import { takeStop } from './stop-signal.js';

export interface EmulatorFlags {
  readonly config?: string;
  readonly host?: string;
  readonly port?: string;
  readonly seed?: string;
  readonly tenants?: string;
  readonly messagesPerDay?: string;
  readonly dir?: string;
  readonly throttle?: string;
  readonly tokenLifetime?: string;
  readonly faultRate?: string;
  readonly graphMode?: string;
  readonly relativeNextLinks?: boolean;
  readonly time?: string;
  readonly freeze?: boolean;
}

/** `100/5m`: requests per window. */
function throttleFlag(value: string | undefined): EmulatorOptions['throttle'] {
  if (value === undefined) return undefined;
  const match = /^(\d+)\/(.+)$/.exec(value);
  const windowMs = match === null ? undefined : parseDuration(match[2] ?? '');
  if (match === null || windowMs === undefined || windowMs <= 0) {
    throw new UsageError(`--throttle must look like 100/5m (requests per window), got '${value}'`);
  }
  return { limit: Number(match[1]), windowMs };
}

/** Options from the config file, then the flags over them. */
export function emulatorOptions(flags: EmulatorFlags): EmulatorOptions {
  const base = flags.config === undefined ? {} : loadEmulatorConfig(flags.config);
  const tokenLifetimeMs = flags.tokenLifetime === undefined ? undefined : parseDuration(flags.tokenLifetime);
  if (flags.tokenLifetime !== undefined && (tokenLifetimeMs === undefined || tokenLifetimeMs < 1000)) {
    throw new UsageError(
      `--token-lifetime must be a duration of at least 1s, such as 10m (got '${flags.tokenLifetime}')`,
    );
  }
  const faultRate =
    flags.faultRate === undefined ? undefined : numberOption('--fault-rate', flags.faultRate, 0, 1);
  if (flags.graphMode !== undefined && flags.graphMode !== 'observed' && flags.graphMode !== 'strict') {
    throw new UsageError(`--graph-mode must be observed or strict (got '${flags.graphMode}')`);
  }
  const throttle = throttleFlag(flags.throttle);
  const port = optionalWholeNumber('--port', flags.port, 0, 65535);
  const seed = optionalWholeNumber('--seed', flags.seed, 0, 2 ** 31 - 1);
  const tenants = optionalWholeNumber('--tenants', flags.tenants, 1, 1000);
  const messagesPerDay = optionalWholeNumber('--messages-per-day', flags.messagesPerDay, 0, 10_000_000);
  return {
    ...base,
    ...(flags.host === undefined ? {} : { host: flags.host }),
    ...(port === undefined ? {} : { port }),
    ...(seed === undefined ? {} : { seed }),
    ...(tenants === undefined ? {} : { tenants }),
    ...(messagesPerDay === undefined ? {} : { messagesPerDay }),
    ...(flags.dir === undefined ? {} : { dir: flags.dir }),
    ...(tokenLifetimeMs === undefined ? {} : { tokenLifetimeSeconds: Math.round(tokenLifetimeMs / 1000) }),
    ...(throttle === undefined ? {} : { throttle: { ...base.throttle, ...throttle } }),
    ...(faultRate === undefined ? {} : { faults: { ...base.faults, errorRate: faultRate } }),
    ...(flags.graphMode === undefined && flags.relativeNextLinks !== true
      ? {}
      : {
          api: {
            ...base.api,
            ...(flags.graphMode === undefined ? {} : { graphMode: flags.graphMode }),
            ...(flags.relativeNextLinks === true ? { relativeNextLinks: true } : {}),
          },
        }),
  };
}

/** What the emulator prints at start: where it is, what to trust, who can sign in. */
export function renderBanner(emulator: Emulator): string {
  const lines = [
    `exotrace emulator listening on ${emulator.url}`,
    `  CA certificate to trust: ${emulator.caFile}`,
    `    (exotrace: tls.caFile; curl: --cacert; Node.js: NODE_EXTRA_CA_CERTS)`,
    // loginUrl and apiUrl are bases (what the configuration keys mean); the API paths under them
    // are shown apart, so that a copied path is never taken for apiUrl (a doubled path, a 404).
    `  login (loginUrl):            ${emulator.url}`,
    `  API base (apiUrl):           ${emulator.url}`,
    `  Graph message trace:         ${emulator.url}/v1.0/admin/exchange/tracing/messageTraces  (also /beta)`,
    `  Reporting Web Service:       ${emulator.url}/ecp/ReportingWebService/Reporting.svc/MessageTrace`,
    `  control API (emulator only): ${emulator.url}/_emulator`,
    `  emulator time: ${new Date(emulator.clock.now()).toISOString()}${emulator.clock.frozen ? ' (frozen)' : ''}`,
    '',
    "tenants (the secrets are the emulator's own, not real credentials):",
    ...emulator
      .tenants()
      .flatMap((t: EmulatorTenant) => [
        `  ${t.name}: tenantId ${t.tenantId} (or ${t.domain}), accepted domains ${t.acceptedDomains.join(', ')}, ${t.messagesPerDay} messages/day`,
        ...t.apps.map(
          (a) => `    clientId ${a.clientId}  clientSecret ${a.secrets[0]?.value ?? '(certificate only)'}`,
        ),
      ]),
    '',
    // The same configuration `exotrace demo` writes, complete (an output, a state folder), so that
    // it is accepted as it is: saved as exotrace.yaml, `exotrace run --config exotrace.yaml --once`.
    'exotrace configuration for these tenants:',
    ...collectorConfigYaml(emulator)
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`),
    '',
    'Saved as exotrace.yaml, it runs as it is: npx exotrace run --config exotrace.yaml --once',
    '(stateDir and the output path are relative to the file; chmod 600 it: it holds secrets).',
    '',
    'Ctrl-C stops it.',
  ];
  return lines.join('\n') + '\n';
}

export async function runEmulator(
  flags: EmulatorFlags,
  out: Writable,
  err: Writable,
  signal?: AbortSignal,
): Promise<number> {
  let options: EmulatorOptions;
  try {
    options = emulatorOptions(flags);
  } catch (error) {
    if (error instanceof UsageError || error instanceof EmulatorConfigError) {
      err.write(`exotrace emulator: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  // Checked before the emulator starts (and writes its certificates).
  const at = flags.time === undefined ? undefined : Date.parse(flags.time);
  if (at !== undefined && Number.isNaN(at)) {
    err.write(`exotrace emulator: --time must be an ISO 8601 instant (got '${flags.time ?? ''}')\n`);
    return EXIT_USAGE;
  }
  let emulator: Emulator;
  try {
    emulator = await startEmulator(options);
  } catch (error) {
    if (error instanceof EmulatorListenError) {
      // Named after where the address came from: the flag, else the config file's host and port.
      const setting =
        flags.port !== undefined
          ? `--port ${flags.port}`
          : flags.host !== undefined
            ? `--host ${flags.host}`
            : flags.config !== undefined
              ? `host and port of ${flags.config}`
              : 'listen';
      err.write(`exotrace emulator: ${setting}: cannot listen on ${error.message}\n`);
      return EXIT_USAGE;
    }
    err.write(`exotrace emulator: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_USAGE;
  }
  if (at !== undefined) emulator.clock.set(at);
  if (flags.freeze === true) emulator.clock.freeze(true);
  // Taken before the banner: a reader that stops us as soon as it has read it must find the
  // handlers set (the entry point installed them before anything else; stop-signal.ts).
  const processStop = takeStop();
  const stopped = AbortSignal.any(signal === undefined ? [processStop.signal] : [processStop.signal, signal]);
  out.write(renderBanner(emulator));
  if (!stopped.aborted) await once(stopped, 'abort');
  processStop.release();
  await emulator.close();
  err.write('exotrace emulator: stopped\n');
  return EXIT_OK;
}

export function registerEmulatorCommand(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('emulator')
    .description(
      'serve the Microsoft message trace APIs (identity, Graph, Reporting Web Service) on loopback, over HTTPS',
    )
    .option('--config <file>', 'YAML file with tenants and behaviours (flags override it)')
    // No commander defaults for these two: a default would override the config file's host and port.
    .option('--host <address>', 'loopback address to listen on: 127.0.0.1 (default), ::1 or localhost')
    .option('--port <port>', 'port; 0 (default) picks a free one')
    .option('--seed <n>', 'seed of the tenants, credentials and mail flow (same seed, same data)')
    .option('--tenants <n>', 'how many tenants to make up (when the config file lists none)')
    .option('--messages-per-day <n>', 'average messages a day per made-up tenant')
    .option('--dir <dir>', 'where to write the CA and server certificate (default: a new temporary folder)')
    .option(
      '--throttle <limit/window>',
      "the tenants' request quota, such as 100/5m (Microsoft's) or 10/3s for fast tests",
    )
    .option('--token-lifetime <duration>', 'access token lifetime, such as 1h (short lifetimes test refresh)')
    .option('--fault-rate <rate>', 'share of data requests answered with a 500, 502, 503 or 504')
    .option('--graph-mode <mode>', 'Graph $filter handling: observed (lenient, as measured) or strict')
    .option(
      '--relative-next-links',
      'Reporting Web Service next links as ../../ReportingWebService/… (as some tenants saw)',
    )
    .option('--time <instant>', 'start the emulator clock at this ISO 8601 instant')
    .option('--freeze', 'stop the emulator clock (move it with POST /_emulator/time)')
    .addHelpText(
      'after',
      `
Examples:
  exotrace emulator --port 8443
  exotrace emulator --tenants 3 --messages-per-day 50000 --throttle 100/5m
  exotrace emulator --config emulator.yaml --fault-rate 0.05
  curl --cacert CA_FILE https://127.0.0.1:8443/_emulator`,
    )
    .action(async (flags: EmulatorFlags) => {
      setExitCode(await runEmulator(flags, process.stdout, process.stderr));
    });
}
