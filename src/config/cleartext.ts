/**
 * Connections that leave the machine unencrypted. The configuration accepts them (a syslog relay on
 * the LAN, a Kafka cluster without TLS, a plain http:// proxy are all common), but the events carry
 * mail metadata (addresses, subjects, client IPs) and a proxy URL may carry a password: each such
 * connection is said once, naming the key that causes it and the one that fixes it. Loopback stays
 * silent: nothing crosses a network. (SASL over plain Kafka to a remote broker is refused by the
 * schema, not warned: a password in clear is past a warning.)
 */
import type { Config, Env } from './load.js';
import { isLoopbackHost } from './schema.js';

/** One line per connection to a remote host that is not encrypted; empty when there is none. */
export function cleartextWarnings(config: Config, env: Env = process.env): string[] {
  const warnings: string[] = [];
  config.outputs.forEach((output, index) => {
    const key = `outputs[${index}]`;
    if (output.type === 'syslog' && output.protocol !== 'tls' && !isLoopbackHost(output.host)) {
      warnings.push(
        `${key}.protocol: syslog output '${output.name}' sends the events to ${output.host}:${output.port} over plain ${output.protocol}, unencrypted (mail addresses, subjects and IPs readable on the network): set protocol: tls (port 6514) if the receiver accepts it`,
      );
    }
    if (output.type === 'kafka' && !output.tls) {
      const remote = output.brokers.filter((broker) => !isLoopbackHost(broker.replace(/:\d+$/, '')));
      if (remote.length > 0) {
        warnings.push(
          `${key}.tls: kafka output '${output.name}' produces to ${remote.join(', ')} without TLS, unencrypted (mail addresses, subjects and IPs readable on the network): set tls: true if the brokers have a TLS listener`,
        );
      }
    }
  });
  // The config's proxy wins over the environment's (sources/http/client.ts): only the one used is said.
  const proxy =
    config.http.proxy === undefined
      ? proxyFromEnv(
          env,
          config.tenants.flatMap((t) => [t.loginUrl, t.apiUrl]),
        )
      : { key: 'http.proxy', url: config.http.proxy };
  const warning = proxy === undefined ? undefined : plainProxyWarning(proxy.key, proxy.url);
  if (warning !== undefined) warnings.push(warning);
  return warnings;
}

/**
 * HTTPS_PROXY, unless NO_PROXY sends every host the collector reaches past it (the client honours
 * NO_PROXY, so such a proxy is never used and its scheme exposes nothing).
 */
function proxyFromEnv(env: Env, urls: readonly string[]): { key: string; url: string } | undefined {
  const noProxy = env['NO_PROXY'] ?? env['no_proxy'] ?? '';
  if (urls.length > 0 && urls.every((url) => bypassed(url, noProxy))) return undefined;
  for (const name of ['HTTPS_PROXY', 'https_proxy']) {
    const value = env[name];
    if (value !== undefined && value !== '') return { key: name, url: value };
  }
  return undefined;
}

/** Whether NO_PROXY (`*`, or host names and domain suffixes, ports ignored) covers `url`'s host. */
function bypassed(url: string, noProxy: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return noProxy
    .split(/[\s,]+/)
    .filter((entry) => entry !== '')
    .some((entry) => {
      if (entry === '*') return true;
      const name = entry
        .replace(/:\d+$/, '')
        .replace(/^\*?\./, '')
        .toLowerCase();
      return host === name || host.endsWith(`.${name}`);
    });
}

/** An http:// proxy on another host: the tunnels stay TLS, but not the way into them. */
function plainProxyWarning(key: string, text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' || isLoopbackHost(url.hostname)) return undefined;
  // Never the URL as written: its user info is the password this warns about.
  const where = `http://${url.host}`;
  const exposed =
    url.username !== '' || url.password !== ''
      ? 'the proxy user name and password, and the host names reached, cross the network in clear'
      : 'the host names reached cross the network in clear';
  return `${key}: the proxy ${where} is plain http:// on a remote host: requests go through it as TLS tunnels (CONNECT), but ${exposed}: use an https:// proxy if it offers one`;
}
