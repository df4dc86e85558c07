/**
 * How each output's delivery rounds go: when one last succeeded, since when they fail and with
 * what error. /readyz and /status report it to the millisecond; the state keeps it too
 * (`recordOutputRound`), so that `exotrace status` after --once or without the daemon agrees.
 */
import type { StateStore } from '../../state/store.js';

/** A successful round that ends no failure is kept in the state at most this often per output. */
const ROUND_RECORD_EVERY_MS = 60_000;

export interface OutputRoundsNow {
  readonly lastSuccessAt?: number;
  readonly failingSince?: number;
  readonly lastError?: Record<string, unknown>;
}

export interface OutputHealth {
  /** An output failing when the last run ended is still failing until a round of it succeeds. */
  load(outputs: readonly string[]): Promise<void>;
  /** A round of `output` ended, failed with `error` (described) or not. */
  roundEnded(output: string, error: Record<string, unknown> | undefined): void;
  get(output: string): OutputRoundsNow | undefined;
}

export function createOutputHealth(options: {
  readonly store: StateStore;
  readonly now: () => number;
  /** The state could not be written (a full disk): said, and delivery goes on as it would. */
  readonly onRecordFailed: (output: string, error: unknown) => void;
}): OutputHealth {
  const { store, now } = options;
  const rounds = new Map<string, OutputRoundsNow>();
  const recordedAt = new Map<string, number>();

  /**
   * Keeps an output's round in the state: every failure (its error may change), and a success
   * when it ends a failure or the last one recorded is a minute old (a round runs every second
   * or at each commit: the state need not be written that often).
   */
  const record = (output: string, failed: boolean, wasFailing: boolean): void => {
    const at = now();
    const last = recordedAt.get(output);
    if (!failed && !wasFailing && last !== undefined && Math.abs(at - last) < ROUND_RECORD_EVERY_MS) return;
    recordedAt.set(output, at);
    const error = failed ? rounds.get(output)?.lastError : undefined;
    store
      .recordOutputRound(output, { at, ...(error === undefined ? {} : { error }) })
      .catch((recordError: unknown) => {
        options.onRecordFailed(output, recordError);
      });
  };

  return {
    async load(outputs) {
      for (const r of await store.outputRounds()) {
        const { output, ...known } = r;
        if (outputs.includes(output)) rounds.set(output, known);
      }
    },
    roundEnded(output, error) {
      const before = rounds.get(output);
      rounds.set(
        output,
        error === undefined
          ? { lastSuccessAt: now() }
          : {
              ...(before?.lastSuccessAt === undefined ? {} : { lastSuccessAt: before.lastSuccessAt }),
              failingSince: before?.failingSince ?? now(),
              lastError: error,
            },
      );
      record(output, error !== undefined, before?.failingSince !== undefined);
    },
    get: (output) => rounds.get(output),
  };
}
