import {
  CreateServiceCommand,
  DescribeContainerInstancesCommand,
  StartTaskCommand,
  StopTaskCommand,
  type Tag,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBerth, type TestBerth } from '../integration/harness.ts';
import {
  chaosScale,
  chaosSeed,
  registerFamily,
  scenarioTimeout,
  seededRandom,
  settleFleet,
  simFleet,
} from './fleet.ts';
import { convergenceViolations, safetyViolations, scanTable, type TableItem, tasksIn } from './invariants.ts';
import type { SimAgent } from './sim-agent.ts';

vi.setConfig({ testTimeout: scenarioTimeout(), hookTimeout: scenarioTimeout() });

/**
 * Scenarios: an agent cut off longer than the grace that comes back with stale and offline
 * reports (extending test/integration/fleet-faults.test.ts, which covers the policy itself), and an
 * agent killed and restarted during a task's start and during its stop. The simulated machines keep
 * their containers across an agent restart, as Docker does; the restarted agent knows only its token.
 */

let berth: TestBerth;
let clockOffsetMs = 0;
const now = () => new Date(Date.now() + clockOffsetMs);
const graceSeconds = 30;

beforeAll(async () => {
  berth = await startBerth({
    now,
    sweepIntervalMs: 3_600_000,
    sweepSettings: { graceSeconds, pendingTimeoutSeconds: 600 },
  });
});

afterAll(async () => {
  await berth?.stop();
});

const idOf = (arn: string) => arn.split('/').at(-1) ?? '';

/** Time passes: connected agents keep syncing (their heartbeat), then the sweeper runs. */
const passTime = async (seconds: number, agents: readonly SimAgent[]) => {
  clockOffsetMs += seconds * 1000;
  await berth.drain();
  for (const agent of agents) await agent.sync();
  await berth.drain();
  await berth.sweep();
  await berth.drain();
};

const clusterItems = async (cluster: string): Promise<TableItem[]> =>
  (await scanTable(berth.db)).filter((item) => item.cluster === cluster || item.pk === `CLUSTER#${cluster}`);

/** Each live task has exactly one container, on its own instance; nothing else runs anywhere. */
const containerViolations = (items: readonly TableItem[], agents: readonly SimAgent[]): string[] => {
  const violations: string[] = [];
  const live = tasksIn(items).filter((task) => task.lastStatus !== 'STOPPED');
  const running = new Map<string, string[]>();
  for (const agent of agents) {
    for (const arn of agent.host.running())
      running.set(idOf(arn), [...(running.get(idOf(arn)) ?? []), agent.instanceId]);
  }
  for (const task of live) {
    const hosts = running.get(task.id) ?? [];
    if (hosts.length !== 1 || hosts[0] !== task.instanceId) {
      violations.push(`live task ${task.id} (on ${task.instanceId}) runs on [${hosts.join(', ')}]`);
    }
  }
  for (const [id, hosts] of running) {
    if (!live.some((task) => task.id === id))
      violations.push(`task ${id} is not live but runs on [${hosts.join(', ')}]`);
  }
  return violations;
};

const remainingOf = async (cluster: string, agent: SimAgent) => {
  const answer = await berth.ecs.send(
    new DescribeContainerInstancesCommand({ cluster, containerInstances: [agent.containerInstanceArn] }),
  );
  const instance = answer.containerInstances?.[0];
  return {
    agentConnected: instance?.agentConnected,
    cpu: instance?.remainingResources?.find((r) => r.name === 'CPU')?.integerValue,
    runningTasksCount: instance?.runningTasksCount,
  };
};

/** Service web (6 tasks) on 3 new simulated machines, settled; `silent` runs 2 or more, `others` the rest. */
const serviceWithSilentAgent = async (cluster: string, tags?: Tag[]) => {
  const agents = await simFleet(berth, cluster, 3);
  await registerFamily(berth.ecs, `${cluster}-web`, 256);
  await berth.ecs.send(
    new CreateServiceCommand({
      cluster,
      serviceName: 'web',
      taskDefinition: `${cluster}-web`,
      desiredCount: 6,
      tags,
    }),
  );
  await settleFleet([berth], () => agents);
  const silent = agents.find((agent) => agent.host.running().length >= 2) as SimAgent;
  const others = agents.filter((agent) => agent !== silent);
  return { agents, silent, originals: silent.host.running(), others };
};

/** Reconnects a cut-off agent, which replays the reports on `originals` it had sent before the partition. */
const reconnectReplaying = (silent: SimAgent, originals: string[]) => {
  silent.replays.push(...silent.sent.filter((report) => originals.includes(report.taskArn)));
  silent.connected = true;
};

describe('an agent cut off longer than the grace', () => {
  it('comes back with an offline crash and replayed reports: its tasks stay replaced, stopped once, nothing resurrected', async () => {
    // Prepare
    const { agents, silent, originals, others } = await serviceWithSilentAgent('cutoff', [
      { key: 'berth:replace-after-disconnect', value: '30' },
    ]);

    // Act: cut off; one of its containers crashes while nobody can hear it; grace and policy pass.
    silent.connected = false;
    silent.host.exit(originals[0] as string, 137);
    await passTime(graceSeconds + 1, others);
    const whileCutOff = await remainingOf('cutoff', silent);
    await passTime(31, others);
    await settleFleet([berth], () => others);
    const replaced = tasksIn(await clusterItems('cutoff'));
    // It returns replaying reports it had sent (and had acknowledged) before the partition.
    reconnectReplaying(silent, originals);
    await settleFleet([berth], () => agents);
    const items = await clusterItems('cutoff');

    // Assess
    expect(whileCutOff.agentConnected).toBe(false);
    expect(replaced.filter((task) => task.desiredStatus === 'RUNNING')).toHaveLength(6);
    expect(
      replaced.filter((task) => originals.some((arn) => idOf(arn) === task.id)).map((t) => t.desiredStatus),
    ).toEqual(originals.map(() => 'STOPPED'));
    const tasks = tasksIn(items);
    expect(tasks).toHaveLength(6 + originals.length);
    for (const arn of originals) {
      expect(tasks.find((task) => task.id === idOf(arn))).toMatchObject({
        lastStatus: 'STOPPED',
        released: true,
      });
    }
    expect(silent.host.running()).toEqual([]);
    expect(await remainingOf('cutoff', silent)).toEqual({
      agentConnected: true,
      cpu: 2048,
      runningTasksCount: 0,
    });
    expect(safetyViolations(items)).toEqual([]);
    expect(convergenceViolations(items)).toEqual([]);
    expect(containerViolations(items, agents)).toEqual([]);
  });

  it('without the policy replaces nothing while cut off, and only the task that crashed offline once it hears of it', async () => {
    // Prepare
    const { agents, silent, originals, others } = await serviceWithSilentAgent('patient');

    // Act
    silent.connected = false;
    silent.host.exit(originals[0] as string, 1);
    for (let minutes = 0; minutes < 10; minutes++) await passTime(60, others);
    const whileCutOff = tasksIn(await clusterItems('patient'));
    reconnectReplaying(silent, originals);
    await settleFleet([berth], () => agents);
    const items = await clusterItems('patient');

    // Assess
    expect(whileCutOff).toHaveLength(6);
    expect(
      whileCutOff.every((task) => task.desiredStatus === 'RUNNING' && task.lastStatus === 'RUNNING'),
    ).toBe(true);
    const tasks = tasksIn(items);
    expect(tasks).toHaveLength(7);
    expect(tasks.find((task) => task.id === idOf(originals[0] as string))).toMatchObject({
      lastStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      released: true,
    });
    for (const arn of originals.slice(1)) {
      expect(tasks.find((task) => task.id === idOf(arn))).toMatchObject({
        lastStatus: 'RUNNING',
        desiredStatus: 'RUNNING',
      });
    }
    expect(safetyViolations(items)).toEqual([]);
    expect(convergenceViolations(items)).toEqual([]);
    expect(containerViolations(items, agents)).toEqual([]);
  });
});

describe('an agent killed and restarted', () => {
  const startOne = async (cluster: string, agent: SimAgent) => {
    const answer = await berth.ecs.send(
      new StartTaskCommand({
        cluster,
        taskDefinition: `${cluster}-app`,
        containerInstances: [agent.containerInstanceArn],
      }),
    );
    await berth.drain();
    return answer.tasks?.[0]?.taskArn as string;
  };

  it.each([
    ['after starting the container, before reporting it', { actOnTasks: true }],
    ['after receiving the task, before starting it', { actOnTasks: false }],
  ])('%s: runs the task in exactly one container', async (_, options) => {
    // Prepare
    const cluster = options.actOnTasks ? 'boot-a' : 'boot-b';
    let [agent] = await simFleet(berth, cluster, 1);
    await registerFamily(berth.ecs, `${cluster}-app`, 256);
    const taskArn = await startOne(cluster, agent as SimAgent);

    // Act
    await (agent as SimAgent).sync(options);
    agent = (agent as SimAgent).restart();
    await settleFleet([berth], () => [agent as SimAgent]);
    const items = await clusterItems(cluster);

    // Assess
    expect(tasksIn(items)).toEqual([expect.objectContaining({ id: idOf(taskArn), lastStatus: 'RUNNING' })]);
    expect(agent.host.containers.size).toBe(1);
    expect(safetyViolations(items)).toEqual([]);
    expect(containerViolations(items, [agent])).toEqual([]);
  });

  it.each([
    ['after stopping the container, before reporting it', false],
    ['after its STOPPED report was applied, before it read the answer', true],
  ])('%s: stops the task once and gives its resources back once', async (_, reported) => {
    // Prepare
    const cluster = reported ? 'halt-b' : 'halt-a';
    let [agent] = await simFleet(berth, cluster, 1);
    await registerFamily(berth.ecs, `${cluster}-app`, 256);
    const taskArn = await startOne(cluster, agent as SimAgent);
    await settleFleet([berth], () => [agent as SimAgent]);
    await berth.ecs.send(new StopTaskCommand({ cluster, task: taskArn }));
    await berth.drain();

    // Act
    await (agent as SimAgent).sync();
    if (reported) await (agent as SimAgent).sync({ loseAnswer: true });
    agent = (agent as SimAgent).restart();
    await settleFleet([berth], () => [agent as SimAgent]);
    const items = await clusterItems(cluster);

    // Assess
    expect(tasksIn(items)).toEqual([
      expect.objectContaining({ id: idOf(taskArn), lastStatus: 'STOPPED', released: true }),
    ]);
    expect(agent.host.containers.size).toBe(0);
    expect(await remainingOf(cluster, agent)).toMatchObject({ cpu: 2048, runningTasksCount: 0 });
    expect(safetyViolations(items)).toEqual([]);
  });

  it('again and again during a rolling deployment: the deployment completes with one container per task', async () => {
    // Prepare
    const random = seededRandom(chaosSeed(7));
    let agents = await simFleet(berth, 'roll', 3);
    await registerFamily(berth.ecs, 'roll-app', 128);
    await registerFamily(berth.ecs, 'roll-app', 64);
    await berth.ecs.send(
      new CreateServiceCommand({
        cluster: 'roll',
        serviceName: 'web',
        taskDefinition: 'roll-app:1',
        desiredCount: 8,
      }),
    );
    await settleFleet([berth], () => agents);

    // Act: roll to revision 2; every round each agent may die before, during or after its sync.
    await berth.ecs.send(
      new UpdateServiceCommand({ cluster: 'roll', service: 'web', taskDefinition: 'roll-app:2' }),
    );
    for (let round = 0; round < 12 * chaosScale(); round++) {
      await berth.drain();
      agents = await Promise.all(
        agents.map(async (agent) => {
          const fate = random.int(0, 5);
          if (fate === 0) return agent.restart();
          if (fate === 1) await agent.sync({ actOnTasks: false });
          else if (fate === 2) await agent.sync({ loseAnswer: true });
          else {
            await agent.sync();
            return agent;
          }
          return agent.restart();
        }),
      );
    }
    await settleFleet([berth], () => agents);
    const items = await clusterItems('roll');

    // Assess
    expect(safetyViolations(items)).toEqual([]);
    expect(convergenceViolations(items)).toEqual([]);
    expect(containerViolations(items, agents)).toEqual([]);
    const live = tasksIn(items).filter((task) => task.lastStatus !== 'STOPPED');
    expect(live.map((task) => task.revision)).toEqual(live.map(() => 2));
  });
});
