/**
 * `backfill` under back pressure (issue 13): with one output down and `outbox.maxEvents: 10000`, a
 * backfill of the last 24 h of a tenant with ~100,000 rows a day stops asking for pages once about
 * 10,000 events wait for that output, says so (the line `run` logs), and when the output comes
 * back resumes and finishes; the output then holds every row of the range exactly once (compared
 * with the emulator's ground truth). The built CLI against the emulator over real HTTPS, a real
 * HTTP receiver; every wait is for an event (a log line, a request), none for time.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { groundTruthKeys } from '../helpers/emulator-control.js';
import { until } from '../helpers/wait.js';
import { spawnCli, writeConfig } from './collector-helpers.js';

const HOUR = 3_600_000;
const MAX_EVENTS = 10_000;
/** Graph's rows per page (the source's default `$top`). */
const PAGE_ROWS = 5_000;

let emulator: Emulator;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'exotrace-backfill-pressure-'));
  emulator = await startEmulator({
    tenants: 1,
    messagesPerDay: 128_000,
    seed: 13,
    throttle: { limit: 1000 },
  });
  // Ahead of the collector's clock by more than minAge: every row it asks for exists already.
  emulator.clock.set(Date.now() + 10 * 60_000);
  emulator.clock.freeze(true);
});

afterAll(async () => {
  await emulator.close();
  rmSync(folder, { recursive: true, force: true });
});

interface Received {
  traceId: string;
  recipient: string;
  status: string;
  eventId: string;
}

/** An HTTP receiver that answers 503 until told to accept, then keeps every event it is sent. */
async function startReceiver(): Promise<{
  server: Server;
  port: number;
  received: Received[];
  refused: () => number;
  accept: () => void;
}> {
  const received: Received[] = [];
  let refused = 0;
  let accepting = false;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (!accepting) {
        refused++;
        res.writeHead(503).end('down for maintenance');
        return;
      }
      for (const line of body.split('\n')) {
        if (line === '') continue;
        const event = JSON.parse(line) as {
          event: { id: string; action: string };
          email?: { to?: { address?: string[] } };
          office365: { message_trace: { MessageTraceId: string } };
        };
        received.push({
          traceId: event.office365.message_trace.MessageTraceId,
          recipient: (event.email?.to?.address?.[0] ?? '').toLowerCase(),
          status: event.event.action,
          eventId: event.event.id,
        });
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    server,
    port: address.port,
    received,
    refused: () => refused,
    accept: () => {
      accepting = true;
    },
  };
}

/** Requests of the tenant's message trace list the emulator answered. */
function listRequests(): number {
  const byStatus = emulator.stats.snapshot()[emulator.tenants()[0]?.name ?? '']?.['graph-list'] ?? {};
  return Object.values(byStatus).reduce((sum, n) => sum + n, 0);
}

describe('exotrace backfill with an output down and the outbox full', () => {
  it('pauses at outbox.maxEvents, resumes when the output returns, and delivers every row once', async () => {
    const tenant = emulator.tenants()[0]?.name ?? 'contoso';
    const receiver = await startReceiver();
    try {
      const config = writeConfig(emulator, path.join(folder, 'pressure'), [tenant]);
      // The receiver is the only output: the one the outbox fills up for (a second, healthy output
      // could be the furthest behind at the moment it pauses, on a busy machine).
      const fileOutput = '  - type: file\n    path: ./events.ndjson\n';
      const yaml = readFileSync(config, 'utf8');
      expect(yaml).toContain(fileOutput);
      writeFileSync(
        config,
        yaml.replace(
          fileOutput,
          `  - type: http\n    name: hook\n    url: http://127.0.0.1:${receiver.port}/events\n`,
        ) + `outbox:\n  maxEvents: ${MAX_EVENTS}\n`,
        { mode: 0o600 },
      );
      const startedAt = Date.now();
      const backfill = spawnCli(['backfill', '--config', config, '--tenant', tenant, '--from', '24h']);
      const exited = (): boolean => backfill.child.exitCode !== null || backfill.child.signalCode !== null;
      const pausedLine = (): string | undefined =>
        backfill
          .stderr()
          .split('\n')
          .find((line) => line.includes('outbox full: collection paused'));
      try {
        // Before the fix the backfill never paused: it collected everything, then failed to deliver.
        await until(() => pausedLine() !== undefined || exited(), 240_000);
        const paused = pausedLine();
        expect(paused, backfill.stderr()).toBeDefined();
        const fields = JSON.parse(paused ?? '{}') as Record<string, unknown>;
        expect(fields).toMatchObject({
          output: 'hook',
          maxEvents: MAX_EVENTS,
          configKey: 'outbox.maxEvents',
        });
        expect(fields['events']).toBeGreaterThanOrEqual(MAX_EVENTS);
        // The pages in hand when it paused still commit; nothing more than those.
        expect(fields['events']).toBeLessThan(MAX_EVENTS + 3 * PAGE_ROWS);
        // Paused means no page is asked for: after a whole round of refused deliveries (the source's
        // one page fetched ahead, started before the pause, has come in by then), not one more
        // request across the next round.
        const refusedAtPause = receiver.refused();
        await until(() => receiver.refused() >= refusedAtPause + 5 || exited(), 120_000);
        const requestsPaused = listRequests();
        await until(() => receiver.refused() >= refusedAtPause + 10 || exited(), 120_000);
        expect(exited(), backfill.stderr()).toBe(false);
        expect(listRequests()).toBe(requestsPaused);
        // An outage longer than one of --once's grace (30 s, about six rounds of five refused
        // sends): a backfill waits for the output as the daemon does, it does not give up.
        await until(() => receiver.refused() >= refusedAtPause + 60 || exited(), 240_000);
        expect(exited(), backfill.stderr()).toBe(false);
        expect(listRequests()).toBe(requestsPaused);
      } catch (error) {
        backfill.child.kill('SIGKILL');
        throw error;
      }
      // The output comes back: collection resumes and the backfill finishes.
      receiver.accept();
      const result = await backfill.done;
      const endedAt = Date.now();
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain('outbox has room again: collection resumes');
      expect(result.stderr).toContain('"msg":"backfill done"');
      expect(result.stderr).not.toContain('stops collecting');

      // Nothing duplicated: each event once...
      const ids = receiver.received.map((e) => e.eventId);
      expect(new Set(ids).size).toBe(ids.length);
      // ...and nothing lost: every row of the range, as the emulator's ground truth has it. "24h"
      // and the end (minAge: 5 min) are read between the start and the end of the command: every
      // row surely in the range is there, and nothing from outside the widest range.
      const keys = new Set(receiver.received.map((e) => `${e.traceId}|${e.recipient}|${e.status}`));
      const asOf = emulator.clock.now();
      const surely = await groundTruthKeys(
        emulator,
        tenant,
        endedAt - 24 * HOUR + 1000,
        startedAt - 5 * 60_000 - 1000,
        asOf,
      );
      const atMost = new Set(
        await groundTruthKeys(
          emulator,
          tenant,
          startedAt - 24 * HOUR - 1000,
          endedAt - 5 * 60_000 + 1000,
          asOf,
        ),
      );
      // ~100,000 rows a day: ten times what the outbox may hold.
      expect(surely.length).toBeGreaterThan(8 * MAX_EVENTS);
      expect(
        surely.filter((key) => !keys.has(key)),
        'rows of the range not delivered',
      ).toEqual([]);
      expect(
        [...keys].filter((key) => !atMost.has(key)),
        'events that are no row of the range',
      ).toEqual([]);
      expect(keys.size).toBe(ids.length);
    } finally {
      await new Promise<void>((resolve) => {
        receiver.server.close(() => {
          resolve();
        });
      });
    }
  }, 480_000);
});
