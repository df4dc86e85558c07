/**
 * The import graph of src/: the direction rule (`exotrace/import-direction`, eslint.config.js)
 * rejects an import against the layer table, its list of known violations holds only imports that
 * still exist, and no two modules of src/ import each other, directly or around a loop.
 */
import { join } from 'node:path';

import { ESLint, Linter, RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

import importDirection from '../../scripts/eslint-rules/import-direction.js';
import { importGraph, repo } from '../helpers/import-graph.js';

/** Strongly connected components with more than one module, or a module importing itself. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's algorithm, iterative enough for a few hundred files (recursion depth = longest chain).
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** One loop through a component, to name in a failure: a → b → … → a. */
function loopThrough(component: readonly string[], graph: ReadonlyMap<string, readonly string[]>): string {
  const members = new Set(component);
  const start = component[0] ?? '';
  const path = [start];
  const seen = new Set([start]);
  let at = start;
  for (;;) {
    const nexts = (graph.get(at) ?? []).filter((next) => members.has(next));
    const back = nexts.find((next) => next === start);
    if (back !== undefined && path.length > 1) break;
    const next = nexts.find((candidate) => !seen.has(candidate)) ?? back;
    if (next === undefined || next === start) break;
    path.push(next);
    seen.add(next);
    at = next;
  }
  return [...path, start].join(' → ');
}

/**
 * Cycles that exist today, each closed by a type-only import, in files of other groups of issue 13
 * (each the members of one strongly connected component). Delete an entry once its cycle is gone.
 */
const KNOWN_CYCLES: readonly (readonly string[])[] = [
  // config/redact.ts and secrets.ts take the `Config` type from load.ts, which calls redact's
  // isSecretKey and takes secrets.ts's MIN_LITERAL_SECRET.
  ['src/config/load.ts', 'src/config/redact.ts', 'src/config/secrets.ts'],
  // emulator/config.ts takes `EmulatorOptions` from server.ts, which starts control.ts, which
  // validates with config.ts's schemas.
  ['src/emulator/config.ts', 'src/emulator/control.ts', 'src/emulator/server.ts'],
];

interface DirectionOptions {
  readonly root: string;
  readonly layers: Record<string, readonly string[]>;
  readonly allow: readonly { readonly file: string; readonly imports: string; readonly why: string }[];
}

/** The options eslint.config.js gives the rule for src/ (the table and the known violations). */
async function directionOptions(): Promise<DirectionOptions> {
  const config = (await new ESLint({ cwd: repo }).calculateConfigForFile('src/index.ts')) as {
    rules: Record<string, [unknown, DirectionOptions]>;
  };
  const entry = config.rules['exotrace/import-direction'];
  if (entry === undefined) throw new Error('eslint.config.js does not enable exotrace/import-direction');
  return entry[1];
}

describe('import direction (eslint rule)', () => {
  RuleTester.describe = describe;
  RuleTester.it = it;
  RuleTester.itOnly = it.only;
  const tester = new RuleTester({ languageOptions: { parser: tseslint.parser } });
  const options = {
    root: 'src',
    layers: { util: [], core: ['util'], sinks: ['util', 'core'], pipeline: ['util', 'core', 'sinks'] },
    allow: [{ file: 'src/sinks/old.ts', imports: 'pipeline', why: 'being moved' }],
  };
  const at = (file: string): string => join(process.cwd(), file);
  tester.run('import-direction', importDirection, {
    valid: [
      { filename: at('src/sinks/a.ts'), code: "import { x } from '../core/x.js';", options: [options] },
      { filename: at('src/sinks/a.ts'), code: "import { x } from './b.js';", options: [options] },
      { filename: at('src/sinks/deep/a.ts'), code: "import { x } from '../b.js';", options: [options] },
      { filename: at('src/sinks/a.ts'), code: "import { x } from 'undici';", options: [options] },
      {
        filename: at('src/sinks/a.ts'),
        code: "const x = import(`../core/x.js`); const y = require('node:fs'); this.sinks.require(name);",
        options: [options],
      },
      { filename: at('test/a.ts'), code: "import { x } from '../src/pipeline/x.js';", options: [options] },
      { filename: at('src/sinks/old.ts'), code: "import { x } from '../pipeline/x.js';", options: [options] },
    ],
    invalid: [
      {
        filename: at('src/sinks/a.ts'),
        code: "import type { X } from '../pipeline/x.js';",
        options: [options],
        errors: [
          {
            message: 'src/sinks may not import src/pipeline (allowed: util, core): ../pipeline/x.js',
          },
        ],
      },
      {
        filename: at('src/core/a.ts'),
        code: "export { x } from '../sinks/x.js'; export * from '../sinks/y.js'; const m = import('../sinks/z.js'); type T = import('../sinks/t.js').T;",
        options: [options],
        errors: 4,
      },
      {
        // Review state-edges finding 4: these forms were not read at all.
        filename: at('src/sinks/a.ts'),
        code: [
          'const a = import(`../pipeline/a.js`);',
          "const b = require('../pipeline/b.js');",
          "const c = createRequire(import.meta.url)('../pipeline/c.js');",
          "import d = require('../pipeline/d.js');",
        ].join('\n'),
        options: [options],
        errors: 4,
      },
      {
        filename: at('src/sinks/a.ts'),
        code: 'const where = "../pipeline/x.js"; const m = import(where); const n = require(`../${where}`);',
        options: [options],
        errors: [{ messageId: 'computed' }, { messageId: 'computed' }],
      },
      {
        // The allowance is for one file and one folder.
        filename: at('src/sinks/new.ts'),
        code: "import { x } from '../pipeline/x.js';",
        options: [options],
        errors: 1,
      },
      {
        filename: at('src/util/a.ts'),
        code: "import { x } from '../emulator/x.js';",
        options: [options],
        errors: [
          {
            message:
              'src/util may not import src/emulator (allowed: nothing outside itself): ../emulator/x.js',
          },
        ],
      },
    ],
  });
});

describe('import direction (the table in eslint.config.js)', () => {
  it('refuses what the issue names: sinks → state or pipeline, sources → pipeline, below → above', async () => {
    const options = await directionOptions();
    const linter = new Linter({ cwd: repo });
    const lint = (file: string, code: string): string[] =>
      linter
        .verify(
          code,
          [
            {
              files: ['**/*.ts'],
              languageOptions: { parser: tseslint.parser },
              plugins: { exotrace: { rules: { 'import-direction': importDirection } } },
              rules: { 'exotrace/import-direction': ['error', options] },
            },
          ],
          join(repo, file),
        )
        .map((message) => message.message);
    expect(lint('src/sinks/new.ts', "import type { S } from '../state/store.js';")).toEqual([
      expect.stringMatching(/^src\/sinks may not import src\/state \(allowed: .*\)/),
    ]);
    expect(lint('src/sinks/new.ts', "import { x } from '../pipeline/run.js';")).toHaveLength(1);
    expect(lint('src/sources/new.ts', "import { x } from '../pipeline/windows.js';")).toHaveLength(1);
    expect(lint('src/sources/new.ts', "import { x } from '../sinks/types.js';")).toHaveLength(1);
    expect(lint('src/core/new.ts', "import { x } from '../config/load.js';")).toHaveLength(1);
    expect(lint('src/emulator/new.ts', "import { x } from '../core/errors.js';")).toHaveLength(1);
    expect(lint('src/observe/new.ts', "import { x } from '../pipeline/run.js';")).toHaveLength(1);
    expect(lint('src/pipeline/new.ts', "import { x } from '../state/store.js';")).toEqual([]);
    expect(lint('src/sinks/new.ts', "import { x } from '../http/client.js';")).toEqual([]);
  });

  it('lists as known violations only imports that still exist (delete an entry once fixed)', async () => {
    const { root, allow } = await directionOptions();
    const graph = importGraph();
    const stale = allow.filter(
      (entry) =>
        !(graph.get(entry.file) ?? []).some((target) => target.startsWith(`${root}/${entry.imports}/`)),
    );
    expect(stale, 'these known violations are gone: remove them from eslint.config.js').toEqual([]);
  });
});

describe('import cycles in src/', () => {
  it('finds a cycle (the check itself)', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
      ['e', ['e']],
    ]);
    const found = cycles(graph);
    expect(found).toEqual([['a', 'b', 'c'], ['e']]);
    expect(loopThrough(found[0] ?? [], graph)).toBe('a → b → c → a');
  });

  it('has none but the known ones (and those are still there: delete an entry once fixed)', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(100);
    const found = cycles(graph);
    const key = (members: readonly string[]): string => [...members].sort().join(' ');
    const known = new Set(KNOWN_CYCLES.map(key));
    const named = found
      .filter((component) => !known.has(key(component)))
      .map((component) => `${loopThrough(component, graph)} (all of: ${component.join(', ')})`);
    expect(named, 'modules of src/ that import each other').toEqual([]);
    const present = new Set(found.map(key));
    const gone = KNOWN_CYCLES.filter((members) => !present.has(key(members)));
    expect(gone, 'these known cycles are gone: remove them from KNOWN_CYCLES').toEqual([]);
  });
});
