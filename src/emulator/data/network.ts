/**
 * Addresses that look real but can never reach anything: public hosts come from the documentation
 * ranges (RFC 5737 for IPv4, RFC 3849 for IPv6), internal hosts from private ranges (RFC 1918,
 * unique-local fd00::/8). A collector under test can then never be pointed at someone's server.
 */
import type { Rng } from './prng.js';

const DOC_V4_PREFIXES = ['192.0.2', '198.51.100', '203.0.113'] as const;

const hex16 = (rng: Rng): string => rng.int(0x10000).toString(16);

/** A public-looking IPv4 or IPv6 host: mail servers out on the Internet. */
export function publicIp(rng: Rng, v6Share: number): string {
  if (rng.chance(v6Share))
    return `2001:db8:${hex16(rng)}:${hex16(rng)}::${(1 + rng.int(0xfff)).toString(16)}`;
  return `${rng.pick(DOC_V4_PREFIXES)}.${rng.between(1, 254)}`;
}

/** A private-looking host inside the tenant's network (clients and relays submitting mail). */
export function privateIp(rng: Rng, v6Share: number): string {
  if (rng.chance(v6Share)) {
    return `fd${rng.int(0x100).toString(16).padStart(2, '0')}:${hex16(rng)}:${hex16(rng)}:${hex16(rng)}::${(1 + rng.int(0xfff)).toString(16)}`;
  }
  switch (rng.int(3)) {
    case 0:
      return `10.${rng.int(256)}.${rng.int(256)}.${rng.between(1, 254)}`;
    case 1:
      return `172.${rng.between(16, 31)}.${rng.int(256)}.${rng.between(1, 254)}`;
    default:
      return `192.168.${rng.int(256)}.${rng.between(1, 254)}`;
  }
}
