/**
 * Wires a tenant's source: one dispatcher (CA, timeouts, proxy) for the login and API hosts, the
 * tenant's msal token provider (scope by API), the tenant's request budget, and the policies in
 * style.md's order — retry → bearer → budget → attempt — around undici, under the generic poller.
 */
import type { Config, TenantConfig } from '../config/index.js';
import {
  createMsalTokenProvider,
  GRAPH_SCOPE,
  REPORTING_SCOPE,
  type ClientCredential,
} from './auth/token-provider.js';
import { graphAdapter } from './graph.js';
import { attemptPolicy, type AttemptReport } from '../http/attempt.js';
import { bearerPolicy } from './http/bearer.js';
import { budgetPolicy, createTenantBudget, type TenantBudget } from './http/budget.js';
import { createDispatcher, createHttpClient } from '../http/client.js';
import type { ErrorContext } from '../core/errors.js';
import { defaultStrategies, retryPolicy, type RetryInfo, type RetryOptions } from '../http/retry.js';
import { configuredProxy } from '../http/transport-cause.js';
import { systemClock, systemSleep, type Clock, type Sleep } from '../util/abort.js';
import { type HttpPolicy } from '../http/types.js';
import { reportingAdapter, type ReportingDialect } from './reporting.js';
import { createPollingSource, type ApiAdapter, type MessageTraceSource } from './source.js';

export interface SourceHooks {
  /** Every attempt that reaches the wire (logs, metrics). */
  readonly onAttempt?: (report: AttemptReport) => void;
  /** Before each retry's wait. */
  readonly onRetry?: (info: RetryInfo) => void;
  /** Every answer of the login host (token requests): its status, undefined when none came. */
  readonly onLoginAnswer?: (status: number | undefined) => void;
  readonly clock?: Clock;
  readonly sleep?: Sleep;
  /** Backoff jitter, in [0, 1); default Math.random. */
  readonly random?: () => number;
  /**
   * The tenant's budget, when another source of the same tenant already has one: Microsoft counts
   * every request of a tenant against one quota, so all of a tenant's passes must share it.
   */
  readonly budget?: TenantBudget;
  /** Where HTTPS_PROXY / NO_PROXY are read; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Replaces the retry loop's defaults (strategies, retries, total time): `doctor` diagnoses, so
   * it retries no transport failure and few HTTP answers.
   */
  readonly retry?: Pick<RetryOptions, 'strategies' | 'maxRetries' | 'maxElapsedMs'>;
}

export interface SourceOptions {
  /** Reporting Web Service only; default verbose (`$format=json`). */
  readonly reportingDialect?: ReportingDialect;
  /** Graph rows per page; default 5000. Smaller only to exercise paging in tests. */
  readonly pageSize?: number;
}

/** A tenant's request budget (`requestsPer5Min`), to pass to every source of that tenant. */
export function createSourceBudget(
  tenant: TenantConfig,
  hooks: Pick<SourceHooks, 'clock' | 'sleep'> = {},
): TenantBudget {
  return createTenantBudget({
    requests: tenant.requestsPer5Min,
    clock: hooks.clock ?? systemClock,
    sleep: hooks.sleep ?? systemSleep,
  });
}

/** The error context of a tenant: its name and its path in the config, for messages and fixes. */
export function tenantContext(tenant: TenantConfig, config: Config): ErrorContext {
  const index = config.tenants.findIndex((t) => t.name === tenant.name);
  return {
    tenant: tenant.name,
    configPath: index < 0 ? 'tenants' : `tenants[${index}]`,
    api: tenant.api,
    tenantId: tenant.tenantId,
  };
}

export function adapterFor(tenant: TenantConfig, options: SourceOptions = {}): ApiAdapter {
  if (tenant.api === 'reporting') {
    return reportingAdapter({
      apiUrl: tenant.apiUrl,
      ...(options.reportingDialect === undefined ? {} : { dialect: options.reportingDialect }),
    });
  }
  return graphAdapter({
    apiUrl: tenant.apiUrl,
    version: tenant.api === 'graph-beta' ? 'beta' : 'v1.0',
    ...(options.pageSize === undefined ? {} : { top: options.pageSize }),
  });
}

export function createSource(
  tenant: TenantConfig,
  config: Config,
  hooks: SourceHooks = {},
  options: SourceOptions = {},
): MessageTraceSource {
  const clock = hooks.clock ?? systemClock;
  const sleep = hooks.sleep ?? systemSleep;
  const context = tenantContext(tenant, config);
  const timeoutMs = config.http.timeoutMs;
  const dispatcher = createDispatcher({
    ...(config.tls === undefined ? {} : { caPem: config.tls.caPem }),
    ...(config.http.proxy === undefined ? {} : { proxyUrl: config.http.proxy }),
    ...(hooks.env === undefined ? {} : { env: hooks.env }),
    // http.timeoutMs bounds each wait on the wire; connecting never needs longer than 10 s.
    connectTimeoutMs: Math.min(10_000, timeoutMs),
    headersTimeoutMs: timeoutMs,
    bodyTimeoutMs: timeoutMs,
  });
  const env = hooks.env ?? process.env;
  const loginProxy = configuredProxy(config.http.proxy, env, new URL(tenant.loginUrl));
  const apiProxy = configuredProxy(config.http.proxy, env, new URL(tenant.apiUrl));
  const tokenProvider = createMsalTokenProvider({
    tenantId: tenant.tenantId,
    clientId: tenant.clientId,
    credential: credentialOf(tenant),
    loginUrl: tenant.loginUrl,
    scope: tenant.api === 'reporting' ? REPORTING_SCOPE : GRAPH_SCOPE,
    dispatcher,
    timeoutMs,
    context,
    ...(hooks.onLoginAnswer === undefined ? {} : { onLoginAnswer: hooks.onLoginAnswer }),
    ...(loginProxy === undefined ? {} : { proxy: loginProxy }),
  });
  const budget = hooks.budget ?? createSourceBudget(tenant, { clock, sleep });
  const policies: HttpPolicy[] = [
    retryPolicy({
      clock,
      sleep,
      strategies: defaultStrategies(hooks.random === undefined ? {} : { random: hooks.random }),
      ...hooks.retry,
      ...(hooks.onRetry === undefined ? {} : { onRetry: hooks.onRetry }),
    }),
    bearerPolicy({ tokenProvider, apiUrl: new URL(tenant.apiUrl), context }),
    budgetPolicy({ budget, clock }),
  ];
  if (hooks.onAttempt !== undefined) policies.push(attemptPolicy({ onAttempt: hooks.onAttempt, clock }));
  // http.timeout also bounds each attempt whole: a body trickling in would pass the gap limits.
  const client = createHttpClient({
    agent: dispatcher,
    policies,
    limits: { timeoutMs },
    peer: {
      role: 'API host',
      urlKey: `${context.configPath}.apiUrl`,
      ...(apiProxy === undefined ? {} : { proxy: apiProxy }),
    },
  });
  return createPollingSource({
    adapter: adapterFor(tenant, options),
    client,
    apiUrl: tenant.apiUrl,
    context,
    now: clock,
    release: () => dispatcher.close(),
    whenSendable: (signal) => budget.available(signal),
  });
}

function credentialOf(tenant: TenantConfig): ClientCredential {
  const { credential } = tenant;
  if (credential.kind === 'secret') return { kind: 'secret', secret: credential.clientSecret };
  return { kind: 'certificate', certPem: credential.certificatePem, keyPem: credential.privateKeyPem };
}
