import { Agent, EnvHttpProxyAgent, ProxyAgent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { createMsalTokenProvider } from '../../src/sources/auth/token-provider.js';
import { assertSecureUrl } from '../../src/http/bounded-request.js';
import { createDispatcher, createHttpClient } from '../../src/http/client.js';
import { ExotraceError } from '../../src/core/errors.js';
import type { HttpPolicy, HttpRequest } from '../../src/http/types.js';
import { withHeader } from '../../src/http/types.js';

const request = (url: string): HttpRequest => ({
  method: 'GET',
  url: new URL(url),
  headers: {},
  signal: new AbortController().signal,
});

describe('dispatcher choice', () => {
  it('uses a plain keep-alive Agent without proxy settings', async () => {
    const d = createDispatcher({ env: {} });
    expect(d).toBeInstanceOf(Agent);
    await d.close();
  });

  it('uses the configured proxy over the environment', async () => {
    const d = createDispatcher({
      proxyUrl: 'http://proxy.example:3128',
      env: { HTTPS_PROXY: 'http://other:1' },
    });
    expect(d).toBeInstanceOf(ProxyAgent);
    await d.close();
  });

  it('honours HTTPS_PROXY and NO_PROXY from the environment', async () => {
    const d = createDispatcher({ env: { HTTPS_PROXY: 'http://proxy.example:3128', NO_PROXY: '127.0.0.1' } });
    expect(d).toBeInstanceOf(EnvHttpProxyAgent);
    await d.close();
  });
});

describe('plain http', () => {
  it.each([
    'http://127.0.0.1:8080/x',
    'http://localhost/x',
    'http://[::1]:80/x',
    'https://graph.microsoft.com/x',
  ])('allows %s', (url) => {
    expect(() => {
      assertSecureUrl(new URL(url));
    }).not.toThrow();
  });

  it('refuses plain http to any other host, before connecting', async () => {
    const client = createHttpClient({ policies: [], agent: createDispatcher({ env: {} }) });
    const error = await client
      .send(request('http://graph.microsoft.com/v1.0/x?secret=1'))
      .catch((e: unknown) => e);
    expect(ExotraceError.is(error) && error.code).toBe('insecure_url');
    expect(ExotraceError.is(error) && error.message).not.toContain('secret=1');
  });
});

describe('composition', () => {
  const tag = (name: string, log: string[]): HttpPolicy => ({
    name,
    send: (req, next) => {
      log.push(name);
      return next(withHeader(req, `x-${name}`, '1'));
    },
  });

  it('folds outermost first, and the innermost sees every header', async () => {
    const log: string[] = [];
    let seen: Readonly<Record<string, string>> = {};
    const client = createHttpClient({
      policies: [tag('a', log), tag('b', log), tag('c', log)],
      agent: createDispatcher({ env: {} }),
      transport: (req) => {
        seen = req.headers;
        return Promise.resolve({ status: 204, headers: {}, text: '' });
      },
    });
    await client.send(request('https://graph.microsoft.com/x'));
    expect(log).toEqual(['a', 'b', 'c']);
    expect(seen).toEqual({ 'x-a': '1', 'x-b': '1', 'x-c': '1' });
  });

  it('refuses a policy added twice', () => {
    expect(() =>
      createHttpClient({ policies: [tag('a', []), tag('a', [])], agent: createDispatcher({ env: {} }) }),
    ).toThrow(/added twice/);
  });
});

describe('undici sender against the emulator', () => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator({ messagesPerDay: 10 });
  });
  afterAll(async () => {
    await emulator.close();
  });

  it('reads the whole body and flattens headers', async () => {
    const agent = createDispatcher({ caPem: emulator.caCertPem, env: {} });
    const client = createHttpClient({ policies: [], agent });
    const response = await client.send(request(`${emulator.url}/_emulator`));
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/json/);
    expect(JSON.parse(response.text)).toHaveProperty('tenants');
    await agent.close();
  });

  it('a headers timeout is a retryable transient error', async () => {
    const agent = createDispatcher({ caPem: emulator.caCertPem, env: {}, headersTimeoutMs: 200 });
    emulator.faults.enqueue([{ kind: 'slow-headers', delayMs: 1500, targets: ['graph-list'] }]);
    const tenant = emulator.tenants()[0];
    const provider = createMsalTokenProvider({
      tenantId: tenant?.tenantId ?? '',
      clientId: tenant?.apps[0]?.clientId ?? '',
      credential: { kind: 'secret', secret: tenant?.apps[0]?.secrets[0]?.value ?? '' },
      loginUrl: emulator.url,
      dispatcher: agent,
      context: { tenant: 'contoso', configPath: 'tenants[0]' },
    });
    const token = await provider.getToken();
    // The fault is drawn only after authentication, so the request must carry a real token.
    const client = createHttpClient({ policies: [], agent });
    const error = await client
      .send({
        ...request(`${emulator.url}/v1.0/admin/exchange/tracing/messageTraces`),
        headers: { authorization: `Bearer ${token}` },
      })
      .catch((e: unknown) => e);
    expect(ExotraceError.is(error) && error.code).toBe('transient');
    expect(ExotraceError.is(error) && error.retryable).toBe(true);
    await agent.close();
  });
});

describe('a proxy that refuses the tunnel', () => {
  it('407: not retried, names http.proxy and what to fix, never the proxy credentials', async () => {
    const { createServer } = await import('node:net');
    const asked: string[] = [];
    const proxy = createServer((socket) => {
      socket.once('data', (chunk) => {
        asked.push(chunk.toString('latin1').split('\r\n')[0] ?? '');
        socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const address = proxy.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const dispatcher = createDispatcher({ proxyUrl: `http://puser:Pr0xyPa55@127.0.0.1:${address.port}` });
    try {
      const client = createHttpClient({ agent: dispatcher, policies: [] });
      const error = await client.send(request('https://graph.example.com/v1.0/x')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(asked).toEqual(['CONNECT graph.example.com:443 HTTP/1.1']);
      expect(ExotraceError.is(error)).toBe(true);
      const json = (error as ExotraceError).toJSON();
      expect(json).toMatchObject({ code: 'network_error', retryable: false, configKey: 'http.proxy' });
      expect(String(json['message'])).toContain('the proxy refused the tunnel with 407');
      expect(String(json['fix'])).toContain('proxy credentials');
      expect(JSON.stringify(json)).not.toContain('Pr0xyPa55');
    } finally {
      await dispatcher.close();
      proxy.close();
    }
  });
});
