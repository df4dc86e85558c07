/**
 * The health snapshot (`/status`, `exotrace status`) as the state knows it. Here, not in observe:
 * reading the state is the assembly's business (observe shapes and serves what it is given).
 */
import {
  maxLagMsOf,
  passCheckpoints,
  type HealthSnapshot,
  type OutputHealth,
  type TenantHealth,
} from '../observe/health.js';
import type { StateStore } from '../state/store.js';

/**
 * What the state database says of each tenant and output, as `/status` shows it: what `exotrace
 * status` reads when no daemon runs, and what the daemon adds its own knowledge to.
 */
export async function snapshotFromState(
  store: StateStore,
  options: {
    readonly tenants: readonly { readonly name: string; readonly minAgeMs: number }[];
    readonly outputs: readonly string[];
    readonly now: number;
    /** The daemon's poll interval, for the lag bound; default DEFAULT_POLL_MS. */
    readonly pollMs?: number;
    /** Events an output has yet to take; default counted exactly (`outboxDepth`). */
    readonly backlog?: (output: string) => Promise<number>;
  },
): Promise<HealthSnapshot> {
  const { now } = options;
  const backlog = options.backlog ?? ((output: string) => store.outboxDepth(output));
  const cycles = new Map((await store.tenantCycles()).map((c) => [c.tenant, c]));
  const rounds = new Map((await store.outputRounds()).map((r) => [r.output, r]));
  const tenants = await Promise.all(
    options.tenants.map(async (t): Promise<TenantHealth> => {
      const stored = await store.listCheckpoints(t.name);
      const cursor = stored.find((c) => c.pass === 'fast')?.cursor;
      // The cycle's own `tenant` is the same name.
      return {
        ...cycles.get(t.name),
        tenant: t.name,
        ...(cursor === undefined ? {} : { lagMs: Math.max(0, now - cursor) }),
        maxLagMs: maxLagMsOf(t.minAgeMs, options.pollMs),
        checkpoints: passCheckpoints(stored),
        collected: (await store.collectedRanges(t.name)).map((r) => ({
          from: new Date(r.from).toISOString(),
          to: new Date(r.to).toISOString(),
        })),
      };
    }),
  );
  const registered = new Set((await store.listSinks()).map((s) => s.name));
  const outputs = await Promise.all(
    options.outputs.map(async (output): Promise<OutputHealth> => {
      // An output that never ran has no cursor yet: nothing waits for it.
      if (!registered.has(output)) return { output, backlog: 0, deadLetters: 0 };
      const oldest = await store.outboxOldest(output);
      const newestDead = await store.deadLetterNewest(output);
      return {
        // How its rounds went (`output` is the same name); after `run --once` too.
        ...rounds.get(output),
        output,
        backlog: await backlog(output),
        deadLetters: await store.deadLetterCount(output),
        ...(oldest === undefined ? {} : { oldestWaitingAt: oldest }),
        ...(newestDead === undefined ? {} : { newestDeadLetterAt: newestDead }),
      };
    }),
  );
  return { tenants, outputs };
}
