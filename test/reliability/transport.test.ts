import type { Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { maxRequestBytes } from '../../core/ecs/serve.ts';
import type { HttpRequest, HttpResponse } from '../../core/http.ts';
import {
  createHttpServer,
  defaultTransportLimits,
  listen,
  type TransportLimits,
} from '../../local/server.ts';

/**
 * Hostile and broken clients at the transport, with raw sockets (an HTTP client library would
 * refuse to misbehave): endless and oversized bodies, stalls mid-headers and mid-body, connection
 * floods, hang-ups. The routes behind are stand-ins that record what reached them.
 */

/** As the real handlers do: a body the transport marked too large is refused, in the route's own shape. */
const refuseTooLarge = async (request: HttpRequest): Promise<HttpResponse> =>
  request.bodyTooLarge
    ? {
        statusCode: 400,
        headers: { 'content-type': 'application/x-amz-json-1.1' },
        body: '{"__type":"ClientException","message":"The request body is larger than 131072 bytes."}',
      }
    : { statusCode: 200, headers: {}, body: 'ok' };

type TestServer = { port: number; calls: HttpRequest[]; serverSockets: Socket[]; server: Server };
const servers: Server[] = [];

const startServer = async (
  limits: Partial<TransportLimits> = {},
  answer: (request: HttpRequest) => Promise<HttpResponse> = refuseTooLarge,
): Promise<TestServer> => {
  const calls: HttpRequest[] = [];
  const route = (request: HttpRequest) => {
    calls.push(request);
    return answer(request);
  };
  const server = createHttpServer({ operator: route, agent: route }, undefined, limits);
  servers.push(server);
  const serverSockets: Socket[] = [];
  server.on('connection', (socket: Socket) => serverSockets.push(socket));
  const port = await listen(server, 0, '127.0.0.1');
  return { port, calls, serverSockets, server };
};

afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

type RawClient = {
  socket: Socket;
  /** Everything the server sent so far. */
  received: () => string;
  /** Resolves with ms since connecting when the server closed the connection, or 'open' after `ms`. */
  closedWithin: (ms: number) => Promise<number | 'open'>;
};

const rawClient = (port: number): RawClient => {
  const socket = connect(port, '127.0.0.1');
  const opened = Date.now();
  let received = '';
  let closedAt: number | undefined;
  socket.on('data', (data) => {
    received += data.toString();
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      closedAt = Date.now();
      resolve();
    }),
  );
  return {
    socket,
    received: () => received,
    closedWithin: async (ms) => {
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, ms))]);
      return closedAt === undefined ? 'open' : closedAt - opened;
    },
  };
};

/** Writes chunks of a chunked body as fast as the socket takes them, until it closes. */
const pumpEndlessChunks = (socket: Socket) => {
  const chunk = Buffer.alloc(16 * 1024, 'a');
  const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
  const pump = () => {
    while (!socket.destroyed && socket.writable) {
      if (!socket.write(frame)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('request bodies', () => {
  it('answers 413 and closes the connection when an endless chunked body passes 128 KiB', async () => {
    // Arrange
    const { port, calls, serverSockets } = await startServer();
    const client = rawClient(port);

    // Act
    client.socket.write('POST / HTTP/1.1\r\nHost: berth\r\nTransfer-Encoding: chunked\r\n\r\n');
    pumpEndlessChunks(client.socket);
    const closedAfter = await client.closedWithin(10_000);

    // Assess: answered and closed, after the server read at most one socket read past the limit.
    expect(closedAfter).not.toBe('open');
    expect(client.received()).toMatch(/^HTTP\/1\.1 413 /);
    expect(client.received()).toMatch(/connection: close/i);
    expect(client.received()).toContain('"__type":"ClientException"');
    // The route saw no body: only that it was too large.
    expect(calls.map((call) => [call.body, call.bodyTooLarge])).toEqual([['', true]]);
    expect(serverSockets).toHaveLength(1);
    expect(serverSockets[0]?.bytesRead).toBeLessThan(maxRequestBytes + 128 * 1024);
  });

  it('answers 413 without reading a body whose content-length passes the limit', async () => {
    // Arrange
    const { port, calls, serverSockets } = await startServer();
    const client = rawClient(port);

    // Act: the headers promise 10 MiB; nothing of it is sent.
    client.socket.write(`POST / HTTP/1.1\r\nHost: berth\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n`);
    const closedAfter = await client.closedWithin(5_000);

    // Assess
    expect(closedAfter).not.toBe('open');
    expect(client.received()).toMatch(/^HTTP\/1\.1 413 /);
    expect(calls.map((call) => [call.body, call.bodyTooLarge])).toEqual([['', true]]);
    expect(serverSockets[0]?.bytesRead).toBeLessThan(1024);
  });

  it('still serves a body of exactly 128 KiB', async () => {
    // Arrange
    const { port, calls } = await startServer();
    const body = 'b'.repeat(maxRequestBytes);

    // Act
    const response = await fetch(`http://127.0.0.1:${port}/agent/v1/sync`, { method: 'POST', body });

    // Assess
    expect(response.status).toBe(200);
    expect(calls.map((call) => call.body.length)).toEqual([maxRequestBytes]);
  });
});

describe('timeouts', () => {
  const short = { headersTimeoutMs: 300, requestTimeoutMs: 800 };

  it('closes a connection whose headers stall, after the headers timeout', async () => {
    // Arrange
    const { port, calls } = await startServer(short);
    const client = rawClient(port);

    // Act: half a request's headers, then nothing.
    client.socket.write('POST / HTTP/1.1\r\nHost: berth\r\n');
    const closedAfter = await client.closedWithin(3_000);

    // Assess
    expect(closedAfter).not.toBe('open');
    expect(closedAfter).toBeGreaterThanOrEqual(short.headersTimeoutMs - 50);
    expect(calls).toEqual([]);
  });

  it('closes a connection whose body stalls, after the request timeout', async () => {
    // Arrange
    const { port, calls } = await startServer(short);
    const client = rawClient(port);

    // Act: whole headers, 10 of 100 promised bytes, then nothing.
    client.socket.write('POST / HTTP/1.1\r\nHost: berth\r\nContent-Length: 100\r\n\r\n0123456789');
    const closedAfter = await client.closedWithin(3_000);

    // Assess
    expect(closedAfter).not.toBe('open');
    expect(closedAfter).toBeGreaterThanOrEqual(short.requestTimeoutMs - 50);
    expect(calls).toEqual([]);
  });

  it('answers a request received at once even when its answer takes longer than the request timeout', async () => {
    // Arrange: a route that holds its answer, as the doorbell's 20-second long-poll does.
    const { port } = await startServer(short, async () => {
      await sleep(short.requestTimeoutMs * 2);
      return { statusCode: 200, headers: {}, body: '{"rung":false}' };
    });

    // Act
    const response = await fetch(`http://127.0.0.1:${port}/agent/v1/doorbell?wait=20`);

    // Assess
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"rung":false}');
  });

  it('keeps an idle keep-alive connection past the headers timeout for its next request', async () => {
    // Arrange
    const { port, calls, serverSockets } = await startServer(short);
    const client = rawClient(port);
    client.socket.write('GET /agent/v1/one HTTP/1.1\r\nHost: berth\r\n\r\n');
    await sleep(100);

    // Act: idle for three headers timeouts, then the next request on the same connection.
    await sleep(short.headersTimeoutMs * 3);
    client.socket.write('GET /agent/v1/two HTTP/1.1\r\nHost: berth\r\n\r\n');
    await sleep(200);

    // Assess
    expect(client.received().match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
    expect(calls.map((call) => call.path)).toEqual(['/agent/v1/one', '/agent/v1/two']);
    expect(serverSockets).toHaveLength(1);
  });

  it('defaults to timeouts above the long-poll and far below Node’s 300 s, checked often', async () => {
    // Arrange
    const { server } = await startServer();

    // Assess
    expect(server.headersTimeout).toBe(defaultTransportLimits.headersTimeoutMs);
    expect(server.requestTimeout).toBe(defaultTransportLimits.requestTimeoutMs);
    expect(server.requestTimeout).toBeGreaterThan(20_000);
    expect(server.requestTimeout).toBeLessThanOrEqual(60_000);
    expect(server.maxConnections).toBe(defaultTransportLimits.maxConnections);
  });
});

describe('connections', () => {
  it('closes connections beyond the cap as they arrive, and serves again once one is gone', async () => {
    // Arrange: two connections held open (stalled mid-headers would be closed; these are idle).
    const { port, calls } = await startServer({ maxConnections: 2 });
    const held = [rawClient(port), rawClient(port)];
    await sleep(100);

    // Act
    const third = rawClient(port);
    third.socket.write('GET /agent/v1/third HTTP/1.1\r\nHost: berth\r\n\r\n');
    const thirdClosed = await third.closedWithin(2_000);
    held[0]?.socket.destroy();
    await sleep(100);
    const fourth = await fetch(`http://127.0.0.1:${port}/agent/v1/fourth`);

    // Assess
    expect(thirdClosed).not.toBe('open');
    expect(third.received()).toBe('');
    expect(fourth.status).toBe(200);
    expect(calls.map((call) => call.path)).toEqual(['/agent/v1/fourth']);
    held[1]?.socket.destroy();
  });
});

describe('clients that hang up mid-body', () => {
  /** Sends part of a promised body, hangs up, and waits until the server has seen it go. */
  const hangUpMidBody = async () => {
    const { port, calls, serverSockets } = await startServer();
    const client = rawClient(port);
    client.socket.write(
      'POST /agent/v1/sync HTTP/1.1\r\nHost: berth\r\nContent-Length: 1000\r\n\r\n0123456789',
    );
    await sleep(100);
    client.socket.destroy();
    await new Promise((resolve) => serverSockets[0]?.once('close', resolve));
    await sleep(50);
    return calls;
  };

  it('are not logged at all without BERTH_DEBUG', async () => {
    // Arrange
    vi.stubEnv('BERTH_DEBUG', '');
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const logs = vi.spyOn(console, 'log').mockImplementation(() => {});

    // Act
    const calls = await hangUpMidBody();

    // Assess
    expect(errors).not.toHaveBeenCalled();
    expect(logs).not.toHaveBeenCalled();
    expect(calls).toEqual([]);
  });

  it('are logged as one line without a stack with BERTH_DEBUG', async () => {
    // Arrange
    vi.stubEnv('BERTH_DEBUG', '1');
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});

    // Act
    await hangUpMidBody();

    // Assess
    expect(errors).toHaveBeenCalledTimes(1);
    const args = errors.mock.calls[0] ?? [];
    expect(args).toHaveLength(1);
    expect(args[0]).toBe('berth: POST /agent/v1/sync: the client closed the connection mid-request');
  });
});
