import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../agent/agent.ts';
import type { SyncRequest, SyncResponse } from '../../core/protocol/agent.ts';
import { startBerth, type TestBerth } from '../integration/harness.ts';
import { newActivation, startDockerAgent, testAgentConfig } from './agent-fixture.ts';
import { containersOf, eventually, removeClusterContainers, requireDocker, testImage } from './docker.ts';

const cluster = 'e2e-offline';
const berthDir = mkdtempSync(join(tmpdir(), 'berth-offline-cp-'));
let berth: TestBerth | undefined;
let docker: Docker;
let agent: Agent | undefined;
let port: number;
const syncs: { request: SyncRequest; response: SyncResponse }[] = [];

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

/** The control plane with its data on disk, so it can be stopped and started again. */
const startControlPlane = () =>
  startBerth({ inMemory: false, dataDir: berthDir, port, sweepIntervalMs: 3_600_000 });

beforeAll(async () => {
  docker = await requireDocker();
  await removeClusterContainers(cluster);
  port = await freePort();
  berth = await startControlPlane();
  await berth.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
});

afterAll(async () => {
  await agent?.stop();
  await berth?.stop();
  await removeClusterContainers(cluster);
});

describe('berth agent without its control plane', () => {
  it('restarts a crashed essential container locally and reports the whole history when the control plane returns', async () => {
    const cp = berth as TestBerth;
    agent = await startDockerAgent(
      testAgentConfig({ endpoint: cp.endpoint, cluster, ...(await newActivation(cp)) }),
      { onSync: (request, response) => syncs.push({ request, response }) },
    );
    await cp.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'edge-app',
        requiresCompatibilities: ['EXTERNAL'],
        containerDefinitions: [
          { name: 'app', image: testImage, memory: 32, essential: true, command: ['sleep', '3600'] },
        ],
      }),
    );
    await cp.ecs.send(
      new CreateServiceCommand({
        cluster,
        serviceName: 'edge',
        taskDefinition: 'edge-app',
        desiredCount: 1,
        launchType: 'EXTERNAL',
      }),
    );
    const taskArn = await eventually('the service task to run', async () => {
      const arns = (await cp.ecs.send(new ListTasksCommand({ cluster }))).taskArns ?? [];
      if (arns.length !== 1) return undefined;
      const task = (await cp.ecs.send(new DescribeTasksCommand({ cluster, tasks: arns }))).tasks?.[0];
      return task?.lastStatus === 'RUNNING' ? task.taskArn : undefined;
    });
    const [container] = await containersOf(cluster);
    const id = container?.Id ?? '';
    const firstStart = (await docker.getContainer(id).inspect()).State.StartedAt;

    // The control plane goes away; the agent notices on its next long-poll.
    await cp.stop();
    berth = undefined;
    await eventually('the agent to notice', async () => agent?.online === false, 15_000);
    await docker.getContainer(id).kill();

    const restarted = await eventually(
      'the container to be restarted locally',
      async () => {
        const state = (await docker.getContainer(id).inspect()).State;
        return state.Running && state.StartedAt !== firstStart ? state : undefined;
      },
      20_000,
    );
    expect(restarted.Running).toBe(true);
    expect(await containersOf(cluster)).toHaveLength(1);
    const syncsBefore = syncs.length;

    berth = await startControlPlane();
    const back = berth;
    const task = await eventually(
      'the history to be reported',
      async () => {
        const found = (await back.ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn ?? ''] })))
          .tasks?.[0];
        return found?.containers?.[0]?.reason?.includes('Restarted 1 time') ? found : undefined;
      },
      30_000,
    );
    // The same task, still RUNNING on the same container: not replaced, not duplicated.
    expect(task.lastStatus).toBe('RUNNING');
    expect(task.containers?.[0]).toMatchObject({ runtimeId: id, lastStatus: 'RUNNING', exitCode: 137 });
    expect((await back.ecs.send(new ListTasksCommand({ cluster }))).taskArns).toEqual([taskArn]);

    // The server stores the reports before its answer reaches the agent: wait for the acknowledgement.
    await eventually(
      'the reports to be acknowledged',
      async () => agent?.engine.tasks.find((t) => t.task.taskArn === taskArn)?.pending.length === 0,
      15_000,
    );
    // What went over the wire after reconnecting: the crash, then the restart, in seq order, all acknowledged.
    const replayed = syncs
      .slice(syncsBefore)
      .flatMap((s) => s.request.reports.filter((r) => r.taskArn === taskArn));
    expect(replayed.map((r) => r.containers[0]?.lastStatus)).toEqual(['PENDING', 'RUNNING']);
    expect(replayed[0]?.containers[0]).toMatchObject({ exitCode: 137 });
    expect(replayed[0]?.lastStatus).toBe('RUNNING');
    expect(replayed.map((r) => r.seq)).toEqual([...replayed.map((r) => r.seq)].sort((a, b) => a - b));
    const acked = syncs
      .slice(syncsBefore)
      .flatMap((s) => s.response.acked.filter((a) => a.taskArn === taskArn));
    expect(Math.max(...acked.map((a) => a.seq))).toBe(replayed.at(-1)?.seq);
    expect(agent?.engine.tasks.find((t) => t.task.taskArn === taskArn)?.pending).toEqual([]);
  }, 120_000);
});
