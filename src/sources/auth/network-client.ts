/**
 * msal-node 7's network client on our undici dispatcher: msal's default is global fetch (Node's
 * bundled undici 6), which would ignore our CA, proxy and timeouts.
 */
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import type { Dispatcher } from 'undici';
import {
  assertSecureUrl,
  BODY_LIMITS,
  boundedRequest,
  type BoundedResponse,
} from '../../http/bounded-request.js';

export interface MsalNetworkClient extends INetworkModule {
  /**
   * The last transport failure, cleared on read. msal turns a failed discovery request into a
   * bare `endpoints_resolution_error`; this keeps the real cause (say, an untrusted CA) reportable.
   */
  takeLastError(): unknown;
  /**
   * The last answer that was not a 2xx, cleared on read. msal also turns a refused metadata
   * request (an unknown tenant's 400 AADSTS90002) into `endpoints_resolution_error`: this keeps
   * the identity platform's own answer.
   */
  takeLastRefusal(): { readonly status: number; readonly text: string } | undefined;
}

export interface MsalNetworkOptions {
  /**
   * Hears every request to the login host (token, metadata): its HTTP status, or undefined when
   * no answer came. Metrics count them; the URL is not given (it names the tenant).
   */
  readonly onAnswer?: (status: number | undefined) => void;
  /** Each request whole, connect to the last byte (`http.timeout`); default 60 000 ms. */
  readonly timeoutMs?: number;
}

export function createMsalNetworkClient(
  dispatcher: Dispatcher,
  options: MsalNetworkOptions = {},
): MsalNetworkClient {
  const { onAnswer } = options;
  let lastError: unknown;
  let lastRefusal: { readonly status: number; readonly text: string } | undefined;
  const send = async <T>(
    method: 'GET' | 'POST',
    url: string,
    requestOptions: NetworkRequestOptions | undefined,
    msalTimeoutMs?: number,
  ): Promise<NetworkResponse<T>> => {
    const target = new URL(url);
    assertSecureUrl(target);
    // msal gives a timeout for its metadata GETs only; ours bounds every request, the token POST too.
    const ours = options.timeoutMs ?? 60_000;
    const timeoutMs =
      msalTimeoutMs === undefined || msalTimeoutMs <= 0 ? ours : Math.min(ours, msalTimeoutMs);
    let res: BoundedResponse;
    try {
      res = await boundedRequest(target, {
        method,
        headers: requestOptions?.headers ?? {},
        body: method === 'POST' ? (requestOptions?.body ?? '') : null,
        dispatcher,
        maxBytes: BODY_LIMITS.token,
        timeoutMs,
      });
    } catch (error) {
      lastError = error;
      onAnswer?.(undefined);
      throw error;
    }
    onAnswer?.(res.status);
    if (res.status < 200 || res.status > 299) lastRefusal = { status: res.status, text: res.text };
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      // msal reads `error` fields from the body; a non-JSON answer (a proxy's HTML page) becomes one.
      body = { error: 'invalid_response', error_description: `HTTP ${res.status} with a non-JSON body` };
    }
    return { status: res.status, headers: res.headers, body: body as T };
  };
  return {
    sendGetRequestAsync: (url, options, timeout) => send('GET', url, options, timeout),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
    takeLastError() {
      const error = lastError;
      lastError = undefined;
      return error;
    },
    takeLastRefusal() {
      const refusal = lastRefusal;
      lastRefusal = undefined;
      return refusal;
    },
  };
}
