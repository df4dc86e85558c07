/**
 * Test harness: a real emulator over HTTPS on 127.0.0.1, and a plain HTTPS client (undici with an
 * explicit dispatcher trusting the emulator's CA) to talk to it the way any client would.
 */
import { Agent, request } from 'undici';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/server.js';
import type { EmulatorTenant } from '../../src/emulator/model.js';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): unknown;
}

export interface Harness {
  emulator: Emulator;
  agent: Agent;
  tenant(name?: string): EmulatorTenant;
  get(pathOrUrl: string, headers?: Record<string, string>): Promise<Reply>;
  post(path: string, body: string | object, headers?: Record<string, string>): Promise<Reply>;
  /** A client-credentials token for the tenant's app, by secret. */
  token(tenant?: EmulatorTenant, scope?: string): Promise<string>;
  control(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: object): Promise<Reply>;
  close(): Promise<void>;
}

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
export const REPORTING_SCOPE = 'https://outlook.office365.com/.default';

export async function startHarness(options: EmulatorOptions = {}): Promise<Harness> {
  const emulator = await startEmulator({ messagesPerDay: 500, ...options });
  const agent = new Agent({ connect: { ca: emulator.caCertPem }, keepAliveTimeout: 1000 });
  const send = async (
    method: string,
    pathOrUrl: string,
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<Reply> => {
    const url = pathOrUrl.startsWith('https://') ? pathOrUrl : emulator.url + pathOrUrl;
    const res = await request(url, {
      method: method as 'GET',
      body: body ?? null,
      headers,
      dispatcher: agent,
    });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      headers: res.headers,
      text,
      json: () => JSON.parse(text) as unknown,
    };
  };
  const harness: Harness = {
    emulator,
    agent,
    tenant(name) {
      const tenants = emulator.tenants();
      const found = name === undefined ? tenants[0] : tenants.find((t) => t.name === name);
      if (found === undefined) throw new Error(`no tenant ${name ?? '(first)'}`);
      return found;
    },
    get: (pathOrUrl, headers = {}) => send('GET', pathOrUrl, undefined, headers),
    post: (path, body, headers = {}) =>
      typeof body === 'string'
        ? send('POST', path, body, { 'content-type': 'application/x-www-form-urlencoded', ...headers })
        : send('POST', path, JSON.stringify(body), { 'content-type': 'application/json', ...headers }),
    async token(tenant = harness.tenant(), scope = GRAPH_SCOPE) {
      const app = tenant.apps[0];
      if (app === undefined) throw new Error('tenant has no app');
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: app.clientId,
        client_secret: app.secrets[0]?.value ?? '',
        scope,
      });
      const reply = await harness.post(`/${tenant.tenantId}/oauth2/v2.0/token`, form.toString());
      if (reply.status !== 200) throw new Error(`token: ${reply.status} ${reply.text}`);
      return (reply.json() as { access_token: string }).access_token;
    },
    control: (method, path, body) =>
      send(method, `/_emulator${path}`, body === undefined ? undefined : JSON.stringify(body), {
        'content-type': 'application/json',
      }),
    async close() {
      await agent.close();
      await emulator.close();
    },
  };
  return harness;
}

/** `receivedDateTime ge … and receivedDateTime le …` for Graph, whole seconds. */
export function graphWindow(fromMs: number, toMs: number): string {
  const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 19) + 'Z';
  return `receivedDateTime ge ${iso(fromMs)} and receivedDateTime le ${iso(toMs)}`;
}
