/**
 * `exotrace parse [FILE…]`: records to ECS NDJSON on stdout, rejects as JSON lines on stderr (or
 * `--rejects FILE`). Exit 0 when every record was normalized, 1 when some were rejected (the good
 * ones are still written), 2 for usage or I/O errors.
 */
import { createReadStream, createWriteStream, openSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { createNormalizer, type NormalizeReject } from '../normalize/normalizer.js';
import { readRecordBatches, type InputRecord } from '../normalize/reader.js';
import { PROFILES, type Profile } from '../normalize/ecs.js';
import { EXIT_OK, EXIT_REJECTS, EXIT_USAGE } from './exit-codes.js';

export interface ParseOptions {
  readonly profile: Profile;
  readonly organization?: string;
  readonly acceptedDomains: readonly string[];
  /** Where rejects go instead of stderr. */
  readonly rejectsPath?: string;
}

export interface ParseStreams {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

export interface ParseSummary {
  readonly exitCode: number;
  readonly events: number;
  readonly rejects: number;
}

// Output is written in chunks of about this size: one write per event would dominate the cost.
const WRITE_CHUNK_CHARS = 256 * 1024;

/** The work of `parse`, callable without the CLI: files ('-' is stdin) in order, to `stdout`. */
export async function runParse(
  files: readonly string[],
  options: ParseOptions,
  io: ParseStreams,
): Promise<ParseSummary> {
  const normalizer = createNormalizer({
    profile: options.profile,
    acceptedDomains: options.acceptedDomains,
    ...(options.organization === undefined ? {} : { organization: options.organization }),
  });
  let rejectStream: Writable = io.stderr;
  if (options.rejectsPath !== undefined) {
    // Open it now: a rejects file that cannot be written is a usage error before any input is read.
    // Owner-only: rejects carry message data (addresses, subjects).
    try {
      rejectStream = createWriteStream('', { fd: openSync(options.rejectsPath, 'w', 0o600) });
    } catch (error) {
      io.stderr.write(
        `exotrace parse: cannot write --rejects ${options.rejectsPath}: ${describeIoError(error)}\n`,
      );
      return { exitCode: EXIT_USAGE, events: 0, rejects: 0 };
    }
  }
  const out = createLineWriter(io.stdout);
  const rejectsOut = createLineWriter(rejectStream);
  let events = 0;
  let rejects = 0;
  let ioFailed = false;

  const inputs = files.length === 0 ? ['-'] : files;
  for (const file of inputs) {
    const fromStdin = file === '-';
    const stream = fromStdin ? io.stdin : createReadStream(file, { highWaterMark: 1024 * 1024 });
    try {
      for await (const batch of readRecordBatches(stream)) {
        for (const record of batch) {
          const result =
            record.problem === undefined
              ? normalizer.normalizeText(record.text, record.verbatim)
              : { events: [], rejects: [{ reason: record.problem, input: record.text }] };
          for (const event of result.events) {
            if (out.add(JSON.stringify(event))) await out.flush();
          }
          events += result.events.length;
          for (const reject of result.rejects) {
            if (rejectsOut.add(renderReject(fromStdin ? undefined : file, record, reject)))
              await rejectsOut.flush();
          }
          rejects += result.rejects.length;
        }
        if (out.closed) break;
      }
    } catch (error) {
      ioFailed = true;
      await out.flush();
      io.stderr.write(
        `exotrace parse: cannot read ${fromStdin ? 'standard input' : file}: ${describeIoError(error)}\n`,
      );
    }
    if (out.closed) break; // the reader went away (`parse … | head`): nothing more to do
  }
  await out.flush();
  await rejectsOut.flush();
  if (rejectStream !== io.stderr) {
    rejectStream.end();
    await finished(rejectStream).catch(() => undefined); // a failure is reported just below
  }
  for (const [what, writer] of [
    ['output', out],
    ['rejects', rejectsOut],
  ] as const) {
    if (writer.failure !== undefined) {
      ioFailed = true;
      io.stderr.write(`exotrace parse: cannot write ${what}: ${describeIoError(writer.failure)}\n`);
    }
  }
  const exitCode = ioFailed ? EXIT_USAGE : rejects > 0 ? EXIT_REJECTS : EXIT_OK;
  return { exitCode, events, rejects };
}

/** One reject as a JSON line: where it was, why, and the input itself. */
export function renderReject(file: string | undefined, record: InputRecord, reject: NormalizeReject): string {
  return JSON.stringify({
    ...(file === undefined ? {} : { file }),
    line: record.line,
    ...(record.index === undefined ? {} : { index: record.index }),
    ...(reject.row === undefined ? {} : { row: reject.row }),
    reason: reject.reason,
    input: reject.input,
  });
}

function describeIoError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file or directory';
    if (code === 'EISDIR') return 'is a directory';
    if (code === 'EACCES') return 'permission denied';
    if (code === 'ENOTDIR') return 'a part of the path is not a directory';
    return error.message;
  }
  return String(error);
}

interface LineWriter {
  /** Queues one line (without its newline); true when enough is queued that `flush` is due. */
  add(line: string): boolean;
  /** Writes what is queued, waiting when the destination asks to (backpressure). */
  flush(): Promise<void>;
  /** The destination is gone: its reader closed it (EPIPE) or it failed (see `failure`). */
  readonly closed: boolean;
  /** A write error other than the reader going away. */
  readonly failure: Error | undefined;
}

/**
 * Lines are queued and written in large chunks: a write, or even an `await`, per event would cost
 * more than normalizing it.
 */
function createLineWriter(stream: Writable): LineWriter {
  let lines: string[] = [];
  let queuedChars = 0;
  let closed = false;
  let failure: Error | undefined;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    closed = true;
    // EPIPE is `parse … | head`: the reader has what it wanted, which is no failure of ours.
    if (error.code !== 'EPIPE') failure = error;
  });
  return {
    add(line) {
      lines.push(line);
      queuedChars += line.length + 1;
      return queuedChars >= WRITE_CHUNK_CHARS;
    },
    async flush() {
      if (lines.length === 0 || closed) return;
      const text = lines.join('\n') + '\n';
      lines = [];
      queuedChars = 0;
      if (stream.write(text)) return;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          stream.off('drain', done).off('close', done).off('error', done);
          resolve();
        };
        stream.once('drain', done).once('close', done).once('error', done);
      });
    },
    get closed() {
      return closed;
    },
    get failure() {
      return failure;
    },
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerParseCommand(
  program: Command,
  io: ParseStreams,
  setExitCode: (code: number) => void,
): void {
  program
    .command('parse')
    .description(
      'normalize message trace records (any API, envelope, page or PowerShell array) to ECS NDJSON on stdout',
    )
    .argument('[files...]', "input files; none or '-' reads standard input")
    .option('--profile <profile>', `output profile: ${PROFILES.join(' | ')}`, 'full')
    .option('--organization <name>', 'organization.name for rows that carry none (Graph, PowerShell)')
    .option(
      '--accepted-domain <domain>',
      'an accepted domain of the tenant, for email.direction (repeatable)',
      collect,
      [],
    )
    .option('--rejects <file>', 'write rejects to this file instead of stderr')
    .addHelpText(
      'after',
      `
Examples:
  exotrace parse examples/mixed.ndjson
  exotrace parse --profile seed < rows.ndjson
  Get-MessageTraceV2 | ConvertTo-Json > trace.json; exotrace parse --organization contoso.onmicrosoft.com trace.json
  exotrace parse --accepted-domain contoso.com --rejects rejects.ndjson page.json

Exit status: 0 all records normalized, 1 some rejected (the others are written), 2 usage or I/O error.`,
    )
    .action(
      async (
        files: string[],
        opts: { profile: string; organization?: string; acceptedDomain: string[]; rejects?: string },
      ) => {
        if (!(PROFILES as readonly string[]).includes(opts.profile)) {
          program.error(
            `error: option '--profile' must be one of: ${PROFILES.join(', ')} (got '${opts.profile}')`,
            {
              exitCode: EXIT_USAGE,
            },
          );
        }
        const summary = await runParse(
          files,
          {
            profile: opts.profile as Profile,
            acceptedDomains: opts.acceptedDomain,
            ...(opts.organization === undefined ? {} : { organization: opts.organization }),
            ...(opts.rejects === undefined ? {} : { rejectsPath: opts.rejects }),
          },
          io,
        );
        setExitCode(summary.exitCode);
      },
    );
}
