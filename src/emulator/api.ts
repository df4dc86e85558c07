/**
 * What the Graph and Reporting Web Service handlers share: their dependencies, and the steps every
 * data request goes through in Microsoft's order — authentication, authorization, the tenant's
 * quota, then any injected fault.
 */
import type { ServerResponse } from 'node:http';
import type { EmulatorClock } from './clock.js';
import type { Fault, FaultTarget, Faults } from './faults.js';
import type { EmulatorRequest } from './http.js';
import type { Identity, TokenCheck } from './identity.js';
import type { EmulatorTenant, TraceData } from './model.js';
import type { Stats } from './stats.js';
import type { Throttle } from './throttle.js';

/** What the data APIs need of the identity platform. */
export type TokenVerifier = Pick<Identity, 'verifyAccessToken' | 'revokeTokens'>;

export interface ApiOptions {
  /** Graph `$filter` handling: Microsoft's observed leniency, or strict 400s. */
  readonly graphMode: 'observed' | 'strict';
  /** getDetailsByRecipient for an unknown trace id or recipient: empty list or 404 (unknown which). */
  readonly unknownDetails: 'empty' | '404';
  /** Next links older than this are refused (400); 0 = never. */
  readonly nextLinkTtlMs: number;
  readonly reportingPageSize: number;
  readonly reportingHistoryDays: number;
  /** Reporting Web Service next links as `../../ReportingWebService/…` instead of absolute URLs. */
  readonly relativeNextLinks: boolean;
}

export const DEFAULT_API_OPTIONS: ApiOptions = {
  graphMode: 'observed',
  unknownDetails: 'empty',
  nextLinkTtlMs: 0,
  reportingPageSize: 2000,
  reportingHistoryDays: 10,
  relativeNextLinks: false,
};

export interface ApiContext {
  readonly data: TraceData;
  readonly tokens: TokenVerifier;
  readonly throttle: Throttle;
  readonly faults: Faults;
  readonly clock: EmulatorClock;
  readonly stats: Stats;
  readonly options: ApiOptions;
}

/** How a refused request is answered: each API has its own error shapes. */
export interface Refusals {
  unauthenticated(res: ServerResponse, check: Extract<TokenCheck, { ok: false }>): void;
  /** The tenant or app lacks what the API needs (service principal, role, admin rights). */
  forbidden(res: ServerResponse, tenant: EmulatorTenant, roles: readonly string[]): boolean;
  throttled(res: ServerResponse, retryAfter: string): void;
  failed(res: ServerResponse, status: number): void;
  /** A 400 whose message quotes the access token presented (the `echo-token` fault). */
  echoToken(res: ServerResponse, token: string): void;
}

export type Admission =
  | {
      readonly ok: true;
      readonly tenant: EmulatorTenant;
      readonly now: number;
      readonly fault: Fault | undefined;
    }
  | { readonly ok: false };

/**
 * Runs a data request through authentication, authorization, the quota and the fault plan.
 * When it returns `ok: false` the response has been sent (or the socket closed).
 */
export function admit(
  ctx: ApiContext,
  req: EmulatorRequest,
  res: ServerResponse,
  resource: 'graph' | 'reporting',
  target: FaultTarget,
  refuse: Refusals,
): Admission {
  const check = ctx.tokens.verifyAccessToken(req.headers.authorization, resource);
  if (!check.ok) {
    refuse.unauthenticated(res, check);
    return { ok: false };
  }
  const { tenant } = check;
  ctx.stats.tag(res, tenant.name);
  if (refuse.forbidden(res, tenant, check.roles)) return { ok: false };
  const now = ctx.clock.now();
  const decision = ctx.throttle.take(tenant.tenantId, target === 'graph-detail' ? 'detail' : 'list', now);
  if (!decision.ok) {
    refuse.throttled(res, decision.retryAfter);
    return { ok: false };
  }
  const paging = [...req.url.searchParams.keys()].some((key) => key.toLowerCase() === '$skiptoken');
  const fault = ctx.faults.draw(target, tenant, paging);
  switch (fault?.kind) {
    case 'status':
      // A 429 is answered as the service throttles: its own body and a Retry-After (1 s).
      if (fault.status === 429) refuse.throttled(res, '1');
      else refuse.failed(res, fault.status ?? 503);
      return { ok: false };
    case 'reset':
      res.socket?.destroy();
      return { ok: false };
    case 'revoke-token':
      ctx.tokens.revokeTokens(tenant.tenantId);
      refuse.unauthenticated(res, {
        ok: false,
        reason: 'revoked',
        message: 'The access token has been revoked.',
      });
      return { ok: false };
    case 'echo-token':
      refuse.echoToken(res, /^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
      return { ok: false };
    default:
      return { ok: true, tenant, now, fault };
  }
}

/** The part of a fault that spoils the response body on its way out. */
export function sendFaultOf(fault: Fault | undefined) {
  if (fault === undefined) return undefined;
  if (fault.kind === 'truncate') return { kind: 'truncate' } as const;
  if (fault.kind === 'endless-body') return { kind: 'endless-body' } as const;
  if (fault.kind === 'trickle-body') return { kind: fault.kind, delayMs: fault.delayMs ?? 1000 } as const;
  if (fault.kind === 'slow-headers' || fault.kind === 'slow-body') {
    return { kind: fault.kind, delayMs: fault.delayMs ?? 2000 } as const;
  }
  return undefined;
}
