/**
 * What an output's failed connection tells its user to check, for the causes that are never the
 * events' fault: nothing listening, a host name that does not resolve. The outputs' own messages
 * already handle TLS trust; this adds the rest, so a refused receiver says where to look.
 */
const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA']);

/** `: …` naming what to check for `code`, or '' when the code says nothing actionable. */
export function transportHint(code: string | undefined, output: string, endpoint: string): string {
  if (code === 'ECONNREFUSED')
    return `: nothing accepts connections at ${endpoint}; check the url of output ${output} and that the receiver is running`;
  if (code !== undefined && DNS.has(code))
    return `: the host name of ${endpoint} does not resolve (DNS); check the url of output ${output} and this machine's resolver`;
  if (
    code === 'ETIMEDOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'EHOSTUNREACH' ||
    code === 'ENETUNREACH'
  )
    return `: ${endpoint} cannot be reached; check the url of output ${output}, the network and any firewall between`;
  return '';
}
