/**
 * Outbox retention: an output that has not taken events for longer than `outbox.warnAfter` is
 * reported loudly, again every ten minutes while it lasts. Its events stay in the outbox until it
 * takes them: the warning is the only thing that happens (dropping them would lose data).
 */
import type { StateStore } from '../../state/store.js';

/** How often the warning repeats for an output that keeps holding events back. */
export const RETENTION_WARNING_EVERY_MS = 10 * 60_000;

export interface RetentionWarning {
  readonly output: string;
  readonly oldestEventCommitted: string;
  readonly waitingMinutes: number;
  readonly eventsWaiting: number;
  readonly configKey: 'outbox.warnAfter';
}

export interface RetentionCheck {
  /** The outputs to warn about now (each at most once per RETENTION_WARNING_EVERY_MS). */
  check(outputs: readonly string[], now: number): Promise<RetentionWarning[]>;
}

export function createRetentionCheck(store: StateStore, warnAfterMs: number): RetentionCheck {
  const lastWarned = new Map<string, number>();
  return {
    async check(outputs, now) {
      const warnings: RetentionWarning[] = [];
      for (const output of outputs) {
        const oldest = await store.outboxOldest(output);
        if (oldest === undefined || now - oldest < warnAfterMs) continue;
        const last = lastWarned.get(output);
        if (last !== undefined && now - last < RETENTION_WARNING_EVERY_MS) continue;
        lastWarned.set(output, now);
        warnings.push({
          output,
          oldestEventCommitted: new Date(oldest).toISOString(),
          waitingMinutes: Math.round((now - oldest) / 60_000),
          eventsWaiting: await store.outboxDepth(output),
          configKey: 'outbox.warnAfter',
        });
      }
      return warnings;
    },
  };
}
