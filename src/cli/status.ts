/**
 * `exotrace status --config FILE [--json] [--max-lag DURATION]`: at a glance, is every tenant current? Per tenant its
 * checkpoints, lag and last cycle (success or error, with the fix); per output its backlog and dead
 * letters. The exit status says it for scripts and monitors.
 *
 * Where it reads: the state database when no collector holds it (after `run --once`, after the
 * daemon stopped or crashed: each tenant's last cycle is kept there). While `exotrace run` holds it
 * (one process at a time), the daemon's own `/status` on `health.listen`, over plain http and so
 * over loopback only. Either way the same rule decides "current": `readiness()` of the health
 * endpoints, plus dead letters. It never creates a state database: a missing one is an error
 * naming `stateDir`.
 */
import type { Command } from 'commander';
import type { Config } from '../config/load.js';
import { parseListen, type HealthSnapshot } from '../observe/health.js';
import { snapshotFromState } from '../pipeline/state-snapshot.js';
import {
  snapshotOfReport,
  statusReport,
  withMaxLag,
  type OutputStatus,
  type StatusReport,
  type TenantStatus,
} from '../observe/status-report.js';
import { BODY_LIMITS, boundedRequest } from '../http/bounded-request.js';
import { createDispatcher } from '../http/client.js';
import { ExotraceError } from '../core/errors.js';
import {
  StateStoreError,
  openStateStore,
  stateExists,
  type StateErrorCode,
  type StateStore,
} from '../state/index.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import { isLoopbackHost } from '../util/net.js';
import { EXIT_OK, EXIT_STATE_IN_USE, EXIT_STATE_UNUSABLE, EXIT_USAGE } from './exit-codes.js';
import { loadConfigOrExplain } from './run.js';

/** Some tenant or output is not current (the reasons are printed). */
export const EXIT_NOT_CURRENT = 1;
/**
 * The state is held by a running collector and its `/status` cannot be asked (no `health` in the
 * configuration, a `health.listen` that is not loopback, or nothing answering there).
 */
export const EXIT_STATUS_UNAVAILABLE = EXIT_STATE_IN_USE;
/** The state database exists but cannot be read (exit-codes.ts). */
export const EXIT_STATE_UNREADABLE = EXIT_STATE_UNUSABLE;

/** How long to wait for the state lock before asking the daemon instead. */
const LOCK_WAIT_MS = 500;
/** How long the daemon's `/status` may take. */
const DAEMON_TIMEOUT_MS = 5_000;

interface Io {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

// The document is built in one place for `status --json` and the daemon's `/status`.
export { statusReport, withMaxLag, type OutputStatus, type StatusReport, type TenantStatus };

/** An ISO instant without milliseconds. */
const shortIso = (iso: string): string => iso.replace(/\.\d{3}Z$/, 'Z');

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The human rendering: a table per tenant and per output, then the details and the verdict. */
export function renderStatus(report: StatusReport): string {
  const out: string[] = [
    `exotrace status at ${shortIso(report.at)}, from ${report.source === 'state' ? 'the state in' : 'the running collector at'} ${report.from}`,
    '',
  ];
  const details: string[] = [];
  out.push(
    table(
      ['TENANT', 'API', 'FAST CHECKPOINT', 'LAG', 'LAST SUCCESS', 'LAST ERROR'],
      report.tenants.map((t) => {
        const fast = t.checkpoints?.fast;
        const error = t.lastError;
        if (error !== undefined) {
          const code = text(error['code']);
          const message = text(error['message']) ?? 'error';
          const at = t.lastFailureAt === undefined ? '' : ` at ${shortIso(t.lastFailureAt)}`;
          const times =
            t.failuresInARow !== undefined && t.failuresInARow > 1
              ? `, ${t.failuresInARow} cycles in a row`
              : '';
          details.push(
            `${t.tenant}: last cycle failed${at}${times}: ${code === undefined ? '' : `${code}: `}${message}`,
          );
          const fix = text(error['fix']);
          if (fix !== undefined) details.push(`  fix: ${fix}`);
        }
        // The ranges, not a pass's cursor: a backfill leaves out exactly these (and fills the gaps).
        if (t.collected !== undefined && t.collected.length > 0) {
          const ranges = t.collected.map((r) => `${shortIso(r.from)} → ${shortIso(r.to)}`).join(', ');
          details.push(`${t.tenant}: collected ${ranges}`);
        }
        for (const pass of ['fast', 'reconcile', 'backfill'] as const) {
          const cp = t.checkpoints?.[pass];
          if (cp?.window !== undefined) {
            details.push(
              `${t.tenant}: ${pass} window ${shortIso(cp.window.from)} → ${shortIso(cp.window.to)} in progress`,
            );
          }
        }
        return [
          t.tenant,
          t.api ?? '?',
          t.neverCollected ? 'never collected' : fast === undefined ? '-' : shortIso(fast.cursor),
          t.lagMs === undefined ? '-' : formatDuration(t.lagMs, 'lag'),
          t.lastSuccessAt !== undefined ? shortIso(t.lastSuccessAt) : t.neverCollected ? '-' : 'never',
          error === undefined ? '-' : (text(error['code']) ?? text(error['message']) ?? 'error'),
        ];
      }),
    ),
    '',
    table(
      ['OUTPUT', 'TYPE', 'BACKLOG', 'DEAD LETTERS', 'LAST ERROR'],
      report.outputs.map((o) => {
        // Its last round's error while it fails: kept in the state, so also after `run --once`.
        const error = o.lastError;
        if (error !== undefined) {
          const since = o.failingSince === undefined ? '' : ` since ${shortIso(o.failingSince)}`;
          details.push(`${o.output}: failing${since}: ${text(error['message']) ?? 'error'}`);
        }
        return [
          o.output,
          o.type ?? '?',
          String(o.backlog),
          String(o.deadLetters),
          error === undefined ? '-' : (text(error['code']) ?? 'error'),
        ];
      }),
    ),
  );
  if (details.length > 0) out.push('', ...details);
  out.push('');
  if (report.current) out.push('current: every tenant within its lag bound, every output keeping up');
  else out.push('NOT CURRENT:', ...report.reasons.map((r) => `  - ${r}`));
  return `${out.join('\n')}\n`;
}

/** Where to ask the daemon for `health.listen`, or why not (plain http goes to loopback only). */
export function daemonStatusUrl(listen: string): { url: string } | { refused: string } {
  const parsed = parseListen(listen);
  if (parsed === undefined) return { refused: `health.listen ${listen} is not host:port` };
  const { host, port } = parsed;
  // A daemon listening on every interface also listens on loopback.
  const target =
    host === '' || host === '0.0.0.0'
      ? '127.0.0.1'
      : host === '::'
        ? '::1'
        : isLoopbackHost(host)
          ? host
          : undefined;
  if (target === undefined) {
    return {
      refused: `health.listen ${listen} is not a loopback address, and status asks over plain http on loopback only: listen on 127.0.0.1 (or 0.0.0.0), or ask http://${listen}/status from that host yourself`,
    };
  }
  return { url: `http://${target.includes(':') ? `[${target}]` : target}:${port}/status` };
}

/** GET the daemon's `/status` (the document `status --json` prints): its snapshot, or an error saying what went wrong. */
async function fetchDaemonStatus(url: string): Promise<HealthSnapshot> {
  // Loopback only (daemonStatusUrl), on a dispatcher of its own: no proxy from the environment.
  const target = new URL(url);
  const dispatcher = createDispatcher({
    env: {},
    connectTimeoutMs: DAEMON_TIMEOUT_MS,
    headersTimeoutMs: DAEMON_TIMEOUT_MS,
    bodyTimeoutMs: DAEMON_TIMEOUT_MS,
    connections: 1,
  });
  try {
    // Bounded like every HTTP read (bounded-request.ts): whatever answers on that port, a body
    // that never ends fails at the ceiling instead of filling the memory.
    const res = await boundedRequest(target, {
      method: 'GET',
      dispatcher,
      maxBytes: BODY_LIMITS.statusDocument,
      timeoutMs: DAEMON_TIMEOUT_MS,
    }).catch((error: unknown) => {
      // No setting sets this deadline: say it plainly rather than name http.timeout.
      if (ExotraceError.is(error) && error.code === 'request_timeout')
        throw new Error(`${url} did not answer within ${DAEMON_TIMEOUT_MS / 1000} s`);
      throw error;
    });
    const body = res.text;
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${body.slice(0, 200).trim()}`);
    try {
      const parsed = JSON.parse(body) as Partial<StatusReport>;
      if (!Array.isArray(parsed.tenants) || !Array.isArray(parsed.outputs)) throw new Error('no tenants');
      // Judged again here: --max-lag, and this configuration's outbox bounds.
      return snapshotOfReport({
        tenants: parsed.tenants,
        outputs: parsed.outputs,
      });
    } catch {
      throw new Error(`${url} did not answer an exotrace status document`);
    }
  } finally {
    await dispatcher.close();
  }
}

/** What status adds to the state's own words: who may open it, what to do with a damaged one. */
const UNREADABLE_HINTS: Partial<Record<StateErrorCode, string>> = {
  permission_denied:
    ': run status as the user the collector runs as (it opens the state for writing, as the collector does)',
  read_only:
    ': run status as the user the collector runs as (it opens the state for writing, as the collector does)',
  cannot_open:
    ': run status as the user the collector runs as (it opens the state for writing, as the collector does)',
  not_a_database:
    ': the file is not an exotrace state database, or it is damaged; restore it from a backup, or move it away to start over (collection restarts from startFrom)',
  corrupt:
    ': the file is not an exotrace state database, or it is damaged; restore it from a backup, or move it away to start over (collection restarts from startFrom)',
};

/** Why the state could not be read: where it is and the cause, without a stack. */
export function unreadable(location: string, error: unknown): string {
  // Anything else the state's reader met (a bug, most likely) is said as its own message.
  const state = StateStoreError.is(error)
    ? error
    : new StateStoreError(error instanceof Error ? error.message : String(error), {
        code: 'unexpected',
        cause: error instanceof Error && error.cause instanceof Error ? error.cause : error,
      });
  return `cannot read the state ${location}: ${state.detail}${UNREADABLE_HINTS[state.stateCode] ?? ''}`;
}

/**
 * The state store, or why not: missing (an error), held by another process (ask the daemon), or
 * unreadable (permissions, not a database, corrupt).
 */
function openState(
  config: Config,
): { store: StateStore } | { missing: string } | { busy: string } | { unreadable: string } {
  const presence = stateExists(config);
  if (!presence.exists) {
    return {
      missing:
        presence.missing === 'stateDir'
          ? `stateDir ${config.stateDir} does not exist (from ${config.file}): is stateDir right? Nothing was collected with it yet`
          : `stateDir ${config.stateDir} holds no exotrace state (${presence.lacking}; from ${config.file}): is stateDir right? Nothing was collected with it yet`,
    };
  }
  try {
    return { store: openStateStore(config, { lockWaitMs: LOCK_WAIT_MS }) };
  } catch (error) {
    if (StateStoreError.is(error, 'in_use')) return { busy: error.message };
    return { unreadable: unreadable(presence.location, error) };
  }
}

/** `--max-lag`: a duration with its unit, more than zero; undefined when it is not one. */
export function parseMaxLag(value: string): number | undefined {
  // A bare number would be milliseconds: surely not what was meant for a lag.
  if (!/[a-z]\s*$/i.test(value)) return undefined;
  const ms = parseDuration(value);
  return ms === undefined || ms <= 0 ? undefined : ms;
}

export async function statusCommand(
  opts: { readonly config: string; readonly json?: boolean; readonly maxLag?: string },
  io: Io,
  now: () => number = Date.now,
): Promise<number> {
  const maxLagMs = opts.maxLag === undefined ? undefined : parseMaxLag(opts.maxLag);
  if (opts.maxLag !== undefined && maxLagMs === undefined) {
    io.stderr.write(
      `exotrace status: --max-lag ${JSON.stringify(opts.maxLag)} is not a duration: use a number and a unit (90m, 2h, 1d)\n`,
    );
    return EXIT_USAGE;
  }
  const config = loadConfigOrExplain(opts.config, io.stderr);
  if (config === undefined) return EXIT_USAGE;
  const opened = openState(config);
  if ('missing' in opened) {
    io.stderr.write(`exotrace status: ${opened.missing}\n`);
    return EXIT_USAGE;
  }
  if ('unreadable' in opened) {
    io.stderr.write(`exotrace status: ${opened.unreadable}\n`);
    return EXIT_STATE_UNREADABLE;
  }
  let report: StatusReport;
  if ('store' in opened) {
    try {
      const at = now();
      let snapshot: HealthSnapshot;
      try {
        snapshot = await snapshotFromState(opened.store, {
          tenants: config.tenants,
          outputs: config.outputs.map((o) => o.name),
          now: at,
        });
      } catch (error) {
        // Damage SQLite finds only when a page is read.
        io.stderr.write(`exotrace status: ${unreadable(stateExists(config).location, error)}\n`);
        return EXIT_STATE_UNREADABLE;
      }
      report = statusReport(
        config,
        withMaxLag(snapshot, maxLagMs),
        { kind: 'state', from: config.stateDir },
        at,
      );
    } finally {
      await opened.store.close();
    }
  } else {
    // The collector holds the state: its own /status knows more (and fresher) than the state would.
    const held = `the state in ${config.stateDir} is held by a running collector (one process at a time)`;
    if (config.health === undefined) {
      io.stderr.write(
        `exotrace status: ${held}, and ${config.file} has no \`health\` to ask it: add \`health: { listen: 127.0.0.1:9464 }\` and restart the collector, or stop it and run status again\n`,
      );
      return EXIT_STATUS_UNAVAILABLE;
    }
    const target = daemonStatusUrl(config.health.listen);
    if ('refused' in target) {
      io.stderr.write(`exotrace status: ${held}; ${target.refused}\n`);
      return EXIT_STATUS_UNAVAILABLE;
    }
    let snapshot: HealthSnapshot;
    try {
      snapshot = await fetchDaemonStatus(target.url);
    } catch (error) {
      io.stderr.write(
        `exotrace status: ${held}, and asking ${target.url} failed (${error instanceof Error ? error.message : String(error)}): is it \`exotrace run\` with this configuration? (\`run --once\` and \`backfill\` serve no status: wait for them to end)\n`,
      );
      return EXIT_STATUS_UNAVAILABLE;
    }
    report = statusReport(
      config,
      withMaxLag(snapshot, maxLagMs),
      { kind: 'daemon', from: target.url },
      now(),
    );
  }
  io.stdout.write(opts.json === true ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
  return report.current ? EXIT_OK : EXIT_NOT_CURRENT;
}

export function registerStatusCommand(program: Command, io: Io, setExitCode: (code: number) => void): void {
  program
    .command('status')
    .description('per tenant checkpoint, lag and last error; per output backlog and dead letters')
    .requiredOption('--config <file>', 'the YAML configuration')
    .option('--json', 'print one JSON document instead of tables')
    .option(
      '--max-lag <duration>',
      "each tenant's lag bound instead of minAge + 2 polls + 15 min (e.g. 2h for an hourly cron run --once)",
    )
    .addHelpText(
      'after',
      `
Reads the state database; while \`exotrace run\` holds it, asks the collector's /status on
health.listen (loopback) instead.

Examples:
  exotrace status --config exotrace.yaml
  exotrace status --config exotrace.yaml --json | jq '.tenants[] | {tenant, lagMs}'
  exotrace status --config exotrace.yaml --max-lag 2h    # after an hourly \`run --once\`

Exit status: 0 every tenant current and every output keeping up; 1 not current (a tenant's last
cycle failed, never completed or lags past its bound (minAge + 2 polls of 60 s + 15 min, or
--max-lag); an output whose last round failed, at outbox.maxEvents, whose oldest event waited past
outbox.warnAfter, or with dead letters), the reasons printed; 2 bad configuration, a bad option, or no state at stateDir; 4 a
running collector holds the state and its /status cannot be asked (no health, not loopback, no
answer); 5 the state database cannot be read (permissions, not a database, damaged), the file and
the cause printed.`,
    )
    .action(async (opts: { config: string; json?: boolean; maxLag?: string }) => {
      setExitCode(await statusCommand(opts, io));
    });
}
