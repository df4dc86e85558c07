/**
 * The shapes every HTTP policy shares. A request is plain data plus an abort signal; a response
 * always has its body read, so no policy can leak a socket by forgetting to consume it.
 */

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  readonly url: URL;
  /** Lower-case names; policies add to a copy, never mutate the caller's object. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly signal: AbortSignal;
  /**
   * Checks a 2xx response inside the retry loop (e.g. parses the JSON). Throw an `ExotraceError`
   * with `retryable: true` for a truncated or invalid body, and the page is fetched again.
   */
  readonly validate?: (response: HttpResponse) => void;
  /** Set by the retry policy: 0 for a call's first attempt. */
  readonly retry?: number;
}

export interface HttpResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
}

export type SendNext = (request: HttpRequest) => Promise<HttpResponse>;

export interface HttpPolicy {
  readonly name: string;
  send(request: HttpRequest, next: SendNext): Promise<HttpResponse>;
}

/** Returns a copy of the request with one header set (policies never mutate their input). */
export function withHeader(request: HttpRequest, name: string, value: string): HttpRequest {
  return { ...request, headers: { ...request.headers, [name.toLowerCase()]: value } };
}
