import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DeregisterContainerInstanceCommand,
  DescribeServicesCommand,
  RunTaskCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBerth, type TestBerth } from '../integration/harness.ts';
import { registerFamily, scenarioTimeout, serviceState, settleFleet, simFleet } from './fleet.ts';
import { safetyViolations, scanTable, servicesIn, type TableItem, tasksIn } from './invariants.ts';
import type { SimAgent } from './sim-agent.ts';

vi.setConfig({ testTimeout: scenarioTimeout(), hookTimeout: scenarioTimeout() });

/**
 * Changes that stop more tasks than one DynamoDB transaction holds (100 items): scaling to 0, a
 * forced deployment at 0/100 % and a forced delete of a 150-task service, and a 1,000-task service
 * scaled to 0. Each must finish: every task desired STOPPED after the reconciler has run (written
 * in several transactions), then every task STOPPED and its reservation given back once the agents
 * report it.
 */

let berth: TestBerth;

beforeAll(async () => {
  // The sweeper would re-reconcile unsettled services on its own: only the stream carries the work.
  berth = await startBerth({ sweepIntervalMs: 3_600_000, meter: true });
});

afterAll(async () => {
  await berth?.stop();
});

const clusterItems = async (cluster: string): Promise<TableItem[]> =>
  (await scanTable(berth.db)).filter((item) => item.cluster === cluster || item.pk === `CLUSTER#${cluster}`);

const serviceTasks = async (cluster: string, service: string) =>
  tasksIn(await clusterItems(cluster)).filter((task) => task.serviceName === service);

/** A service of `count` tasks, all RUNNING on the cluster's simulated agents. */
const runningService = async (
  cluster: string,
  agents: readonly SimAgent[],
  count: number,
  deploymentConfiguration?: { minimumHealthyPercent: number; maximumPercent: number },
) => {
  await berth.ecs.send(
    new CreateServiceCommand({
      cluster,
      serviceName: 'web',
      taskDefinition: `${cluster}-app`,
      desiredCount: count,
      ...(deploymentConfiguration ? { deploymentConfiguration } : {}),
    }),
  );
  await settleFleet([berth], () => agents);
  expect(await serviceState(berth.ecs, cluster, 'web')).toMatchObject({ runningCount: count });
};

/** What the tasks of the service are: desired and last status, with counts. */
const statusCounts = async (cluster: string) => {
  const counts: Record<string, number> = {};
  for (const task of await serviceTasks(cluster, 'web')) {
    const key = `${task.desiredStatus}/${task.lastStatus}${task.released ? '/released' : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
};

describe('a change that stops more tasks than one transaction holds', () => {
  it('scales a 150-task service to 0: all desired STOPPED, then stopped and released', async () => {
    // Prepare
    const agents = await simFleet(berth, 'scale', 5);
    await registerFamily(berth.ecs, 'scale-app', 16);
    await runningService('scale', agents, 150);

    // Act
    await berth.ecs.send(new UpdateServiceCommand({ cluster: 'scale', service: 'web', desiredCount: 0 }));
    await berth.drain();

    // Assess: the reconciler alone (no agent has synced) asked every task to stop.
    expect(await statusCounts('scale')).toEqual({ 'STOPPED/RUNNING': 150 });
    await settleFleet([berth], () => agents);
    expect(await statusCounts('scale')).toEqual({ 'STOPPED/STOPPED/released': 150 });
    expect(await serviceState(berth.ecs, 'scale', 'web')).toMatchObject({ runningCount: 0, pendingCount: 0 });
    expect(safetyViolations(await clusterItems('scale'))).toEqual([]);
    expect(agents.flatMap((agent) => agent.host.running())).toEqual([]);
  });

  it('forces a new deployment of 150 tasks at 0/100 %: the old ones stop, 150 new ones run', async () => {
    // Prepare
    const agents = await simFleet(berth, 'force', 5);
    await registerFamily(berth.ecs, 'force-app', 16);
    await runningService('force', agents, 150, { minimumHealthyPercent: 0, maximumPercent: 100 });
    const old = new Set((await serviceTasks('force', 'web')).map((task) => task.id));

    // Act
    await berth.ecs.send(
      new UpdateServiceCommand({ cluster: 'force', service: 'web', forceNewDeployment: true }),
    );
    await berth.drain();

    // Assess: every old task desired STOPPED before any agent synced (none replaced yet: 100 %).
    const asked = await serviceTasks('force', 'web');
    expect(asked.filter((task) => old.has(task.id) && task.desiredStatus === 'STOPPED')).toHaveLength(150);
    expect(asked).toHaveLength(150);
    await settleFleet([berth], () => agents);
    const after = await serviceTasks('force', 'web');
    expect(
      after.filter((task) => old.has(task.id) && task.lastStatus === 'STOPPED' && task.released),
    ).toHaveLength(150);
    const fresh = after.filter((task) => !old.has(task.id));
    expect(
      fresh.filter((task) => task.lastStatus === 'RUNNING' && task.desiredStatus === 'RUNNING'),
    ).toHaveLength(150);
    expect(await serviceState(berth.ecs, 'force', 'web')).toMatchObject({
      runningCount: 150,
      rolloutState: 'COMPLETED',
      deployments: 1,
    });
    expect(safetyViolations(await clusterItems('force'))).toEqual([]);
  });

  it('deletes a 150-task service with force: all desired STOPPED, then the service is INACTIVE', async () => {
    // Prepare
    const agents = await simFleet(berth, 'delete', 5);
    await registerFamily(berth.ecs, 'delete-app', 16);
    await runningService('delete', agents, 150);

    // Act
    await berth.ecs.send(new DeleteServiceCommand({ cluster: 'delete', service: 'web', force: true }));
    await berth.drain();

    // Assess
    expect(await statusCounts('delete')).toEqual({ 'STOPPED/RUNNING': 150 });
    await settleFleet([berth], () => agents);
    expect(await statusCounts('delete')).toEqual({ 'STOPPED/STOPPED/released': 150 });
    const [service] = servicesIn(await clusterItems('delete'));
    expect(service?.status).toBe('INACTIVE');
    const described = await berth.ecs.send(
      new DescribeServicesCommand({ cluster: 'delete', services: ['web'] }),
    );
    expect(described.services?.[0]?.status).toBe('INACTIVE');
    expect(safetyViolations(await clusterItems('delete'))).toEqual([]);
    expect(agents.flatMap((agent) => agent.host.running())).toEqual([]);
  });

  it('finalizes the 130 service and 120 standalone tasks of an instance deregistered with force', async () => {
    // Prepare: one machine running a service's 130 tasks and 120 tasks of RunTask (250: its limit).
    const agents = await simFleet(berth, 'gone', 1, { cpu: 8192, memory: 8192 });
    await registerFamily(berth.ecs, 'gone-app', 16);
    await runningService('gone', agents, 130);
    for (let i = 0; i < 12; i++) {
      await berth.ecs.send(new RunTaskCommand({ cluster: 'gone', taskDefinition: 'gone-app', count: 10 }));
    }
    await settleFleet([berth], () => agents);
    const instanceId = agents[0]?.instanceId ?? '';

    // Act
    await berth.ecs.send(
      new DeregisterContainerInstanceCommand({ cluster: 'gone', containerInstance: instanceId, force: true }),
    );
    await berth.drain();

    // Assess: every task STOPPED without its agent, the service's and the standalone ones.
    const tasks = tasksIn(await clusterItems('gone'));
    expect(tasks).toHaveLength(250);
    const count = (service: boolean) =>
      tasks.filter((task) => Boolean(task.serviceName) === service && task.lastStatus === 'STOPPED').length;
    expect([count(true), count(false)]).toEqual([130, 120]);
    expect(await serviceState(berth.ecs, 'gone', 'web')).toMatchObject({ runningCount: 0, pendingCount: 0 });
  });

  it('scales a 1,000-task service to 0 in bounded reconciles', async () => {
    // Prepare
    const agents = await simFleet(berth, 'thousand', 10);
    await registerFamily(berth.ecs, 'thousand-app', 16);
    await runningService('thousand', agents, 1000);

    // Act
    berth.meter?.reset();
    const started = Date.now();
    await berth.ecs.send(new UpdateServiceCommand({ cluster: 'thousand', service: 'web', desiredCount: 0 }));
    await berth.drain(60_000);
    const stopsWrittenMs = Date.now() - started;
    const transactions = berth.meter?.calls.TransactWriteItemsCommand ?? 0;

    // Assess: the UpdateService's own write, then 87 to 97 stops a transaction (100 items less the
    // service item, the room for an event and one bump per instance the stops are on), none refused.
    expect(await statusCounts('thousand')).toEqual({ 'STOPPED/RUNNING': 1000 });
    expect(transactions).toBeGreaterThanOrEqual(1 + Math.ceil(1000 / 97));
    expect(transactions).toBeLessThanOrEqual(1 + Math.ceil(1000 / 87));
    await settleFleet([berth], () => agents);
    expect(await statusCounts('thousand')).toEqual({ 'STOPPED/STOPPED/released': 1000 });
    expect(safetyViolations(await clusterItems('thousand'))).toEqual([]);
    console.log(
      `1,000 stops written by the reconciler in ${stopsWrittenMs} ms, ${transactions} transactions`,
    );
  });
});
