/**
 * `email.direction` from the tenant's accepted domains: an address is local when its domain is an
 * accepted domain or a subdomain of one (case-insensitive).
 */
export type EmailDirection = 'internal' | 'outbound' | 'inbound' | 'external';

export type DirectionOf = (
  sender: string | undefined,
  recipient: string | undefined,
) => EmailDirection | undefined;

export function createDirectionResolver(acceptedDomains: readonly string[]): DirectionOf {
  const domains = new Set(
    acceptedDomains
      .map((d) =>
        d
          .trim()
          .toLowerCase()
          .replace(/^@|\.$/g, ''),
      )
      .filter((d) => d.length > 0),
  );
  if (domains.size === 0) return () => undefined;

  const isLocal = (address: string | undefined): boolean => {
    if (address === undefined) return false;
    const at = address.lastIndexOf('@');
    if (at < 0) return false;
    let domain = address.slice(at + 1).toLowerCase();
    // Walk up the labels: a.b.contoso.com, b.contoso.com, contoso.com, com.
    for (;;) {
      if (domains.has(domain)) return true;
      const dot = domain.indexOf('.');
      if (dot < 0) return false;
      domain = domain.slice(dot + 1);
    }
  };

  return (sender, recipient) => {
    const fromLocal = isLocal(sender);
    const toLocal = isLocal(recipient);
    if (fromLocal) return toLocal ? 'internal' : 'outbound';
    return toLocal ? 'inbound' : 'external';
  };
}
