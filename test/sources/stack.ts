/**
 * The HTTP stack as the collector composes it (retry → bearer → budget → attempt → undici),
 * pointed at a running emulator, with virtual time for every wait. Sleeping also moves the
 * emulator's clock, so a 120-second Retry-After really is over when the retry goes out.
 */
import type { Emulator } from '../../src/emulator/server.js';
import {
  createMsalTokenProvider,
  type ClientCredential,
  type TokenProvider,
} from '../../src/sources/auth/token-provider.js';
import { attemptPolicy, type AttemptReport } from '../../src/http/attempt.js';
import { bearerPolicy } from '../../src/sources/http/bearer.js';
import { budgetPolicy, createTenantBudget, type TenantBudget } from '../../src/sources/http/budget.js';
import {
  createDispatcher,
  createHttpClient,
  type HttpClient,
  type SenderLimits,
} from '../../src/http/client.js';
import type { ErrorContext } from '../../src/core/errors.js';
import { retryPolicy, type RetryInfo } from '../../src/http/retry.js';
import { throttlingStrategy, transientStrategy } from '../../src/http/retry-strategies.js';
import type { HttpRequest } from '../../src/http/types.js';
import { createVirtualTime, type VirtualTime } from './virtual-time.js';

export interface Stack {
  client: HttpClient;
  budget: TenantBudget;
  tokens: TokenProvider & { readonly refreshes: number; readonly calls: number };
  attempts: AttemptReport[];
  /** What each retry followed (its error, or its status). */
  retries: RetryInfo[];
  time: VirtualTime;
  context: ErrorContext;
  close(): Promise<void>;
}

export interface StackOptions {
  tenant?: string;
  credential?: ClientCredential;
  clientId?: string;
  requestsPer5Min?: number;
  /** Each attempt's body ceiling and whole-request deadline (default: the collector's). */
  limits?: SenderLimits;
  /** The token requests' whole-request deadline. */
  tokenTimeoutMs?: number;
}

export function createStack(emulator: Emulator, options: StackOptions = {}): Stack {
  const tenants = emulator.tenants();
  const tenant = options.tenant === undefined ? tenants[0] : tenants.find((t) => t.name === options.tenant);
  const app = tenant?.apps[0];
  if (tenant === undefined || app === undefined) throw new Error('no such tenant');
  const context: ErrorContext = { tenant: tenant.name, configPath: 'tenants[0]' };
  const time = createVirtualTime(Date.now(), (ms) => {
    emulator.clock.advance(ms);
  });
  const dispatcher = createDispatcher({ caPem: emulator.caCertPem, keepAliveTimeoutMs: 1000 });
  const msal = createMsalTokenProvider({
    tenantId: tenant.tenantId,
    clientId: options.clientId ?? app.clientId,
    credential: options.credential ?? { kind: 'secret', secret: app.secrets[0]?.value ?? '' },
    loginUrl: emulator.url,
    dispatcher,
    ...(options.tokenTimeoutMs === undefined ? {} : { timeoutMs: options.tokenTimeoutMs }),
    context,
  });
  let refreshes = 0;
  let calls = 0;
  const tokens = {
    get refreshes() {
      return refreshes;
    },
    get calls() {
      return calls;
    },
    getToken(force = false) {
      calls++;
      if (force) refreshes++;
      return msal.getToken(force);
    },
  };
  const budget = createTenantBudget({
    requests: options.requestsPer5Min ?? 90,
    clock: time.now,
    sleep: time.sleep,
  });
  const attempts: AttemptReport[] = [];
  const retries: RetryInfo[] = [];
  const client = createHttpClient({
    agent: dispatcher,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    policies: [
      retryPolicy({
        clock: time.now,
        sleep: time.sleep,
        strategies: [throttlingStrategy(), transientStrategy({ random: () => 0.5 })],
        onRetry: (info) => retries.push(info),
      }),
      bearerPolicy({ tokenProvider: tokens, apiUrl: new URL(emulator.url), context }),
      budgetPolicy({ budget, clock: time.now }),
      attemptPolicy({ onAttempt: (r) => attempts.push(r), clock: time.now }),
    ],
  });
  return { client, budget, tokens, attempts, retries, time, context, close: () => dispatcher.close() };
}

export function listRequest(emulator: Emulator, extra: Partial<HttpRequest> = {}): HttpRequest {
  return {
    method: 'GET',
    url: new URL(`${emulator.url}/v1.0/admin/exchange/tracing/messageTraces?$top=5`),
    headers: { accept: 'application/json' },
    signal: new AbortController().signal,
    ...extra,
  };
}

/** Responses the emulator sent for an API, by status, over all tenants. */
export function served(emulator: Emulator, api: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const byApi of Object.values(emulator.stats.snapshot())) {
    for (const [status, count] of Object.entries(byApi[api] ?? {})) out[status] = (out[status] ?? 0) + count;
  }
  return out;
}
