/**
 * `exotrace run --config FILE [--once]`: the collector. `--once` catches every tenant up (fast
 * pass, then always a reconcile pass), delivers, and exits non-zero when any tenant failed (after
 * doing the others). Without it, polls forever; SIGINT/SIGTERM stop it cleanly.
 */
import { Option, type Command } from 'commander';
import { configWarnings } from '../config/warnings.js';
import { ConfigError, loadConfig, readConfig, type Config } from '../config/load.js';
import { logSecretsOf } from '../config/secrets.js';
import {
  LOG_FORMATS,
  LOG_LEVELS,
  createLogger,
  type Level,
  type LogFormat,
  type Logger,
} from '../observe/log.js';
import { ONCE_RECONCILE_MODES, runCollector, type OnceReconcile } from '../pipeline/run.js';
import { EXIT_DEAD_LETTERED, EXIT_OK, EXIT_USAGE, exitStatusOfStop } from './exit-codes.js';
import { abandonPendingWork, receivedSoFar, stopSoFar, takeStop } from './stop-signal.js';

/** Exit status when a tenant failed (the others were still collected and delivered). */
export const EXIT_TENANT_FAILED = 3;
/**
 * `--once`: an output did not take everything (kept for the next run), or the outbox was full for
 * an output that kept failing, so collection stopped early (the next run resumes it).
 */
export const EXIT_OUTPUT_BEHIND = 6;

/** The config, or a printed error naming the key path (exit 2). */
export function loadConfigOrExplain(file: string, stderr: NodeJS.WritableStream): Config | undefined {
  try {
    return loadConfig(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      stderr.write(`exotrace: ${error.message}\n`);
      return undefined;
    }
    throw error;
  }
}

/**
 * For `run` and `backfill`: the config, read without blocking (stop-signal.ts); undefined after a
 * printed error naming the key path (exit 2); `'stopped'` when a stop came before it was read (the
 * line says so; nothing was started).
 */
export async function readConfigOrExplain(
  file: string,
  stderr: NodeJS.WritableStream,
): Promise<Config | 'stopped' | undefined> {
  const stop = stopSoFar();
  try {
    return await readConfig(file, stop);
  } catch (error) {
    if (error instanceof ConfigError) {
      stderr.write(`exotrace: ${error.message}\n`);
      return undefined;
    }
    if (stop.aborted) {
      // Heard and honoured here (not raised again at the end), and the read may wait for a
      // writer for ever (a pipe): the process ends without it.
      takeStop();
      abandonPendingWork();
      stderr.write(`exotrace: stopped before the configuration was read (${file}); nothing was started\n`);
      return 'stopped';
    }
    throw error;
  }
}

/** `--log-level` and `--log-format`, shared by `run` and `backfill`. */
export interface LogFlags {
  readonly logLevel?: Level;
  readonly logFormat?: LogFormat;
}

/** The environment variable that sets the log level (between the config file and the flag). */
export const LOG_LEVEL_ENV = 'EXOTRACE_LOG_LEVEL';

/**
 * The collector's logger on stderr: level and format from the flags, else `EXOTRACE_LOG_LEVEL`
 * (level only), else the config's `log`, else info/auto; the config's secrets are redacted
 * literally. Undefined (after saying why on stderr) when the environment variable is invalid.
 */
export function createCliLogger(
  config: Config,
  flags: LogFlags,
  stderr: NodeJS.WriteStream = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): Logger | undefined {
  const fromEnv = env[LOG_LEVEL_ENV];
  if (fromEnv !== undefined && fromEnv !== '' && !(LOG_LEVELS as readonly string[]).includes(fromEnv)) {
    stderr.write(`exotrace: ${LOG_LEVEL_ENV} must be one of ${LOG_LEVELS.join(', ')} (got "${fromEnv}")\n`);
    return undefined;
  }
  const level =
    flags.logLevel ??
    (fromEnv === undefined || fromEnv === '' ? undefined : (fromEnv as Level)) ??
    config.log?.level;
  const format = flags.logFormat ?? config.log?.format;
  return createLogger(stderr, {
    ...(level === undefined ? {} : { level }),
    ...(format === undefined ? {} : { format }),
    secrets: logSecretsOf(config),
  });
}

/** Adds `--log-level` and `--log-format` (for `run` and `backfill`); a value not listed is a usage error. */
export function addLogOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--log-level <level>', 'least severe level logged (default: log.level, else info)').choices(
        LOG_LEVELS,
      ),
    )
    .addOption(
      new Option(
        '--log-format <format>',
        'log lines on stderr: auto (pretty on a terminal, else json), json, ecs, pretty (default: log.format)',
      ).choices(LOG_FORMATS),
    );
}

export async function runCommand(
  file: string,
  once: boolean,
  flags: LogFlags = {},
  onceReconcile?: OnceReconcile,
): Promise<number> {
  if (onceReconcile !== undefined && !once) {
    process.stderr.write(
      'exotrace run: --reconcile applies to --once only (the daemon reconciles when reconcileEvery says)\n',
    );
    return EXIT_USAGE;
  }
  const config = await readConfigOrExplain(file, process.stderr);
  // Stopped before it started: the daemon's stop is a normal end, --once did not do what it was asked.
  if (config === 'stopped') return once ? exitStatusOfStop(receivedSoFar()) : EXIT_OK;
  if (config === undefined) return EXIT_USAGE;
  const log = createCliLogger(config, flags);
  if (log === undefined) return EXIT_USAGE;
  for (const warning of configWarnings(config)) log.warn(warning, { file: config.file });
  // Also a stop asked while the program loaded and the configuration was read (stop-signal.ts).
  const stop = takeStop();
  stop.onStop(() => {
    log.info('stopping: finishing the page in flight, then flushing the outputs');
  });
  try {
    const summary = await runCollector(config, {
      once,
      signal: stop.signal,
      log,
      ...(onceReconcile === undefined ? {} : { onceReconcile }),
    });
    const cutShort = summary.tenants.filter((t) => t.cutShort === true).map((t) => t.tenant);
    log.info('done', {
      delivered: summary.delivered,
      ...(Object.keys(summary.deadLettered).length === 0 ? {} : { deadLettered: summary.deadLettered }),
      failedTenants: summary.tenants.filter((t) => t.error !== undefined).map((t) => t.tenant),
      ...(cutShort.length === 0 ? {} : { cutShortTenants: cutShort }),
    });
    // --once stopped before its end did not do what was asked: 128 + the signal (130 for ^C, 143
    // for SIGTERM, 129 for SIGHUP), as backfill does. What it committed stays committed; the next run resumes from the checkpoints.
    if (once && summary.interrupted) {
      log.warn('run --once stopped before its end; run it again to resume where it stopped', {
        ...(cutShort.length === 0 ? {} : { cutShortTenants: cutShort }),
      });
      return exitStatusOfStop(stop.received());
    }
    if (summary.failed) return EXIT_TENANT_FAILED;
    // The daemon stopped by a signal ends normally: what is pending is delivered on its next start.
    // --once that stopped collecting because an output was down is behind whatever the flush did.
    const behind = Object.keys(summary.pending).length > 0 || summary.collectionStoppedFor !== undefined;
    if (!once) return EXIT_OK;
    if (behind) return EXIT_OUTPUT_BEHIND;
    return Object.keys(summary.deadLettered).length > 0 ? EXIT_DEAD_LETTERED : EXIT_OK;
  } finally {
    stop.release();
  }
}

export function registerRunCommand(program: Command, setExitCode: (code: number) => void): void {
  const command = program
    .command('run')
    .description('collect message trace for every configured tenant and deliver it to every output')
    .requiredOption('--config <file>', 'the YAML configuration')
    .option('--once', 'catch up every tenant (fast pass, then a reconcile pass), deliver, and exit')
    .addOption(
      new Option(
        '--reconcile <when>',
        "with --once: 'always' re-read reconcileLookback at every run (default), 'due' only when reconcileEvery has passed since the tenant's last reconcile",
      ).choices(ONCE_RECONCILE_MODES),
    );
  addLogOptions(command)
    .addHelpText(
      'after',
      `
Examples:
  exotrace run --config exotrace.yaml --once
  exotrace run --config exotrace.yaml --once --reconcile due   # from cron: re-read the lookback once per reconcileEvery
  exotrace run --config exotrace.yaml
  exotrace run --config exotrace.yaml --log-level debug --log-format ecs

Exit status (--once): 0 all tenants collected and delivered, 2 bad configuration, 3 a tenant failed (the others were done),
6 an output did not take everything (its events stay in the outbox for the next run; with the outbox full for a
failing output, collection stops early),
7 everything collected and taken, but an output refused some events for good (exotrace deadletter list),
130 stopped by ^C (SIGINT), 143 stopped by SIGTERM (what was committed stays; the next run resumes).`,
    )
    .action(async (opts: { config: string; once?: boolean; reconcile?: OnceReconcile } & LogFlags) => {
      setExitCode(await runCommand(opts.config, opts.once === true, logFlagsOf(opts), opts.reconcile));
    });
}

/** The log flags commander parsed, without the absent ones. */
export function logFlagsOf(opts: LogFlags): LogFlags {
  return {
    ...(opts.logLevel === undefined ? {} : { logLevel: opts.logLevel }),
    ...(opts.logFormat === undefined ? {} : { logFormat: opts.logFormat }),
  };
}
