import { EcsFlat } from '@elastic/ecs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { logSecretsOf } from '../../src/config/secrets.js';
import { ECS_VERSION } from '../../src/normalize/ecs.js';
import { CENSOR, createLogger, type LoggerOptions, scrub } from '../../src/observe/log.js';
import { flatten } from '../helpers/ecs.js';

/** A stream that keeps what is written, as a TTY or not. */
function capture(isTTY = false): { write(chunk: string): boolean; isTTY: boolean; text(): string } {
  let text = '';
  return {
    isTTY,
    write(chunk: string) {
      text += chunk;
      return true;
    },
    text: () => text,
  };
}

function linesOf(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function logOnce(options: LoggerOptions, fields?: Record<string, unknown>, message = 'hello') {
  const out = capture();
  createLogger(out, options).info(message, fields);
  return out.text();
}

describe('createLogger: formats', () => {
  it('json (not a TTY, auto): level as a word, ISO time, msg, the fields at the top', () => {
    const out = capture();
    createLogger(out).info('tenant collected', { tenant: 'contoso', passes: [{ inserted: 3 }] });
    const [line] = linesOf(out.text());
    expect(line).toMatchObject({ level: 'info', msg: 'tenant collected', tenant: 'contoso' });
    expect(line?.['passes']).toEqual([{ inserted: 3 }]);
    expect(Date.parse(line?.['time'] as string)).not.toBeNaN();
    expect(out.text()).toMatch(/"msg":"tenant collected"/);
  });

  it('pretty on a TTY (auto), and when asked: not JSON, the level and message readable', () => {
    for (const [tty, format] of [
      [true, 'auto'],
      [false, 'pretty'],
    ] as const) {
      const out = capture(tty);
      createLogger(out, { format }).warn('output failing', { output: 'es' });
      const text = out.text();
      expect(() => JSON.parse(text) as unknown).toThrow();
      // eslint-disable-next-line no-control-regex
      const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
      expect(plain).toMatch(/WARN.*output failing/);
      expect(plain).toMatch(/output: "es"/);
    }
  });

  it('pretty: a record with an error is one line (message, fix, plain fields), its details at debug only', () => {
    const SECRET = 's3cr3t-CLIENT-SECRET-7f2a';
    const fields = {
      tenant: 'contoso',
      token: 'tok-1',
      retryInSeconds: 60,
      error: {
        code: 'bad_secret',
        message: `the client secret ${SECRET} is wrong`,
        fix: 'check tenants[0].clientSecret',
        retryable: false,
        cause: { name: 'Error', message: 'AADSTS7000215' },
      },
    };
    for (const level of ['info', 'debug'] as const) {
      const out = capture(true);
      createLogger(out, { format: 'pretty', level, secrets: [SECRET] }).error('tenant failed', fields);
      // eslint-disable-next-line no-control-regex
      const text = out.text().replace(/\x1b\[[0-9;]*m/g, '');
      for (const leak of [SECRET, 'tok-1']) expect(text).not.toContain(leak);
      const [first, ...rest] = text.split('\n').filter((l) => l !== '');
      expect(first).toMatch(
        /ERROR: tenant failed: the client secret REDACTED is wrong — fix: check tenants\[0\]\.clientSecret \[tenant=contoso token=\[redacted\] retryInSeconds=60 code=bad_secret\]$/,
      );
      if (level === 'info') expect(rest).toEqual([]);
      else expect(rest.join('\n')).toMatch(/DEBUG: tenant failed \(details\)[\s\S]*AADSTS7000215/);
    }
  });

  it('json on a TTY when asked', () => {
    const out = capture(true);
    createLogger(out, { format: 'json' }).info('x');
    expect(linesOf(out.text())[0]).toMatchObject({ level: 'info', msg: 'x' });
  });

  it('ecs: the base fields, the caller fields under exotrace.*, every name an ECS field', () => {
    const text = logOnce(
      { format: 'ecs' },
      {
        tenant: 'contoso',
        delivered: { file: 12 },
        error: { code: 'bad_secret', message: 'the client secret is wrong', retryable: false },
      },
      'tenant failed',
    );
    const line = linesOf(text)[0] ?? {};
    expect(line).toMatchObject({
      message: 'tenant failed',
      log: { level: 'info' },
      ecs: { version: ECS_VERSION },
      service: { name: 'exotrace' },
      process: { pid: process.pid },
      error: { code: 'bad_secret', message: 'the client secret is wrong' },
      exotrace: { tenant: 'contoso', delivered: { file: 12 } },
    });
    expect(typeof (line['host'] as { hostname?: unknown }).hostname).toBe('string');
    expect(Date.parse(line['@timestamp'] as string)).not.toBeNaN();
    const flat = EcsFlat as unknown as Record<string, { type: string } | undefined>;
    const problems: string[] = [];
    for (const [name, value] of Object.entries(flatten(line))) {
      if (name.startsWith('exotrace.')) continue;
      const def = flat[name];
      if (def === undefined) problems.push(`${name}: not an ECS field`);
      else if (['long', 'integer'].includes(def.type) ? typeof value !== 'number' : typeof value !== 'string')
        problems.push(`${name}: not a ${def.type}`);
    }
    expect(problems).toEqual([]);
  });

  it('ecs without fields: no exotrace object', () => {
    const line = linesOf(logOnce({ format: 'ecs' }))[0] ?? {};
    expect(line).not.toHaveProperty('exotrace');
    expect(line['message']).toBe('hello');
  });
});

describe('createLogger: levels', () => {
  it('info by default: debug dropped; each level keeps itself and above', () => {
    const expected = { debug: 4, info: 3, warn: 2, error: 1 } as const;
    for (const [level, count] of Object.entries(expected)) {
      const out = capture();
      const log = createLogger(out, { level: level as keyof typeof expected });
      log.debug('d');
      log.info('i');
      log.warn('w');
      log.error('e');
      expect(linesOf(out.text()).length, level).toBe(count);
    }
    const out = capture();
    const log = createLogger(out);
    log.debug('d');
    log.info('i');
    expect(linesOf(out.text()).map((l) => l['level'])).toEqual(['info']);
  });

  it('the old signature: createLogger(stream, level)', () => {
    const out = capture();
    const log = createLogger(out, 'warn');
    log.info('i');
    log.error('e');
    expect(linesOf(out.text()).map((l) => l['level'])).toEqual(['error']);
  });
});

describe('createLogger: redaction', () => {
  const SECRET = 's3cr3t-CLIENT-SECRET-7f2a';
  const fields = {
    authorization: 'Bearer abc.def',
    clientSecret: SECRET,
    client_secret: SECRET,
    client_assertion: 'eyJhbGciOiJQUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
    headers: { Authorization: 'ApiKey aGVsbG8=', 'proxy-authorization': 'Basic dTpw', accept: 'json' },
    request: { headers: { authorization: 'Splunk hec-token-1' }, password: 'pw-1', apiKey: 'k-1' },
    output: { token: 'tok-1', intakeKey: 'intake-1', privateKey: '-----BEGIN PRIVATE KEY-----' },
    deep: { a: { b: { c: { passphrase: 'phrase-1', note: `had ${SECRET} inside` } } } },
    list: [{ password: 'pw-2' }, `x ${SECRET} y`],
    url: 'https://graph.example/v1.0/x?$skiptoken=abc&secret=1',
    err: new Error(`connect failed for ${SECRET}`),
  };
  const leaked = [
    SECRET,
    'abc.def',
    'eyJhbGciOiJQUzI1NiJ9',
    'aGVsbG8=',
    'dTpw',
    'hec-token-1',
    'pw-1',
    'pw-2',
    'k-1',
    'tok-1',
    'intake-1',
    'BEGIN PRIVATE',
    'phrase-1',
    'skiptoken=abc',
  ];

  for (const format of ['json', 'ecs', 'pretty'] as const) {
    it(`${format}: secret-named keys censored at any depth, known secrets replaced in message and values`, () => {
      const text = logOnce({ format, secrets: [SECRET] }, fields, `token request with ${SECRET} failed`);
      for (const secret of leaked) expect(text, secret).not.toContain(secret);
      expect(text).toContain(CENSOR);
      expect(text).toContain('accept');
      expect(text).toContain('token request with REDACTED failed');
    });
  }

  it('pino redact paths also apply, json and ecs (under exotrace.*): the second net, not scrub', () => {
    // scrub censors a secret-named key only when it holds something: an empty or null value passes
    // it untouched (nothing to hide). So only pino's `redact` paths can censor these, and the
    // test fails if those paths are removed, emptied, or lose the ECS prefix.
    const fields = {
      authorization: '',
      clientSecret: null,
      headers: { Authorization: '', 'proxy-authorization': '', 'x-api-key': null, cookie: '' },
      request: { password: '', token: null, headers: { authorization: '' } },
    };
    expect(scrub(fields)).toEqual(fields);
    const censored = {
      authorization: CENSOR,
      clientSecret: CENSOR,
      headers: { Authorization: CENSOR, 'proxy-authorization': CENSOR, 'x-api-key': CENSOR, cookie: CENSOR },
      request: { password: CENSOR, token: CENSOR, headers: { authorization: CENSOR } },
    };
    const [json] = linesOf(logOnce({ format: 'json' }, fields));
    expect(json).toMatchObject(censored);
    const [ecs] = linesOf(logOnce({ format: 'ecs' }, fields));
    expect(ecs).toMatchObject({ exotrace: censored });
  });

  it('scrub leaves ordinary values, reduces errors to name, code and message, survives cycles', () => {
    const cyclic: Record<string, unknown> = { n: 1 };
    cyclic['self'] = cyclic;
    const error = Object.assign(new Error('boom'), { code: 'ECONNREFUSED', request: { headers: { x: 1 } } });
    expect(scrub({ n: 1, ok: true, at: new Date(0), error, cyclic })).toEqual({
      n: 1,
      ok: true,
      at: '1970-01-01T00:00:00.000Z',
      error: { name: 'Error', message: 'boom', code: 'ECONNREFUSED' },
      cyclic: { n: 1, self: '[…]' },
    });
  });

  it('secrets shorter than 4 characters are not replaced literally (they would blank common words)', () => {
    const text = logOnce({ secrets: ['in'] }, { note: 'info' }, 'login');
    expect(text).toContain('"note":"info"');
  });
});

describe('logSecretsOf', () => {
  it('the config secrets, their base64, and base64 of user:password pairs', () => {
    const config = parseConfig(
      `tenants:
  - name: a
    tenantId: a.onmicrosoft.com
    clientId: 11111111-2222-3333-4444-555555555555
    clientSecret: tenant-secret-1
outputs:
  - type: elasticsearch
    url: https://es.example.com
    username: elastic
    password: es-pass-1
http:
  proxy: http://puser:p%40ss-1@proxy.corp:3128
`,
      '/tmp/exotrace-log-test.yaml',
      {},
    );
    const secrets = logSecretsOf(config);
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    expect(secrets).toEqual(
      expect.arrayContaining([
        'tenant-secret-1',
        b64('tenant-secret-1'),
        'es-pass-1',
        b64('elastic:es-pass-1'),
        'p%40ss-1',
        'p@ss-1',
        b64('puser:p@ss-1'),
      ]),
    );
  });
});
