import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, NetworkError } from '../../agent/http.ts';

// A proxy that opens the CONNECT tunnel and then says nothing: the agent's request must fail in
// its own time, not hang the loop that made it.

let proxy: Server;
let proxyUrl: string;
const sockets: Socket[] = [];

beforeAll(async () => {
  proxy = createServer((socket) => {
    sockets.push(socket);
    socket.once('data', () => socket.write('HTTP/1.1 200 Connection Established\r\n\r\n'));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => proxy.close(resolve));
});

describe('agent HTTP through a proxy', () => {
  it('gives up on a TLS handshake the tunnel never answers, with a NetworkError', async () => {
    const outcome = await httpRequest(
      'https://control-plane.example.test/agent/v1/sync',
      { method: 'POST', body: '{}', timeoutMs: 500 },
      { HTTPS_PROXY: proxyUrl },
    ).catch((error: unknown) => error);

    expect(outcome).toBeInstanceOf(NetworkError);
    expect((outcome as NetworkError).message).toMatch(/TLS handshake timed out/);
  });
});
