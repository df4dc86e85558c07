#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * The `exotrace` entry point. It installs the stop handlers first, then loads the program: loading
 * every command's modules takes a while (more on a busy machine), and a SIGTERM or ^C in that time
 * must stop the collector cleanly, not kill it half-started (stop-signal.ts).
 *
 * Why the flag in the first line: exotrace allocates many short-lived objects (a record, an event,
 * its JSON) and keeps few. V8's default young generation (16 MiB semi-spaces) then lets the
 * process grow to ~180 MiB while holding a few MiB; 4 MiB semi-spaces keep `parse` of any size
 * near 120 MiB at the same speed (`npm run bench`, part 2).
 */
import { checkNodeVersion, requiredNodeVersion } from './node-version.js';
import { installEarlyStop, pendingWorkAbandoned, restoreDefaultStop } from './stop-signal.js';

// EXIT_USAGE, without loading exit-codes.js before the handlers are in place (it is tiny anyway).
const EXIT_USAGE = 2;

// Before anything else: on an older Node the rest fails later, without saying why.
const required = requiredNodeVersion();
const tooOld = required === undefined ? undefined : checkNodeVersion(process.version, required);
if (tooOld !== undefined) {
  process.stderr.write(`${tooOld}\n`);
  process.exit(EXIT_USAGE);
}

installEarlyStop();

function fail(error: unknown): void {
  process.stderr.write(`exotrace: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = EXIT_USAGE;
}

try {
  const { main } = await import('./program.js');
  main(process.argv).then((code) => {
    process.exitCode = code;
    // A stop that no command took (it came during --help, say) ends the process as Node's would.
    restoreDefaultStop();
    // Stopped while it read a pipe nobody writes: that read would hold the process for ever.
    if (pendingWorkAbandoned()) process.stderr.write('', () => process.exit(code));
  }, fail);
} catch (error) {
  fail(error);
}
