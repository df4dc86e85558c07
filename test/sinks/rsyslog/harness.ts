/**
 * A real rsyslog for the syslog output's tests: rsyslogd from the distribution (Debian: `rsyslog`,
 * and `rsyslog-gnutls` for TLS), started in the foreground in a temporary folder with
 * rsyslog.conf.template, on loopback ports the test picks. Nothing of the host's rsyslog is used:
 * not its configuration, not its running daemon, not its logs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';

const TEMPLATE = join(import.meta.dirname, 'rsyslog.conf.template');

/** rsyslogd's path, or undefined when it is not installed (/usr/sbin is not on a user's PATH). */
export function findRsyslogd(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  // Only absolute entries: a relative PATH entry would depend on the test's working folder.
  return dirs
    .filter((dir) => dir.startsWith('/'))
    .map((dir) => join(dir, 'rsyslogd'))
    .find((path) => existsSync(path));
}

/** Whether rsyslog's GnuTLS stream driver (Debian package rsyslog-gnutls) is installed. */
export function hasGtls(): boolean {
  const roots = ['/usr/lib', '/usr/lib64'];
  for (const root of roots) {
    if (!existsSync(root)) continue;
    const candidates = [join(root, 'rsyslog'), ...readdirSync(root).map((d) => join(root, d, 'rsyslog'))];
    if (candidates.some((dir) => existsSync(join(dir, 'lmnsd_gtls.so')))) return true;
  }
  return false;
}

/** A port free right now on 127.0.0.1 (for both TCP and UDP, so one number serves either). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => {
          if (address === null || typeof address === 'string') reject(new Error('no port'));
          else resolve(address.port);
        });
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => {
        resolve(false);
      });
      socket.bind(port, '127.0.0.1', () => {
        socket.close(() => {
          resolve(true);
        });
      });
    });
    if (udpFree) return port;
  }
}

export interface RsyslogTls {
  readonly port: number;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface RsyslogOptions {
  readonly rsyslogd: string;
  /** Absolute; holds the configuration, the pid file and what rsyslog writes. */
  readonly dir: string;
  readonly tcpPort: number;
  readonly udpPort: number;
  readonly tls?: RsyslogTls;
}

/** One message as rsyslog received it: the syslog header fields and MSG. */
export interface Received {
  readonly raw: string;
  readonly pri: number;
  readonly timestamp: string;
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
  readonly msgId: string;
  readonly structuredData: string;
  readonly msg: string;
}

const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) ([\s\S]*)$/;

export function parseReceived(raw: string): Received {
  const m = RFC5424.exec(raw);
  if (m === null) throw new Error(`not an RFC 5424 message: ${raw.slice(0, 200)}`);
  const field = (i: number): string => m[i] ?? '';
  return {
    raw,
    pri: Number(field(1)),
    timestamp: field(2),
    hostname: field(3),
    appName: field(4),
    procId: field(5),
    msgId: field(6),
    structuredData: field(7),
    msg: field(8),
  };
}

export class Rsyslog {
  readonly #options: RsyslogOptions;
  #child: ChildProcess | undefined;
  #stderr = '';
  #probes = 0;

  constructor(options: RsyslogOptions) {
    this.#options = options;
    const { dir, tcpPort, udpPort, tls } = options;
    const text = readFileSync(TEMPLATE, 'utf8')
      .replaceAll('@DIR@', dir)
      .replaceAll('@TCP_PORT@', String(tcpPort))
      .replaceAll('@UDP_PORT@', String(udpPort))
      .replaceAll(
        '@TLS_GLOBAL@',
        tls === undefined
          ? ''
          : `  defaultNetstreamDriverCAFile="${tls.caFile}"\n  defaultNetstreamDriverCertFile="${tls.certFile}"\n  defaultNetstreamDriverKeyFile="${tls.keyFile}"`,
      )
      .replaceAll(
        '@TLS_INPUT@',
        tls === undefined
          ? ''
          : // gtls for this input only (mode 1: TLS); anon: clients are not asked for a certificate.
            `input(type="imtcp" address="127.0.0.1" port="${tls.port}" ruleset="received" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")`,
      );
    writeFileSync(join(dir, 'rsyslog.conf'), text);
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Start rsyslogd and wait until all its inputs take messages. */
  async start(): Promise<void> {
    if (this.#child !== undefined) throw new Error('rsyslogd is already running');
    const { rsyslogd, dir } = this.#options;
    this.#stderr = '';
    const child = spawn(rsyslogd, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.#child = child;
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `rsyslogd exited (${code ?? signal ?? '?'}): ${this.#stderr}`;
      if (this.#child === child) this.#child = undefined;
    });
    const deadline = Date.now() + 15_000;
    const check = (): void => {
      if (exited !== undefined) throw new Error(exited);
      if (Date.now() > deadline) throw new Error(`rsyslogd did not become ready: ${this.#stderr}`);
    };
    const ports = [
      this.#options.tcpPort,
      ...(this.#options.tls === undefined ? [] : [this.#options.tls.port]),
    ];
    for (const port of ports) {
      while (!(await canConnect(port))) {
        check();
        await sleep(50);
      }
    }
    // UDP has no handshake: ready is when a probe datagram has made it to rsyslog's file.
    this.#probes += 1;
    const probe = `ready-${this.#probes}`;
    for (;;) {
      check();
      await sendUdp(this.#options.udpPort, `<134>1 - - - - exotrace-probe - ${probe}`);
      await sleep(100);
      if (this.#read('probes.log').includes(probe)) return;
    }
  }

  /** SIGTERM, and wait for the process to end (rsyslog writes out its queue first). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        resolve();
      }),
    );
    child.kill('SIGTERM');
    const killed = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killed);
    this.#child = undefined;
  }

  #read(file: string): string {
    try {
      return readFileSync(join(this.#options.dir, file), 'utf8');
    } catch {
      return '';
    }
  }

  /** Every message written so far, in arrival order. */
  messages(): Received[] {
    const text = this.#read('messages.log');
    // Complete lines only: rsyslog may be half-way through writing the last one (seen on a busy
    // machine as "not an RFC 5424 message"); it is read at the next look.
    return text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => parseReceived(JSON.parse(`"${line}"`) as string));
  }

  /** Wait until `predicate` holds for the messages (rsyslog writes asynchronously). */
  async waitFor(predicate: (messages: Received[]) => boolean, timeoutMs = 10_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const messages = this.messages();
      if (predicate(messages) || Date.now() > deadline) return messages;
      await sleep(50);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function sendUdp(port: number, text: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.send(text, port, '127.0.0.1', () => {
      socket.close(() => {
        resolve();
      });
    });
  });
}
