/** A transport-neutral HTTP request and response: Lambda and the local host both adapt to these. */
export type HttpRequest = {
  method: string;
  path: string;
  /** Raw query string, without '?'. */
  query: string;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  body: string;
  /**
   * The transport stopped reading the body once it was known to pass the limit (`berth up`: a
   * chunked body may never end); `body` is not the whole of it, and the request is refused.
   */
  bodyTooLarge?: boolean;
  /** Where the request came from, for rate limits and logs. */
  sourceIp?: string;
};

export type HttpResponse = {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
};

export const jsonResponse = (
  statusCode: number,
  body: unknown,
  contentType = 'application/json',
): HttpResponse => ({
  statusCode,
  headers: { 'content-type': contentType },
  body: JSON.stringify(body),
});
