import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateClusterCommand,
  DeregisterContainerInstanceCommand,
  DescribeTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../bench/fleet-simulator.ts';
import { registerAgent, startBerth, type TestBerth } from './harness.ts';

// The agent long-polls the doorbell address its sync answers carry (on AWS a presigned SQS
// ReceiveMessage, here `berth up`'s signed stand-in), sends no token there, and goes back to the
// API route when an address fails. Requests are counted where the control plane receives them.

let berth: TestBerth;
const routes: string[] = [];

/** In front of the control plane: passes everything on, but refuses every doorbell address. */
const refusingAddresses = async (
  target: string,
): Promise<{ endpoint: string; server: Server; seen: string[] }> => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/agent/v1/doorbell/signed')) {
      seen.push(req.headers.authorization ?? 'no token');
      res
        .writeHead(403, { 'content-type': 'text/xml' })
        .end('<ErrorResponse><Code>AccessDenied</Code></ErrorResponse>');
      return;
    }
    const upstream = httpRequest(
      `${target}${req.url}`,
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen };
};

const until = async <T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

/** RunTask on the cluster's only agent, then waits for RUNNING (well inside one 60-s heartbeat). */
const runAndAwait = async (cluster: string) => {
  const run = await berth.ecs.send(
    new RunTaskCommand({ cluster, taskDefinition: 'bell', launchType: 'EXTERNAL' }),
  );
  const taskArn = run.tasks?.[0]?.taskArn ?? '';
  expect(run.failures).toEqual([]);
  return until(`${taskArn} RUNNING`, async () => {
    const described = await berth.ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }));
    return described.tasks?.[0]?.lastStatus === 'RUNNING' ? taskArn : undefined;
  });
};

beforeAll(async () => {
  berth = await startBerth({ onRequest: (route) => routes.push(route) });
  await berth.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'bell',
      requiresCompatibilities: ['EXTERNAL'],
      containerDefinitions: [{ name: 'app', image: 'busybox', cpu: 8, memory: 16, essential: true }],
    }),
  );
});

afterAll(async () => {
  await berth?.stop();
});

describe('the agent and its doorbell address', () => {
  it('long-polls the address from its sync answers and is rung there', async () => {
    // Prepare
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'direct' }));
    const fleet = await startFleet({ endpoint: berth.endpoint, ssm: berth.ssm, cluster: 'direct', count: 1 });
    try {
      // (A long-poll is counted when it is answered, so only the sync can be waited for here.)
      await until('the first sync', async () => routes.includes('/agent/v1/sync') || undefined);
      const before = routes.length;
      // Act
      const taskArn = await runAndAwait('direct');
      // Assess: rung through the address (the next heartbeat is a minute away), never the token route.
      expect(taskArn).toMatch(/:task\/direct\//);
      const since = routes.slice(before);
      expect(since).toContain('/agent/v1/doorbell/signed');
      expect(since).not.toContain('/agent/v1/doorbell');
    } finally {
      await fleet.stop();
    }
  });

  it('goes back to the API route when its addresses are refused, and still gets its work', async () => {
    // Prepare: the agent reaches the control plane through a front that refuses addresses.
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'fallback' }));
    const front = await refusingAddresses(berth.endpoint);
    const fleet = await startFleet({
      endpoint: front.endpoint,
      ssm: berth.ssm,
      cluster: 'fallback',
      count: 1,
    });
    try {
      await until('a refused address', async () => (front.seen.length >= 1 ? true : undefined));
      const before = routes.length;
      // Act
      const taskArn = await runAndAwait('fallback');
      // Assess: the address was tried without the token; the ring came through the token route.
      expect(taskArn).toMatch(/:task\/fallback\//);
      expect(front.seen[0]).toBe('no token');
      expect(new Set(front.seen)).toEqual(new Set(['no token']));
      expect(routes.slice(before)).toContain('/agent/v1/doorbell');
    } finally {
      await fleet.stop();
      front.server.closeAllConnections();
      await new Promise((done) => front.server.close(done));
    }
  });

  it('is refused when tampered with, and once its instance is deregistered', async () => {
    // Prepare
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'served' }));
    const agent = await registerAgent(berth, { cluster: 'served' });
    const sync = await berth.agent('/sync', { assignmentVersion: 0, reports: [] }, agent.token);
    const address = new URL(sync.body.doorbell.url, berth.endpoint);
    const tampered = new URL(address);
    tampered.searchParams.set('expires', String(Number(address.searchParams.get('expires')) + 86_400));
    // Act
    const refused = await fetch(tampered);
    await berth.ecs.send(
      new DeregisterContainerInstanceCommand({
        cluster: 'served',
        containerInstance: agent.containerInstanceArn,
      }),
    );
    const gone = await fetch(address);
    // Assess
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 'AccessDeniedException' });
    expect(gone.status).toBe(404);
  });
});
