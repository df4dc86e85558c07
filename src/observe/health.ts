/**
 * The collector's health endpoints, on `health.listen` (loopback by default): `/healthz` says the
 * process answers; `/readyz` says whether every tenant is current and every output keeps up (503
 * with the reasons otherwise, for a load balancer or a monitor); `/status` is the same snapshot in
 * full, as the document `exotrace status --json` prints (`status-report.ts`); `/metrics` is the Prometheus exposition (`metrics.ts`). No secret is in any of
 * them: names, times, counts and sanitized errors only.
 */
import { createServer, type Server } from 'node:http';
import { plural } from '../util/plural.js';

export interface TenantHealth {
  readonly tenant: string;
  /** When the tenant's last cycle (fast + reconcile) completed, epoch ms. */
  readonly lastSuccessAt?: number;
  /** The last cycle's error when it failed (sanitized), else undefined. */
  readonly lastError?: Record<string, unknown>;
  /** How far the fast pass is behind now (now − its checkpoint), ms. */
  readonly lagMs?: number;
  /** The lag past which the tenant is not current (its minAge and poll interval, plus slack). */
  readonly maxLagMs: number;
  /** When a cycle last failed, epoch ms (kept after later successes). */
  readonly lastFailureAt?: number;
  /** Cycles failed since the last success. */
  readonly failuresInARow?: number;
  /** Where each pass stands (a pass that never committed is absent): `passCheckpoints`. */
  readonly checkpoints?: PassCheckpoints;
  /**
   * The time ranges collected so far (windows completed by any pass), oldest first, as ISO
   * instants: what a backfill leaves out (`StateStore.collectedRanges`).
   */
  readonly collected?: readonly { readonly from: string; readonly to: string }[];
}

/** One pass's checkpoint as `/status` and `exotrace status` show it: ISO instants. */
export interface PassCheckpoint {
  /** The end of the time this pass has collected. */
  readonly cursor: string;
  /** The window in progress (some of its pages committed), when one is. */
  readonly window?: { readonly from: string; readonly to: string };
  /** When it was last written. */
  readonly updatedAt: string;
}

export type PassCheckpoints = Readonly<Partial<Record<'fast' | 'reconcile' | 'backfill', PassCheckpoint>>>;

/** A tenant's stored checkpoints (`StateStore.listCheckpoints`) as ISO instants, by pass. */
export function passCheckpoints(
  stored: readonly {
    readonly pass: 'fast' | 'reconcile' | 'backfill';
    readonly cursor: number;
    readonly window?: { readonly from: number; readonly to: number };
    readonly updatedAt: number;
  }[],
): PassCheckpoints {
  const iso = (ms: number): string => new Date(ms).toISOString();
  const out: Partial<Record<'fast' | 'reconcile' | 'backfill', PassCheckpoint>> = {};
  for (const c of stored) {
    out[c.pass] = {
      cursor: iso(c.cursor),
      ...(c.window === undefined ? {} : { window: { from: iso(c.window.from), to: iso(c.window.to) } }),
      updatedAt: iso(c.updatedAt),
    };
  }
  return out;
}

/** The daemon's time between a tenant's polls, unless told otherwise. */
export const DEFAULT_POLL_MS = 60_000;

/** A tenant's lag bound: minAge is the intended lag; two missed polls and a quarter of an hour more is a stall. */
export function maxLagMsOf(minAgeMs: number, pollMs: number = DEFAULT_POLL_MS): number {
  return minAgeMs + 2 * pollMs + 15 * 60_000;
}

export interface OutputHealth {
  readonly output: string;
  /** Events it has yet to acknowledge. */
  readonly backlog: number;
  readonly deadLetters: number;
  /** When the newest dead letter it holds was put aside, epoch ms (absent when it holds none). */
  readonly newestDeadLetterAt?: number;
  /** When the oldest event it has yet to take was committed, epoch ms (absent when none waits). */
  readonly oldestWaitingAt?: number;
  /** When a round of it last succeeded, epoch ms (kept in the state, `recordOutputRound`). */
  readonly lastSuccessAt?: number;
  /** Since when every round has failed (absent while it works), epoch ms. */
  readonly failingSince?: number;
  /** The last failed round's error (sanitized) while it is failing. */
  readonly lastError?: Record<string, unknown>;
}

export interface HealthSnapshot {
  readonly tenants: readonly TenantHealth[];
  readonly outputs: readonly OutputHealth[];
}

export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
}

export interface ReadinessRule {
  /** An output with this many events waiting is not keeping up (back pressure's bound). */
  readonly maxBacklog: number;
  /** An output whose oldest waiting event is older than this is not keeping up (`outbox.warnAfter`). */
  readonly maxWaitingMs?: number;
  /**
   * Failed cycles in a row that make a tenant not current; default 1. The daemon's /readyz asks
   * for 2, so that one cycle cut short (a burst of 5xx past every retry) does not flap it.
   */
  readonly failedCycles?: number;
  /** Now, epoch ms (for how long an output has been failing); default Date.now(). */
  readonly now?: number;
  /**
   * An output with a dead letter newer than this is not ready (the daemon's /readyz); unset, dead
   * letters are not counted here (`exotrace status` counts every one it holds).
   */
  readonly recentDeadLetterMs?: number;
}

/** The daemon's /readyz: an output that dead-lettered events within this long is not ready. */
export const RECENT_DEAD_LETTER_MS = 60 * 60_000;

/**
 * Ready when every tenant has completed a cycle, its last one did not fail, its lag is under the
 * bound, and every output keeps up: under the back-pressure bound, no event waiting too long, and
 * its last round did not fail (a failing output is not keeping up, however recently it began).
 */
export function readiness(snapshot: HealthSnapshot, rule: ReadinessRule): Readiness {
  const reasons: string[] = [];
  const failedCycles = rule.failedCycles ?? 1;
  for (const t of snapshot.tenants) {
    if (t.lastError !== undefined && (t.failuresInARow ?? 1) >= failedCycles) {
      const times = (t.failuresInARow ?? 1) > 1 ? `${t.failuresInARow ?? 1} cycles in a row` : 'last cycle';
      reasons.push(`tenant ${t.tenant}: ${times} failed (${errorLabel(t.lastError)})`);
    } else if (t.lastSuccessAt === undefined) {
      reasons.push(`tenant ${t.tenant}: no cycle completed yet`);
    }
    if (t.lagMs !== undefined && t.lagMs > t.maxLagMs) {
      reasons.push(
        `tenant ${t.tenant}: ${Math.round(t.lagMs / 60_000)} min behind (bound ${Math.round(t.maxLagMs / 60_000)} min)`,
      );
    }
  }
  const now = rule.now ?? Date.now();
  for (const o of snapshot.outputs) {
    if (o.backlog >= rule.maxBacklog)
      reasons.push(
        `output ${o.output}: ${o.backlog} ${plural(o.backlog, 'event')} waiting (bound ${rule.maxBacklog})`,
      );
    if (
      rule.maxWaitingMs !== undefined &&
      o.oldestWaitingAt !== undefined &&
      now - o.oldestWaitingAt > rule.maxWaitingMs
    ) {
      reasons.push(
        `output ${o.output}: its oldest event has waited ${Math.round((now - o.oldestWaitingAt) / 60_000)} min (bound outbox.warnAfter, ${Math.round(rule.maxWaitingMs / 60_000)} min)`,
      );
    }
    if (
      rule.recentDeadLetterMs !== undefined &&
      o.newestDeadLetterAt !== undefined &&
      now - o.newestDeadLetterAt < rule.recentDeadLetterMs
    ) {
      const minutes = Math.round((now - o.newestDeadLetterAt) / 60_000);
      reasons.push(
        `output ${o.output}: ${o.deadLetters} ${plural(o.deadLetters, 'dead letter')}, the newest ${minutes >= 1 ? `${minutes} min` : 'under a minute'} ago (exotrace deadletter list)`,
      );
    }
    if (o.failingSince !== undefined) {
      const label = o.lastError === undefined ? 'error' : errorLabel(o.lastError);
      const minutes = Math.round((now - o.failingSince) / 60_000);
      reasons.push(
        `output ${o.output}: failing for ${minutes >= 1 ? `${minutes} min` : 'under a minute'} (${label})`,
      );
    }
  }
  return { ready: reasons.length === 0, reasons };
}

/** The error's code, else its message: what a reason line can say of it. */
function errorLabel(error: Record<string, unknown>): string {
  const code = error['code'];
  if (typeof code === 'string') return code;
  const message = error['message'];
  return typeof message === 'string' ? message : 'error';
}

/** `host:port` (an IPv6 host in brackets) as its parts, or undefined when it is not that. */
export function parseListen(listen: string): { readonly host: string; readonly port: number } | undefined {
  const match = /^\[?(?<host>.*?)\]?:(?<port>\d+)$/.exec(listen);
  const host = match?.groups?.host;
  const port = match?.groups?.port;
  return host === undefined || port === undefined ? undefined : { host, port: Number(port) };
}

export interface HealthServer {
  /** `host:port` actually listened on. */
  readonly address: string;
  close(): Promise<void>;
}

export async function startHealthServer(options: {
  readonly listen: string;
  readonly snapshot: () => Promise<HealthSnapshot>;
  /** The rule, asked at each request (it holds the time). */
  readonly rule: () => ReadinessRule;
  /** `/status`: the document built from the snapshot (the one `exotrace status --json` prints). */
  readonly status: (snapshot: HealthSnapshot) => unknown;
  /** `/metrics`: the Prometheus exposition (content type and text), when metrics are kept. */
  readonly metrics?: () => Promise<{ readonly contentType: string; readonly text: string }>;
}): Promise<HealthServer> {
  const listen = parseListen(options.listen);
  const host = listen?.host ?? '127.0.0.1';
  const port = listen?.port ?? 0;
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(`${JSON.stringify(body)}\n`);
  };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { error: 'GET only' });
      return;
    }
    if (path === '/healthz') {
      json(res, 200, { status: 'ok' });
      return;
    }
    const { metrics } = options;
    if (path === '/metrics' && metrics !== undefined) {
      metrics().then(
        (exposition) => {
          res.writeHead(200, { 'content-type': exposition.contentType, 'cache-control': 'no-store' });
          res.end(exposition.text);
        },
        (error: unknown) => {
          json(res, 500, {
            error: `metrics unavailable: ${error instanceof Error ? error.message : String(error)}`,
          });
        },
      );
      return;
    }
    if (path !== '/readyz' && path !== '/status') {
      json(res, 404, { error: 'try /healthz, /readyz, /status or /metrics' });
      return;
    }
    options.snapshot().then(
      (snapshot) => {
        if (path === '/status') {
          json(res, 200, options.status(snapshot));
          return;
        }
        const ready = readiness(snapshot, options.rule());
        json(res, ready.ready ? 200 : 503, ready);
      },
      (error: unknown) => {
        const reasons = [`state unreadable: ${error instanceof Error ? error.message : String(error)}`];
        json(res, 503, path === '/status' ? { current: false, reasons } : { ready: false, reasons });
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    // Named after the setting: "listen EADDRINUSE" alone does not say which address is whose.
    const onError = (error: NodeJS.ErrnoException): void => {
      const why =
        error.code === 'EADDRINUSE'
          ? 'address already in use (another process, or another exotrace)'
          : error.code === 'EADDRNOTAVAIL'
            ? 'no such address on this machine'
            : error.code === 'EACCES'
              ? 'permission denied (ports below 1024 need privileges)'
              : error.message;
      reject(
        new Error(`health.listen ${options.listen}: ${why} (${error.code ?? 'error'})`, { cause: error }),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  const actual =
    address !== null && typeof address === 'object' ? `${address.address}:${address.port}` : options.listen;
  return {
    address: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
