import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import type { Config, Env } from '../../src/config/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'exotrace-config-'));
  dirs.push(dir);
  return dir;
}

/** Writes `yaml` as config.yaml in a fresh folder (plus any extra files) and loads it. */
export function load(yaml: string, env: Env = {}, files: Record<string, string> = {}): Config {
  const dir = tempDir();
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  return loadConfig(file, env);
}

/** The ConfigError that loading `yaml` throws. */
export function loadError(yaml: string, env: Env = {}, files: Record<string, string> = {}): ConfigError {
  try {
    load(yaml, env, files);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, the config loaded');
}

/** A minimal valid tenant, as YAML under `tenants:`; `extra` lines add keys or replace them. */
export function tenantYaml(extra = ''): string {
  const lines = extra.split('\n').filter((line) => line.trim() !== '');
  const given = new Set(lines.filter((line) => !line.startsWith(' ')).map((line) => line.split(':')[0]));
  const base: [string, string][] = [
    ['name', 'contoso'],
    ['tenantId', 'contoso.onmicrosoft.com'],
    ['clientId', '11111111-2222-3333-4444-555555555555'],
  ];
  // A certificate replaces the default secret: both would be an error of its own.
  if (!given.has('certificate')) base.push(['clientSecret', 's3cret']);
  const kept = base.filter(([key]) => !given.has(key)).map(([key, value]) => `${key}: ${value}`);
  return [
    'tenants:',
    ...[...kept, ...lines].map((line, index) => `${index === 0 ? '  - ' : '    '}${line}`),
  ].join('\n');
}

export const STDOUT = 'outputs:\n  - type: stdout\n';

/** One tenant (with `extra` keys) and a stdout output. */
export function minimal(extra = ''): string {
  return `${tenantYaml(extra)}\n${STDOUT}`;
}
