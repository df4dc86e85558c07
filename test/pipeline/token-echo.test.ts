/**
 * An access token echoed back by the API never reaches the log, the state or `status` (issue 11,
 * item 15), whatever it looks like. The emulator issues opaque tokens (no JWT pattern matches
 * them) and answers with an error body quoting the token it was sent; the collector runs in
 * process over real HTTPS with its real logger and SQLite state, and `exotrace status` (the built
 * CLI) reads that state.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { logSecretsOf } from '../../src/config/secrets.js';
import { collectorConfigYaml } from '../../src/emulator/collector-config.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { createLogger } from '../../src/observe/log.js';
import { runCollector } from '../../src/pipeline/run.js';
import { createSource } from '../../src/sources/create.js';
import { openSqliteStore } from '../../src/state/sqlite.js';
import { runCli } from '../helpers/cli.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');

let emulator: Emulator;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-token-echo-'));
  emulator = await startEmulator({
    tenants: 1,
    messagesPerDay: 200,
    seed: 9,
    opaqueTokens: true,
    throttle: { limit: 1000 },
  });
  emulator.clock.set(NOW);
  emulator.clock.freeze(true);
});
afterAll(async () => {
  await emulator.close();
  rmSync(folder, { recursive: true, force: true });
});

/** The bearer tokens this process sends, as undici puts them on the wire. */
function recordBearerTokens(): { tokens: Set<string>; stop: () => void } {
  const tokens = new Set<string>();
  const onHeaders = (message: unknown): void => {
    const { headers } = message as { headers: string };
    for (const match of headers.matchAll(/authorization: Bearer (\S+)/gi))
      if (match[1] !== undefined) tokens.add(match[1]);
  };
  subscribe('undici:client:sendHeaders', onHeaders);
  return { tokens, stop: () => unsubscribe('undici:client:sendHeaders', onHeaders) };
}

describe('an opaque access token echoed in an error body', () => {
  it('is redacted from the log, the stored last error and status', async () => {
    const dir = path.join(folder, 'echo');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'exotrace.yaml');
    writeFileSync(file, collectorConfigYaml(emulator, { settings: { startFrom: '2h' } }));
    const config = loadConfig(file);
    const lines: string[] = [];
    const log = createLogger(
      { write: (chunk: string) => lines.push(chunk) },
      { format: 'json', level: 'debug', secrets: logSecretsOf(config) },
    );
    emulator.faults.enqueue([{ kind: 'echo-token', targets: ['graph-list'] }]);

    const wire = recordBearerTokens();
    let summary: Awaited<ReturnType<typeof runCollector>>;
    try {
      summary = await runCollector(config, {
        once: true,
        signal: new AbortController().signal,
        log,
        now: () => NOW,
        sourceFor: (t) => createSource(t, config),
      });
    } finally {
      wire.stop();
    }
    // The token sent was opaque: no JWT, nothing a pattern would catch.
    const tokens = [...wire.tokens];
    expect(tokens.length).toBeGreaterThan(0);
    for (const token of tokens) expect(token).not.toMatch(/^eyJ/);

    // The echo failed the tenant, and its error says what the API said, token removed.
    expect(summary.failed).toBe(true);
    const error = summary.tenants[0]?.error;
    expect(error?.['code']).toBe('http_error');
    expect(String(error?.['message'])).toContain('The access token REDACTED is not valid for this request');

    const store = openSqliteStore(config.stateDir);
    let stored: string;
    try {
      stored = JSON.stringify(await store.tenantCycles());
    } finally {
      await store.close();
    }
    expect(stored).toContain('http_error');
    const status = await runCli(['status', '--config', file, '--json']);
    const human = await runCli(['status', '--config', file]);
    expect(status.stdout).toContain('http_error');
    expect(human.stdout).toContain('REDACTED');

    const logged = lines.join('');
    expect(logged).toContain('tenant failed');
    for (const token of tokens) {
      expect(logged.includes(token), 'the token in the log').toBe(false);
      expect(stored.includes(token), 'the token in the state').toBe(false);
      expect(
        status.stdout.includes(token) || status.stderr.includes(token),
        'the token in status --json',
      ).toBe(false);
      expect(human.stdout.includes(token) || human.stderr.includes(token), 'the token in status').toBe(false);
    }
  });
});
