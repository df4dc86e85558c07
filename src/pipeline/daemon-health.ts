/**
 * The daemon's /healthz, /readyz, /status and /metrics (when the configuration has `health`): what
 * the state knows, plus what only this process knows (its outputs' last rounds, from the outbox).
 */
import type { Config } from '../config/load.js';
import { DEFAULTS } from '../config/schema.js';
import { RECENT_DEAD_LETTER_MS, startHealthServer, type HealthServer } from '../observe/health.js';
import { snapshotFromState } from './state-snapshot.js';
import { statusReport } from '../observe/status-report.js';
import type { StateStore } from '../state/store.js';
import type { Outbox } from './outbox/index.js';

export function startDaemonHealth(
  config: Config,
  listen: string,
  options: {
    readonly store: StateStore;
    readonly outputs: readonly string[];
    readonly outbox: Outbox;
    readonly exposition: () => Promise<{ contentType: string; text: string }>;
    readonly now: () => number;
    /** The daemon's poll interval, for each tenant's lag bound. */
    readonly pollMs: number;
  },
): Promise<HealthServer> {
  const { store, outbox, now } = options;
  const maxEvents = config.outbox?.maxEvents ?? DEFAULTS.outboxMaxEvents;
  const warnAfterMs = config.outbox?.warnAfterMs ?? DEFAULTS.outboxWarnAfterMs;
  return startHealthServer({
    listen,
    // A tenant is not current after two failed cycles in a row (one cut short is no outage).
    // New dead letters make it unready for an hour (or until they are retried): they are events
    // that will not arrive unless someone acts.
    rule: () => ({
      maxBacklog: maxEvents,
      now: now(),
      failedCycles: 2,
      maxWaitingMs: warnAfterMs,
      recentDeadLetterMs: RECENT_DEAD_LETTER_MS,
    }),
    metrics: options.exposition,
    // The document `exotrace status --json` prints, by its rule (see README).
    status: (snapshot) =>
      statusReport(config, snapshot, { kind: 'daemon', from: `http://${listen}/status` }, now()),
    snapshot: async () => {
      const fromState = await snapshotFromState(store, {
        tenants: config.tenants.map((t) => ({ name: t.name, minAgeMs: t.minAgeMs })),
        outputs: options.outputs,
        now: now(),
        pollMs: options.pollMs,
        backlog: outbox.backlogOf,
      });
      // Plus what only this process knows: how its outputs' last rounds went.
      return {
        ...fromState,
        outputs: fromState.outputs.map((o) => ({ ...o, ...outbox.roundsOf(o.output) })),
      };
    },
  });
}
