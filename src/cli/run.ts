/**
 * `exotrace run --config FILE [--once]`: the collector. `--once` catches every tenant up (fast
 * pass, then always a reconcile pass), delivers, and exits non-zero when any tenant failed (after
 * doing the others). Without it, polls forever; SIGINT/SIGTERM stop it cleanly.
 */
import type { Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config/load.js';
import { createLogger } from '../observe/log.js';
import { runCollector } from '../pipeline/run.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';

/** Exit status when a tenant failed (the others were still collected and delivered). */
export const EXIT_TENANT_FAILED = 3;

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

export async function runCommand(file: string, once: boolean): Promise<number> {
  const config = loadConfigOrExplain(file, process.stderr);
  if (config === undefined) return EXIT_USAGE;
  const log = createLogger(process.stderr);
  const stop = new AbortController();
  const onSignal = (): void => {
    log.info('stopping: finishing the page in flight, then flushing the outputs');
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const summary = await runCollector(config, { once, signal: stop.signal, log });
    log.info('done', {
      delivered: summary.delivered,
      failedTenants: summary.tenants.filter((t) => t.error !== undefined).map((t) => t.tenant),
    });
    return summary.failed ? EXIT_TENANT_FAILED : EXIT_OK;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function registerRunCommand(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('run')
    .description('collect message trace for every configured tenant and deliver it to every output')
    .requiredOption('--config <file>', 'the YAML configuration')
    .option('--once', 'catch up every tenant (fast pass, then a reconcile pass), deliver, and exit')
    .addHelpText(
      'after',
      `
Examples:
  exotrace run --config exotrace.yaml --once
  exotrace run --config exotrace.yaml

Exit status (--once): 0 all tenants collected and delivered, 2 bad configuration, 3 a tenant failed (the others were done).`,
    )
    .action(async (opts: { config: string; once?: boolean }) => {
      setExitCode(await runCommand(opts.config, opts.once === true));
    });
}
