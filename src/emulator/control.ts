/**
 * The emulator's own control API, under a prefix no Microsoft path uses (`/_emulator`): time,
 * faults, tenant switches, counters and the ground truth that completeness tests compare with.
 * Loopback only, like the rest of the emulator; it has no authentication.
 */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { parseDuration } from '../util/duration.js';
import type { EmulatorClock } from './clock.js';
import { issuePath, stripUndefined } from '../util/objects.js';
import { faultRatesSchema, faultSchema } from './config.js';
import { NO_FAULTS, type Fault, type FaultRates, type Faults } from './faults.js';
import { sendJson, type EmulatorRequest, type Handler } from './http.js';
import { statusAt, type EmulatorTenant, type TraceData } from './model.js';
import type { Stats } from './stats.js';

export const CONTROL_PREFIX = '/_emulator';

export interface ControlContext {
  readonly clock: EmulatorClock;
  readonly faults: Faults;
  readonly stats: Stats;
  readonly data: TraceData;
  tenants(): readonly EmulatorTenant[];
  updateTenant(
    name: string,
    change: Partial<Pick<EmulatorTenant, 'servicePrincipal' | 'reportingReader'>>,
  ): EmulatorTenant | undefined;
  revokeTokens(tenantId: string): void;
  /** What `GET /_emulator` reports besides time and tenants (base URLs, CA file). */
  describe(): Record<string, unknown>;
}

function badRequest(res: ServerResponse, message: string): true {
  sendJson(res, 400, { error: message });
  return true;
}

function parseBody(req: EmulatorRequest): Record<string, unknown> | undefined {
  if (req.body.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(req.body);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

// The range of a JavaScript Date: beyond it the clock could no longer be printed.
const MAX_INSTANT_MS = 8.64e15;
// Copies of a queued fault one request may ask for; more would only exhaust memory.
const MAX_FAULT_TIMES = 10_000;

/** An instant given as ISO 8601 text or epoch milliseconds. */
function parseInstant(value: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string' && value.trim() !== '')
    ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  return ms !== undefined && Number.isFinite(ms) && Math.abs(ms) <= MAX_INSTANT_MS ? ms : undefined;
}

function tenantView(t: EmulatorTenant): Record<string, unknown> {
  return {
    name: t.name,
    tenantId: t.tenantId,
    domain: t.domain,
    acceptedDomains: t.acceptedDomains,
    messagesPerDay: t.messagesPerDay,
    servicePrincipal: t.servicePrincipal,
    reportingReader: t.reportingReader,
    apps: t.apps.map((a) => ({
      clientId: a.clientId,
      graphRoles: a.graphRoles,
      reportingRoles: a.reportingRoles,
    })),
  };
}

export function createControlApi(ctx: ControlContext): Handler {
  const findTenant = (key: string | null): EmulatorTenant | undefined =>
    ctx
      .tenants()
      .find(
        (t) =>
          key !== null && [t.name, t.tenantId, t.domain].some((k) => k.toLowerCase() === key.toLowerCase()),
      );

  return async (req, res) => {
    const path = req.url.pathname;
    if (path !== CONTROL_PREFIX && !path.startsWith(CONTROL_PREFIX + '/')) return false;
    const route = path.slice(CONTROL_PREFIX.length) || '/';
    const method = req.method;

    if (route === '/' && method === 'GET') {
      sendJson(res, 200, {
        now: new Date(ctx.clock.now()).toISOString(),
        frozen: ctx.clock.frozen,
        ...ctx.describe(),
        tenants: ctx.tenants().map(tenantView),
      });
      return true;
    }

    if (route === '/time') {
      if (method === 'POST') {
        const body = parseBody(req);
        if (body === undefined) return badRequest(res, 'body must be a JSON object');
        // Everything is checked before anything changes: a refused request leaves the clock alone.
        const at = body.set === undefined ? undefined : parseInstant(body.set);
        if (body.set !== undefined && at === undefined)
          return badRequest(res, '"set" must be an ISO 8601 instant or epoch milliseconds');
        const ms =
          typeof body.advance === 'number' || typeof body.advance === 'string'
            ? parseDuration(body.advance)
            : undefined;
        if (body.advance !== undefined && ms === undefined)
          return badRequest(res, '"advance" must be a duration such as "5m" or milliseconds');
        if (ms !== undefined && (at ?? ctx.clock.now()) + ms > MAX_INSTANT_MS)
          return badRequest(res, '"advance" would move the clock past the year 275760');
        if (body.freeze !== undefined && typeof body.freeze !== 'boolean')
          return badRequest(res, '"freeze" must be true or false');
        // Freeze first, so that a set-and-freeze lands exactly on the instant asked for.
        if (body.freeze === true) ctx.clock.freeze(true);
        if (at !== undefined) ctx.clock.set(at);
        if (ms !== undefined) ctx.clock.advance(ms);
        if (body.freeze === false) ctx.clock.freeze(false);
      } else if (method !== 'GET') {
        return false;
      }
      // One reading: two could straddle a millisecond and disagree.
      const epochMs = ctx.clock.now();
      sendJson(res, 200, { now: new Date(epochMs).toISOString(), epochMs, frozen: ctx.clock.frozen });
      return true;
    }

    if (route === '/faults') {
      if (method === 'DELETE') {
        // No fault injection at all afterwards: neither queued faults nor rates.
        ctx.faults.clear();
        ctx.faults.setRates(NO_FAULTS);
      } else if (method === 'POST') {
        const body = parseBody(req);
        if (body === undefined) return badRequest(res, 'body must be a JSON object');
        // Everything is checked before anything changes: a refused request queues nothing.
        let queue: Fault[] | undefined;
        if (body.queue !== undefined) {
          const parsed = z.array(faultSchema).safeParse(body.queue);
          if (!parsed.success) {
            const detail = parsed.error.issues.map((i) => `queue.${issuePath(i)}: ${i.message}`).join('; ');
            return badRequest(res, detail);
          }
          queue = parsed.data.map((fault) => stripUndefined(fault));
        }
        const times = body.times ?? 1;
        if (typeof times !== 'number' || !Number.isInteger(times) || times < 1 || times > MAX_FAULT_TIMES)
          return badRequest(res, `"times" must be a whole number from 1 to ${MAX_FAULT_TIMES}`);
        let rates: Partial<FaultRates> | undefined;
        if (body.rates !== undefined) {
          const parsed = faultRatesSchema.safeParse(body.rates);
          if (!parsed.success) {
            const detail = parsed.error.issues
              .map((i) => `rates${issuePath(i) === '' ? '' : '.' + issuePath(i)}: ${i.message}`)
              .join('; ');
            return badRequest(res, detail);
          }
          rates = stripUndefined(parsed.data);
        }
        if (queue !== undefined) ctx.faults.enqueue(queue, times);
        if (rates !== undefined) ctx.faults.setRates(rates);
      } else if (method !== 'GET') {
        return false;
      }
      sendJson(res, 200, { queued: ctx.faults.queued, rates: ctx.faults.rates });
      return true;
    }

    if (route === '/stats') {
      if (method === 'DELETE') ctx.stats.reset();
      else if (method !== 'GET') return false;
      sendJson(res, 200, ctx.stats.snapshot());
      return true;
    }

    const tenantRoute = /^\/tenants\/([^/]+)(\/revoke)?$/.exec(route);
    if (tenantRoute) {
      const tenant = findTenant(decodeURIComponent(tenantRoute[1] ?? ''));
      if (tenant === undefined) {
        sendJson(res, 404, { error: `no tenant ${tenantRoute[1] ?? ''}` });
        return true;
      }
      if (tenantRoute[2] !== undefined && method === 'POST') {
        ctx.revokeTokens(tenant.tenantId);
        sendJson(res, 200, { revoked: tenant.name });
        return true;
      }
      if (tenantRoute[2] === undefined && method === 'PATCH') {
        const body = parseBody(req);
        if (body === undefined) return badRequest(res, 'body must be a JSON object');
        const change: { servicePrincipal?: boolean; reportingReader?: boolean } = {};
        for (const key of ['servicePrincipal', 'reportingReader'] as const) {
          const value = body[key];
          if (value === undefined) continue;
          if (typeof value !== 'boolean') return badRequest(res, `"${key}" must be true or false`);
          change[key] = value;
        }
        const updated = ctx.updateTenant(tenant.name, change);
        sendJson(res, 200, updated === undefined ? {} : tenantView(updated));
        return true;
      }
      if (tenantRoute[2] === undefined && method === 'GET') {
        sendJson(res, 200, tenantView(tenant));
        return true;
      }
      return false;
    }

    if (route === '/ground-truth' && method === 'GET') {
      const params = req.url.searchParams;
      const tenant = findTenant(params.get('tenant'));
      if (tenant === undefined) return badRequest(res, '"tenant" must name a tenant (name, id or domain)');
      const asOf = params.has('asOf') ? parseInstant(params.get('asOf')) : ctx.clock.now();
      const to = params.has('to') ? parseInstant(params.get('to')) : asOf;
      const from = params.has('from') ? parseInstant(params.get('from')) : (to ?? 0) - 90 * 86_400_000;
      if (asOf === undefined || from === undefined || to === undefined)
        return badRequest(res, '"asOf", "from" and "to" must be instants');
      const visibleOnly = params.get('visible') !== 'false';
      await streamGroundTruth(res, ctx.data, tenant, from, to, asOf, visibleOnly);
      return true;
    }
    return false;
  };
}

/**
 * Every row received in [from, to] as of `asOf` (only the visible ones unless asked), one JSON
 * line each, streamed: a large tenant's 90 days never sit in memory.
 */
async function streamGroundTruth(
  res: ServerResponse,
  data: TraceData,
  tenant: EmulatorTenant,
  from: number,
  to: number,
  asOf: number,
  visibleOnly: boolean,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8' });
  let chunk = '';
  for (const row of data.everyRow(tenant, from, to)) {
    if (visibleOnly && row.visibleAt > asOf) continue;
    chunk +=
      JSON.stringify({
        id: row.traceId,
        recipient: row.recipient,
        status: statusAt(row, asOf),
        received: new Date(row.received).toISOString(),
        visibleAt: new Date(row.visibleAt).toISOString(),
      }) + '\n';
    if (chunk.length > 64 * 1024) {
      const ok = res.write(chunk);
      chunk = '';
      if (!ok) await new Promise((resolve) => res.once('drain', resolve));
    }
  }
  res.end(chunk);
}
