import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateClusterCommand,
  DescribeTasksCommand,
  ListContainerInstancesCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAgentBundle } from '../../agent/build.ts';
import { startBerth, type TestBerth } from '../integration/harness.ts';
import { activationArgs, agentRegistered, newActivation } from './agent-fixture.ts';
import { containersOf, eventually, removeClusterContainers, requireDocker, testImage } from './docker.ts';

const cluster = 'e2e-restart';
let berth: TestBerth;
let bundle: string;
const dataDir = mkdtempSync(join(tmpdir(), 'berth-agent-process-'));
const processes: ChildProcess[] = [];

/** The bundled agent, as an edge machine runs it: `node berth-agent.mjs …`. */
const spawnAgent = (args: string[]): ChildProcess => {
  const child = spawn(
    process.execPath,
    [
      bundle,
      '--endpoint',
      berth.endpoint,
      '--data-dir',
      dataDir,
      '--cleanup-wait',
      '1',
      '--stop-timeout',
      '2',
      '--log-level',
      'warn',
      ...args,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  processes.push(child);
  return child;
};

beforeAll(async () => {
  await requireDocker();
  await removeClusterContainers(cluster);
  bundle = (await buildAgentBundle(join(mkdtempSync(join(tmpdir(), 'berth-bundle-')), 'berth-agent.mjs')))
    .outfile;
  berth = await startBerth({ sweepIntervalMs: 3_600_000 });
  await berth.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
});

afterAll(async () => {
  for (const child of processes) child.kill('SIGKILL');
  await berth?.stop();
  await removeClusterContainers(cluster);
});

const statusOf = async (taskArns: string[]) =>
  (await berth.ecs.send(new DescribeTasksCommand({ cluster, tasks: taskArns }))).tasks ?? [];

describe('berth agent process', () => {
  it('adopts its running containers after kill -9 and a restart, without duplicates or a second registration', async () => {
    const activation = await newActivation(berth);
    const first = spawnAgent(activationArgs(cluster, activation));
    await berth.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'durable',
        requiresCompatibilities: ['EXTERNAL'],
        containerDefinitions: [
          { name: 'app', image: testImage, memory: 32, essential: true, command: ['sleep', '3600'] },
          { name: 'log', image: testImage, memory: 32, essential: false, command: ['sleep', '3600'] },
        ],
      }),
    );
    await agentRegistered(berth, cluster);
    const identity = join(dataDir, 'identity.json');
    // The server registers the instance a moment before the agent has written its answer down.
    await eventually('the identity to be saved', async () => existsSync(identity));
    expect(statSync(identity).mode & 0o777).toBe(0o600);
    const run = await berth.ecs.send(
      new RunTaskCommand({ cluster, taskDefinition: 'durable', count: 2, launchType: 'EXTERNAL' }),
    );
    const taskArns = (run.tasks ?? []).map((t) => t.taskArn ?? '');
    expect(taskArns).toHaveLength(2);
    await eventually('both tasks to run', async () =>
      (await statusOf(taskArns)).every((t) => t.lastStatus === 'RUNNING'),
    );
    const before = (await containersOf(cluster)).map((c) => c.Id).sort();
    expect(before).toHaveLength(4);

    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    // No activation this time: the identity on disk is reused, the activation (limit 1) is not consumed again.
    const second = spawnAgent([]);

    // The restarted agent manages the adopted containers: a stop reaches them.
    await berth.ecs.send(new StopTaskCommand({ cluster, task: taskArns[0], reason: 'e2e' }));
    const [stopped] = await eventually('the stopped task to be reported', async () => {
      const tasks = await statusOf([taskArns[0] ?? '']);
      return tasks[0]?.lastStatus === 'STOPPED' ? tasks : undefined;
    });
    expect(stopped?.stopCode).toBe('UserInitiated');
    const still = await containersOf(cluster);
    const survivors = still.filter((c) => c.Labels['berth.task-arn'] === taskArns[1]);
    expect(survivors.map((c) => c.Id).sort()).toEqual(
      before.filter((id) => survivors.some((c) => c.Id === id)).sort(),
    );
    expect(survivors).toHaveLength(2);
    expect(survivors.every((c) => c.State === 'running')).toBe(true);
    // Every container there now existed before the kill: none was created twice.
    expect(still.every((c) => before.includes(c.Id))).toBe(true);
    const [running] = await statusOf([taskArns[1] ?? '']);
    expect(running?.lastStatus).toBe('RUNNING');
    expect(running?.containers?.map((c) => c.runtimeId).sort()).toEqual(survivors.map((c) => c.Id).sort());
    const list = await berth.ecs.send(new ListContainerInstancesCommand({ cluster }));
    expect(list.containerInstanceArns).toHaveLength(1);
    expect(JSON.parse(readFileSync(identity, 'utf8')).containerInstanceArn).toBe(
      list.containerInstanceArns?.[0],
    );
    expect(second.exitCode).toBeNull();
  }, 90_000);
});
