/**
 * Signs requests with the tenant's token, and only requests to the configured API host: a next
 * link to any other host is refused before anything is sent, so the token cannot leak through a
 * forged or misconfigured link. A 401 gets one fresh token and one more try, then a clear error.
 */
import type { TokenProvider } from '../auth/token-provider.js';
import { classifyResponse } from './api-errors.js';
import { ExotraceError, type ErrorContext } from '../../core/errors.js';
import { safeUrl } from '../../core/redact.js';
import { rememberToken } from '../../core/tokens-in-use.js';
import { withHeader, type HttpPolicy } from '../../http/types.js';

export const bearerPolicyName = 'bearerToken';

export interface BearerPolicyOptions {
  readonly tokenProvider: TokenProvider;
  /** The configured API URL (`tenants[i].apiUrl`): its host (and port) is the only one signed for. */
  readonly apiUrl: URL;
  readonly context: ErrorContext;
}

export function bearerPolicy(options: BearerPolicyOptions): HttpPolicy {
  const allowedHost = options.apiUrl.host.toLowerCase();
  const allowedProtocol = options.apiUrl.protocol;
  const { context } = options;
  /** A token, remembered before it is sent so that any echo of it is redacted (tokens-in-use.ts). */
  const signWith = async (forceRefresh: boolean): Promise<string> => {
    const token = await options.tokenProvider.getToken(forceRefresh);
    rememberToken(context.tenant, token);
    return token;
  };
  return {
    name: bearerPolicyName,
    async send(request, next) {
      if (request.url.host.toLowerCase() !== allowedHost || request.url.protocol !== allowedProtocol) {
        throw new ExotraceError({
          code: 'foreign_next_link',
          message:
            `refused to send tenant '${context.tenant}' (${context.configPath})'s token to ` +
            `${safeUrl(request.url)}: only ${allowedProtocol}//${allowedHost} (${context.configPath}.apiUrl) is trusted`,
          fix: `if the API really moved, set ${context.configPath}.apiUrl; otherwise the next link was forged or broken`,
          retryable: false,
          tenant: context.tenant,
          configKey: `${context.configPath}.apiUrl`,
        });
      }
      const first = await next(withHeader(request, 'authorization', `Bearer ${await signWith(false)}`));
      if (first.status !== 401) return first;
      // A missing service principal is not cured by a new token: say so now.
      const early = classifyResponse(context, request, first);
      if (early?.code === 'service_principal_missing') throw early;
      const second = await next(withHeader(request, 'authorization', `Bearer ${await signWith(true)}`));
      if (second.status !== 401) return second;
      throw (
        classifyResponse(context, request, second) ??
        new ExotraceError({ code: 'unauthorized', message: 'unreachable: 401 is always classified' })
      );
    },
  };
}
