import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkNodeVersion } from '../../src/cli/node-version.js';
import { CLI } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

const ENGINES = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    engines: { node: string };
  }
).engines.node;

describe('checkNodeVersion', () => {
  it('accepts the version needed and every later one', () => {
    expect(checkNodeVersion('v20.19.4', '>=20.19.4')).toBeUndefined();
    expect(checkNodeVersion('v20.20.0', '>=20.19.4')).toBeUndefined();
    expect(checkNodeVersion('v22.1.0', '>=20.19.4')).toBeUndefined();
    expect(checkNodeVersion('v24.0.0', '>=20.19.4')).toBeUndefined();
  });

  it('refuses an older one with one line naming the version found and needed', () => {
    const line = checkNodeVersion('v20.19.3', '>=20.19.4');
    expect(line).toBe(
      'exotrace needs Node.js >=20.19.4 (package.json engines), found v20.19.3: install a newer Node.js (20 LTS or later)',
    );
    expect(checkNodeVersion('v18.20.8', '>=20.19.4')).toContain('found v18.20.8');
    expect(checkNodeVersion('v20.9.0', '>=20.19.4')).toContain('found v20.9.0');
  });

  it('the Node running the tests satisfies package.json', () => {
    expect(checkNodeVersion(process.version, ENGINES)).toBeUndefined();
  });
});

describe('exotrace on a Node older than package.json engines', () => {
  it('exits 2 at once with that one line, whatever the command', async () => {
    // The binary as users run it, with process.version made older before it starts.
    const fake = 'data:text/javascript,Object.defineProperty(process,"version",{value:"v18.20.8"})';
    const child = spawn(process.execPath, ['--import', fake, CLI, 'demo'], { cwd: REPO_ROOT });
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `exotrace needs Node.js ${ENGINES} (package.json engines), found v18.20.8: install a newer Node.js (20 LTS or later)\n`,
    );
  });
});
