import { isIP } from 'node:net';

/**
 * The address when the value is a valid IPv4 or IPv6 address, else undefined. The APIs send `null`,
 * `""` (Graph's `toIP` for inbound mail) or occasionally junk; none of those may reach an `ip` field.
 */
export function validIp(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  if (isIP(value) !== 0) return value;
  const trimmed = value.trim();
  return trimmed !== value && isIP(trimmed) !== 0 ? trimmed : undefined;
}
