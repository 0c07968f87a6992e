import { CreateServiceCommand, DescribeServicesCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { keys } from '../../core/db/keys.ts';
import { instanceLimits } from '../../core/model/container-instance.ts';
import { startBerth, type TestBerth } from '../integration/harness.ts';
import { registerFamily, scenarioTimeout, serviceState, settleFleet, simFleet } from './fleet.ts';
import { safetyViolations, scanTable, type TableItem, tasksIn } from './invariants.ts';
import type { SimAgent } from './sim-agent.ts';

vi.setConfig({ testTimeout: scenarioTimeout(), hookTimeout: scenarioTimeout() });

/**
 * The container-instance item must stay far below DynamoDB's 400 KB, whatever its history and
 * names: a group's counter goes with its last task, an instance holds at most instanceLimits.tasks
 * tasks, and an item DynamoDB refuses to grow (left by an older Berth) makes a placement failure,
 * never a 500.
 */

let berth: TestBerth;

beforeAll(async () => {
  berth = await startBerth({ sweepIntervalMs: 3_600_000 });
});

afterAll(async () => {
  await berth?.stop();
});

const instanceItem = async (cluster: string, instanceId: string) => {
  const answer = await berth.db.doc.send(
    new GetCommand({
      TableName: berth.db.table,
      Key: keys.containerInstance(cluster, instanceId),
      ConsistentRead: true,
    }),
  );
  return answer.Item as Record<string, unknown> & { groups: Record<string, number> };
};

/** The item's size as DynamoDB counts it, nearly: its names and values as stored bytes. */
const sizeOf = (item: Record<string, unknown>): number =>
  Buffer.byteLength(JSON.stringify(marshall(item, { convertClassInstanceToMap: true })));

/**
 * Pads the item until it holds as much as DynamoDB accepts (found by bisection): then any write that
 * grows it is refused, as for an item an older Berth filled.
 */
const fillToLimit = async (key: { pk: string; sk: string }) => {
  let fits = 0;
  let refused = 420_000;
  while (refused - fits > 1) {
    const length = Math.floor((fits + refused) / 2);
    try {
      await berth.db.doc.send(
        new UpdateCommand({
          TableName: berth.db.table,
          Key: key,
          UpdateExpression: 'SET padding = :padding',
          ExpressionAttributeValues: { ':padding': 'p'.repeat(length) },
        }),
      );
      fits = length;
    } catch (error) {
      if ((error as Error).name !== 'ValidationException') throw error;
      refused = length;
    }
  }
  await berth.db.doc.send(
    new UpdateCommand({
      TableName: berth.db.table,
      Key: key,
      UpdateExpression: 'SET padding = :padding',
      ExpressionAttributeValues: { ':padding': 'p'.repeat(fits) },
    }),
  );
};

const clusterItems = async (cluster: string): Promise<TableItem[]> =>
  (await scanTable(berth.db)).filter((item) => item.cluster === cluster || item.pk === `CLUSTER#${cluster}`);

/** A 255-character name, distinct by its number. */
const longName = (prefix: string, n = 0) => `${prefix}${n}-`.padEnd(255, 'x');

const unablePlaceEvents = async (cluster: string, service: string) => {
  const answer = await berth.ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
  return (answer.services?.[0]?.events ?? [])
    .map((event) => event.message ?? '')
    .filter((message) => message.includes('was unable to place a task'));
};

describe('the container-instance item', () => {
  it('keeps no counter of a group whose tasks stopped: 1,600 RunTask groups later it is small', async () => {
    // Prepare: one machine on which every task of the family exits at once (and is released).
    const [agent] = (await simFleet(berth, 'groups', 1)) as [SimAgent];
    await agent.sync();
    await registerFamily(berth.ecs, 'groups-app', 8);
    agent.failing.add('groups-app');
    const groups = 1600;
    const batch = 100;

    // Act: 1,600 RunTask calls, each with its own 255-character group, each task stopped and released.
    for (let from = 0; from < groups; from += batch) {
      for (let i = from; i < from + batch; i += 10) {
        await Promise.all(
          Array.from({ length: 10 }, (_, k) =>
            berth.ecs.send(
              new RunTaskCommand({
                cluster: 'groups',
                taskDefinition: 'groups-app',
                group: longName('g', i + k),
              }),
            ),
          ),
        );
      }
      await agent.sync();
      await agent.sync();
    }
    const last = await berth.ecs.send(
      new RunTaskCommand({ cluster: 'groups', taskDefinition: 'groups-app', group: 'one-more' }),
    );

    // Assess
    expect(last.failures).toEqual([]);
    expect(last.tasks).toHaveLength(1);
    const item = await instanceItem('groups', agent.instanceId);
    console.log(`1,600 RunTask groups later: instance item ~${sizeOf(item)} bytes`);
    expect(item.groups).toEqual({ 'one-more': 1 });
    expect(item.liveTasksCount).toBe(1);
    expect(sizeOf(item)).toBeLessThan(4_000);
    const stopped = tasksIn(await clusterItems('groups')).filter((task) => task.lastStatus === 'STOPPED');
    expect(stopped.filter((task) => task.released)).toHaveLength(groups);
    expect(safetyViolations(await clusterItems('groups'))).toEqual([]);
  });

  it('runs a 900-task service with 255-character names on four instances', async () => {
    // Prepare
    const cluster = longName('c');
    const service = longName('s');
    const agents = await simFleet(berth, cluster, 4, { cpu: 16_384, memory: 16_384 });
    await registerFamily(berth.ecs, 'wide-app', 8);

    // Act
    await berth.ecs.send(
      new CreateServiceCommand({
        cluster,
        serviceName: service,
        taskDefinition: 'wide-app',
        desiredCount: 900,
      }),
    );
    await settleFleet([berth], () => agents);

    // Assess
    expect(await serviceState(berth.ecs, cluster, service)).toMatchObject({
      runningCount: 900,
      rolloutState: 'COMPLETED',
    });
    for (const agent of agents) {
      const item = await instanceItem(cluster, agent.instanceId);
      console.log(`255-character names, 225 tasks: instance item ~${sizeOf(item)} bytes`);
      expect(item.liveTasksCount).toBe(225);
      // 225 refs of ~552 bytes each and one group counter: about 125 KB.
      expect(sizeOf(item)).toBeLessThan(150_000);
    }
    expect(await unablePlaceEvents(cluster, service)).toEqual([]);
    expect(safetyViolations(await clusterItems(cluster))).toEqual([]);
  });

  it("places no more than an instance's limit on one and says why in the service's events", async () => {
    // Prepare: one machine that has the CPU and memory for 900 tasks.
    const cluster = longName('d');
    const service = longName('t');
    const agents = await simFleet(berth, cluster, 1, { cpu: 16_384, memory: 16_384 });
    await registerFamily(berth.ecs, 'one-app', 8);

    // Act
    await berth.ecs.send(
      new CreateServiceCommand({
        cluster,
        serviceName: service,
        taskDefinition: 'one-app',
        desiredCount: 900,
      }),
    );
    await settleFleet([berth], () => agents);

    // Assess
    expect(await serviceState(berth.ecs, cluster, service)).toMatchObject({
      runningCount: instanceLimits.tasks,
    });
    const events = await unablePlaceEvents(cluster, service);
    expect(events).toHaveLength(1);
    expect(events[0]).toContain(`already runs ${instanceLimits.tasks} tasks`);
    const item = await instanceItem(cluster, agents[0]?.instanceId ?? '');
    console.log(`255-character names, ${instanceLimits.tasks} tasks: instance item ~${sizeOf(item)} bytes`);
    expect(item.liveTasksCount).toBe(instanceLimits.tasks);
    expect(sizeOf(item)).toBeLessThan(200_000);
    const refused = await berth.ecs.send(new RunTaskCommand({ cluster, taskDefinition: 'one-app' }));
    expect(refused.tasks).toEqual([]);
    expect(refused.failures).toEqual([
      expect.objectContaining({
        arn: expect.stringContaining(agents[0]?.instanceId ?? '-'),
        reason: 'RESOURCE:TASKS',
      }),
    ]);
    expect(safetyViolations(await clusterItems(cluster))).toEqual([]);
  });

  it('takes tasks again on an item an older Berth filled with zero counters, which go as it is used', async () => {
    // Prepare: 1,500 counters at 0 of 255-character groups, as releases used to leave them, in an
    // item DynamoDB will not let grow by a byte.
    const [agent] = (await simFleet(berth, 'legacy', 1)) as [SimAgent];
    await agent.sync();
    await registerFamily(berth.ecs, 'legacy-app', 8);
    const key = keys.containerInstance('legacy', agent.instanceId);
    const zeros = Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [longName('z', i), 0]));
    await berth.db.doc.send(
      new UpdateCommand({
        TableName: berth.db.table,
        Key: key,
        UpdateExpression: 'SET #groups = :groups',
        ExpressionAttributeNames: { '#groups': 'groups' },
        ExpressionAttributeValues: { ':groups': zeros },
      }),
    );
    await fillToLimit(key);
    const before = sizeOf(await instanceItem('legacy', agent.instanceId));

    // Act: ten tasks in groups of 255 characters (each would take the item past the limit alone).
    const answers = [];
    for (let i = 0; i < 10; i++) {
      answers.push(
        await berth.ecs.send(
          new RunTaskCommand({ cluster: 'legacy', taskDefinition: 'legacy-app', group: longName('new', i) }),
        ),
      );
    }

    // Assess
    expect(answers.map((answer) => [answer.tasks?.length, answer.failures])).toEqual(
      Array.from({ length: 10 }, () => [1, []]),
    );
    const item = await instanceItem('legacy', agent.instanceId);
    expect(Object.values(item.groups).filter((count) => count === 0)).toHaveLength(1500 - 10 * 40);
    expect(sizeOf(item)).toBeLessThan(before - 90_000);
    expect(safetyViolations(await clusterItems('legacy'), { zeroGroupsAllowed: true })).toEqual([]);
  });

  it('answers a placement failure, not a 500, when DynamoDB refuses to grow the item', async () => {
    // Prepare: an item within bytes of DynamoDB's limit (no API call can make one; an older Berth could).
    const [agent] = (await simFleet(berth, 'brim', 1)) as [SimAgent];
    await agent.sync();
    await registerFamily(berth.ecs, 'brim-app', 8);
    await fillToLimit(keys.containerInstance('brim', agent.instanceId));

    // Act
    const answer = await berth.ecs.send(
      new RunTaskCommand({ cluster: 'brim', taskDefinition: 'brim-app', group: longName('brim') }),
    );
    await berth.ecs.send(
      new CreateServiceCommand({
        cluster: 'brim',
        serviceName: 'web',
        taskDefinition: 'brim-app',
        desiredCount: 1,
      }),
    );
    await berth.drain();

    // Assess
    expect(answer.tasks).toEqual([]);
    expect(answer.failures).toEqual([
      {
        arn: expect.stringContaining(agent.instanceId),
        reason: 'RESOURCE:TASKS',
        detail: expect.stringContaining("at DynamoDB's item size limit"),
      },
    ]);
    const events = await unablePlaceEvents('brim', 'web');
    expect(events).toEqual([
      expect.stringContaining(`container-instance ${agent.instanceId} cannot record more tasks`),
    ]);
    expect(tasksIn(await clusterItems('brim'))).toEqual([]);
  });
});
