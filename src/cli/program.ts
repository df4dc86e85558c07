/**
 * The `exotrace` program: one file per subcommand in this folder; this one only wires them. The
 * entry point (`main.ts`) loads it once the stop handlers are installed.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerBackfillCommand } from './backfill.js';
import { registerConfigCommand } from './config.js';
import { registerDeadletterCommand } from './deadletter.js';
import { registerDemoCommand } from './demo.js';
import { registerDoctorCommand } from './doctor.js';
import { registerEmulatorCommand } from './emulator.js';
import { registerParseCommand } from './parse.js';
import { registerRunCommand } from './run.js';
import { registerSetupCommand } from './setup.js';
import { registerStatusCommand } from './status.js';
import { StateStoreError } from '../state/index.js';
import { EXIT_OK, EXIT_STATE_IN_USE, EXIT_STATE_UNUSABLE, EXIT_USAGE } from './exit-codes.js';
import { restoreDefaultStop } from './stop-signal.js';

/**
 * The commands that stop cleanly on SIGINT/SIGTERM (they take the stop, see stop-signal.ts); every
 * other command gets Node's default back before it starts, so ^C ends it at once as usual.
 */
const STOPS_CLEANLY: ReadonlySet<string> = new Set(['run', 'backfill', 'emulator']);

function packageVersion(): string {
  // dist/cli/main.js and src/cli/main.ts are both two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export async function main(argv: readonly string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const program = new Command('exotrace')
    .description('Microsoft 365 message trace, collected without losing a row, normalized to ECS')
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .hook('preAction', (_program, command) => {
      if (!STOPS_CLEANLY.has(command.name())) restoreDefaultStop();
    });
  const setExitCode = (code: number): void => {
    exitCode = code;
  };
  registerParseCommand(
    program,
    { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
    setExitCode,
  );
  registerEmulatorCommand(program, setExitCode);
  registerRunCommand(program, setExitCode);
  registerBackfillCommand(program, setExitCode);
  registerDoctorCommand(program, setExitCode);
  registerDemoCommand(program, setExitCode);
  registerDeadletterCommand(program, { stdout: process.stdout, stderr: process.stderr }, setExitCode);
  registerSetupCommand(program, { stdout: process.stdout, stderr: process.stderr }, setExitCode);
  registerConfigCommand(program, { stdout: process.stdout, stderr: process.stderr }, setExitCode);
  registerStatusCommand(program, { stdout: process.stdout, stderr: process.stderr }, setExitCode);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; help shown because something was missing is a usage error.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    // Whichever command met it (run, backfill…): another process holds the state, its own status.
    if (StateStoreError.is(error, 'in_use')) {
      process.stderr.write(
        `exotrace: ${error.message}: stop it first (one process holds a state directory at a time), or give this one another stateDir\n`,
      );
      return EXIT_STATE_IN_USE;
    }
    // A full disk under stateDir is no usage error either (the message names the file and the fix).
    if (StateStoreError.is(error, 'full')) {
      process.stderr.write(`exotrace: ${error.message}\n`);
      return EXIT_STATE_UNUSABLE;
    }
    throw error;
  }
  return exitCode;
}
