/**
 * What an output's failed connection tells its user to check, for the causes that are never the
 * events' fault: nothing listening, a host name that does not resolve, a host out of reach. The
 * outputs' own messages already handle TLS trust; this adds the rest, so a refused receiver says
 * where to look. The codes are the source's (transport-cause.ts), so both sort them alike.
 */
import { DNS_CODES, ROUTE_CODES, TIMEOUT_CODES } from '../http/transport-cause.js';

/** `: …` naming what to check for `code`, or '' when the code says nothing actionable. */
export function transportHint(code: string | undefined, output: string, endpoint: string): string {
  if (code === undefined) return '';
  if (code === 'ECONNREFUSED')
    return `: nothing accepts connections at ${endpoint}; check the url of output ${output} and that the receiver is running`;
  if (DNS_CODES.has(code))
    return `: the host name of ${endpoint} does not resolve (DNS); check the url of output ${output} and this machine's resolver`;
  if (TIMEOUT_CODES.has(code) || ROUTE_CODES.has(code))
    return `: ${endpoint} cannot be reached; check the url of output ${output}, the network and any firewall between`;
  return '';
}
