/**
 * The warning for a state made new (issue 11, item 5): a deleted or 0-byte state database makes the
 * next run start again from `startFrom`, and outputs deliver again what an earlier state already
 * delivered. The file output tells by the claim beside its file (and refuses); the other outputs
 * cannot tell, so the run says it once, at start.
 */
import type { Config } from '../config/load.js';
import type { Logger } from '../observe/log.js';
import type { StateStore } from '../state/store.js';

/** Warns when `store` was created by this run and some output is not a file output. */
export async function warnIfNewState(
  store: StateStore,
  config: Pick<Config, 'stateDir' | 'outputs'>,
  log: Logger,
): Promise<void> {
  if (!(await store.createdNew())) return;
  const blind = config.outputs.filter((output) => output.type !== 'file').map((output) => output.name);
  if (blind.length === 0) return;
  log.warn(
    `a new state was created at ${config.stateDir}: the outputs ${blind.join(', ')} will receive again whatever an earlier state already delivered to them, if there was one (only the file output can detect it)`,
    { stateDir: config.stateDir, outputs: blind },
  );
}
