import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../agent/client.ts';
import { NetworkError } from '../../agent/http.ts';

// The agent's HTTP client against a server that throttles it, as the registration endpoint does.

let server: Server;
let endpoint: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    const throttled = request.url?.endsWith('/register');
    response.writeHead(throttled ? 429 : 503, {
      'content-type': 'application/json',
      ...(throttled ? { 'retry-after': '42' } : {}),
    });
    response.end(JSON.stringify({ code: 'TooManyRequests', message: 'slow down' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('agent API client', () => {
  it("carries a 429's Retry-After to the caller, and nothing when the server gave none", async () => {
    const client = createApiClient(endpoint, () => undefined, {});
    const throttled = await client
      .register({
        activationId: 'a',
        activationCode: 'b',
        hostname: 'h',
        agentVersion: '0.1.0',
        resources: { cpu: 1024, memory: 1024 },
      })
      .catch((error: unknown) => error);
    const unavailable = await client
      .sync({ assignmentVersion: 0, reports: [] })
      .catch((error: unknown) => error);

    expect(throttled).toBeInstanceOf(NetworkError);
    expect((throttled as NetworkError).retryAfterMs).toBe(42_000);
    expect(unavailable).toBeInstanceOf(NetworkError);
    expect((unavailable as NetworkError).retryAfterMs).toBeUndefined();
  });
});
