/**
 * The imports of src/ as resolved paths, read with TypeScript's own scanner (comments and strings
 * are not mistaken for imports; static, type-only, re-exports, `import('…')`, `require('…')`):
 * a check on where a module goes cannot be fooled by how the specifier is spelt.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import ts from 'typescript';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function posix(path: string): string {
  return path.split(sep).join('/');
}

/** src/ files as repository-relative posix paths. */
export function sourceFiles(dir = join(repo, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [posix(relative(repo, full))] : [];
  });
}

/**
 * The relative imports of `text` (the file `file`, repository-relative), each resolved and
 * normalised (`./../x/../y.js` → `src/y.ts`), whether or not the target exists.
 */
export function resolvedImports(file: string, text: string): string[] {
  const scanned = ts.preProcessFile(text, true, true);
  const targets = scanned.importedFiles
    .map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => posix(join(dirname(file), specifier)).replace(/\.js$/, '.ts'));
  return [...new Set(targets)];
}

/** Each src/ file's imports of other src/ files. */
export function importGraph(): Map<string, string[]> {
  const files = sourceFiles();
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = resolvedImports(file, readFileSync(join(repo, file), 'utf8'));
    graph.set(
      file,
      targets.filter((target) => known.has(target)),
    );
  }
  return graph;
}
