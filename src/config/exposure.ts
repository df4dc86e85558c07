/**
 * A configuration file that holds a secret itself (a client secret, a token, a password written in
 * the YAML rather than as `${VAR}`) should be readable by its owner only: every local user can read
 * a world-readable file, and with it the tenant's credentials.
 */
import { readFileSync, statSync } from 'node:fs';

import type { Config } from './load.js';
import { secretsOf } from './redact.js';

/** Why `config.file` exposes a secret to every local user, or undefined when it does not. */
export function configExposure(config: Config): string | undefined {
  // Windows decides by ACLs, not permission bits.
  if (process.platform === 'win32') return undefined;
  let mode: number;
  let text: string;
  try {
    const stat = statSync(config.file);
    // A pipe (`--config <(…)`, a named pipe) stores nothing to expose, and reading it again would
    // wait for a writer that never comes.
    if (!stat.isFile()) return undefined;
    mode = stat.mode;
    if ((mode & 0o004) === 0) return undefined;
    text = readFileSync(config.file, 'utf8');
  } catch {
    // Gone or unreadable since it was loaded: nothing to say about it.
    return undefined;
  }
  // Secrets substituted from ${VAR} are not in the text: only those written in the file count.
  if (!secretsOf(config).some((secret) => text.includes(secret))) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(3, '0');
  return `${config.file} holds a secret and is readable by every local user (mode ${octal}): make it readable by its owner only (chmod 600 ${config.file}), or take the secret from the environment (\${VAR})`;
}
