// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

import importDirection from './scripts/eslint-rules/import-direction.js';

/**
 * Which folder of src/ may import which (docs/architecture.md draws it): each stage imports only
 * the stages before it in util → core → config → http → {normalize, state} → {sources, sinks} →
 * observe → pipeline → cli, never one beside it; the state is imported only by the assembly
 * (pipeline, cli), so that nothing else knows which database is behind it; the emulator, a
 * stand-in for Microsoft 365 that ships with the tool, imports util only. Tests, benchmarks and
 * scripts are outside src/ and unrestricted.
 */
const below = {
  util: [],
  core: ['util'],
  config: ['util', 'core'],
  http: ['util', 'core', 'config'],
};
const layers = {
  ...below,
  normalize: [...below.http, 'http'],
  state: [...below.http, 'http'],
  sources: [...below.http, 'http', 'normalize'],
  sinks: [...below.http, 'http', 'normalize'],
  observe: [...below.http, 'http', 'normalize', 'sources', 'sinks'],
  pipeline: [...below.http, 'http', 'normalize', 'state', 'sources', 'sinks', 'observe'],
  cli: [...below.http, 'http', 'normalize', 'state', 'sources', 'sinks', 'observe', 'pipeline', 'emulator'],
  emulator: ['util'],
  // src/index.ts, the library entry point.
  '.': [...below.http, 'http', 'normalize', 'state', 'sources', 'sinks', 'observe', 'pipeline'],
};

/**
 * Imports that break the table today and are being removed (issue 13): each is allowed for that
 * file only. Delete an entry once its import is gone (test/architecture/imports.test.ts fails on an
 * entry that no longer matches an import, so this list is always exactly what remains).
 */
const knownViolations = [];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.ci/out/'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { exotrace: { rules: { 'import-direction': importDirection } } },
    rules: {
      'exotrace/import-direction': ['error', { root: 'src', layers, allow: knownViolations }],
    },
  },
  {
    files: ['eslint.config.js', 'scripts/eslint-rules/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
