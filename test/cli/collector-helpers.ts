/**
 * Helpers for the collector CLI tests: a config written against an in-process emulator, the built
 * binary spawned asynchronously (the emulator answers from this process, so never spawnSync), and
 * the emulator's control API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'undici';
import { collectorConfigYaml } from '../../src/emulator/collector-config.js';
import type { Emulator } from '../../src/emulator/server.js';
import { CLI, type CliResult } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

export interface TenantOverrides {
  /** Replaces the tenant's real client secret (a literal, or `${VAR}`). */
  readonly clientSecret?: string;
  readonly loginUrl?: string;
  readonly apiUrl?: string;
  readonly startFrom?: string;
  /** Extra lines, already indented for the tenant's mapping. */
  readonly extra?: readonly string[];
}

/** Writes `DIR/exotrace.yaml` for the named emulator tenants; returns its path. */
export function writeConfig(
  emulator: Emulator,
  dir: string,
  tenants: readonly string[],
  overrides: Readonly<Record<string, TenantOverrides>> = {},
): string {
  const tenantSettings: Record<string, Record<string, string>> = {};
  for (const name of tenants) {
    const o = overrides[name] ?? {};
    const settings: Record<string, string> = { minAge: '5m', reconcileLookback: '24h' };
    if (o.clientSecret !== undefined) settings.clientSecret = o.clientSecret;
    if (o.loginUrl !== undefined) settings.loginUrl = o.loginUrl;
    if (o.apiUrl !== undefined) settings.apiUrl = o.apiUrl;
    if (o.startFrom !== undefined) settings.startFrom = o.startFrom;
    for (const line of o.extra ?? []) {
      const match = /^\s*([A-Za-z][A-Za-z0-9]*):\s*(.*)$/.exec(line);
      if (match?.[1] !== undefined) settings[match[1]] = match[2] ?? '';
    }
    tenantSettings[name] = settings;
  }
  const yaml = collectorConfigYaml(emulator, { tenants, tenantSettings });
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'exotrace.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** Every client secret the emulator knows: none may ever be printed. */
export function allSecrets(emulator: Emulator): string[] {
  return emulator
    .tenants()
    .flatMap((t) => t.apps.flatMap((a) => a.secrets.map((s) => s.value)))
    .filter((s) => s.length > 0);
}

export interface EventLine {
  '@timestamp': string;
  event: { id: string; action: string };
  organization?: { name: string };
}

/** The file output's events; throws on a partial or malformed line. */
export function readEvents(file: string): EventLine[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  if (text.length > 0 && !text.endsWith('\n')) throw new Error(`${file} ends with a partial line`);
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as EventLine);
}

export interface Spawned {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult & { signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** The built CLI, spawned without blocking this process (which serves the emulator). */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Spawned {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it)`);
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done, stderr: () => stderr };
}

export function runCli(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  return spawnCli(args, env).done;
}

/** PATCH /_emulator/tenants/{name}. */
export async function patchTenant(emulator: Emulator, name: string, body: object): Promise<void> {
  const agent = new Agent({ connect: { ca: emulator.caCertPem } });
  try {
    const res = await request(`${emulator.url}/_emulator/tenants/${name}`, {
      method: 'PATCH',
      body: JSON.stringify(body),
      dispatcher: agent,
    });
    await res.body.text();
    if (res.statusCode >= 300) throw new Error(`PATCH ${name}: ${res.statusCode}`);
  } finally {
    await agent.close();
  }
}

export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
