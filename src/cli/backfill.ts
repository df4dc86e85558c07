/**
 * `exotrace backfill --config FILE --tenant NAME --from WHEN [--to WHEN]`: bounded historical
 * collection, clamped to what the API keeps (90 days for Graph, 10 for the Reporting Web Service),
 * with its own checkpoint (an interrupted backfill resumes), progress on a TTY, then delivery.
 */
import type { Command } from 'commander';
import { createLogger } from '../observe/log.js';
import { createTenantCollector } from '../pipeline/collector.js';
import { describeError } from '../pipeline/run.js';
import { deliverOnce, startSinks } from '../sinks/deliver.js';
import { createSink } from '../sinks/sink.js';
import { createSource } from '../sources/create.js';
import { openSqliteStore } from '../state/sqlite.js';
import { parseDuration } from '../util/duration.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { EXIT_TENANT_FAILED, loadConfigOrExplain } from './run.js';

/** An instant: ISO 8601, or a duration back from now (`7d`). */
export function parseWhen(value: string, now: number): number | undefined {
  const back = parseDuration(value);
  if (back !== undefined && !/^\d+$/.test(value.trim())) return now - back;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at;
}

export async function backfillCommand(opts: {
  config: string;
  tenant: string;
  from: string;
  to?: string;
}): Promise<number> {
  const config = loadConfigOrExplain(opts.config, process.stderr);
  if (config === undefined) return EXIT_USAGE;
  const tenant = config.tenants.find((t) => t.name === opts.tenant);
  if (tenant === undefined) {
    process.stderr.write(
      `exotrace backfill: no tenant '${opts.tenant}' in ${config.file} (tenants: ${config.tenants.map((t) => t.name).join(', ')})\n`,
    );
    return EXIT_USAGE;
  }
  const now = Date.now();
  const from = parseWhen(opts.from, now);
  const to = opts.to === undefined ? now : parseWhen(opts.to, now);
  if (from === undefined || to === undefined || from >= to) {
    process.stderr.write(
      'exotrace backfill: --from and --to must be ISO 8601 instants or durations back (7d), with --from before --to\n',
    );
    return EXIT_USAGE;
  }
  const log = createLogger(process.stderr);
  const stop = new AbortController();
  const onSignal = (): void => {
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  const store = openSqliteStore(config.stateDir);
  const sinks = config.outputs.map((output) => createSink(output));
  const source = createSource(tenant, config);
  const tty = process.stderr.isTTY;
  let rows = 0;
  const started = Date.now();
  try {
    await startSinks(store, sinks);
    const collector = createTenantCollector({
      tenant,
      source,
      store,
      now: Date.now,
      events: {
        onClamp: (_, requested, start) => {
          log.warn('backfill start moved inside the API history', {
            requested: new Date(requested).toISOString(),
            start: new Date(start).toISOString(),
          });
        },
        onPage: (_t, _p, _w, pageRows) => {
          rows += pageRows;
        },
      },
    });
    const summary = await collector.backfill(from, to, stop.signal, (done, total) => {
      const elapsed = (Date.now() - started) / 1000;
      const eta = done === 0 ? 0 : (elapsed / done) * (total - done);
      const line = `backfill ${tenant.name}: ${done}/${total} windows, ${rows.toLocaleString('en-US')} rows, ETA ${Math.round(eta)} s`;
      if (tty) process.stderr.write(`\r${line}`);
      else log.info(line);
    });
    if (tty) process.stderr.write('\n');
    await deliverOnce(store, sinks, { signal: stop.signal });
    log.info('backfill done', { ...summary });
    return EXIT_OK;
  } catch (error) {
    log.error('backfill failed', { tenant: tenant.name, error: describeError(error) });
    return EXIT_TENANT_FAILED;
  } finally {
    process.off('SIGINT', onSignal);
    await source.close();
    for (const sink of sinks) await sink.close();
    await store.close();
  }
}

export function registerBackfillCommand(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('backfill')
    .description('collect a bounded past window for one tenant (clamped to what the API keeps)')
    .requiredOption('--config <file>', 'the YAML configuration')
    .requiredOption('--tenant <name>', 'the tenant, by its name in the configuration')
    .requiredOption('--from <when>', 'ISO 8601 instant, or a duration back such as 30d')
    .option('--to <when>', 'ISO 8601 instant or duration back (default: now)')
    .action(async (opts: { config: string; tenant: string; from: string; to?: string }) => {
      setExitCode(await backfillCommand(opts));
    });
}
