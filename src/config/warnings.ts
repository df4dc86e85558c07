/**
 * What is said about a configuration that loads but deserves a word: one list, so that `run`,
 * `backfill` and `doctor` (and any later command that checks a configuration) say the same things.
 */
import { cleartextWarnings } from './cleartext.js';
import { configExposure } from './exposure.js';
import type { Config, Env } from './load.js';

/** Each warning as one line naming the file or key at fault and the fix; empty when all is well. */
export function configWarnings(config: Config, env: Env = process.env): string[] {
  const exposed = configExposure(config);
  return [...(exposed === undefined ? [] : [exposed]), ...cleartextWarnings(config, env)];
}
