import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LocalHost, startLocalHost } from '../../local/host.ts';
import { type DbFaults, dbFaultsPlugin } from '../support/db-faults.ts';
import { jvmsOf, waitUntil } from './berth-process.ts';
import { callAction } from './signing.ts';

vi.setConfig({ testTimeout: 120_000 });

/**
 * Scenario: `berth up`'s DynamoDB Local dies (kill -9) or stalls (SIGSTOP) under a running host.
 * While it is away every request that needs the database is answered 503 with Retry-After (never
 * 500, never a hang); a dead one is restarted on the same data directory and port, with everything
 * acknowledged before still there, and the stream poller goes on driving the reconciler.
 */

const dataDir = mkdtempSync(join(tmpdir(), 'berth-outage-'));
let host: LocalHost;
const lost: Error[] = [];
const logged: string[] = [];
const originalError = console.error;

beforeAll(async () => {
  console.error = (...args: unknown[]) => {
    logged.push(args.map(String).join(' '));
    originalError(...args);
  };
  host = await startLocalHost({ dataDir, port: 0, onStoreLost: (error) => lost.push(error) });
});

/** The JVM serving the data dir, found as a supervisor would (ps), not asked of the host. */
const jvmPid = () => jvmsOf(dataDir)[0]?.pid;

afterAll(async () => {
  const pid = jvmPid();
  if (pid) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {}
  }
  await host?.stop();
  console.error = originalError;
  rmSync(dataDir, { recursive: true, force: true });
});

type Answer = Awaited<ReturnType<typeof callAction>>;

const call = (action: string, input: unknown, timeoutMs?: number) =>
  callAction(host, action, input, timeoutMs);

/** An agent sync with a token nobody holds: answering it needs the table. */
const agentSync = async (timeoutMs = 30_000): Promise<Omit<Answer, 'body'>> => {
  const started = performance.now();
  const response = await fetch(`${host.endpoint}/agent/v1/sync`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer berth_no_such_token_0123456789' },
    body: JSON.stringify({ assignmentVersion: 0, reports: [] }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  await response.text();
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    ms: performance.now() - started,
  };
};

const definition = (family: string) => ({
  family,
  containerDefinitions: [{ name: 'app', image: 'busybox', memory: 32, essential: true }],
});

describe('DynamoDB Local killed under a running host', () => {
  it('answers 503 with Retry-After while it is away, restarts it on the same data dir, and keeps what was acknowledged', async () => {
    // Prepare: acknowledged state before the outage.
    expect((await call('CreateCluster', { clusterName: 'outage' })).status).toBe(200);
    const registered = await call('RegisterTaskDefinition', definition('outage-web'));
    expect(registered.status).toBe(200);
    const before = jvmPid();
    expect(before).toBeGreaterThan(0);
    const keyBefore = host.dynamoAccessKeyId;

    // Act: kill -9 the JVM, then ask while it is away.
    process.kill(before as number, 'SIGKILL');
    const statuses = new Set<number>();
    let refused: Answer | undefined;
    let agentRefused: Omit<Answer, 'body'> | undefined;
    await waitUntil(
      'DynamoDB Local to be back',
      async () => {
        const answer = await call('DescribeClusters', { clusters: ['outage'] });
        statuses.add(answer.status);
        if (answer.status === 503) {
          refused ??= answer;
          agentRefused ??= await agentSync();
        }
        return answer.status === 200 && jvmPid() !== before;
      },
      60_000,
    );

    // Assert: 503 + Retry-After while away, never a 500; one clear line; the same data after.
    expect([...statuses].sort()).toEqual([200, 503]);
    expect(refused?.body.__type).toBe('ServiceUnavailableException');
    expect(Number(refused?.retryAfter)).toBeGreaterThan(0);
    expect(agentRefused?.status).toBe(503);
    expect(Number(agentRefused?.retryAfter)).toBeGreaterThan(0);
    expect(logged.filter((line) => line.includes('exited unexpectedly'))).toHaveLength(1);
    expect(logged.some((line) => line.includes('DynamoDB Local is back'))).toBe(true);
    expect(lost).toEqual([]);
    expect(jvmsOf(dataDir).map((p) => p.pid)).toEqual([host.storePid()]);
    expect(host.storePid()).not.toBe(before);
    expect(host.health()).toMatchObject({ store: 'up', writes: 'accepted' });
    // A new key for the new JVM (a call retried against the port while it was free may have handed
    // the old one to whoever held it), which the host's clients follow.
    expect(host.dynamoAccessKeyId).not.toBe(keyBefore);
    expect(host.dynamoAccessKeyId).toMatch(/^BERTH[0-9A-F]{32}$/);

    const described = await call('DescribeTaskDefinition', { taskDefinition: 'outage-web:1' });
    expect({ status: described.status, body: described.body }).toMatchObject({
      status: 200,
      body: { taskDefinition: { family: 'outage-web', revision: 1 } },
    });
    const cluster = await call('DescribeClusters', { clusters: ['outage'] });
    expect(cluster.body.clusters).toMatchObject([{ clusterName: 'outage', status: 'ACTIVE' }]);

    // The store takes writes again, and the stream poller reads them into the reconciler.
    const second = await call('RegisterTaskDefinition', definition('outage-web'));
    expect(second.status).toBe(200);
    expect(second.body.taskDefinition).toMatchObject({ revision: 2 });
    const service = await call('CreateService', {
      cluster: 'outage',
      serviceName: 'web',
      taskDefinition: 'outage-web:2',
      desiredCount: 1,
    });
    expect(service.status).toBe(200);
    await host.drain(30_000);
    const events = await call('DescribeServices', { cluster: 'outage', services: ['web'] });
    // No instance to place on: the reconciler saw the service and said so in an event.
    expect(JSON.stringify(events.body)).toContain('unable to place a task');
  });
});

describe('DynamoDB Local stalled (SIGSTOP)', () => {
  it('answers 503 with Retry-After in bounded time instead of hanging, and serves again after SIGCONT', async () => {
    const pid = jvmPid() as number;
    process.kill(pid, 'SIGSTOP');
    let stalled: Answer;
    let agentStalled: Omit<Answer, 'body'>;
    try {
      [stalled, agentStalled] = await Promise.all([
        call('DescribeClusters', { clusters: ['outage'] }, 25_000),
        agentSync(25_000),
      ]);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(stalled.status).toBe(503);
    expect(stalled.body.__type).toBe('ServiceUnavailableException');
    expect(Number(stalled.retryAfter)).toBeGreaterThan(0);
    // The call's limit (10 s by default) plus the time to answer.
    expect(stalled.ms).toBeLessThan(12_000);
    expect(agentStalled.status).toBe(503);
    expect(Number(agentStalled.retryAfter)).toBeGreaterThan(0);
    expect(agentStalled.ms).toBeLessThan(12_000);

    await waitUntil(
      'DynamoDB Local to answer after SIGCONT',
      async () => (await call('DescribeClusters', { clusters: ['outage'] })).status === 200,
      20_000,
    );
    // Stalled is not dead: the same JVM serves on, nothing was restarted.
    expect(jvmPid()).toBe(pid);
  });
});

describe('DynamoDB failing after the SDK gave up', () => {
  it('answers throttling, 5xx and timeouts with 503 and Retry-After, not 500', async () => {
    // Prepare: an in-memory host whose next call fails in front of Berth's code, once per kind.
    const faults: DbFaults = { rate: 0, kinds: [], seed: 7, layer: 'call', when: 'before' };
    const faulty = await startLocalHost({
      inMemory: true,
      port: 0,
      dbPlugins: [dbFaultsPlugin(faults)],
      withoutScheduler: true,
    });
    try {
      const answers: Record<string, { status: number; type: unknown; retryAfter: string | null }> = {};
      for (const kind of ['throttle', 'internal', 'timeout'] as const) {
        Object.assign(faults, {
          rate: 1,
          kinds: [kind],
          limit: Object.keys(faults.injected ?? {}).length + 1,
        });
        const answer = await callAction(faulty, 'ListClusters', {});
        answers[kind] = { status: answer.status, type: answer.body.__type, retryAfter: answer.retryAfter };
      }

      // Assert
      const unavailable = { status: 503, type: 'ServiceUnavailableException', retryAfter: '1' };
      expect(answers).toEqual({ throttle: unavailable, internal: unavailable, timeout: unavailable });
      expect(Object.values(faults.injected ?? {}).reduce((sum, n) => sum + n, 0)).toBe(3);
    } finally {
      await faulty.stop();
    }
  });
});

describe('DynamoDB Local that cannot be restarted', () => {
  it('is given up on after five failed starts: onStoreLost is called (berth up exits 1) and requests stay 503', async () => {
    // Prepare: a host of its own, whose store's port someone else takes once the store is dead.
    const dir = mkdtempSync(join(tmpdir(), 'berth-lost-'));
    const gaveUp: Error[] = [];
    const doomed = await startLocalHost({
      dataDir: dir,
      port: 0,
      onStoreLost: (error) => gaveUp.push(error),
    });
    let squatter: Server | undefined;
    // What the squatter is sent: before the launcher's ready line was awaited, each restart's
    // first requests (DescribeTable, CreateTable, signed with the store's access key id) went to
    // whoever held the port. (A call already in flight when the store died may still be retried
    // there by the SDK: see docs/reliability.md.)
    let received = '';
    try {
      const port = Number(new URL(doomed.dynamoEndpoint).port);
      const pid = doomed.storePid() as number;

      // Act
      process.kill(pid, 'SIGKILL');
      await waitUntil(
        'the port to be free',
        () =>
          new Promise<boolean>((resolve) => {
            const server = createServer((socket) =>
              socket.on('data', (chunk) => {
                received += chunk.toString();
              }),
            );
            server.once('error', () => resolve(false));
            server.listen(port, '0.0.0.0', () => {
              squatter = server;
              resolve(true);
            });
          }),
        5_000,
      );
      await waitUntil('the store to be given up on', () => gaveUp.length > 0, 100_000);

      // Assert
      expect(gaveUp).toHaveLength(1);
      expect(gaveUp[0]?.message).toContain('5 starts failed');
      expect(received).not.toMatch(/x-amz-target: DynamoDB_20120810\.(DescribeTable|CreateTable)/);
      expect(doomed.health()).toMatchObject({ store: 'failed', writes: 'refused' });
      const answer = await callAction(doomed, 'ListClusters', {});
      expect({ status: answer.status, type: answer.body.__type }).toEqual({
        status: 503,
        type: 'ServiceUnavailableException',
      });
      expect(Number(answer.retryAfter)).toBeGreaterThan(0);
      expect(logged.some((line) => line.includes('exiting so that a supervisor restarts Berth'))).toBe(true);
    } finally {
      squatter?.close();
      await doomed.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
