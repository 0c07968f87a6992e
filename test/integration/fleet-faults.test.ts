import {
  type ContainerInstance,
  CreateServiceCommand,
  DescribeContainerInstancesCommand,
  StopTaskCommand,
  type Tag,
  type Task,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalHost, startLocalHost } from '../../local/host.ts';
import { idOf, registerFamily, runningOf } from './fixtures.ts';
import { startBerth, type TestBerth } from './harness.ts';
import { fleet, type ScriptedAgent, settle, syncRound, tasksOf } from './scripted-agent.ts';

let berth: TestBerth;
/** Added to the wall clock: moving it forward is time passing for Berth. */
let clockOffsetMs = 0;
const now = () => new Date(Date.now() + clockOffsetMs);
const graceSeconds = 30;
const pendingTimeoutSeconds = 60;

beforeAll(async () => {
  berth = await startBerth({
    now,
    // The sweeper runs only when a test asks for it.
    sweepIntervalMs: 3_600_000,
    sweepSettings: { graceSeconds, pendingTimeoutSeconds },
  });
});

afterAll(async () => {
  await berth?.stop();
});

const describeInstances = async (cluster: string, agents: ScriptedAgent[]): Promise<ContainerInstance[]> => {
  const answer = await berth.ecs.send(
    new DescribeContainerInstancesCommand({
      cluster,
      containerInstances: agents.map((agent) => agent.containerInstanceArn),
    }),
  );
  return agents.map((agent) => {
    const found = answer.containerInstances?.find(
      (i) => i.containerInstanceArn === agent.containerInstanceArn,
    );
    if (!found) throw new Error(`instance ${agent.instanceId} not found`);
    return found;
  });
};

const onInstance = (tasks: Task[], agent: ScriptedAgent) =>
  tasks.filter((task) => idOf(task.containerInstanceArn) === agent.instanceId);

/** Lets time pass: the connected agents keep syncing (their heartbeat), then the sweeper runs. */
const passTime = async (seconds: number, agents: ScriptedAgent[]) => {
  clockOffsetMs += seconds * 1000;
  await syncRound(berth, agents);
  await berth.sweep();
  await berth.drain();
};

/** Service web (3 tasks, with `tags`) on 3 new agents, settled; `silent`, the third, is to be cut off. */
const serviceOnThreeAgents = async (cluster: string, tags?: Tag[]) => {
  const agents = await fleet(berth, cluster, 3);
  await registerFamily(berth, `${cluster}-web`);
  await berth.ecs.send(
    new CreateServiceCommand({
      cluster,
      serviceName: 'web',
      taskDefinition: `${cluster}-web`,
      desiredCount: 3,
      tags,
    }),
  );
  await settle(berth, agents);
  const silent = agents[2] as ScriptedAgent;
  return { agents, silent, originals: silent.running() };
};

// Work-bound, not time-bound (the clock is moved by hand): each test is several settle rounds of
// syncs and reconciles, which take as long as the machine is busy; 30 s was reached on a loaded one.
describe('disconnect policy', { timeout: 180_000 }, () => {
  it('replaces the tasks of an instance silent past berth:replace-after-disconnect and stops them when it returns', async () => {
    // Prepare
    const { agents, silent, originals } = await serviceOnThreeAgents('lost', [
      { key: 'berth:replace-after-disconnect', value: '30' },
    ]);

    // Act
    silent.connected = false;
    await passTime(graceSeconds + 1, agents);
    const disconnected = await describeInstances('lost', agents);
    const withinPolicy = await tasksOf(berth, { cluster: 'lost', serviceName: 'web' });
    await passTime(31, agents);
    await settle(berth, agents);
    const replaced = await tasksOf(berth, { cluster: 'lost', serviceName: 'web' });
    silent.connected = true;
    await settle(berth, agents);
    const returned = await tasksOf(berth, { cluster: 'lost', serviceName: 'web' });

    // Assess
    expect(originals).toHaveLength(1);
    expect(disconnected.map((instance) => instance.agentConnected)).toEqual([true, true, false]);
    expect(withinPolicy).toHaveLength(3);
    expect(runningOf(withinPolicy).map((task) => task.taskArn)).toContain(originals[0]);

    const replacements = runningOf(replaced);
    expect(replacements).toHaveLength(3);
    expect(onInstance(replacements, silent)).toEqual([]);
    expect(replaced.find((task) => task.taskArn === originals[0])).toMatchObject({
      desiredStatus: 'STOPPED',
      lastStatus: 'RUNNING',
    });

    expect(returned.find((task) => task.taskArn === originals[0])).toMatchObject({
      desiredStatus: 'STOPPED',
      lastStatus: 'STOPPED',
    });
    expect(
      runningOf(returned)
        .map((task) => task.taskArn)
        .sort(),
    ).toEqual(replacements.map((task) => task.taskArn).sort());
    expect(returned).toHaveLength(4);
    expect(silent.running()).toEqual([]);
    expect((await describeInstances('lost', [silent]))[0]?.agentConnected).toBe(true);
  });

  it('leaves the tasks of a disconnected instance alone without the tag', async () => {
    // Prepare
    const { agents, silent, originals } = await serviceOnThreeAgents('kept');

    // Act
    silent.connected = false;
    await passTime(graceSeconds + 1, agents);
    await passTime(120, agents);
    await settle(berth, agents);

    // Assess
    expect((await describeInstances('kept', agents)).map((instance) => instance.agentConnected)).toEqual([
      true,
      true,
      false,
    ]);
    const tasks = await tasksOf(berth, { cluster: 'kept', serviceName: 'web' });
    expect(tasks).toHaveLength(3);
    expect(runningOf(tasks)).toHaveLength(3);
    expect(runningOf(onInstance(tasks, silent)).map((task) => task.taskArn)).toEqual(originals);
  });
});

describe('stuck tasks', () => {
  it('stops a task PENDING past the timeout as TaskFailedToStart and replaces it', async () => {
    // Prepare
    const agents = await fleet(berth, 'stuck', 2);
    await registerFamily(berth, 'stuck-web');
    for (const agent of agents) agent.stalling.add('stuck-web');
    await berth.ecs.send(
      new CreateServiceCommand({
        cluster: 'stuck',
        serviceName: 'web',
        taskDefinition: 'stuck-web',
        desiredCount: 1,
      }),
    );
    await settle(berth, agents);
    const [pending] = await tasksOf(berth, { cluster: 'stuck', serviceName: 'web' });

    // Act
    await passTime(pendingTimeoutSeconds - 30, agents);
    const beforeTimeout = await tasksOf(berth, { cluster: 'stuck', serviceName: 'web' });
    await passTime(31, agents);
    for (const agent of agents) agent.stalling.clear();
    await settle(berth, agents);

    // Assess
    expect(pending).toMatchObject({ lastStatus: 'PENDING', desiredStatus: 'RUNNING' });
    expect(beforeTimeout).toEqual([
      expect.objectContaining({ taskArn: pending?.taskArn, desiredStatus: 'RUNNING' }),
    ]);
    const tasks = await tasksOf(berth, { cluster: 'stuck', serviceName: 'web' });
    expect(tasks).toHaveLength(2);
    const stuck = tasks.find((task) => task.taskArn === pending?.taskArn);
    expect(stuck).toMatchObject({
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'TaskFailedToStart',
    });
    expect(runningOf(tasks)).toHaveLength(1);
    expect(runningOf(tasks)[0]?.taskArn).not.toBe(pending?.taskArn);
  });
});

describe('two control planes on one table', () => {
  it('converge to the desired count without over-committing an instance or duplicating a task', async () => {
    // Prepare
    const second: LocalHost = await startLocalHost({
      dynamoEndpoint: berth.dynamoEndpoint,
      dynamoAccessKeyId: berth.dynamoAccessKeyId,
      inMemory: true,
      port: 0,
      now,
      sweepIntervalMs: 3_600_000,
      sweepSettings: { graceSeconds, pendingTimeoutSeconds },
    });
    try {
      // Room for 6 tasks on each of 4 instances: exactly what the two services ask for together.
      const agents = await fleet(berth, 'twin', 4, { cpu: 1536, memory: 4096 });
      await registerFamily(berth, 'twin-web');

      // Act
      await Promise.all([
        berth.ecs.send(
          new CreateServiceCommand({
            cluster: 'twin',
            serviceName: 'web',
            taskDefinition: 'twin-web',
            desiredCount: 20,
          }),
        ),
        berth.ecs.send(
          new CreateServiceCommand({
            cluster: 'twin',
            serviceName: 'side',
            taskDefinition: 'twin-web',
            desiredCount: 4,
          }),
        ),
      ]);
      await settle(berth, agents, 30, [second]);
      // Churn: both control planes replace these at once.
      const stopped = runningOf(await tasksOf(berth, { cluster: 'twin', serviceName: 'web' })).slice(0, 8);
      await Promise.all(
        stopped.map((task) => berth.ecs.send(new StopTaskCommand({ cluster: 'twin', task: task.taskArn }))),
      );
      await settle(berth, agents, 30, [second]);

      // Assess
      const web = await tasksOf(berth, { cluster: 'twin', serviceName: 'web' });
      const side = await tasksOf(berth, { cluster: 'twin', serviceName: 'side' });
      expect(runningOf(web)).toHaveLength(20);
      expect(web).toHaveLength(28);
      expect(
        web
          .filter((task) => task.lastStatus === 'STOPPED')
          .map((task) => task.taskArn)
          .sort(),
      ).toEqual(stopped.map((task) => task.taskArn).sort());
      expect(runningOf(side)).toHaveLength(4);
      expect(side).toHaveLength(4);
      const tasks = runningOf([...web, ...side]);
      const held = agents.flatMap((agent) => agent.running());
      expect(new Set(held).size).toBe(24);
      expect([...held].sort()).toEqual(tasks.map((task) => task.taskArn).sort());
      const instances = await describeInstances('twin', agents);
      for (const [index, instance] of instances.entries()) {
        const agent = agents[index] as ScriptedAgent;
        const mine = onInstance(tasks, agent);
        const cpu = mine.reduce((sum, task) => sum + Number(task.cpu), 0);
        const memory = mine.reduce((sum, task) => sum + Number(task.memory), 0);
        const registered = (name: string) =>
          instance.registeredResources?.find((r) => r.name === name)?.integerValue ?? 0;
        const remaining = (name: string) =>
          instance.remainingResources?.find((r) => r.name === name)?.integerValue ?? 0;
        expect(cpu).toBeLessThanOrEqual(registered('CPU'));
        expect(memory).toBeLessThanOrEqual(registered('MEMORY'));
        expect(remaining('CPU')).toBe(registered('CPU') - cpu);
        expect(remaining('MEMORY')).toBe(registered('MEMORY') - memory);
        expect(instance.runningTasksCount).toBe(mine.length);
        expect(agent.running().sort()).toEqual(mine.map((task) => task.taskArn).sort());
      }
    } finally {
      await second.stop();
    }
  });
});
