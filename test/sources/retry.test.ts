import { describe, expect, it } from 'vitest';
import { ExotraceError } from '../../src/core/errors.js';
import { defaultStrategies, retryPolicy, withRetry } from '../../src/http/retry.js';
import { parseRetryAfter, retryAfterMs } from '../../src/http/retry-after.js';
import { throttlingStrategy, transientStrategy } from '../../src/http/retry-strategies.js';
import type { HttpRequest, HttpResponse } from '../../src/http/types.js';
import { systemSleep } from '../../src/util/abort.js';
import { createVirtualTime } from './virtual-time.js';

const ok: HttpResponse = { status: 200, headers: {}, text: '{"value":[]}' };
const reply = (status: number, headers: Record<string, string> = {}): HttpResponse => ({
  status,
  headers,
  text: '',
});

function request(overrides: Partial<HttpRequest> = {}): HttpRequest {
  return {
    method: 'GET',
    url: new URL('https://graph.microsoft.com/v1.0/admin/exchange/tracing/messageTraces'),
    headers: {},
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** A `next` answering from a script, one entry per attempt; errors are thrown. */
function scripted(steps: readonly (HttpResponse | Error)[]): {
  next: () => Promise<HttpResponse>;
  calls: () => number;
} {
  let i = 0;
  return {
    calls: () => i,
    next: () => {
      const step = steps[Math.min(i++, steps.length - 1)];
      if (step === undefined) throw new Error('empty script');
      return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
    },
  };
}

describe('retryAfterMs', () => {
  const now = Date.UTC(2026, 10, 25, 12);
  it.each([
    [{ 'retry-after-ms': '1500' }, 1500],
    [{ 'x-ms-retry-after-ms': '250' }, 250],
    [{ 'retry-after': '7' }, 7000],
    [{ 'retry-after': '2.128' }, 2128],
    [{ 'retry-after': '120' }, 120_000],
    [{ 'retry-after': new Date(now + 30_000).toUTCString() }, 30_000],
    [{ 'retry-after': new Date(now - 30_000).toUTCString() }, 0],
    [{ 'retry-after-ms': '100', 'retry-after': '9' }, 100],
    [{ 'retry-after': 'soon' }, undefined],
    [{ 'retry-after': '-5' }, 0],
    [{}, undefined],
  ])('%j → %s ms', (headers, expected) => {
    expect(retryAfterMs(headers, now)).toBe(expected);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 10, 25, 12);
  it.each([
    ['1.5', 1500],
    ['0.2', 200],
    ['3', 3000],
    [new Date(now + 5_000).toUTCString(), 5_000],
    ['86400', 3_600_000],
    ['1.5.2', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j → %s ms (fractions read, capped at one hour, nonsense undefined)', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
  it('takes the caller’s cap', () => {
    expect(parseRetryAfter('30', now, 10_000)).toBe(10_000);
  });
});

describe('retry policy', () => {
  it.each([
    [{ 'retry-after-ms': '1500' }, 1500],
    [{ 'x-ms-retry-after-ms': '250' }, 250],
    [{ 'retry-after': '2.128' }, 2128],
    [{ 'retry-after': '3' }, 3000],
  ])('waits exactly what %j says on a 429, then succeeds', async (headers, wait) => {
    const time = createVirtualTime();
    const script = scripted([reply(429, headers), ok]);
    const policy = retryPolicy({ clock: time.now, sleep: time.sleep, strategies: [throttlingStrategy()] });
    const response = await policy.send(request(), script.next);
    expect(response.status).toBe(200);
    expect(time.waits).toEqual([wait]);
  });

  it('waits until an HTTP date on a 503', async () => {
    const time = createVirtualTime();
    const script = scripted([reply(503, { 'retry-after': new Date(time.now() + 45_000).toUTCString() }), ok]);
    const policy = retryPolicy({ clock: time.now, sleep: time.sleep });
    await policy.send(request(), script.next);
    expect(time.waits).toEqual([45_000]);
  });

  it('honours a long Retry-After (120 s) in full, not capped at 20 s', async () => {
    const time = createVirtualTime();
    const script = scripted([reply(429, { 'retry-after': '120' }), reply(429, { 'retry-after': '300' }), ok]);
    const policy = retryPolicy({ clock: time.now, sleep: time.sleep });
    const response = await policy.send(request(), script.next);
    expect(response.status).toBe(200);
    expect(time.waits).toEqual([120_000, 300_000]);
  });

  it('caps only absurd delays, at the safety cap', async () => {
    const time = createVirtualTime();
    const script = scripted([reply(429, { 'retry-after': '999999' }), ok]);
    const policy = retryPolicy({ clock: time.now, sleep: time.sleep, maxElapsedMs: 10 * 3_600_000 });
    await policy.send(request(), script.next);
    expect(time.waits).toEqual([3_600_000]);
  });

  it('backs off exponentially with full jitter through a 5xx storm, then succeeds', async () => {
    const time = createVirtualTime();
    const script = scripted([reply(500), reply(502), reply(503), reply(504), ok]);
    const policy = retryPolicy({
      clock: time.now,
      sleep: time.sleep,
      strategies: [
        throttlingStrategy(),
        transientStrategy({ baseDelayMs: 1000, maxDelayMs: 4000, random: () => 0.5 }),
      ],
    });
    const response = await policy.send(request(), script.next);
    expect(response.status).toBe(200);
    expect(script.calls()).toBe(5);
    // Ceilings 1 s, 2 s, 4 s, 4 s (capped); jitter 0.5 halves each.
    expect(time.waits).toEqual([500, 1000, 2000, 2000]);
  });

  it('retries resets and timeouts, not other errors', async () => {
    const time = createVirtualTime();
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const timeout = Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
    const script = scripted([reset, timeout, ok]);
    const policy = retryPolicy({ clock: time.now, sleep: time.sleep });
    expect((await policy.send(request(), script.next)).status).toBe(200);
    expect(time.waits).toHaveLength(2);

    const bug = scripted([new TypeError('a bug')]);
    await expect(policy.send(request(), bug.next)).rejects.toThrow(TypeError);
    expect(bug.calls()).toBe(1);
  });

  it('gives up after maxRetries with the last response', async () => {
    const time = createVirtualTime();
    const script = scripted([reply(503)]);
    const policy = retryPolicy({ clock: time.now, sleep: time.sleep, maxRetries: 3 });
    const response = await policy.send(request(), script.next);
    expect(response.status).toBe(503);
    expect(script.calls()).toBe(4);
  });

  it('gives up with the last error when retries run out', async () => {
    const time = createVirtualTime();
    const reset = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    const script = scripted([reset]);
    const policy = retryPolicy({ clock: time.now, sleep: time.sleep, maxRetries: 2 });
    await expect(policy.send(request(), script.next)).rejects.toBe(reset);
    expect(script.calls()).toBe(3);
  });

  it('does not start a wait that would end past the deadline', async () => {
    const time = createVirtualTime();
    const script = scripted([reply(429, { 'retry-after': '60' }), reply(429, { 'retry-after': '600' }), ok]);
    const policy = retryPolicy({ clock: time.now, sleep: time.sleep, maxElapsedMs: 300_000 });
    const response = await policy.send(request(), script.next);
    expect(response.status).toBe(429);
    expect(time.waits).toEqual([60_000]);
  });

  it('ends a long wait at once when the signal aborts', async () => {
    const controller = new AbortController();
    const script = scripted([reply(429, { 'retry-after': '120' }), ok]);
    const policy = retryPolicy({ sleep: systemSleep });
    const started = Date.now();
    const pending = policy.send(request({ signal: controller.signal }), script.next);
    setTimeout(() => {
      controller.abort(new Error('shutting down'));
    }, 50);
    await expect(pending).rejects.toThrow('shutting down');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(script.calls()).toBe(1);
  });

  it('fetches a page again when validate finds it truncated', async () => {
    const time = createVirtualTime();
    const script = scripted([{ status: 200, headers: {}, text: '{"value":[{"id":' }, ok]);
    const policy = retryPolicy({ clock: time.now, sleep: time.sleep });
    const response = await policy.send(
      request({
        validate: (r) => {
          JSON.parse(r.text);
        },
      }),
      script.next,
    );
    expect(response).toBe(ok);
    expect(script.calls()).toBe(2);
  });

  it('does not retry a non-retryable ExotraceError', async () => {
    const time = createVirtualTime();
    const error = new ExotraceError({ code: 'bad_secret', message: 'no' });
    const script = scripted([error]);
    await expect(withRetry(script.next, new AbortController().signal, { sleep: time.sleep })).rejects.toBe(
      error,
    );
    expect(script.calls()).toBe(1);
  });
});

describe('Retry-After: only what RFC 9110 allows, the first of a repeated header', () => {
  const now = Date.UTC(2026, 10, 25, 12);
  it.each(['wait 60', 'soon 2', 'Tue 3', 'May 5', 'next 10', '2026-11-25T12:00:05Z'])(
    '%j is no delay (Date.parse would read it as a date long past: 0 ms)',
    (value) => {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    },
  );
  it.each([
    ['Wed, 25 Nov 2026 12:00:05 GMT', 5_000],
    ['Wednesday, 25-Nov-26 12:00:05 GMT', 5_000],
    ['Wed Nov 25 12:00:05 2026', 5_000],
    ['Wed Nov  5 12:00:05 2026', 0],
  ])('%j (IMF-fixdate, rfc850, asctime in GMT) → %s ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
  it.each([
    [{ 'retry-after': '120, 120' }, 120_000],
    [{ 'retry-after': '120,60' }, 120_000],
    [{ 'retry-after': 'Wed, 25 Nov 2026 12:00:05 GMT, Wed, 25 Nov 2026 12:00:09 GMT' }, 5_000],
    [{ 'retry-after-ms': '1500, 1500' }, 1500],
  ])('a header sent twice (%j, as joined) reads its first value: %s ms', (headers, expected) => {
    expect(retryAfterMs(headers, now)).toBe(expected);
  });
});

describe('default strategies: a server delay only lengthens the backoff', () => {
  it.each([
    [{ 'retry-after': '0' }],
    [{ 'retry-after': 'Sun, 06 Nov 1994 08:49:37 GMT' }],
    [{ 'retry-after-ms': '0' }],
  ])('a 429 with %j waits the jittered backoff, not 0 ms', async (headers) => {
    const time = createVirtualTime();
    const script = scripted([reply(429, headers), reply(429, headers), ok]);
    const strategies = defaultStrategies({ baseDelayMs: 1000, random: () => 0.5 });
    const policy = retryPolicy({ clock: time.now, sleep: time.sleep, strategies });
    expect((await policy.send(request(), script.next)).status).toBe(200);
    expect(time.waits).toEqual([500, 1000]);
  });
  it('a longer hint is honoured in full', async () => {
    const time = createVirtualTime();
    const script = scripted([reply(503, { 'retry-after': '7' }), ok]);
    const strategies = defaultStrategies({ baseDelayMs: 1000, random: () => 0.5 });
    await retryPolicy({ clock: time.now, sleep: time.sleep, strategies }).send(request(), script.next);
    expect(time.waits).toEqual([7000]);
  });
});
