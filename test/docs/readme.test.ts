/**
 * Every command the README shows runs, as written, and ends as the README says: each ```sh block
 * is cut into its commands, which run in bash in a folder of their own against a real setup (an
 * emulator, an Elasticsearch emulator for the output named `es`, `exotrace.yaml` pointing at them,
 * `examples/` linked in), with `npx exotrace` replaced by the built binary. A command exits 0
 * unless its line says `# exit status N`. A command added to the README is run by default; the
 * few that cannot run here are in SKIPS, with the reason, and the ones that run until stopped in
 * LONG_RUNNING. Also: every relative link of README.md and docs/*.md, and every `examples/…` path
 * they or a `--help` text mention, exists.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectorConfigYaml } from '../../src/emulator/collector-config.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { startEsEmulator, type EsEmulator } from '../sinks/es-emulator.js';
import { CLI, runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import { freePort, until } from '../helpers/wait.js';

const README = path.join(REPO_ROOT, 'README.md');

/** Commands that cannot run here: matched on the README's text, each with the reason. */
const SKIPS: readonly { readonly match: RegExp; readonly reason: string }[] = [
  {
    match: /^npm ci\b/,
    reason: 'reinstalls node_modules; the test runs in an installed checkout (`exotrace demo` runs below)',
  },
  { match: /^npm test$/, reason: 'the suite this test is part of' },
  { match: /^curl -s "\$URL"/, reason: '$URL and $TOKEN stand for a request to the real Microsoft Graph' },
];

/**
 * Commands that run until stopped: started, waited for until `ready` shows on their output, then
 * stopped with SIGTERM at once (expecting `status`) or, for a server later commands use, at the end.
 */
const LONG_RUNNING: readonly {
  readonly match: RegExp;
  readonly ready: RegExp;
  readonly stop: 'when-ready' | 'at-end';
  readonly status?: number;
}[] = [
  // The daemon: stopped once it has collected (SIGTERM is a clean stop, exit 0).
  {
    match: /^npx exotrace run --config \S+(?!.*--once)/,
    ready: /"msg":"tenant collected"/,
    stop: 'when-ready',
    status: 0,
  },
  // The emulator of "Testing against the emulator": the recipe after it talks to it.
  { match: /^npx exotrace emulator\b/, ready: /Ctrl-C stops it\./, stop: 'at-end' },
];

interface ShellCommand {
  /** 1-based line in README.md where the command starts. */
  readonly line: number;
  /** As written (continuation lines joined with their newlines). */
  readonly text: string;
}

/** The ```sh blocks of a Markdown text, each as its commands (comments and blank lines left out). */
export function shellBlocks(markdown: string): ShellCommand[][] {
  const blocks: ShellCommand[][] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '```sh') continue;
    const block: ShellCommand[] = [];
    for (i++; i < lines.length && lines[i]?.trim() !== '```'; i++) {
      const first = lines[i] ?? '';
      if (first.trim() === '' || first.trimStart().startsWith('#')) continue;
      const line = i + 1;
      let text = first;
      while (text.endsWith('\\') && i + 1 < lines.length) text += `\n${lines[++i] ?? ''}`;
      block.push({ line, text });
    }
    blocks.push(block);
  }
  return blocks;
}

/** The status a command's line promises (`# exit status N`), else 0. */
const expectedStatus = (text: string): number => Number(/#\s*exit status (\d+)\s*$/m.exec(text)?.[1] ?? 0);

const where = (c: ShellCommand): string => `README.md:${String(c.line)}: ${c.text.split('\n')[0] ?? ''}`;

let emulator: Emulator;
let es: EsEmulator;
let cwd: string;
let port: number;
const servers: ChildProcess[] = [];

/** The command as it runs here: the built binary for `npx exotrace`, optional `[…]` left out, our port. */
function runnable(text: string): string {
  return text
    .replace(/\bnpx exotrace\b/g, `'${process.execPath}' '${CLI}'`)
    .replace(/ \[--[^\]]*\]/g, '') // the usage notation's optional parts: run without them
    .replace(/\b8443\b/g, String(port)); // the README's port may be taken on a shared machine
}

interface Outcome {
  readonly status: number | null;
  readonly output: string;
}

/** Runs commands one after another in one bash (so that variables carry), each one's status and output kept. */
async function runSegment(
  commands: readonly ShellCommand[],
  id: string,
): Promise<Map<ShellCommand, Outcome>> {
  const dir = path.join(cwd, '.readme-test', id);
  mkdirSync(dir, { recursive: true });
  const script = commands
    .map((c, n) => {
      const out = path.join(dir, String(n));
      return `{ ${runnable(c.text)}\n} >'${out}.out' 2>'${out}.err' </dev/null; echo "${String(n)} $?" >>'${dir}/status'`;
    })
    .join('\n');
  writeFileSync(path.join(dir, 'script.sh'), script);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', ['--noprofile', '--norc', path.join(dir, 'script.sh')], {
      cwd,
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('close', () => {
      resolve();
    });
  });
  const statuses = new Map(
    (existsSync(path.join(dir, 'status')) ? readFileSync(path.join(dir, 'status'), 'utf8') : '')
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split(' ').map(Number) as [number, number]),
  );
  const read = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  return new Map(
    commands.map((c, n) => [
      c,
      {
        status: statuses.get(n) ?? null,
        output: (read(path.join(dir, `${String(n)}.out`)) + read(path.join(dir, `${String(n)}.err`))).slice(
          -2000,
        ),
      },
    ]),
  );
}

/** Starts a command that runs until stopped; resolves once `ready` shows, with a stop that gives its status. */
async function startLongRunning(
  command: ShellCommand,
  ready: RegExp,
): Promise<{ output: () => string; stop: () => Promise<number | null> }> {
  // Its own process group: a pipeline (`… | tee`) is stopped whole.
  const child = spawn('bash', ['--noprofile', '--norc', '-c', `exec ${runnable(command.text)}`], {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push(child);
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  await until(() => ready.test(output) || child.exitCode !== null, 120_000).catch(() => undefined);
  if (!ready.test(output))
    throw new Error(`${where(command)}: never printed ${String(ready)}:\n${output.slice(-2000)}`);
  return {
    output: () => output,
    stop: async () => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
      return exited;
    },
  };
}

beforeAll(async () => {
  emulator = await startEmulator({ tenants: 1, messagesPerDay: 300, seed: 12 });
  es = await startEsEmulator();
  port = await freePort();
  cwd = mkdtempSync(path.join(tmpdir(), 'exotrace-readme-'));
  symlinkSync(path.join(REPO_ROOT, 'examples'), path.join(cwd, 'examples'));
  const yaml = collectorConfigYaml(emulator, { settings: { minAge: '5m' } });
  // Owner-only, as the collector asks of a file holding a secret.
  const config = `${yaml}  - type: elasticsearch\n    name: es\n    url: ${es.url}\n`;
  writeFileSync(path.join(cwd, 'exotrace.yaml'), config, { mode: 0o600 });
}, 60_000);

afterAll(async () => {
  for (const child of servers) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  await es.close();
  await emulator.close();
  rmSync(cwd, { recursive: true, force: true });
});

describe('the README', () => {
  it('every shell command runs here as written and ends with the status the README gives', async () => {
    const blocks = shellBlocks(readFileSync(README, 'utf8'));
    expect(blocks.length).toBeGreaterThan(3);
    const failures: string[] = [];
    const usedSkips = new Set<RegExp>();
    const atEnd: { command: ShellCommand; stop: () => Promise<number | null> }[] = [];
    let segments = 0;
    for (const block of blocks) {
      let pending: ShellCommand[] = [];
      const flush = async (): Promise<void> => {
        if (pending.length === 0) return;
        const outcomes = await runSegment(pending, String(segments++));
        for (const [command, outcome] of outcomes) {
          const expected = expectedStatus(command.text);
          if (outcome.status !== expected) {
            failures.push(
              `${where(command)}\n  exited ${String(outcome.status)}, the README says ${String(expected)}:\n${outcome.output}`,
            );
          }
        }
        pending = [];
      };
      for (const command of block) {
        const skip = SKIPS.find((s) => s.match.test(command.text));
        if (skip !== undefined) {
          usedSkips.add(skip.match);
          continue;
        }
        const long = LONG_RUNNING.find((l) => l.match.test(command.text));
        if (long === undefined) {
          pending.push(command);
          continue;
        }
        await flush();
        try {
          const running = await startLongRunning(command, long.ready);
          if (long.stop === 'at-end') atEnd.push({ command, stop: running.stop });
          else {
            const status = await running.stop();
            if (status !== long.status) {
              failures.push(
                `${where(command)}\n  stopped with SIGTERM, exited ${String(status)}, expected ${String(long.status)}:\n${running.output().slice(-2000)}`,
              );
            }
          }
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error));
        }
      }
      await flush();
    }
    for (const server of atEnd) await server.stop();
    // A skip that matches nothing any more is a stale entry: remove it.
    expect(
      SKIPS.filter((s) => !usedSkips.has(s.match)).map((s) => String(s.match)),
      'SKIPS entries that match no README command',
    ).toEqual([]);
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, 600_000);

  it('the block reader keeps continuation lines together, drops comments, reads "# exit status N"', () => {
    const blocks = shellBlocks(
      [
        'text',
        '```sh',
        '# a comment',
        'a --x \\',
        '  --y',
        '',
        'b 2> f   # exit status 1',
        '```',
        '```yaml',
        'c',
        '```',
      ].join('\n'),
    );
    expect(blocks).toEqual([
      [
        { line: 4, text: 'a --x \\\n  --y' },
        { line: 7, text: 'b 2> f   # exit status 1' },
      ],
    ]);
    expect(blocks[0]?.map((c) => expectedStatus(c.text))).toEqual([0, 1]);
  });
});

describe('paths the docs name', () => {
  const docs = [
    README,
    ...readdirSync(path.join(REPO_ROOT, 'docs')).map((f) => path.join(REPO_ROOT, 'docs', f)),
  ].filter((f) => f.endsWith('.md'));

  it('every relative link of README.md and docs/*.md points at a file that exists', () => {
    const missing: string[] = [];
    for (const file of docs) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1] ?? '';
        if (/^[a-z]+:/i.test(target) || target.startsWith('#')) continue;
        const resolved = path.resolve(path.dirname(file), target.split('#')[0] ?? '');
        if (!existsSync(resolved)) missing.push(`${path.relative(REPO_ROOT, file)}: ${target}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every examples/… path in README.md, docs/*.md and the --help texts exists', async () => {
    const help = async (args: readonly string[]): Promise<string> =>
      (await runCli([...args, '--help'])).stdout;
    const texts: [string, string][] = docs.map((f) => [path.relative(REPO_ROOT, f), readFileSync(f, 'utf8')]);
    const top = await help([]);
    texts.push(['exotrace --help', top]);
    // Every command's help, and its subcommands' (deadletter list, setup elasticsearch, …).
    const commandsOf = (text: string): string[] =>
      [...(text.split('Commands:')[1] ?? '').matchAll(/^ {2}([a-z][\w-]*)/gm)]
        .map((m) => m[1] ?? '')
        .filter((c) => c !== 'help');
    const helpOf = async (args: readonly string[]): Promise<[string, string]> => [
      `exotrace ${args.join(' ')} --help`,
      await help(args),
    ];
    const commands = await Promise.all(commandsOf(top).map((c) => helpOf([c])));
    const subcommands = await Promise.all(
      commandsOf(top).flatMap((c, i) => commandsOf(commands[i]?.[1] ?? '').map((sub) => helpOf([c, sub]))),
    );
    texts.push(...commands, ...subcommands);
    expect(texts.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const [name, text] of texts) {
      for (const match of text.matchAll(/\bexamples\/[\w./-]*[\w]/g)) {
        if (!existsSync(path.join(REPO_ROOT, match[0]))) missing.push(`${name}: ${match[0]}`);
      }
    }
    expect(missing).toEqual([]);
  }, 120_000);
});
