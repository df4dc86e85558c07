import { isIPv4, isIPv6 } from 'node:net';

/**
 * True for hosts that cannot leave the machine (127.0.0.0/8, ::1 and its IPv4-mapped forms,
 * localhost): the only ones plain http:// is allowed to, and the only ones the emulator listens on.
 * One definition, so that the config, the HTTP client and the emulator never disagree.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIPv6(host)) return host === '::1' || /^::ffff:127\./.test(host) || host === '::ffff:7f00:1';
  return false;
}
