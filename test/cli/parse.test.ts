/**
 * `exotrace parse` as a user runs it: the built binary, real files and pipes, exit statuses.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { MessageTraceEvent } from '../../src/normalize/index.js';
import { CLI, jsonLines, runCli } from '../helpers/cli.js';
import { ecsProblems } from '../helpers/ecs.js';
import { REPO_ROOT, SEED_FIXTURES, fixturePath, readFixture, type SeedFixture } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'exotrace-parse-'));
function file(name: string, content: string | Buffer): string {
  const p = path.join(tmp, name);
  writeFileSync(p, content);
  return p;
}

const seeds = SEED_FIXTURES.map((name) => readFixture<SeedFixture>(name));
const seedNdjson = seeds.map((s) => JSON.stringify(s.input)).join('\n') + '\n';

describe('exotrace parse', () => {
  it('--profile seed on the seed samples prints exactly the documented events', async () => {
    const result = await runCli(['parse', '--profile', 'seed', file('seed.ndjson', seedNdjson)]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(seeds.map((s) => JSON.stringify(s.expected)).join('\n') + '\n');
  });

  it('reads standard input when no file or - is given', async () => {
    for (const args of [
      ['parse', '--profile', 'seed'],
      ['parse', '--profile', 'seed', '-'],
    ]) {
      const result = await runCli(args, { input: seedNdjson });
      expect(result.code).toBe(0);
      expect(jsonLines(result.stdout)).toEqual(seeds.map((s) => s.expected));
    }
  });

  it('full profile by default, with --organization and repeated --accepted-domain', async () => {
    const graph = readFixture<{ input: { message: string } }>('sekoia-graph/test_messagetrace_1.json').input
      .message;
    const result = await runCli(
      [
        'parse',
        '--organization',
        'example.onmicrosoft.com',
        '--accepted-domain',
        'other.org',
        '--accepted-domain',
        'example.com',
      ],
      { input: graph },
    );
    expect(result.code).toBe(0);
    const [event] = jsonLines(result.stdout) as MessageTraceEvent[];
    expect(event?.organization).toEqual({ name: 'example.onmicrosoft.com' });
    expect(event?.email?.direction).toBe('internal');
    expect(event?.event.kind).toBe('event');
    expect(ecsProblems(event)).toEqual([]);
  });

  it('rejects go to stderr with line numbers; good records are written; exit 1', async () => {
    const result = await runCli(['parse', 'examples/with-rejects.ndjson']);
    expect(result.code).toBe(1);
    expect(jsonLines(result.stdout)).toHaveLength(2);
    const rejects = jsonLines(result.stderr) as {
      file: string;
      line: number;
      reason: string;
      input: string;
    }[];
    expect(rejects.map((r) => [r.line, r.reason])).toEqual([
      [2, 'received time (receivedDateTime) is not a date: "sometime"'],
      [3, 'missing trace id (id)'],
      [4, 'invalid JSON: Unterminated string in JSON at position 17'],
    ]);
    expect(rejects[0]?.file).toBe('examples/with-rejects.ndjson');
    expect(rejects[2]?.input).toBe('{"id": "truncated');
  });

  it('--rejects FILE takes the rejects off stderr', async () => {
    const rejectsFile = path.join(tmp, 'rejects.ndjson');
    const result = await runCli(['parse', '--rejects', rejectsFile, 'examples/with-rejects.ndjson']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(jsonLines(readFileSync(rejectsFile, 'utf8'))).toHaveLength(3);
  });

  it('a --rejects file that cannot be written is a usage error before any input is read', async () => {
    const result = await runCli([
      'parse',
      '--rejects',
      path.join(tmp, 'no/such/dir/r.ndjson'),
      'examples/with-rejects.ndjson',
    ]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/cannot write --rejects .*r\.ndjson: no such file or directory/);
  });

  it('a PowerShell array: a bad element is rejected with the line it starts on and its index', async () => {
    const rows = [
      { MessageTraceId: 'a', Received: '2025-11-25T08:12:09Z', Status: 'Delivered' },
      { MessageTraceId: 'b', Received: 'never', Status: 'Delivered' },
    ];
    const result = await runCli([
      'parse',
      '--organization',
      'o',
      file('ps.json', JSON.stringify(rows, null, 4)),
    ]);
    expect(result.code).toBe(1);
    expect(jsonLines(result.stdout)).toHaveLength(1);
    expect(jsonLines(result.stderr)).toEqual([
      expect.objectContaining({
        line: 7,
        index: 1,
        reason: 'received time (Received) is not a date: "never"',
      }),
    ]);
  });

  it('a pretty-printed page (one JSON object over many lines) is expanded; a bad row names its position', async () => {
    const page = {
      '@odata.context': 'x',
      value: [
        { id: 'a', receivedDateTime: '2026-01-01T00:00:00Z', status: 'delivered', recipientAddress: 'a@b.c' },
        { id: 'a', receivedDateTime: '2026-01-01T00:00:00Z', status: 'delivered', recipientAddress: 'd@b.c' },
        { id: '', receivedDateTime: '2026-01-01T00:00:00Z' },
      ],
    };
    const result = await runCli(['parse', file('page.json', JSON.stringify(page, null, 2))]);
    expect(result.code).toBe(1);
    const events = jsonLines(result.stdout) as { message: string }[];
    expect(events.map((e) => e.message)).toEqual(page.value.slice(0, 2).map((r) => JSON.stringify(r)));
    expect(jsonLines(result.stderr)).toEqual([
      expect.objectContaining({ line: 1, row: 2, reason: 'missing trace id (id)' }),
    ]);
  });

  it('a page is expanded once: a row of it carrying "value": [] is a row, a page inside a page a reject', async () => {
    const row = {
      id: 'a',
      receivedDateTime: '2026-01-01T00:00:00Z',
      status: 'delivered',
      recipientAddress: 'a@b.c',
    };
    const page = {
      value: [{ ...row, value: [] }, { ...row, recipientAddress: 'd@b.c', d: [] }, { value: [row] }],
    };
    const result = await runCli(['parse', file('nested-page.json', JSON.stringify(page))]);
    expect(result.code).toBe(1);
    const events = jsonLines(result.stdout) as { message: string }[];
    expect(events.map((e) => e.message)).toEqual(page.value.slice(0, 2).map((r) => JSON.stringify(r)));
    expect(jsonLines(result.stderr)).toEqual([
      expect.objectContaining({
        line: 1,
        row: 2,
        reason: expect.stringMatching(/^a page element that is not a message trace row/) as string,
      }),
    ]);
  });

  it("Elastic's test rows, including the empty page: every row, no reject", async () => {
    const result = await runCli(['parse', fixturePath('elastic/test-log.log')]);
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout)).toHaveLength(4);
  });

  it.each(['examples/mixed.ndjson', 'examples/powershell.json'])(
    '%s parses cleanly into valid ECS',
    async (example) => {
      const result = await runCli([
        'parse',
        '--organization',
        'contoso.onmicrosoft.com',
        '--accepted-domain',
        'contoso.com',
        example,
      ]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const events = jsonLines(result.stdout);
      expect(events.length).toBeGreaterThan(1);
      for (const event of events) expect(ecsProblems(event)).toEqual([]);
    },
  );

  it('several files in order; a missing one is an I/O error (exit 2) and the others are still read', async () => {
    const result = await runCli([
      'parse',
      '--profile',
      'seed',
      path.join(tmp, 'missing.ndjson'),
      file('s2.ndjson', seedNdjson),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('exotrace parse: cannot read');
    expect(result.stderr).toContain('missing.ndjson: no such file or directory');
    expect(jsonLines(result.stdout)).toHaveLength(2);
  });

  it.each([
    [['parse', '--profile', 'fancy'], "option '--profile' must be one of: seed, full"],
    [['parse', '--no-such-option'], "unknown option '--no-such-option'"],
    [['frobnicate'], "unknown command 'frobnicate'"],
  ])('usage error %j exits 2 and says why', async (args, message) => {
    const result = await runCli(args, { input: '' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('the built binary runs as a program through its first line (as npx and npm link run it)', async () => {
    const { stdout } = await promisify(execFile)(CLI, ['--version']);
    expect(stdout.trim()).toBe(
      (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    );
  });

  it('a deeply nested line is one reject; the lines after it are still written', async () => {
    const good = JSON.stringify({ id: 'a', receivedDateTime: '2026-01-01T00:00:00Z', status: 'delivered' });
    const deep = '{"value":' + '['.repeat(20_000) + ']'.repeat(20_000) + '}';
    const result = await runCli(['parse', file('deep.ndjson', [good, deep, good, good].join('\n') + '\n')]);
    expect(result.code).toBe(1);
    expect(jsonLines(result.stdout)).toHaveLength(3);
    expect(jsonLines(result.stderr)).toEqual([
      expect.objectContaining({ line: 2, reason: 'nested more than 4 levels deep' }),
    ]);
  });

  it('a page element that is an empty array or no object is a reject naming its line and row', async () => {
    const row = { id: 'a', receivedDateTime: '2026-01-01T00:00:00Z', status: 'delivered' };
    const lines = ['{"value":[[]]}', JSON.stringify({ value: [row, [], [row], 5, null] })];
    const result = await runCli(['parse', file('array-elements.ndjson', lines.join('\n') + '\n')]);
    expect(result.code).toBe(1);
    expect(jsonLines(result.stdout)).toHaveLength(1);
    const array = 'a page element that is an array, not a message trace row (an object)';
    expect(jsonLines(result.stderr)).toEqual([
      { file: expect.any(String) as string, line: 1, row: 0, reason: array, input: '[]' },
      { file: expect.any(String) as string, line: 2, row: 1, reason: array, input: '[]' },
      { file: expect.any(String) as string, line: 2, row: 2, reason: array, input: JSON.stringify([row]) },
      expect.objectContaining({ line: 2, row: 3, reason: 'not a JSON object (got number)' }),
      expect.objectContaining({ line: 2, row: 4, reason: 'not a JSON object (got null)' }),
    ]);
  });

  it('UTF-16 without a byte order mark (LE and BE) is decoded, as RFC 4627 detects it', async () => {
    const rows = [
      { id: 'a', receivedDateTime: '2026-01-01T00:00:00Z', status: 'delivered', subject: 'café' },
      { id: 'b', receivedDateTime: '2026-01-01T00:00:00Z', status: 'delivered', subject: 'ü' },
    ];
    const text = rows.map((r) => JSON.stringify(r)).join('\r\n') + '\r\n';
    const le = Buffer.from(text, 'utf16le');
    const be = Buffer.from(le).swap16();
    for (const [name, body] of [
      ['le.ndjson', le],
      ['be.ndjson', be],
      ['be-bom.ndjson', Buffer.concat([Buffer.from([0xfe, 0xff]), be])],
    ] as const) {
      const result = await runCli(['parse', file(name, body)]);
      expect(result.stderr, name).toBe('');
      expect(result.code, name).toBe(0);
      const events = jsonLines(result.stdout) as { email: { subject: string } }[];
      expect(
        events.map((e) => e.email.subject),
        name,
      ).toEqual(['café', 'ü']);
    }
  });

  it('a line longer than 64 MiB is a reject naming its line; the lines after it are still written', async () => {
    const good = JSON.stringify({ id: 'a', receivedDateTime: '2026-01-01T00:00:00Z', status: 'delivered' });
    const long = Buffer.alloc(64 * 1024 * 1024 + 10, 'x');
    const body = Buffer.concat([Buffer.from(good + '\n'), long, Buffer.from('\n' + good + '\n')]);
    const result = await runCli(['parse', file('long.ndjson', body)]);
    expect(result.code).toBe(1);
    expect(jsonLines(result.stdout)).toHaveLength(2);
    expect(jsonLines(result.stderr)).toEqual([
      {
        file: expect.any(String) as string,
        line: 2,
        reason:
          'line 2 is longer than 67108864 characters, the most one record may hold (one row or page per line): skipped',
        input: 'x'.repeat(256) + '…',
      },
    ]);
  }, 60_000);

  it.each([
    ['[{"MessageTraceId":"a","Received":"2025-01-01T00:00:00Z"},', 'unterminated JSON array'],
    [
      '[{"MessageTraceId":"a","Received":"2025-01-01T00:00:00Z"},,\n{"MessageTraceId":"b","Received":"2025-01-01T00:00:00Z"}]',
      'empty element',
    ],
    ['[', 'unterminated JSON array'],
  ])('a broken array %j is reported (exit 1), not taken for success', async (text, reason) => {
    const result = await runCli(['parse', '--organization', 'o', file('broken.json', text)]);
    expect(result.code).toBe(1);
    const rejects = jsonLines(result.stderr) as { reason: string; line: number }[];
    expect(rejects).toHaveLength(1);
    expect(rejects[0]?.reason).toContain(reason);
  });

  it('no command at all is a usage error (exit 2) that shows the help', async () => {
    const result = await runCli([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Usage: exotrace');
  });

  it('--help exits 0 and shows the examples', async () => {
    const result = await runCli(['parse', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--accepted-domain');
    expect(result.stdout).toContain('Exit status');
  });

  it('empty input is no error', async () => {
    const result = await runCli(['parse'], { input: '' });
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('a reader that goes away early (parse | head -1) ends it quietly', async () => {
    const big = file('big.ndjson', seedNdjson.repeat(20_000));
    const result = await new Promise<{ code: number | null; stderr: string; firstLine: string }>(
      (resolve) => {
        const child = spawn(process.execPath, [CLI, 'parse', big], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        let firstLine = '';
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.stdout.setEncoding('utf8').once('data', (d: string) => {
          firstLine = d.split('\n')[0] ?? '';
          child.stdout.destroy();
        });
        child.on('close', (code) => {
          resolve({ code, stderr, firstLine });
        });
      },
    );
    expect(JSON.parse(result.firstLine)).toHaveProperty('@timestamp');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});
