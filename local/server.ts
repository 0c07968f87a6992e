import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { maxRequestBytes } from '../core/ecs/serve.ts';
import type { HttpRequest, HttpResponse } from '../core/http.ts';

export type Route = (request: HttpRequest) => Promise<HttpResponse>;

/** Reads at most `limit` + 1 bytes: enough to know a body is too large without buffering it all. */
const readBody = (req: IncomingMessage, limit: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size > limit) return;
      size += chunk.length;
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });

const toRequest = async (req: IncomingMessage): Promise<HttpRequest> => {
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
    body: await readBody(req, maxRequestBytes),
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
 * The local stand-in for API Gateway: every request becomes the same transport-neutral request
 * the Lambda handlers serve, routed by path as the HTTP API's routes are.
 */
export const createHttpServer = (
  routes: { operator: Route; agent: Route },
  /** Called when a response was sent, with the route (agent path or X-Amz-Target) and its duration: the benchmark counts requests. */
  onRequest?: (route: string, ms: number) => void,
): Server => {
  const server = createServer((req, res) => {
    const started = performance.now();
    let route = 'unknown';
    toRequest(req)
      .then((request) => {
        route = request.path.startsWith('/agent/')
          ? request.path
          : (request.headers['x-amz-target'] ?? request.path);
        return request.path.startsWith('/agent/') ? routes.agent(request) : routes.operator(request);
      })
      .then((response) => {
        send(res, response);
        onRequest?.(route, performance.now() - started);
      })
      .catch((error: unknown) => {
        console.error('berth: request failed', error);
        if (!res.headersSent) send(res, { statusCode: 500, headers: {}, body: '' });
      });
  });
  // Longer than clients' idle sockets (SDKs keep connections alive), so the server never closes one
  // a client is about to reuse; and longer than the doorbell's 20-second long-poll.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
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
