/** Values as the tables keep them, read back into the interface's types. */
import { PASSES, type Pass } from '../../core/window.js';
import { StateStoreError } from '../errors.js';

export function toPass(value: string): Pass {
  const pass = PASSES.find((p) => p === value);
  if (pass === undefined) throw new StateStoreError(`unknown pass in state: ${value}`, { code: 'corrupt' });
  return pass;
}

/** A sanitized `describeError` object kept as JSON (never a secret). */
export function parseErrorJson(json: string): Record<string, unknown> {
  return JSON.parse(json) as Record<string, unknown>;
}
