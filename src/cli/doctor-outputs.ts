/**
 * doctor's check of the outputs: each output's own `healthcheck()` (reachable, TLS trusted,
 * credentials accepted, the index, topic or folder there where its API can say so, nothing
 * written), all at once, each bounded by `http.timeout`. A failure is said with the config key at
 * fault and the fix: what the receiver answered comes from the sink (`HealthResult.finding`), a
 * failure below HTTP is read from the error's codes with the sources' reading
 * (http/transport-cause.ts), so that a refused output and a refused tenant read alike.
 */
import type { Config, OutputConfig } from '../config/load.js';
import { secretsOf } from '../config/redact.js';
import { redactSecrets } from '../core/redact.js';
import { configuredProxy, TLS_TRUST, transportCause, type Peer } from '../http/transport-cause.js';
import { createSink, sinkIoOf } from '../sinks/registry.js';
import type { HealthResult } from '../sinks/types.js';
import { abandonPendingWork } from './stop-signal.js';

/** What doctor prints for one output. */
export interface OutputCheck {
  readonly ok: boolean;
  /** The line after `output NAME (…): `. */
  readonly line: string;
  readonly fix?: string;
}

export interface OutputDiagnosis {
  /** `unauthorized`, `not_found`, `unhealthy`, `not_writable` (the output's answer), or below HTTP:
   * `unreachable`, `tls_untrusted`, `tls_name`, `request_timeout`, `failed`. */
  readonly code: string;
  readonly message: string;
  /** The config key at fault, e.g. `outputs[1].token`. */
  readonly key: string;
  readonly fix: string;
}

/** What a passing check has shown, per output type (what `healthcheck()` covers). */
function checked(output: OutputConfig): string {
  switch (output.type) {
    case 'elasticsearch':
      return 'reachable, TLS, credentials (the index is created by the first write)';
    case 'splunk-hec':
      return 'reachable, TLS, HEC healthy, the token accepted';
    case 'sekoia':
      return 'reachable, TLS (the intake key is checked by the first batch)';
    case 'http':
      return 'reachable, TLS, the receiver answers';
    case 'kafka':
      return 'a broker reachable, TLS and SASL, the topic exists';
    case 'syslog':
      return output.protocol === 'udp'
        ? 'the host resolves (UDP has no connection to try)'
        : output.protocol === 'tls'
          ? 'connected, TLS'
          : 'connected';
    case 'file':
      return 'the folder is writable';
    case 'stdout':
      return 'open';
  }
}

/** Where an output sends, as the header of its line (no credentials, no query). */
function endpointOf(output: OutputConfig): string {
  switch (output.type) {
    case 'elasticsearch':
    case 'splunk-hec':
    case 'sekoia':
    case 'http': {
      const url = new URL(output.url);
      return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
    }
    case 'kafka':
      return output.brokers.join(', ');
    case 'syslog':
      return `${output.protocol}://${output.host}:${output.port}`;
    case 'file':
      return output.path;
    case 'stdout':
      return 'stdout';
  }
}

/** The host a network failure is about, and the key that names it. */
function peerOf(output: OutputConfig, key: string, config: Config): Peer | undefined {
  switch (output.type) {
    case 'elasticsearch':
    case 'splunk-hec':
    case 'sekoia':
    case 'http': {
      const url = new URL(output.url);
      const proxy = configuredProxy(config.http.proxy, process.env, url);
      return { role: 'receiver', url, urlKey: `${key}.url`, ...(proxy === undefined ? {} : { proxy }) };
    }
    case 'kafka':
      return { role: 'broker', url: new URL(`tcp://${output.brokers[0] ?? ''}`), urlKey: `${key}.brokers` };
    case 'syslog':
      return {
        role: 'syslog server',
        url: new URL(`tcp://${output.host}:${output.port}`),
        urlKey: `${key}.host`,
      };
    case 'file':
    case 'stdout':
      return undefined;
  }
}

/** Every `code` of an error's chain (causes, and the members of an AggregateError), outer first. */
function codesOf(error: unknown): string[] {
  const codes: string[] = [];
  const visit = (e: unknown, depth: number): void => {
    if (!(e instanceof Error) || depth > 6) return;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    if (e instanceof AggregateError) for (const member of e.errors) visit(member, depth + 1);
    visit(e.cause, depth + 1);
  };
  visit(error, 0);
  return codes;
}

const TIMEOUT = new Set(['request_timeout', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Why a failed check failed: the key at fault and the fix. */
export function diagnoseOutput(
  output: OutputConfig,
  index: number,
  result: Extract<HealthResult, { status: 'failed' }>,
  config: Config,
  timedOut: boolean,
): OutputDiagnosis {
  const key = `outputs[${index}]`;
  const message = result.error.message;
  const peer = peerOf(output, key, config);
  const where = peer === undefined ? endpointOf(output) : peer.url.host;
  const urlKey = peer?.urlKey ?? `${key}.path`;
  if (result.finding !== undefined) {
    const { code, key: own, fix } = result.finding;
    return { code, message, key: `${key}.${own}`, fix };
  }
  const codes = codesOf(result.error);
  if (timedOut || codes.some((code) => TIMEOUT.has(code))) {
    return {
      code: 'request_timeout',
      message: timedOut ? `no answer within http.timeout (${config.http.timeoutMs / 1000} s)` : message,
      key: 'http.timeout',
      fix:
        `the ${peer?.role ?? 'output'} ${where} (${urlKey}) took the connection but did not answer in time: check ` +
        `that it is up and that no proxy or firewall holds connections to it; if it is only slow, raise http.timeout`,
    };
  }
  // The TLS verification code when there is one (it says most), else the innermost.
  const code = codes.find((c) => TLS_TRUST.test(c) || c === 'ERR_TLS_CERT_ALTNAME_INVALID') ?? codes.at(-1);
  const untrusted =
    (code !== undefined && TLS_TRUST.test(code) && code !== 'ERR_TLS_CERT_ALTNAME_INVALID') ||
    (code === undefined && /certificate|self.signed|UNABLE_TO_VERIFY/i.test(message));
  if (untrusted && peer !== undefined) {
    return {
      code: 'tls_untrusted',
      message,
      key: `${key}.caFile`,
      fix: `set ${key}.caFile to the CA (PEM) that signs the certificate of ${where}, or check ${urlKey}`,
    };
  }
  const cause = peer === undefined ? undefined : transportCause(result.error, code, peer);
  if (cause !== undefined) {
    const httpOutput = peer?.role === 'receiver';
    // Kafka and syslog do not go through http.proxy: the sources' proxy advice does not apply.
    const fix = httpOutput
      ? cause.fix
      : cause.fix
          .replace(/; set http\.proxy or HTTPS_PROXY if .*$/, '')
          .replace(/, or set http\.proxy if it must go through a proxy$/, '');
    return {
      code: code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? 'tls_name' : 'unreachable',
      // The cause says it all; the sink's own text repeats it in other words.
      message: cause.what,
      key: cause.configKey,
      fix,
    };
  }
  return { code: 'failed', message, key: urlKey, fix: `check ${urlKey} and the receiver at ${where}` };
}

/**
 * `promise`, or its signal's reason once aborted: a check is bounded even should a client not
 * honour the signal.
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => {
      signal.removeEventListener('abort', onAbort);
    });
  });
}

/** Checks one output; never throws (an abort at `http.timeout` is a finding too). */
async function checkOutput(config: Config, output: OutputConfig, index: number): Promise<OutputCheck> {
  const secrets = secretsOf(config);
  const safe = (text: string): string => redactSecrets(text, secrets);
  const header = `${output.name} (${output.type}, ${endpointOf(output)})`;
  const signal = AbortSignal.timeout(config.http.timeoutMs);
  let result: HealthResult;
  let timedOut = false;
  // stdout is ours to write to only through the process: doctor's own lines go there.
  const sink = createSink(output, sinkIoOf(config));
  try {
    result = await untilAborted(sink.healthcheck(signal), signal);
  } catch (error) {
    timedOut = signal.aborted;
    result = {
      status: 'failed',
      error: error instanceof Error ? error : new Error(String(error)),
    };
  } finally {
    // A client stuck on a connection that never answers may not close at once either: doctor
    // then ends once it has reported, rather than wait for that connection.
    const closed = await untilAborted(sink.close(), AbortSignal.timeout(5_000)).then(
      () => true,
      () => false,
    );
    if (timedOut || !closed) abandonPendingWork();
  }
  if (result.status === 'ok') return { ok: true, line: `${header}: OK — ${checked(output)}` };
  const diagnosis = diagnoseOutput(output, index, result, config, timedOut);
  return {
    ok: false,
    line: safe(`${header}: FAILED (${diagnosis.code}) — ${diagnosis.message}`),
    fix: safe(`${diagnosis.key}: ${diagnosis.fix}`),
  };
}

/** Every output of the configuration, checked at once; the reports in the configuration's order. */
export function checkOutputs(config: Config): Promise<OutputCheck[]> {
  return Promise.all(config.outputs.map((output, index) => checkOutput(config, output, index)));
}
