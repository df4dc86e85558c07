/**
 * `exotrace config check --config FILE`: the configuration read and validated exactly as `run`
 * reads it (the same loader: ${VAR}, paths, certificates and keys parsed, CA files read), the
 * state folder checked as `run` would check it, and every warning `run` would give at start —
 * contacting nothing (no DNS, no connection) and creating nothing (no state folder or database).
 * Vector's `validate`, Filebeat's `test config`: for CI, or before a restart. Not checked, since
 * they need the state opened: whether another process holds it, and whether a file output's file
 * was written from this state (docs/configuration.md says so).
 */
import path from 'node:path';
import type { Config } from '../config/index.js';
import { configWarnings } from '../config/warnings.js';
import { newStateWarning } from '../observe/new-state.js';
import { StateStoreError, inspectState } from '../state/index.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { createCliLogger, loadConfigOrExplain } from './run.js';

export interface ConfigCheckIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream;
}

/** What `--json` prints: the summary, or `ok: false` with the errors `run` would print. */
interface CheckReport {
  readonly ok: boolean;
  readonly file: string;
  readonly tenants?: readonly { name: string; api: string; loginUrl: string; apiUrl: string }[];
  readonly outputs?: readonly { type: string; name: string }[];
  readonly stateDir?: string;
  /** False: the first run creates it. */
  readonly stateExists?: boolean;
  readonly warnings?: readonly string[];
  readonly errors?: readonly string[];
}

export function configCheckCommand(file: string, json: boolean, io: ConfigCheckIo): number {
  // The errors go to stderr as `run` prints them; with --json they are in the report too.
  const errors: string[] = [];
  const stderr = capturing(io.stderr, errors);
  const config = loadConfigOrExplain(file, stderr);
  if (config === undefined) return fail(file, errors, json, io);
  // `run` refuses a bad EXOTRACE_LOG_LEVEL before anything; the logger itself writes nothing here.
  if (createCliLogger(config, {}, stderr) === undefined) return fail(config.file, errors, json, io);
  let stateExists: boolean;
  try {
    stateExists = inspectState(config).exists;
  } catch (error) {
    if (!(error instanceof StateStoreError)) throw error;
    stderr.write(`exotrace: ${config.file}: stateDir: ${error.message}\n`);
    return fail(config.file, errors, json, io);
  }
  const warnings = startWarnings(config, stateExists);
  if (json) {
    writeJson(io, {
      ok: true,
      file: config.file,
      tenants: config.tenants.map((t) => ({
        name: t.name,
        api: t.api,
        loginUrl: t.loginUrl,
        apiUrl: t.apiUrl,
      })),
      outputs: config.outputs.map((o) => ({ type: o.type, name: o.name })),
      stateDir: config.stateDir,
      stateExists,
      warnings,
    });
    return EXIT_OK;
  }
  const tenants = config.tenants.map((t) => `${t.name} (${t.api})`).join(', ');
  const outputs = config.outputs.map((o) => `${o.name} (${o.type})`).join(', ');
  io.stdout.write(
    [
      `configuration ${config.file}: OK`,
      `  ${count(config.tenants.length, 'tenant')}: ${tenants}`,
      `  ${count(config.outputs.length, 'output')}: ${outputs}`,
      `  state: ${config.stateDir} (${stateExists ? 'exists' : 'created by the first run'})`,
      ...warnings.map((warning) => `warning: ${warning}`),
      '',
    ].join('\n'),
  );
  return EXIT_OK;
}

/** The warnings `run` gives at start for this configuration and this state. */
function startWarnings(config: Config, stateExists: boolean): string[] {
  const warnings = configWarnings(config);
  if (!stateExists) {
    const fresh = newStateWarning(config, 'to be created');
    if (fresh !== undefined) warnings.push(fresh);
  }
  return warnings;
}

/** Exit 2; with --json, the report of what was printed: one entry a line, without `exotrace: `. */
function fail(file: string, printed: readonly string[], json: boolean, io: ConfigCheckIo): number {
  if (json) {
    const errors = printed
      .join('')
      .split('\n')
      .map((line) => line.replace(/^exotrace: /, '').trim())
      .filter((line) => line !== '');
    writeJson(io, { ok: false, file: path.resolve(file), errors });
  }
  return EXIT_USAGE;
}

function writeJson(io: ConfigCheckIo, report: CheckReport): void {
  io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

/** `1 tenant`, `2 tenants`. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** A stderr that also keeps what is written to it (run's messages, for the JSON report). */
function capturing(stream: NodeJS.WriteStream, into: string[]): NodeJS.WriteStream {
  return new Proxy(stream, {
    get(target, property, receiver) {
      if (property === 'write') {
        return (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
          into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
          return (target.write as (...args: unknown[]) => boolean).call(target, chunk, ...rest);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
