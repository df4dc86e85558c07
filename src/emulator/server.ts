/**
 * The emulator as one HTTPS server on loopback: identity platform, Graph, Reporting Web Service
 * and the control API, each a handler tried in turn. `startEmulator` is what the CLI, the demo and
 * the tests use.
 */
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_API_OPTIONS, sendFaultOf, type ApiContext, type ApiOptions } from './api.js';
import { createClock, type EmulatorClock } from './clock.js';
import { CONTROL_PREFIX, createControlApi } from './control.js';
import { createTraceData } from './data/index.js';
import { createRandom } from './data/prng.js';
import { createFaults, type FaultRates, type Faults } from './faults.js';
import { createGraphApi } from './graph.js';
import { readRequest, sendJson, sendJsonWith, type Handler } from './http.js';
import { createIdentity } from './identity.js';
import type { EmulatorTenant, TraceData } from './model.js';
import { createReportingApi } from './reporting.js';
import { createStats, type ApiName, type Stats } from './stats.js';
import { buildTenant, defaultTenantSpecs, type TenantSpec } from './tenants.js';
import { createThrottle, DEFAULT_THROTTLE, type ThrottleOptions } from './throttle.js';
import { generateTlsMaterial } from './tls.js';
import { isLoopbackHost } from '../util/net.js';

export interface EmulatorOptions {
  /** Loopback address to listen on; anything else is refused. Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: any free port. */
  readonly port?: number;
  /** Where the CA and server certificate are written; default a new temporary folder. */
  readonly dir?: string;
  /** Seed of the generated tenants, credentials and mail flow. Default 1. */
  readonly seed?: number;
  /** Tenants, or how many to make up. Default 1. */
  readonly tenants?: readonly TenantSpec[] | number;
  /** Messages a day for made-up tenants. Default 2000. */
  readonly messagesPerDay?: number;
  /** Access token lifetime. Default 3599 s, as Entra's. */
  readonly tokenLifetimeSeconds?: number;
  /** Issue opaque (non-JWT) access tokens. Default false. */
  readonly opaqueTokens?: boolean;
  readonly throttle?: Partial<ThrottleOptions>;
  readonly api?: Partial<ApiOptions>;
  readonly faults?: Partial<FaultRates>;
  /** Default: the real clock. */
  readonly clock?: EmulatorClock;
}

export interface Emulator {
  /** `https://127.0.0.1:PORT`: login, Graph, Reporting Web Service and control share it. */
  readonly url: string;
  /** The CA certificate clients must trust. */
  readonly caFile: string;
  readonly caCertPem: string;
  readonly clock: EmulatorClock;
  readonly faults: Faults;
  readonly stats: Stats;
  readonly data: TraceData;
  tenants(): readonly EmulatorTenant[];
  close(): Promise<void>;
}

function apiOf(pathname: string): ApiName {
  if (pathname.startsWith(CONTROL_PREFIX)) return 'control';
  if (/\/getDetailsByRecipient\(/i.test(pathname)) return 'graph-detail';
  if (/^\/(v1\.0|beta)\//i.test(pathname)) return 'graph-list';
  if (/^\/ecp\//i.test(pathname)) return 'reporting';
  if (/\/oauth2\/|\/\.well-known\//i.test(pathname)) return 'token';
  return 'other';
}

/** The emulator could not listen where it was told: the address, and why in words. */
export class EmulatorListenError extends Error {
  override readonly name = 'EmulatorListenError';
  constructor(
    readonly address: string,
    readonly code: string | undefined,
    why: string,
    options?: ErrorOptions,
  ) {
    super(`${address}: ${why}${code === undefined ? '' : ` (${code})`}`, options);
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      const why =
        error.code === 'EADDRINUSE'
          ? 'address already in use (another process, or another emulator)'
          : error.code === 'EACCES'
            ? 'permission denied (ports below 1024 need privileges)'
            : error.code === 'EADDRNOTAVAIL'
              ? 'no such address on this machine'
              : error.message;
      reject(new EmulatorListenError(address, error.code, why, { cause: error }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    throw new Error(
      `the emulator listens on loopback only (127.0.0.1, ::1, localhost); refused host ${host}`,
    );
  }
  const seed = options.seed ?? 1;
  // Listening comes first, its certificate after: a port in use is then told at once, before the
  // seconds that making the certificates takes (and before anything is written to disk).
  let handle: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
  const server: Server = createServer((req, res) => {
    handle(req, res);
  });
  await listen(server, options.port ?? 0, host);
  let tls: Awaited<ReturnType<typeof generateTlsMaterial>>;
  try {
    const dir = options.dir ?? (await mkdtemp(path.join(tmpdir(), 'exotrace-emulator-')));
    tls = await generateTlsMaterial(dir);
  } catch (error) {
    server.close();
    throw error;
  }
  server.setSecureContext({ key: tls.serverKeyPem, cert: tls.serverCertPem });
  const clock = options.clock ?? createClock();
  const specs =
    typeof options.tenants === 'number' || options.tenants === undefined
      ? defaultTenantSpecs(options.tenants ?? 1)
      : options.tenants;
  let tenants: EmulatorTenant[] = specs.map((spec) =>
    buildTenant(spec, seed, options.messagesPerDay ?? 2000),
  );
  const identity = createIdentity({
    tenants: () => tenants,
    now: () => clock.now(),
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3599,
    ...(options.opaqueTokens === undefined ? {} : { opaqueTokens: options.opaqueTokens }),
  });
  const data = createTraceData();
  const stats = createStats();
  const faults = createFaults(createRandom(seed), options.faults);
  const ctx: ApiContext = {
    data,
    tokens: identity,
    throttle: createThrottle({ ...DEFAULT_THROTTLE, ...options.throttle }),
    faults,
    clock,
    stats,
    options: { ...DEFAULT_API_OPTIONS, ...options.api },
  };

  let url = '';
  const control = createControlApi({
    clock,
    faults,
    stats,
    data,
    tenants: () => tenants,
    updateTenant(name, change) {
      let updated: EmulatorTenant | undefined;
      tenants = tenants.map((t) => (t.name === name ? (updated = { ...t, ...change }) : t));
      return updated;
    },
    revokeTokens: (tenantId) => {
      identity.revokeTokens(tenantId);
    },
    describe: () => ({
      loginUrl: url,
      graphUrl: url,
      reportingUrl: `${url}/ecp/ReportingWebService/Reporting.svc`,
      caFile: tls.caFile,
    }),
  });
  const tokenFaults: Handler = async (req, res) => {
    // The token endpoint can fail too; the tenant is the first path segment.
    if (req.method !== 'POST' || !/\/oauth2\//.test(req.url.pathname)) return false;
    const key = decodeURIComponent(req.url.pathname.split('/')[1] ?? '').toLowerCase();
    const tenant = tenants.find((t) => t.tenantId.toLowerCase() === key || t.domain.toLowerCase() === key);
    const fault = tenant === undefined ? undefined : faults.draw('token', tenant);
    if (fault?.kind === 'reset') {
      res.socket?.destroy();
      return true;
    }
    const unavailable = {
      error: 'temporarily_unavailable',
      error_description: 'AADSTS50001: The service is temporarily unavailable.',
    };
    if (fault?.kind === 'status') {
      sendJson(res, fault.status ?? 503, unavailable);
      return true;
    }
    // A token answer that never ends, or that trickles in (an error, once it is all there).
    const spoiled = sendFaultOf(fault);
    if (spoiled?.kind === 'endless-body' || spoiled?.kind === 'trickle-body') {
      const body = spoiled.kind === 'endless-body' ? { access_token: [] as string[] } : unavailable;
      await sendJsonWith(res, spoiled.kind === 'endless-body' ? 200 : 503, body, {}, spoiled);
      return true;
    }
    return false;
  };
  const handlers: readonly Handler[] = [
    control,
    tokenFaults,
    identity.handle,
    createGraphApi(ctx),
    createReportingApi(ctx),
  ];

  const dispatch = async (incoming: IncomingMessage, res: ServerResponse): Promise<void> => {
    const api = apiOf(incoming.url ?? '/');
    try {
      // The client's own Host: discovery documents and next links then name the address it used.
      const req = await readRequest(
        incoming,
        incoming.headers.host === undefined ? url : `https://${incoming.headers.host}`,
      );
      for (const handler of handlers) {
        if (await handler(req, res)) {
          stats.record(res, api);
          return;
        }
      }
      sendJson(res, 404, {
        error: { code: 'NotFound', message: `No emulated API at ${req.method} ${req.url.pathname}` },
      });
      stats.record(res, api);
    } catch (error) {
      if (!res.headersSent)
        sendJson(res, 500, {
          error: { code: 'EmulatorError', message: error instanceof Error ? error.message : String(error) },
        });
      else res.destroy();
      stats.record(res, api);
    }
  };

  handle = (req, res) => {
    void dispatch(req, res);
  };
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  url = `https://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    caFile: tls.caFile,
    caCertPem: tls.caCertPem,
    clock,
    faults,
    stats,
    data,
    tenants: () => tenants,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
