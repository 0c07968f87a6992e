import http from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';

// TLS is loaded only for https endpoints or proxies: loading it costs a plain-http agent ~6 MB.
const httpsModule = () => import('node:https').then((m) => m.default);

/**
 * The agent's HTTP client on node:http/https, with HTTP(S)_PROXY support. Node's fetch honours no
 * proxy variables and undici (which could) is not a dependency Berth ships, so proxying is done
 * here the way undici's ProxyAgent does it: a CONNECT tunnel through the proxy for every target,
 * TLS to the target inside the tunnel for https. Edge sites often reach the internet only so.
 */

/** `retryAfter`: the Retry-After header as sent (seconds or an HTTP date), when there was one. */
export type HttpResult = { status: number; body: string; retryAfter?: string };

export type RequestOptions = {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** The whole exchange; a long-poll passes its wait plus a margin. */
  timeoutMs: number;
  signal?: AbortSignal;
};

/** A failure to reach the other side (refused, reset, timed out, proxy refused): retry later. */
export class NetworkError extends Error {
  readonly code = 'NetworkError';
  /** How long the server asked to be left alone (a 429's or 503's Retry-After), when it said. */
  readonly retryAfterMs?: number;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    if (retryAfterMs !== undefined) this.retryAfterMs = retryAfterMs;
  }
}

/** Retry-After as milliseconds from `nowMs`: delta-seconds or an HTTP date; undefined when unreadable. */
export const retryAfterMsOf = (value: string | undefined, nowMs: number): number | undefined => {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
};

const defaultPort = (url: URL) => Number(url.port || (url.protocol === 'https:' ? 443 : 80));

/**
 * The proxy for `target` from the usual variables (lower case wins, as curl does), or undefined
 * when none applies: NO_PROXY lists hosts, domain suffixes (`.corp` or `corp`), host:port, or `*`.
 */
export const proxyFor = (target: URL, env: Record<string, string | undefined>): URL | undefined => {
  const https = target.protocol === 'https:';
  const value = https
    ? (env.https_proxy ?? env.HTTPS_PROXY ?? env.all_proxy ?? env.ALL_PROXY)
    : (env.http_proxy ?? env.HTTP_PROXY ?? env.all_proxy ?? env.ALL_PROXY);
  if (!value) return undefined;
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = defaultPort(target);
  for (const entry of (env.no_proxy ?? env.NO_PROXY ?? '').split(/[\s,]+/).filter(Boolean)) {
    if (entry === '*') return undefined;
    const [name = '', entryPort] = entry.toLowerCase().split(/:(?=\d+$)/);
    if (entryPort && Number(entryPort) !== port) continue;
    const domain = name.replace(/^\*?\./, '');
    if (host === domain || host.endsWith(`.${domain}`)) return undefined;
  }
  return new URL(value.includes('://') ? value : `http://${value}`);
};

/** Opens a CONNECT tunnel to host:port through `proxy`. */
const tunnel = async (proxy: URL, host: string, port: number, timeoutMs: number): Promise<Duplex> => {
  const client = proxy.protocol === 'https:' ? await httpsModule() : http;
  return new Promise((resolve, reject) => {
    const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const headers: Record<string, string> = { host: authority };
    if (proxy.username) {
      const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
      headers['proxy-authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
    }
    const request = client.request({
      host: proxy.hostname,
      port: defaultPort(proxy),
      method: 'CONNECT',
      path: authority,
      headers,
      agent: false,
    });
    request.setTimeout(timeoutMs, () => request.destroy(new NetworkError(`proxy ${proxy.host} timed out`)));
    request.once('connect', (response, socket) => {
      if (response.statusCode === 200) {
        request.setTimeout(0);
        resolve(socket);
        return;
      }
      socket.destroy();
      reject(new NetworkError(`proxy ${proxy.host} refused the tunnel: HTTP ${response.statusCode}`));
    });
    request.once('error', (error) => reject(new NetworkError(`proxy ${proxy.host}: ${error.message}`)));
    request.end();
  });
};

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
let httpsAgent: HttpsAgent | undefined;

/**
 * Raises the per-process socket limit (4: one agent needs its long-poll and a sync at once). The
 * fleet simulator runs many agents in one process, which would otherwise queue behind each other.
 */
export const setSocketLimit = (limit: number): void => {
  httpAgent.maxSockets = limit;
  if (httpsAgent) httpsAgent.maxSockets = limit;
};

/** One HTTP exchange; NetworkError when the other side cannot be reached or answers too late. */
export const httpRequest = async (
  url: string,
  options: RequestOptions,
  env: Record<string, string | undefined> = process.env,
): Promise<HttpResult> => {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const proxy = proxyFor(target, env);
  const https = secure ? await httpsModule() : undefined;
  if (https) httpsAgent ??= new https.Agent({ keepAlive: true, maxSockets: 4 });
  let socket: Duplex | undefined;
  if (proxy) {
    const raw = await tunnel(
      proxy,
      target.hostname.replace(/^\[|\]$/g, ''),
      defaultPort(target),
      options.timeoutMs,
    );
    const tls = secure ? (await import('node:tls')).default : undefined;
    socket = tls
      ? await new Promise<Duplex>((resolve, reject) => {
          const secured = tls.connect({ socket: raw, servername: target.hostname }, () => {
            secured.setTimeout(0);
            resolve(secured);
          });
          // A proxy that opens the tunnel and then stalls must not hang the loop that asked.
          secured.setTimeout(options.timeoutMs, () =>
            secured.destroy(new NetworkError(`${target.host}: TLS handshake timed out`)),
          );
          secured.once('error', (error) => reject(new NetworkError(error.message)));
        })
      : raw;
  }
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const request = (https ?? http).request({
      protocol: target.protocol,
      host: target.hostname.replace(/^\[|\]$/g, ''),
      port: defaultPort(target),
      path: `${target.pathname}${target.search}`,
      method: options.method,
      headers,
      ...(socket
        ? { createConnection: () => socket, agent: false }
        : { agent: https ? httpsAgent : httpAgent }),
      ...(options.signal ? { signal: options.signal } : {}),
    } as http.RequestOptions);
    request.setTimeout(options.timeoutMs, () =>
      request.destroy(new NetworkError(`${target.host} timed out`)),
    );
    request.once('error', (error) => {
      socket?.destroy();
      reject(error instanceof NetworkError ? error : new NetworkError(`${target.host}: ${error.message}`));
    });
    request.once('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', (error) => reject(new NetworkError(error.message)));
      response.once('end', () => {
        if (socket) socket.destroy();
        const retryAfter = response.headers['retry-after'];
        resolve({
          status: response.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
        });
      });
    });
    request.end(options.body);
  });
};
