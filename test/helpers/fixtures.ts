import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * The fixtures the tests read: copies of the project's shared fixtures kept in the repository, so
 * that a clone alone runs every test (test/fixtures.test.ts keeps them equal to the shared ones).
 */
export const SHARED_FIXTURES = path.join(REPO_ROOT, 'test/fixtures');
/** Where CI lays the project's shared fixtures: beside the clone, when it does. */
export const PROJECT_SHARED_FIXTURES = path.resolve(REPO_ROOT, '../shared/fixtures');

export function fixturePath(relative: string): string {
  return path.join(SHARED_FIXTURES, relative);
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the fixture's shape
export function readFixture<T = unknown>(relative: string): T {
  return JSON.parse(readFileSync(fixturePath(relative), 'utf8')) as T;
}

export interface SeedFixture {
  input: { message: string };
  expected: Record<string, unknown>;
}

export const SEED_FIXTURES = ['seed/messagetrace.json', 'seed/messagetrace2.json'] as const;
