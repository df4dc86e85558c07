/**
 * `exotrace backfill --config FILE --tenant NAME --from WHEN [--to WHEN]`: bounded historical
 * collection, clamped to what the API keeps (90 days for Graph, 10 for the Reporting Web Service),
 * of what the state does not record as collected yet (the parts it skips are logged), with its own
 * checkpoint (an interrupted backfill resumes), progress on a TTY, then delivery.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { configWarnings } from '../config/warnings.js';
import { logSecretsOf } from '../config/secrets.js';
import type { Logger } from '../observe/log.js';
import {
  BAR_FORMAT,
  barPayload,
  progressFields,
  type ProgressSnapshot,
  type WindowProgress,
} from '../observe/progress.js';
import { createTenantCollector } from '../pipeline/collector.js';
import type { TimeWindow } from '../core/window.js';
import { deadLetterLogger } from '../pipeline/delivery.js';
import { warnIfNewState } from '../pipeline/new-state.js';
import { describeError } from '../pipeline/run.js';
import { batchLimitsOf, deliverOnce, startSinks } from '../sinks/deliver.js';
import { createSink, sinkIoOf } from '../sinks/registry.js';
import { createSource, createSourceBudget } from '../sources/create.js';
import { abortReason } from '../util/abort.js';
import type { TenantBudget } from '../sources/http/budget.js';
import { openSqliteStore } from '../state/sqlite.js';
import { parseDuration } from '../util/duration.js';
import { EXIT_DEAD_LETTERED, EXIT_OK, EXIT_USAGE, exitStatusOfStop } from './exit-codes.js';
import { receivedSoFar, takeStop } from './stop-signal.js';
import {
  EXIT_OUTPUT_BEHIND,
  EXIT_TENANT_FAILED,
  createCliLogger,
  readConfigOrExplain,
  logFlagsOf,
  addLogOptions,
  type LogFlags,
} from './run.js';

/** An instant: ISO 8601, or a duration back from now (`7d`). */
export function parseWhen(value: string, now: number): number | undefined {
  const back = parseDuration(value);
  if (back !== undefined && !/^\d+$/.test(value.trim())) return now - back;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at;
}

export async function backfillCommand(
  opts: {
    config: string;
    tenant: string;
    from: string;
    to?: string;
    recollect?: boolean;
  } & LogFlags,
): Promise<number> {
  const config = await readConfigOrExplain(opts.config, process.stderr);
  if (config === 'stopped') return exitStatusOfStop(receivedSoFar());
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
  const log = createCliLogger(config, logFlagsOf(opts));
  if (log === undefined) return EXIT_USAGE;
  for (const warning of configWarnings(config)) log.warn(warning, { file: config.file });
  // Our own budget, so the ETA can read what is left of it; the source takes its slots from it.
  const budget = createSourceBudget(tenant);
  const progress = createBackfillProgress({
    tenant: tenant.name,
    budget,
    perWindow: tenant.requestsPer5Min,
    tty: process.stderr.isTTY,
    log,
  });
  // SIGINT or SIGTERM, also one that came while the program loaded (stop-signal.ts).
  const stop = takeStop();
  stop.onStop(() => {
    // The bar first: the terminal is left clean even if stopping takes a while.
    progress.stop();
  });
  const store = openSqliteStore(config.stateDir);
  const sinks = config.outputs.map((output) => createSink(output, sinkIoOf(config, log)));
  const source = createSource(tenant, config, {
    budget,
    onAttempt: () => {
      progress.request();
    },
  });
  try {
    await warnIfNewState(store, config, log);
    await startSinks(store, sinks);
    const collector = createTenantCollector({
      tenant,
      source,
      store,
      now: Date.now,
      events: {
        onClamp: (_, requested, start) => {
          // Before the first request, so before the bar starts: the line is not drawn over.
          log.warn('backfill start moved inside the API history', {
            requested: new Date(requested).toISOString(),
            start: new Date(start).toISOString(),
          });
        },
        onSkip: (_, range) => {
          // Before the gaps' first request (after a resumed window only): the bar is not drawn yet.
          log.info('backfill skips a range already collected', {
            tenant: tenant.name,
            from: new Date(range.from).toISOString(),
            to: new Date(range.to).toISOString(),
          });
        },
        onWindowStart: (_t, _p, window, done, total) => {
          progress.windowStart(window, done, total);
        },
        onPage: (_t, _p, window, pageRows, _inserted, page) => {
          progress.page(window, pageRows, page?.oldest, page?.last ?? false);
        },
      },
    });
    const summary = await collector.backfill(
      from,
      to,
      stop.signal,
      (done, total) => {
        progress.window(done, total);
      },
      { recollect: opts.recollect === true },
    );
    progress.stop();
    const deliveries = await deliverOnce(store, sinks, {
      signal: stop.signal,
      perOutput: batchLimitsOf(config.outputs),
      onDeadLetters: deadLetterLogger(log),
    });
    // Stopped while delivering: the same as stopped while collecting (deliveries do not throw).
    if (stop.signal.aborted) throw abortReason(stop.signal);
    log.info('backfill done', { ...summary });
    // Like `run --once`: what was collected but not taken, or refused for good, is not a success.
    let behind = false;
    for (const delivery of deliveries) {
      if (delivery.error === undefined) continue;
      behind = true;
      log.warn('output did not take everything; its events stay in the outbox for the next run', {
        output: delivery.sink,
        events: await store.outboxDepth(delivery.sink),
        error: describeError(delivery.error, logSecretsOf(config)),
      });
    }
    if (behind) return EXIT_OUTPUT_BEHIND;
    return deliveries.some((d) => d.deadLettered > 0) ? EXIT_DEAD_LETTERED : EXIT_OK;
  } catch (error) {
    progress.stop();
    if (stop.signal.aborted) {
      // ^C is no failure: every committed page stays committed (with its next link), and the
      // same command resumes from the backfill checkpoint.
      log.warn('backfill stopped; run the same command again to resume where it stopped', {
        tenant: tenant.name,
      });
      return exitStatusOfStop(stop.received());
    }
    log.error('backfill failed', { tenant: tenant.name, error: describeError(error) });
    return EXIT_TENANT_FAILED;
  } finally {
    progress.stop();
    stop.release();
    await source.close();
    for (const sink of sinks) await sink.close();
    await store.close();
  }
}

interface BackfillProgress {
  request(): void;
  /** A window starts: the plan's count is known from here on, before any of its pages. */
  windowStart(window: TimeWindow, done: number, total: number): void;
  /** A page of `window` committed: its rows, the oldest received time among them, whether it was the last. */
  page(window: TimeWindow, rows: number, oldest: number | undefined, last: boolean): void;
  window(done: number, total: number): void;
  /** Idempotent; restores the cursor and ends the bar's line. */
  stop(): void;
}

/** Non-TTY: within a window, a line at its first page (unless it is also its last), then at most this often. */
const IN_WINDOW_LINE_EVERY_MS = 30_000;

/**
 * On a TTY a cli-progress bar on stderr (stdout may carry events), redrawn on every request, page
 * and window; otherwise one JSON line per window through the logger, and within a window of many
 * pages a line at its first page and then every 30 s (`backfill window progress`, with its pages,
 * rows and the part covered: a 10-day window of a large tenant takes hours). Only counters are shown.
 */
function createBackfillProgress(options: {
  tenant: string;
  budget: TenantBudget;
  perWindow: number;
  tty: boolean;
  log: Logger;
}): BackfillProgress {
  const started = Date.now();
  let requests = 0;
  let requestsAtWindow = 0;
  let rows = 0;
  let windowsDone = 0;
  let windowsTotal: number | undefined;
  let inWindow: { -readonly [K in keyof WindowProgress]: WindowProgress[K] } | undefined;
  // Monotonic: the wall clock may step.
  let lastWindowLineAt: number | undefined;
  let bar: cliProgress.SingleBar | undefined;
  let stopped = false;

  const snapshot = (): ProgressSnapshot => {
    const now = Date.now();
    const pausedUntil = options.budget.pausedUntil();
    return {
      windowsDone,
      windowsTotal,
      rows,
      requests,
      requestsThisWindow: requests - requestsAtWindow,
      elapsedMs: now - started,
      budgetPerWindow: options.perWindow,
      budgetFree: options.budget.remaining(),
      budgetPausedMs: pausedUntil === undefined ? 0 : pausedUntil - now,
      ...(inWindow === undefined ? {} : { window: { ...inWindow } }),
    };
  };

  const draw = (): void => {
    if (!options.tty || stopped) return;
    const s = snapshot();
    // Between windows the in-window part is drawn empty (cli-progress leaves an absent token as is).
    const payload = { inWindow: '', ...barPayload(options.tenant, s) };
    if (bar === undefined) {
      // Started at the first request, not before: the clamp warning is logged ahead of the bar.
      bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: BAR_FORMAT,
          hideCursor: true,
          barsize: 24,
          // Our SIGINT handler stops the bar; no second handler of cli-progress's own.
          gracefulExit: false,
        },
        cliProgress.Presets.shades_classic,
      );
      // Until the collector reports the window count, a total of 1 keeps the bar empty.
      bar.start(windowsTotal ?? 1, windowsDone, payload);
      return;
    }
    if (windowsTotal !== undefined) bar.setTotal(windowsTotal);
    bar.update(windowsDone, payload);
  };

  return {
    request() {
      requests++;
      draw();
    },
    windowStart(window, done, total) {
      windowsDone = done;
      windowsTotal = total;
      inWindow = undefined;
      lastWindowLineAt = undefined;
      draw();
    },
    page(window, n, oldest, last) {
      rows += n;
      if (inWindow === undefined || inWindow.from !== window.from || inWindow.to !== window.to)
        inWindow = { from: window.from, to: window.to, pages: 0, rows: 0 };
      inWindow.pages++;
      inWindow.rows += n;
      if (oldest !== undefined) inWindow.oldest = Math.min(inWindow.oldest ?? oldest, oldest);
      if (options.tty) {
        draw();
        return;
      }
      // The window's last page is followed by the window's own line.
      const at = performance.now();
      if (last || (lastWindowLineAt !== undefined && at - lastWindowLineAt < IN_WINDOW_LINE_EVERY_MS)) return;
      lastWindowLineAt = at;
      options.log.info('backfill window progress', progressFields(options.tenant, snapshot()));
    },
    window(done, total) {
      windowsDone = done;
      windowsTotal = total;
      inWindow = undefined;
      requestsAtWindow = requests;
      if (options.tty) draw();
      else options.log.info('backfill progress', progressFields(options.tenant, snapshot()));
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar?.stop();
    },
  };
}

export function registerBackfillCommand(program: Command, setExitCode: (code: number) => void): void {
  const command = program
    .command('backfill')
    .description('collect a bounded past window for one tenant (clamped to what the API keeps)')
    .requiredOption('--config <file>', 'the YAML configuration')
    .requiredOption('--tenant <name>', 'the tenant, by its name in the configuration')
    .requiredOption('--from <when>', 'ISO 8601 instant, or a duration back such as 30d')
    .option('--to <when>', 'ISO 8601 instant or duration back (default: now)')
    .option(
      '--recollect',
      'read the whole range again, also what is collected already (late rows after a long stop; rows older than the seen-set may be delivered again)',
    );
  addLogOptions(command)
    .addHelpText(
      'after',
      `
Exit status: 0 collected and delivered, 2 bad configuration or usage, 3 the backfill failed,
6 an output did not take everything (its events stay in the outbox for the next run),
7 everything taken, but an output refused some events for good (exotrace deadletter list),
130 stopped by ^C (SIGINT), 143 by SIGTERM, 129 by SIGHUP (the same command resumes).`,
    )
    .action(
      async (
        opts: { config: string; tenant: string; from: string; to?: string; recollect?: boolean } & LogFlags,
      ) => {
        setExitCode(await backfillCommand(opts));
      },
    );
}
