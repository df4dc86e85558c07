/**
 * `exotrace doctor --config FILE`: preflight per tenant — the configuration, a token, the
 * permission and service principal, one small query — then per output (doctor-outputs.ts:
 * reachable, TLS trusted, credentials accepted, where it writes there), each failure with the
 * config key and the fix it needs. Exit 0 all good; 3 a tenant failed; 6 only outputs failed.
 * Doctor diagnoses: a transport failure (refused, DNS, TLS) is reported at once with the host
 * and setting at fault, never retried until a deadline; an HTTP failure is tried three times and
 * reported with its status and how many times it came.
 */
import type { Command } from 'commander';
import type { TenantConfig } from '../config/index.js';
import { configWarnings } from '../config/warnings.js';
import { describeError } from '../pipeline/run.js';
import { createSource } from '../sources/create.js';
import { ExotraceError } from '../core/errors.js';
import { defaultStrategies } from '../http/retry.js';
import { answersOnly } from '../http/retry-strategies.js';
import { counted } from '../util/plural.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { checkOutputs } from './doctor-outputs.js';
import { EXIT_OUTPUT_BEHIND, EXIT_TENANT_FAILED, loadConfigOrExplain } from './run.js';

/** HTTP failures are tried this many times more: enough to tell a blip from a failing service. */
const DOCTOR_RETRIES = 2;

type Role = 'login host' | 'API host';

interface Answer {
  readonly role: Role;
  /** Undefined when no answer came. */
  readonly status: number | undefined;
}

export async function doctorCommand(file: string): Promise<number> {
  const config = loadConfigOrExplain(file, process.stderr);
  if (config === undefined) return EXIT_USAGE;
  process.stdout.write(
    `configuration ${config.file}: OK (${counted(config.tenants.length, 'tenant')}, ${counted(config.outputs.length, 'output')})\n`,
  );
  for (const warning of configWarnings(config)) process.stdout.write(`configuration: WARNING — ${warning}\n`);
  let failed = false;
  for (const tenant of config.tenants) {
    const limitMs = Math.max(30_000, config.http.timeoutMs);
    const answers: Answer[] = [];
    const source = createSource(tenant, config, {
      onLoginAnswer: (status) => answers.push({ role: 'login host', status }),
      onAttempt: (report) => answers.push({ role: 'API host', status: report.status }),
      retry: {
        strategies: defaultStrategies().map(answersOnly),
        maxRetries: DOCTOR_RETRIES,
        maxElapsedMs: limitMs,
      },
    });
    const signal = AbortSignal.timeout(limitMs);
    try {
      // One small query exercises everything: token, permission, service principal, network, CA.
      await source.probe(signal);
      process.stdout.write(
        `tenant ${tenant.name} (${tenant.api}, ${tenant.apiUrl}): OK — token, permission and a query\n`,
      );
    } catch (error) {
      failed = true;
      const { code, message, fix } = diagnosis(error, signal, tenant, answers, limitMs);
      process.stdout.write(`tenant ${tenant.name} (${tenant.api}): FAILED (${code}) — ${message}\n`);
      if (fix !== undefined) process.stdout.write(`  fix: ${fix}\n`);
    } finally {
      await source.close();
    }
  }
  // The outputs after the tenants: a tenant's failure keeps its own status (3), an output's alone
  // is 6, the status `run --once` exits with when an output did not take everything.
  let outputFailed = false;
  for (const check of await checkOutputs(config)) {
    outputFailed ||= !check.ok;
    process.stdout.write(`output ${check.line}\n`);
    if (check.fix !== undefined) process.stdout.write(`  fix: ${check.fix}\n`);
  }
  if (failed) return EXIT_TENANT_FAILED;
  return outputFailed ? EXIT_OUTPUT_BEHIND : EXIT_OK;
}

interface Diagnosis {
  readonly code: string;
  readonly message: string;
  readonly fix: string | undefined;
}

/** What the probe's failure says: a failing service is told apart from a bad configuration. */
/**
 * A request abandoned at http.timeout: `run` sends it again (its fix says so), doctor does not, so
 * it names the host that did not answer and what holds such a connection.
 */
function timeoutFix(message: string, tenant: TenantConfig): string {
  const url = /https?:\/\/[^\s]+/.exec(message)?.[0];
  const token = url !== undefined && /\/oauth2\/|\/\.well-known\//i.test(url);
  const role = token ? 'login host' : 'API host';
  const host = new URL(token ? tenant.loginUrl : tenant.apiUrl).host;
  const key = token ? 'loginUrl' : 'apiUrl';
  return (
    `the ${role} ${host} (${key}) took the connection but did not answer in time: check that a proxy or ` +
    `firewall does not hold connections to it and that the service is up (doctor does not send the ` +
    `request again); if it is only slow, raise http.timeout`
  );
}

function diagnosis(
  error: unknown,
  signal: AbortSignal,
  tenant: TenantConfig,
  answers: readonly Answer[],
  limitMs: number,
): Diagnosis {
  if (signal.aborted && error === signal.reason) {
    return {
      code: 'request_timeout',
      message: `no answer within ${Math.round(limitMs / 1000)} s (the larger of 30 s and http.timeout)`,
      fix: 'check that a proxy or firewall does not hold the connection to the login or API host, or raise http.timeout',
    };
  }
  const described = describeError(error);
  const code = typeof described['code'] === 'string' ? described['code'] : 'error';
  const message = String(described['message']);
  const fix = typeof described['fix'] === 'string' ? described['fix'] : undefined;
  if (code === 'request_timeout') return { code, message, fix: timeoutFix(message, tenant) };
  const status = ExotraceError.is(error) ? error.status : undefined;
  const last = answers.at(-1);
  if (
    status === undefined ||
    last?.status !== status ||
    !(status >= 500 || status === 429 || status === 408)
  ) {
    return { code, message, fix };
  }
  // The same answer every time: the service (or a proxy in front of it) is failing, not the config.
  let times = 0;
  for (
    let i = answers.length - 1;
    i >= 0 && answers[i]?.role === last.role && answers[i]?.status === status;
    i--
  ) {
    times++;
  }
  const host = new URL(last.role === 'login host' ? tenant.loginUrl : tenant.apiUrl).host;
  return {
    code,
    message: `the ${last.role} ${host} answered HTTP ${status} ${times === 1 ? 'once' : `${times} times in a row`}: ${message}`,
    fix:
      status === 429
        ? fix
        : 'the service is failing, not the configuration: check Microsoft 365 service health (admin center) ' +
          'and any proxy in between, then run doctor again; run retries such answers by itself',
  };
}

export function registerDoctorCommand(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('doctor')
    .description(
      'check each tenant (configuration, token, permission, service principal, one small query) and each ' +
        'output (reachable, TLS trusted, credentials accepted, index/topic/folder there; nothing is written). ' +
        'Exit 0 all good, 2 bad configuration, 3 a tenant failed, 6 an output failed (and no tenant)',
    )
    .requiredOption('--config <file>', 'the YAML configuration')
    .action(async (opts: { config: string }) => {
      setExitCode(await doctorCommand(opts.config));
    });
}
