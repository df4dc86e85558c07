/**
 * The `splunk-hec` output: each batch POSTed to `{url}/services/collector/event` as concatenated
 * HEC event objects, `time` taken from `@timestamp` (epoch seconds with milliseconds) so that
 * Splunk indexes each event at the time the mail was traced, not when it arrived.
 *
 * How HEC answers are read (its `code` field, documented per status):
 * - 401 / 403 (token missing, invalid or disabled): retryable. It is the token's fault, not the
 *   events', so dead-lettering them would only make the operator replay everything once the
 *   `token` key is fixed; the error names the key and the events wait in the outbox.
 * - 400 code 7 (incorrect index) and codes 10, 11, 14 (the token requires indexer
 *   acknowledgement channels): configuration again, retryable, naming the key to fix.
 * - 400 with `invalid-event-number`: that event is dead-lettered and the others sent again (HEC
 *   may have indexed those before it: at-least-once, see http-post.ts).
 * - Other 4xx: the batch is refused (dead letters); 408, 429 and 5xx (503 code 9, server busy):
 *   retryable, honouring Retry-After.
 *
 * Healthcheck: `GET {url}/services/collector/health`, HEC's own health endpoint, then the token:
 * an event request without a body (see `tokenAccepted`).
 */
import type { OutputConfig } from '../config/load.js';
import type { OutboxEvent } from '../core/outbox-event.js';
import { EncodeError, createBatchPoster, type HttpSinkIo, type PostResponse } from './http-post.js';
import { once } from '../util/once.js';
import { healthAnswerError, type HealthFinding, type HealthResult, type Sink } from './types.js';

export type SplunkHecOutputConfig = Extract<OutputConfig, { type: 'splunk-hec' }>;

interface HecAnswer {
  readonly text?: string;
  readonly code?: number;
  readonly invalidEvent?: number;
}

function readAnswer(text: string): HecAnswer {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return {};
    const v = value as Record<string, unknown>;
    return {
      ...(typeof v['text'] === 'string' ? { text: v['text'] } : {}),
      ...(typeof v['code'] === 'number' ? { code: v['code'] } : {}),
      ...(typeof v['invalid-event-number'] === 'number' ? { invalidEvent: v['invalid-event-number'] } : {}),
    };
  } catch {
    return {};
  }
}

/** The HEC envelope of one event; the ECS JSON is spliced in as it is (already valid JSON). */
export function hecEvent(
  event: OutboxEvent,
  fields: { readonly index?: string; readonly sourcetype?: string; readonly source?: string },
): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(event.json);
  } catch {
    throw new EncodeError(`event ${event.eventId} is not JSON`);
  }
  const stamp =
    typeof parsed === 'object' && parsed !== null
      ? (parsed as Record<string, unknown>)['@timestamp']
      : undefined;
  const ms = typeof stamp === 'string' ? Date.parse(stamp) : NaN;
  // Without a usable @timestamp HEC stamps the event with its arrival time: better than losing it.
  let out = Number.isFinite(ms) ? `{"time":${(ms / 1000).toFixed(3)},` : '{';
  out += `"event":${event.json}`;
  if (fields.index !== undefined) out += `,"index":${JSON.stringify(fields.index)}`;
  if (fields.sourcetype !== undefined) out += `,"sourcetype":${JSON.stringify(fields.sourcetype)}`;
  if (fields.source !== undefined) out += `,"source":${JSON.stringify(fields.source)}`;
  return out + '}';
}

export function createSplunkHecSink(output: SplunkHecOutputConfig, io: HttpSinkIo = {}): Sink {
  const key = (k: string): string => `the ${k} key of output ${output.name}`;
  const authorization = `Splunk ${output.token}`;
  const fields = {
    ...(output.index === undefined ? {} : { index: output.index }),
    ...(output.sourcetype === undefined ? {} : { sourcetype: output.sourcetype }),
    ...(output.source === undefined ? {} : { source: output.source }),
  };

  function classify(response: PostResponse, seqs: readonly number[]) {
    const answer = readAnswer(response.text);
    const { status } = response;
    if (status === 401 || status === 403) {
      return {
        status: 'retryable' as const,
        message: `HEC refused the token (${status}${answer.code === undefined ? '' : ` code ${answer.code}`}): check ${key('token')} (an enabled HEC token); the events stay in the outbox`,
      };
    }
    if (status !== 400) return undefined;
    if (answer.code === 7) {
      return {
        status: 'retryable' as const,
        message: `HEC does not accept the index (400 code 7): check ${key('index')} and the indexes the token may write to; the events stay in the outbox`,
      };
    }
    if (answer.code === 10 || answer.code === 11 || answer.code === 14) {
      return {
        status: 'retryable' as const,
        message: `HEC wants indexer acknowledgement channels (400 code ${answer.code}): turn off indexer acknowledgement for the token of output ${output.name}`,
      };
    }
    const bad = answer.invalidEvent === undefined ? undefined : seqs[answer.invalidEvent];
    if (bad !== undefined) {
      return {
        status: 'rejected' as const,
        message: `HEC refused event ${answer.invalidEvent ?? 0} of the batch (400 code ${answer.code ?? '?'})`,
        rejectSeqs: [bad],
      };
    }
    return undefined;
  }

  const base = new URL(output.url);
  const poster = createBatchPoster({
    kind: 'splunk-hec',
    name: output.name,
    url: `${output.url}/services/collector/event`,
    caPem: output.caPem,
    secrets: [output.token, authorization],
    headers: { authorization, 'content-type': 'application/json' },
    framing: { open: '', separator: '\n', close: '' },
    encode: (event) => hecEvent(event, fields),
    classify,
    accept: (response) => {
      const answer = readAnswer(response.text);
      // HEC always answers {"text":"Success","code":0}. Anything else with a 2xx (a proxy's or a
      // maintenance page) is no proof the events were stored: send them again rather than lose them.
      if (answer.code === 0) return undefined;
      return answer.code === undefined
        ? 'the answer is not HEC\'s (no "code"): a proxy or another server on this url?'
        : `HEC said code ${answer.code} (${answer.text ?? ''})`;
    },
    io,
  });
  const healthUrl = new URL(`${base.href.replace(/\/+$/, '')}/services/collector/health`);
  const eventUrl = new URL(`${base.href.replace(/\/+$/, '')}/services/collector/event`);

  /**
   * The token, checked without writing: HEC's health endpoint ignores it, but an event request
   * with no body is refused with "No data" (400 code 5) when the token is good, and with 401 or 403
   * (codes 1 to 4) when it is missing, invalid or disabled.
   */
  async function tokenAccepted(signal: AbortSignal): Promise<HealthResult> {
    const answer = await poster.request('POST', eventUrl, { authorization }, signal);
    if (answer instanceof Error) return { status: 'failed', error: answer };
    const { code, text } = readAnswer(answer.text);
    const said = poster.safe(text ?? `HTTP ${answer.status}`).slice(0, 200);
    const failed = (message: string, finding: HealthFinding): HealthResult => ({
      status: 'failed',
      error: healthAnswerError(
        poster.safe(`splunk-hec output ${output.name}: ${message}`),
        answer.status,
        finding,
      ),
      finding,
    });
    if (answer.status === 401 || answer.status === 403)
      return failed(`HEC refused the token (${answer.status}: ${said}): check ${key('token')}`, {
        code: 'unauthorized',
        key: 'token',
        fix: 'use an enabled HEC token of this Splunk (Settings → Data inputs → HTTP Event Collector)',
      });
    if (answer.status === 400 && (code === 10 || code === 11 || code === 14))
      return failed(`HEC wants indexer acknowledgement channels (400 code ${code})`, {
        code: 'unauthorized',
        key: 'token',
        fix: 'turn off indexer acknowledgement for this token',
      });
    return { status: 'ok' };
  }

  return {
    name: output.name,
    start: () => Promise.resolve(undefined),
    send: (batch, signal) => poster.send(batch, signal),
    async healthcheck(signal): Promise<HealthResult> {
      const answer = await poster.request('GET', healthUrl, { authorization }, signal);
      if (answer instanceof Error) return { status: 'failed', error: answer };
      if (answer.status !== 200) {
        const said = readAnswer(answer.text).text ?? `HTTP ${answer.status}`;
        const denied = answer.status === 401 || answer.status === 403;
        const hint = denied ? `: check ${key('token')}` : '';
        const finding: HealthFinding = denied
          ? { code: 'unauthorized', key: 'token', fix: 'use an enabled HEC token of this Splunk' }
          : answer.status === 404
            ? {
                code: 'not_found',
                key: 'url',
                fix: 'no HEC at this url: give the HEC base URL (port 8088 by default), without /services/collector',
              }
            : {
                code: 'unhealthy',
                key: 'url',
                fix: 'HEC says it cannot take events now (queues full, or disabled): check the Splunk side',
              };
        const message = poster.safe(
          `splunk-hec output ${output.name}: HEC health is ${answer.status} (${poster.safe(said).slice(0, 200)})${hint}`,
        );
        return { status: 'failed', error: healthAnswerError(message, answer.status, finding), finding };
      }
      return tokenAccepted(signal);
    },
    close: once(() => poster.close()),
  };
}
