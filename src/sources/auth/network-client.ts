/**
 * msal-node 7's network client on our undici dispatcher: msal's default is global fetch (Node's
 * bundled undici 6), which would ignore our CA, proxy and timeouts.
 */
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { request, type Dispatcher } from 'undici';
import { assertSecureUrl } from '../http/client.js';

export interface MsalNetworkClient extends INetworkModule {
  /**
   * The last transport failure, cleared on read. msal turns a failed discovery request into a
   * bare `endpoints_resolution_error`; this keeps the real cause (say, an untrusted CA) reportable.
   */
  takeLastError(): unknown;
}

/**
 * `onAnswer` hears every request to the login host (token, metadata): its HTTP status, or
 * undefined when no answer came. Metrics count them; the URL is not given (it names the tenant).
 */
export function createMsalNetworkClient(
  dispatcher: Dispatcher,
  onAnswer?: (status: number | undefined) => void,
): MsalNetworkClient {
  let lastError: unknown;
  const send = async <T>(
    method: 'GET' | 'POST',
    url: string,
    options: NetworkRequestOptions | undefined,
    timeoutMs?: number,
  ): Promise<NetworkResponse<T>> => {
    const target = new URL(url);
    assertSecureUrl(target);
    const signal = timeoutMs === undefined || timeoutMs <= 0 ? null : AbortSignal.timeout(timeoutMs);
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      res = await request(target, {
        method,
        headers: options?.headers ?? {},
        body: method === 'POST' ? (options?.body ?? '') : null,
        signal,
        dispatcher,
      });
      text = await res.body.text();
    } catch (error) {
      lastError = error;
      onAnswer?.(undefined);
      throw error;
    }
    onAnswer?.(res.statusCode);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // msal reads `error` fields from the body; a non-JSON answer (a proxy's HTML page) becomes one.
      body = { error: 'invalid_response', error_description: `HTTP ${res.statusCode} with a non-JSON body` };
    }
    return { status: res.statusCode, headers, body: body as T };
  };
  return {
    sendGetRequestAsync: (url, options, timeout) => send('GET', url, options, timeout),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
    takeLastError() {
      const error = lastError;
      lastError = undefined;
      return error;
    },
  };
}
