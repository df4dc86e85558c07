/**
 * The Node.js version check the entry point runs before anything else: an older Node fails later
 * in ways that do not say why (a missing API, a dependency's syntax), so it is refused at once with
 * one line naming the version found and the one needed (package.json's `engines.node`).
 */
import { readFileSync } from 'node:fs';

type Version = readonly [number, number, number];

function parseVersion(text: string): Version | undefined {
  const match = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text.trim());
  if (match === null) return undefined;
  return [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)];
}

function atLeast(found: Version, needed: Version): boolean {
  for (let i = 0; i < 3; i++) {
    if ((found[i] ?? 0) !== (needed[i] ?? 0)) return (found[i] ?? 0) > (needed[i] ?? 0);
  }
  return true;
}

/**
 * undefined when `found` (`process.version`, e.g. `v20.20.2`) satisfies `required` (the engines
 * range, `>=20.19.4`: the only form package.json uses), else the line to print. A range of another
 * form is not guessed at: it passes, so that a packaging change can never lock every user out.
 */
export function checkNodeVersion(found: string, required: string): string | undefined {
  const needed = /^\s*>=\s*(\S+)\s*$/.exec(required)?.[1];
  const neededVersion = needed === undefined ? undefined : parseVersion(needed);
  const foundVersion = parseVersion(found);
  if (neededVersion === undefined || foundVersion === undefined) return undefined;
  if (atLeast(foundVersion, neededVersion)) return undefined;
  return `exotrace needs Node.js ${required.trim()} (package.json engines), found ${found}: install a newer Node.js (20 LTS or later)`;
}

/** package.json's `engines.node`; dist/cli and src/cli are both two levels below package.json. */
export function requiredNodeVersion(): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      engines?: { node?: unknown };
    };
    return typeof pkg.engines?.node === 'string' ? pkg.engines.node : undefined;
  } catch {
    return undefined;
  }
}
