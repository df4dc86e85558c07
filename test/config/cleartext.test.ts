import { chmodSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cleartextWarnings } from '../../src/config/cleartext.js';
import { configWarnings } from '../../src/config/warnings.js';
import { load, tenantYaml } from './helpers.js';

const config = (outputs: string, extra = '') => load(`${extra}${tenantYaml()}\noutputs:\n${outputs}`);

describe('unencrypted connections to a remote host', () => {
  it('syslog over plain tcp or udp: one warning each, naming outputs[i].protocol and the fix', () => {
    const warnings = cleartextWarnings(
      config(
        [
          '  - type: stdout',
          '  - type: syslog',
          '    name: relay',
          '    host: syslog.example.net',
          '  - type: syslog',
          '    name: udp',
          '    host: 192.0.2.7',
          '    protocol: udp',
          '    port: 5514',
        ].join('\n'),
      ),
      {},
    );
    expect(warnings).toEqual([
      "outputs[1].protocol: syslog output 'relay' sends the events to syslog.example.net:514 over plain tcp, unencrypted (mail addresses, subjects and IPs readable on the network): set protocol: tls (port 6514) if the receiver accepts it",
      "outputs[2].protocol: syslog output 'udp' sends the events to 192.0.2.7:5514 over plain udp, unencrypted (mail addresses, subjects and IPs readable on the network): set protocol: tls (port 6514) if the receiver accepts it",
    ]);
  });

  it('kafka without tls: one warning naming outputs[i].tls and the remote brokers only', () => {
    const warnings = cleartextWarnings(
      config(
        [
          '  - type: kafka',
          '    brokers: [127.0.0.1:9092, kafka-1.example.net:9092, "[2001:db8::1]:9092"]',
          '    topic: trace',
        ].join('\n'),
      ),
      {},
    );
    expect(warnings).toEqual([
      "outputs[0].tls: kafka output 'kafka' produces to kafka-1.example.net:9092, [2001:db8::1]:9092 without TLS, unencrypted (mail addresses, subjects and IPs readable on the network): set tls: true if the brokers have a TLS listener",
    ]);
  });

  it('an http:// proxy on a remote host: one warning naming http.proxy, never its password', () => {
    const withPassword = cleartextWarnings(
      config('  - type: stdout', 'http:\n  proxy: http://squid:pr0xy-passw0rd@proxy.lan:3128\n'),
      {},
    );
    expect(withPassword).toEqual([
      'http.proxy: the proxy http://proxy.lan:3128 is plain http:// on a remote host: requests go through it as TLS tunnels (CONNECT), but the proxy user name and password, and the host names reached, cross the network in clear: use an https:// proxy if it offers one',
    ]);
    expect(withPassword.join('\n')).not.toContain('pr0xy-passw0rd');
    // The environment's proxy is the one used when the config names none.
    const fromEnv = cleartextWarnings(config('  - type: stdout'), { HTTPS_PROXY: 'http://10.1.2.3:8080' });
    expect(fromEnv).toEqual([
      'HTTPS_PROXY: the proxy http://10.1.2.3:8080 is plain http:// on a remote host: requests go through it as TLS tunnels (CONNECT), but the host names reached cross the network in clear: use an https:// proxy if it offers one',
    ]);
    // ... unless NO_PROXY sends every host the tenants reach past it (the client honours it).
    expect(
      cleartextWarnings(config('  - type: stdout'), { HTTPS_PROXY: 'http://10.1.2.3:8080', NO_PROXY: '*' }),
    ).toEqual([]);
    expect(
      cleartextWarnings(config('  - type: stdout'), {
        HTTPS_PROXY: 'http://10.1.2.3:8080',
        NO_PROXY: 'login.microsoftonline.com,graph.microsoft.com:443',
      }),
    ).toEqual([]);
    // Only some of them: the proxy still carries the others.
    expect(
      cleartextWarnings(config('  - type: stdout'), {
        HTTPS_PROXY: 'http://10.1.2.3:8080',
        NO_PROXY: 'example.org, .microsoftonline.com',
      }),
    ).toEqual(fromEnv);
    // ... and not when the config names its own.
    expect(
      cleartextWarnings(config('  - type: stdout', 'http:\n  proxy: https://proxy.lan:3128\n'), {
        HTTPS_PROXY: 'http://10.1.2.3:8080',
      }),
    ).toEqual([]);
  });

  it('loopback, tls and https: nothing to say', () => {
    const quiet = config(
      [
        '  - type: syslog',
        '    host: 127.0.0.1',
        '  - type: syslog',
        '    name: local6',
        '    host: "::1"',
        '    protocol: udp',
        '  - type: syslog',
        '    name: secure',
        '    host: syslog.example.net',
        '    protocol: tls',
        '  - type: kafka',
        '    brokers: [localhost:9092, "[::1]:9093"]',
        '    topic: trace',
        '  - type: kafka',
        '    name: remote-tls',
        '    brokers: [kafka-1.example.net:9093]',
        '    tls: true',
        '    topic: trace',
      ].join('\n'),
      'http:\n  proxy: http://user:pass@127.0.0.1:3128\n',
    );
    expect(cleartextWarnings(quiet, { HTTPS_PROXY: 'http://10.1.2.3:8080' })).toEqual([]);
    // The file's own warning aside (its mode), the list run and doctor print is empty too.
    chmodSync(quiet.file, 0o600);
    expect(configWarnings(quiet, {})).toEqual([]);
  });
});
