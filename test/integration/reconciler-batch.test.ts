import {
  CreateClusterCommand,
  CreateServiceCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../core/db/keys.ts';
import type { ReconcileDeps } from '../../core/reconcile/run/apply.ts';
import { createReconcilerHandler } from '../../functions/reconciler.ts';
import { registerAgent, startBerth, type TestBerth } from './harness.ts';

// The reconciler's handler driven by hand-made stream events (no poller runs), to see what one
// batch does: how often it reconciles each service and which records it leaves alone.

let berth: TestBerth;
const cluster = 'batch';
const instanceIds: string[] = [];

beforeAll(async () => {
  berth = await startBerth({ withoutScheduler: true });
  await berth.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  for (let i = 0; i < 4; i++) {
    const agent = await registerAgent(berth, { cluster, cpu: 1024, memory: 2048 });
    // The first sync marks the agent connected, so the instance takes tasks.
    await berth.agent('/sync', { assignmentVersion: 0, reports: [] }, agent.token);
    instanceIds.push(agent.containerInstanceArn.split('/').at(-1) ?? '');
  }
  await berth.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'batch-app',
      requiresCompatibilities: ['EXTERNAL'],
      containerDefinitions: [{ name: 'app', image: 'busybox', cpu: 64, memory: 64, essential: true }],
    }),
  );
});

afterAll(async () => {
  await berth?.stop();
});

const modifyRecord = (key: { pk: string; sk: string }, seq: number, images?: [object, object]) =>
  ({
    eventID: `e${seq}`,
    eventName: 'MODIFY',
    dynamodb: {
      Keys: marshall(key),
      SequenceNumber: String(seq).padStart(21, '0'),
      ...(images
        ? {
            OldImage: marshall({ ...key, ...images[0] }, { convertClassInstanceToMap: true }),
            NewImage: marshall({ ...key, ...images[1] }, { convertClassInstanceToMap: true }),
          }
        : {}),
    },
  }) as unknown as DynamoDBRecord;

/** The deps of the real handler, with every service reconcile counted by its read of the unit. */
const countingDeps = () => {
  const unitReads = new Map<string, number>();
  const db = berth.db;
  const counted = {
    ...db,
    doc: {
      send: (command: {
        input?: { ExpressionAttributeValues?: Record<string, unknown> };
        constructor: { name: string };
      }) => {
        const pk = command.input?.ExpressionAttributeValues?.[':pk'];
        const from = command.input?.ExpressionAttributeValues?.[':from'];
        if (command.constructor.name === 'QueryCommand' && from === 'SERVICE' && typeof pk === 'string') {
          unitReads.set(pk, (unitReads.get(pk) ?? 0) + 1);
        }
        return (db.doc.send as (c: unknown) => Promise<unknown>)(command);
      },
    },
  } as unknown as ReconcileDeps['db'];
  return { deps: { db: counted, config: berth.config } satisfies ReconcileDeps, unitReads };
};

describe('one stream batch', () => {
  it('reconciles a service once however many of its instances and tasks the batch names', async () => {
    // Prepare
    await berth.ecs.send(
      new CreateServiceCommand({
        cluster,
        serviceName: 'web',
        taskDefinition: 'batch-app',
        desiredCount: 8,
        launchType: 'EXTERNAL',
      }),
    );
    const { deps, unitReads } = countingDeps();
    const handler = createReconcilerHandler(deps);
    const records = [
      modifyRecord(keys.service(cluster, 'web'), 1),
      ...instanceIds.map((id, i) => modifyRecord(keys.containerInstance(cluster, id), 2 + i)),
      modifyRecord(keys.service(cluster, 'web'), 10),
    ];

    // Act
    const response = await handler({ Records: records } as DynamoDBStreamEvent);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(unitReads.get(keys.serviceUnit(cluster, 'web').pk)).toBe(1);
    const listed = await berth.ecs.send(new ListTasksCommand({ cluster, serviceName: 'web' }));
    expect(listed.taskArns).toHaveLength(8);
  });

  it('leaves alone an instance change that only took capacity, and acts on one that gave it back', async () => {
    // Prepare
    await berth.ecs.send(
      new CreateServiceCommand({
        cluster,
        serviceName: 'api',
        taskDefinition: 'batch-app',
        desiredCount: 1,
        launchType: 'EXTERNAL',
      }),
    );
    const key = keys.containerInstance(cluster, instanceIds[0] ?? '');
    const before = { remaining: { cpu: 1024, memory: 2048 }, assignmentVersion: 1, liveTasksCount: 0 };
    const claimed = { remaining: { cpu: 960, memory: 1984 }, assignmentVersion: 2, liveTasksCount: 1 };
    const first = countingDeps();
    const second = countingDeps();

    // Act
    const claim = await createReconcilerHandler(first.deps)({
      Records: [modifyRecord(key, 20, [before, claimed])],
    } as DynamoDBStreamEvent);
    const release = await createReconcilerHandler(second.deps)({
      Records: [modifyRecord(key, 21, [claimed, before])],
    } as DynamoDBStreamEvent);

    // Assess
    expect([claim.batchItemFailures, release.batchItemFailures]).toEqual([[], []]);
    expect(first.unitReads.size).toBe(0);
    expect(second.unitReads.get(keys.serviceUnit(cluster, 'api').pk)).toBe(1);
    const listed = await berth.ecs.send(new ListTasksCommand({ cluster, serviceName: 'api' }));
    expect(listed.taskArns).toHaveLength(1);
  });
});
