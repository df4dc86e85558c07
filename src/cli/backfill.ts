/**
 * `exotrace backfill --config FILE --tenant NAME --from WHEN [--to WHEN]`: bounded historical
 * collection, clamped to what the API keeps (90 days for Graph, 10 for the Reporting Web Service),
 * of what the state does not record as collected yet (the parts it skips are logged), with its own
 * checkpoint (an interrupted backfill resumes), progress on a TTY, delivered while it collects
 * (pipeline/backfill.ts: the same assembly as `run`, back pressure included).
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { configWarnings } from '../config/warnings.js';
import type { Logger } from '../observe/log.js';
import {
  BAR_FORMAT,
  barPayload,
  progressFields,
  type ProgressSnapshot,
  type WindowProgress,
} from '../observe/progress.js';
import type { TimeWindow } from '../core/window.js';
import { runBackfill } from '../pipeline/backfill.js';
import type { TenantBudget } from '../sources/http/budget.js';
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
  // The tenant's budget once its source exists, so the ETA can read what is left of it.
  let budget: TenantBudget | undefined;
  const progress = createBackfillProgress({
    tenant: tenant.name,
    budgetOf: () => budget,
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
  try {
    const outcome = await runBackfill(config, tenant, {
      from,
      to,
      signal: stop.signal,
      log,
      recollect: opts.recollect === true,
      onAttempt: () => {
        progress.request();
      },
      onBudget: (own) => {
        budget = own;
      },
      onCollected: () => {
        progress.stop();
      },
      onWindow: (done, total) => {
        progress.window(done, total);
      },
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
    if (outcome.kind === 'stopped') {
      // ^C is no failure: every committed page stays committed (with its next link), and the
      // same command resumes from the backfill checkpoint.
      log.warn('backfill stopped; run the same command again to resume where it stopped', {
        tenant: tenant.name,
      });
      return exitStatusOfStop(stop.received());
    }
    if (outcome.kind === 'failed') {
      log.error('backfill failed', { tenant: tenant.name, error: outcome.error });
      return EXIT_TENANT_FAILED;
    }
    log.info('backfill done', { ...outcome.summary });
    // Like `run --once`: what was collected but not taken, or refused for good, is not a success.
    for (const [output, events] of Object.entries(outcome.flushed.pending)) {
      const error = outcome.errors[output];
      log.warn('output did not take everything; its events stay in the outbox for the next run', {
        output,
        events,
        ...(error === undefined ? {} : { error }),
      });
    }
    if (Object.keys(outcome.flushed.pending).length > 0) return EXIT_OUTPUT_BEHIND;
    return Object.keys(outcome.flushed.deadLettered).length > 0 ? EXIT_DEAD_LETTERED : EXIT_OK;
  } finally {
    progress.stop();
    stop.release();
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
  /** The tenant's budget, once its source exists. */
  budgetOf: () => TenantBudget | undefined;
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
    const budget = options.budgetOf();
    const pausedUntil = budget?.pausedUntil();
    return {
      windowsDone,
      windowsTotal,
      rows,
      requests,
      requestsThisWindow: requests - requestsAtWindow,
      elapsedMs: now - started,
      budgetPerWindow: options.perWindow,
      budgetFree: budget?.remaining() ?? options.perWindow,
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
130 stopped by ^C (SIGINT), 143 by SIGTERM, 129 by SIGHUP (the same command resumes).

Events are delivered while the backfill collects. With outbox.maxEvents events waiting for an
output, no new page is asked for until it takes them (it says so): an output that is down pauses
the backfill, which resumes when the output is back; ^C stops it, the outputs get 30 s to take
what was committed, and the same command resumes.`,
    )
    .action(
      async (
        opts: { config: string; tenant: string; from: string; to?: string; recollect?: boolean } & LogFlags,
      ) => {
        setExitCode(await backfillCommand(opts));
      },
    );
}
