/**
 * `exotrace doctor --config FILE`: preflight per tenant — the configuration, a token, the
 * permission and service principal, one small query — each failure with the fix it needs.
 */
import type { Command } from 'commander';
import { configExposure } from '../config/exposure.js';
import { describeError } from '../pipeline/run.js';
import { createSource } from '../sources/create.js';
import { counted } from '../util/plural.js';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { EXIT_TENANT_FAILED, loadConfigOrExplain } from './run.js';

export async function doctorCommand(file: string): Promise<number> {
  const config = loadConfigOrExplain(file, process.stderr);
  if (config === undefined) return EXIT_USAGE;
  process.stdout.write(
    `configuration ${config.file}: OK (${counted(config.tenants.length, 'tenant')}, ${counted(config.outputs.length, 'output')})\n`,
  );
  const exposed = configExposure(config);
  if (exposed !== undefined) process.stdout.write(`configuration: WARNING — ${exposed}\n`);
  let failed = false;
  for (const tenant of config.tenants) {
    const source = createSource(tenant, config);
    const signal = AbortSignal.timeout(Math.max(30_000, config.http.timeoutMs));
    try {
      // One small query exercises everything: token, permission, service principal, network, CA.
      await source.probe(signal);
      process.stdout.write(
        `tenant ${tenant.name} (${tenant.api}, ${tenant.apiUrl}): OK — token, permission and a query\n`,
      );
    } catch (error) {
      failed = true;
      const described = describeError(error);
      process.stdout.write(`tenant ${tenant.name} (${tenant.api}): FAILED — ${String(described.message)}\n`);
      if (typeof described.fix === 'string') process.stdout.write(`  fix: ${described.fix}\n`);
    } finally {
      await source.close();
    }
  }
  return failed ? EXIT_TENANT_FAILED : EXIT_OK;
}

export function registerDoctorCommand(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('doctor')
    .description('check each tenant: configuration, token, permission, service principal, one small query')
    .requiredOption('--config <file>', 'the YAML configuration')
    .action(async (opts: { config: string }) => {
      setExitCode(await doctorCommand(opts.config));
    });
}
