import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { maxRequestBytes } from '../core/ecs/serve.ts';
import type { HttpRequest, HttpResponse } from '../core/http.ts';

export type Route = (request: HttpRequest) => Promise<HttpResponse>;

/** How long and how many: what a slow, stalled or greedy client may hold of the server. */
export type TransportLimits = {
  /** A request's headers must have arrived within this, from its first byte. */
  headersTimeoutMs: number;
  /**
   * The whole request (headers and body) must have arrived within this. Only the receiving is
   * timed: a long-poll that answers after 20 s was received at once and is not cut.
   */
  requestTimeoutMs: number;
  /** Open connections beyond this are closed as they arrive. */
  maxConnections: number;
};

/**
 * Generous for agents on slow links (a 128 KiB body in 30 s is 4.4 KiB/s), short against a
 * client that holds connections open without finishing its request (Node's default is 300 s).
 * Each agent holds a few connections (its long-poll, its syncs).
 */
export const defaultTransportLimits: TransportLimits = {
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 30_000,
  maxConnections: 4096,
};

/** What reading a body found, besides the body itself. */
const tooLarge = Symbol('too large');
const aborted = Symbol('aborted');

/**
 * Reads the body, or stops as soon as it is known to pass `limit` (by its content-length, or by
 * the bytes received: a chunked body has no length up front and may never end). Resolves
 * `aborted` when the client goes away before the end.
 */
const readBody = (req: IncomingMessage, limit: number): Promise<string | typeof tooLarge | typeof aborted> =>
  new Promise((resolve) => {
    // Paused, Node stops reading the socket once its small buffer is full.
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      req.pause();
      return resolve(tooLarge);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve(tooLarge);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    // A client hanging up mid-body is its business, not a server error ('aborted', ECONNRESET).
    req.on('error', () => resolve(aborted));
    req.on('close', () => {
      if (!req.complete) resolve(aborted);
    });
  });

const requestOf = (req: IncomingMessage, body: string): HttpRequest => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.search.startsWith('?') ? url.search.slice(1) : url.search,
    headers,
    body,
    sourceIp: req.socket.remoteAddress,
  };
};

const send = (res: ServerResponse, response: HttpResponse) => {
  res.writeHead(response.statusCode, {
    ...response.headers,
    'content-length': Buffer.byteLength(response.body),
  });
  res.end(response.body);
};

/**
 * A body past the limit is refused by the handler in its own error shape (the SDKs' typed
 * exception), answered 413, and the connection closed once that is sent (`connection: close`:
 * otherwise Node reads the rest of the body to reuse the connection, and a chunked one may never
 * end).
 */
const tooLargeAnswer = (response: HttpResponse): HttpResponse => ({
  statusCode: response.statusCode < 500 ? 413 : response.statusCode,
  headers: { ...response.headers, connection: 'close' },
  body: response.body,
});

/**
 * The local stand-in for API Gateway: every request becomes the same transport-neutral request
 * the Lambda handlers serve, routed by path as the HTTP API's routes are.
 */
export const createHttpServer = (
  routes: { operator: Route; agent: Route },
  /** Called when a response was sent, with the route (agent path or X-Amz-Target) and its duration: the benchmark counts requests. */
  onRequest?: (route: string, ms: number) => void,
  limits: Partial<TransportLimits> = {},
): Server => {
  const { headersTimeoutMs, requestTimeoutMs, maxConnections } = { ...defaultTransportLimits, ...limits };
  const server = createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      // Node checks the two timeouts on this interval (30 s by default, which would double them).
      connectionsCheckingInterval: Math.max(10, Math.min(headersTimeoutMs, requestTimeoutMs) / 10),
    },
    (req, res) => {
      const started = performance.now();
      let route = 'unknown';
      readBody(req, maxRequestBytes)
        .then((body) => {
          if (body === aborted) {
            // One line, and only when asked: a client on a flaky link does this all day. The path
            // without its query (a signed doorbell address carries its signature there).
            if (process.env.BERTH_DEBUG)
              console.error(
                `berth: ${req.method} ${req.url?.split('?')[0]}: the client closed the connection mid-request`,
              );
            return;
          }
          const request =
            body === tooLarge ? { ...requestOf(req, ''), bodyTooLarge: true } : requestOf(req, body);
          route = request.path.startsWith('/agent/')
            ? request.path
            : (request.headers['x-amz-target'] ?? request.path);
          const answer = request.path.startsWith('/agent/')
            ? routes.agent(request)
            : routes.operator(request);
          return body === tooLarge ? answer.then(tooLargeAnswer) : answer;
        })
        .then((response) => {
          if (!response) return;
          send(res, response);
          onRequest?.(route, performance.now() - started);
        })
        .catch((error: unknown) => {
          console.error('berth: request failed', error);
          if (!res.headersSent) send(res, { statusCode: 500, headers: {}, body: '' });
        });
    },
  );
  // Longer than clients' idle sockets (SDKs keep connections alive), so the server never closes
  // one a client is about to reuse. An idle connection is not timed by headersTimeout: Node starts
  // that clock at a request's first byte.
  server.keepAliveTimeout = 65_000;
  server.maxConnections = maxConnections;
  return server;
};

export const listen = (server: Server, port: number, host: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(
              `Port ${port} on ${host} is already in use. Stop what uses it, or start Berth with --port N.`,
            )
          : error,
      );
    };
    const onListening = () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
