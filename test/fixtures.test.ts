/**
 * The repository's copies of the shared fixtures (test/fixtures/) are the shared ones, byte for
 * byte, whenever the project's shared folder lies beside the clone (as in CI): a fixture changed
 * there reaches the tests here, or this test says which file differs.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_SHARED_FIXTURES, SHARED_FIXTURES, SEED_FIXTURES } from './helpers/fixtures.js';

/** Every file under `root` (relative paths), README files aside: each folder documents its own. */
function filesUnder(root: string, relative = ''): string[] {
  return readdirSync(path.join(root, relative)).flatMap((name) => {
    const child = path.join(relative, name);
    if (statSync(path.join(root, child)).isDirectory()) return filesUnder(root, child);
    return name === 'README.md' ? [] : [child];
  });
}

describe('test fixtures', () => {
  it('are in the repository (a clone alone runs the tests)', () => {
    for (const fixture of SEED_FIXTURES) expect(existsSync(path.join(SHARED_FIXTURES, fixture))).toBe(true);
    expect(filesUnder(SHARED_FIXTURES).length).toBeGreaterThanOrEqual(5);
  });

  it.skipIf(!existsSync(PROJECT_SHARED_FIXTURES))('equal the shared fixtures beside the clone', () => {
    const shared = filesUnder(PROJECT_SHARED_FIXTURES).sort();
    expect(filesUnder(SHARED_FIXTURES).sort()).toEqual(shared);
    for (const file of shared) {
      expect(
        readFileSync(path.join(SHARED_FIXTURES, file)).equals(
          readFileSync(path.join(PROJECT_SHARED_FIXTURES, file)),
        ),
        file,
      ).toBe(true);
    }
  });
});
