/**
 * The warning for a state made new (issue 11, item 5): a deleted or 0-byte state database makes the
 * next run start again from `startFrom`, and outputs deliver again what an earlier state already
 * delivered. The file output tells by the claim beside its file (and refuses); the other outputs
 * cannot tell, so the run says it once, at start.
 */
import type { Config } from '../config/load.js';
import type { Logger } from './log.js';

/** The outputs that cannot tell events delivered by an earlier state (all but the file output). */
function blindOutputs(config: Pick<Config, 'outputs'>): string[] {
  return config.outputs.filter((output) => output.type !== 'file').map((output) => output.name);
}

/**
 * The warning a new state at `stateDir` brings, or undefined when every output is a file output.
 * `config check` gives it before the state exists; the run gives it once the state was created.
 */
export function newStateWarning(
  config: Pick<Config, 'stateDir' | 'outputs'>,
  when: 'created' | 'to be created' = 'created',
): string | undefined {
  const blind = blindOutputs(config);
  if (blind.length === 0) return undefined;
  const state =
    when === 'created'
      ? `a new state was created at ${config.stateDir}`
      : `the first run creates a new state at ${config.stateDir}`;
  return `${state}: the outputs ${blind.join(', ')} will receive again whatever an earlier state already delivered to them, if there was one (only the file output can detect it)`;
}

/** Warns when the state was created by this run (`createdNew`) and some output is not a file output. */
export function warnIfNewState(
  createdNew: boolean,
  config: Pick<Config, 'stateDir' | 'outputs'>,
  log: Logger,
): void {
  if (!createdNew) return;
  const warning = newStateWarning(config);
  if (warning === undefined) return;
  log.warn(warning, { stateDir: config.stateDir, outputs: blindOutputs(config) });
}
