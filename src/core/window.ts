/**
 * The collector's shared vocabulary of time: a window of the API's history (inclusive bounds,
 * epoch ms) and the passes that read windows. Sources, the pipeline, the state and telemetry all
 * speak it, so it lives below them all.
 */

export interface TimeWindow {
  readonly from: number;
  readonly to: number;
}

/** The three ways a tenant's history is read (collection.md): forward, re-read, bounded past. */
export type Pass = 'fast' | 'reconcile' | 'backfill';
export const PASSES: readonly Pass[] = ['fast', 'reconcile', 'backfill'];

/** `2026-01-20T00:00:00Z`: Graph's DateTimeOffset literal, whole seconds. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}
