/**
 * `exotrace deadletter list|retry --config FILE [--output NAME]`: the events an output refused for
 * good (a mapping error, an event too large), kept per output with the reason; `retry` puts them
 * back in the outbox for that output alone, and the next `run` delivers them.
 *
 * The collector holds the state database exclusively while it runs: stop it first (the command
 * says so when the database is busy).
 */
import type { Command } from 'commander';
import type { Config } from '../config/load.js';
import { StateStoreError, openStateStore, type StateStore } from '../state/index.js';
import { counted, plural } from '../util/plural.js';
import { EXIT_OK, EXIT_REJECTS, EXIT_STATE_IN_USE, EXIT_USAGE } from './exit-codes.js';
import { UsageError, wholeNumberOption } from './numeric-option.js';
import { loadConfigOrExplain } from './run.js';

interface Io {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** The outputs asked for: one by name (it must be configured), or every configured one. */
function outputsOf(config: Config, name: string | undefined, io: Io): string[] | undefined {
  const names = config.outputs.map((o) => o.name);
  if (name === undefined) return names;
  if (names.includes(name)) return [name];
  io.stderr.write(
    `exotrace deadletter: no output '${name}' in ${config.file} (outputs: ${names.join(', ')})\n`,
  );
  return undefined;
}

async function withStore(
  config: Config,
  io: Io,
  work: (store: StateStore) => Promise<number>,
): Promise<number> {
  let store: StateStore;
  try {
    store = openStateStore(config, { lockWaitMs: 1000 });
  } catch (error) {
    if (!StateStoreError.is(error)) throw error;
    if (error.stateCode === 'in_use') {
      io.stderr.write(
        `exotrace deadletter: ${error.message}: stop the collector first, then run this again\n`,
      );
      return EXIT_STATE_IN_USE;
    }
    // Not the collector's doing: what is wrong with the state (its place, its file), and where.
    io.stderr.write(`exotrace deadletter: cannot use the state in ${config.stateDir}: ${error.message}\n`);
    return EXIT_USAGE;
  }
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

export async function deadletterList(
  opts: { config: string; output?: string; limit: number },
  io: Io,
): Promise<number> {
  const config = loadConfigOrExplain(opts.config, io.stderr);
  if (config === undefined) return EXIT_USAGE;
  const outputs = outputsOf(config, opts.output, io);
  if (outputs === undefined) return EXIT_USAGE;
  return withStore(config, io, async (store) => {
    let count = 0;
    for (const output of outputs) {
      // An output that never delivered is not registered yet: it has no dead letters.
      if ((await store.sinkState(output)) === undefined) continue;
      for (const letter of await store.deadLetters(output, opts.limit)) {
        // One JSON line per dead letter: the event itself, parsed, so that jq can reach into it.
        io.stdout.write(
          `${JSON.stringify({
            output,
            seq: letter.seq,
            tenant: letter.tenant,
            eventId: letter.eventId,
            reason: letter.reason,
            at: new Date(letter.at).toISOString(),
            event: JSON.parse(letter.json) as unknown,
          })}\n`,
        );
        count++;
      }
    }
    io.stderr.write(`${counted(count, 'dead letter')}\n`);
    return EXIT_OK;
  });
}

export async function deadletterRetry(
  opts: { config: string; output: string; seq?: string[] },
  io: Io,
): Promise<number> {
  const config = loadConfigOrExplain(opts.config, io.stderr);
  if (config === undefined) return EXIT_USAGE;
  if (outputsOf(config, opts.output, io) === undefined) return EXIT_USAGE;
  let seqs: number[] | undefined;
  try {
    seqs = opts.seq?.map((value) => wholeNumberOption('--seq', value, 1, Number.MAX_SAFE_INTEGER));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(
      `exotrace deadletter retry: ${error.message}: --seq takes the numbers \`deadletter list\` shows\n`,
    );
    return EXIT_USAGE;
  }
  return withStore(config, io, async (store) => {
    const registered = (await store.sinkState(opts.output)) !== undefined;
    // Asked by number: those that are not dead letters of this output (a typo, retried already)
    // are named, and the command exits 1; the others are still re-queued.
    const held = seqs === undefined || !registered ? [] : await store.deadLetterSeqs(opts.output, seqs);
    const missing = seqs === undefined ? [] : [...new Set(seqs)].filter((n) => !held.includes(n));
    if (missing.length > 0) {
      io.stderr.write(
        `exotrace deadletter retry: output '${opts.output}' has no dead ${plural(missing.length, 'letter')} with --seq ${missing.join(' ')} (\`deadletter list --output ${opts.output}\` shows those it holds)\n`,
      );
    }
    const missingStatus = missing.length > 0 ? EXIT_REJECTS : EXIT_OK;
    if (!registered) {
      io.stderr.write(`0 dead letters re-queued: output '${opts.output}' has none\n`);
      return missingStatus;
    }
    const moved =
      seqs !== undefined && held.length === 0 ? 0 : await store.retryDeadLetters(opts.output, seqs);
    io.stderr.write(
      `${counted(moved, 'dead letter')} re-queued for output '${opts.output}'${moved === 0 ? '' : `: the next run delivers ${moved === 1 ? 'it' : 'them'}`}\n`,
    );
    return missingStatus;
  });
}

export function registerDeadletterCommand(
  program: Command,
  io: Io,
  setExitCode: (code: number) => void,
): void {
  const command = program
    .command('deadletter')
    .description('list the events an output refused for good, or put them back for it to retry');
  command
    .command('list')
    .description('one JSON line per dead letter on stdout (output, seq, reason, the event)')
    .requiredOption('--config <file>', 'the YAML configuration')
    .option('--output <name>', 'only this output (default: all)')
    .option('--limit <n>', 'at most this many per output', '1000')
    .action(async (opts: { config: string; output?: string; limit: string }) => {
      let limit: number;
      try {
        limit = wholeNumberOption('--limit', opts.limit, 1, Number.MAX_SAFE_INTEGER);
      } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        io.stderr.write(`exotrace deadletter list: ${error.message}\n`);
        setExitCode(EXIT_USAGE);
        return;
      }
      setExitCode(await deadletterList({ ...opts, limit }, io));
    });
  command
    .command('retry')
    .description("re-queue an output's dead letters (all, or those of --seq) for that output alone")
    .requiredOption('--config <file>', 'the YAML configuration')
    .requiredOption('--output <name>', 'the output whose dead letters to retry')
    .option('--seq <n...>', 'only these (as `deadletter list` shows them)')
    .action(async (opts: { config: string; output: string; seq?: string[] }) => {
      setExitCode(await deadletterRetry(opts, io));
    });
}
