import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  ListClustersCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  StartTaskCommand,
} from '@aws-sdk/client-ecs';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { UnreadableRange } from '../../core/db/client.ts';
import { keys } from '../../core/db/keys.ts';
import { queryAllItems } from '../../core/db/query.ts';
import { idOf } from '../integration/fixtures.ts';
import { registerAgent, startBerth, type TestBerth } from '../integration/harness.ts';
import { canonicalJson, scanTable } from './invariants.ts';
import { ecsTarget, post, signRequest } from './signing.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

/**
 * Poison input: JSON's `\ud800` escape is a lone UTF-16 surrogate. DynamoDB Local stores an item
 * whose member name holds one (an UpdateItem that sets a tag, a task group, a label) but then fails
 * every read and write of it with InternalFailure, for good: the cluster list, the stream, the
 * sweeper. Every string and member name is checked before anything is written; and an item that
 * cannot be read (one written before the check) is skipped by queries, the stream poller and the
 * sweeper instead of stopping them.
 */

const lone = '\ud800';

describe('requests holding strings that are not well-formed Unicode', () => {
  let berth: TestBerth;
  const world = { clusterArn: '', token: '', taskArn: '' };

  beforeAll(async () => {
    berth = await startBerth({ sweepIntervalMs: 3_600_000 });
    world.clusterArn =
      (await berth.ecs.send(new CreateClusterCommand({ clusterName: 'good' }))).cluster?.clusterArn ?? '';
    await berth.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'app',
        containerDefinitions: [{ name: 'app', image: 'busybox', cpu: 16, memory: 16 }],
      }),
    );
    const agent = await registerAgent(berth, { cluster: 'good' });
    world.token = agent.token;
    const started = await berth.ecs.send(
      new StartTaskCommand({
        cluster: 'good',
        taskDefinition: 'app',
        containerInstances: [agent.containerInstanceArn],
      }),
    );
    world.taskArn = started.tasks?.[0]?.taskArn ?? '';
    await berth.drain();
  });

  afterAll(async () => {
    await berth?.stop();
  });

  const operator = async (action: string, body: unknown) => {
    const text = JSON.stringify(body);
    const request = await signRequest(berth.endpoint, berth.credentials, {
      target: ecsTarget(action),
      body: text,
    });
    return post(request.url, request.headers, text);
  };

  const definition = (container: Record<string, unknown>) => ({
    family: 'poison',
    containerDefinitions: [{ name: 'app', image: 'busybox', memory: 64, ...container }],
  });

  it.each<[string, string, () => Record<string, unknown>, string]>([
    [
      'a tag key (TagResource)',
      'TagResource',
      () => ({ resourceArn: world.clusterArn, tags: [{ key: `${lone}x`, value: 'v' }] }),
      'tags[0].key',
    ],
    [
      "RunTask's group",
      'RunTask',
      () => ({ cluster: 'good', taskDefinition: 'app', group: `g${lone}` }),
      'group',
    ],
    [
      'a tag key at CreateCluster',
      'CreateCluster',
      () => ({ clusterName: 'poisoned', tags: [{ key: `${lone}x`, value: 'v' }] }),
      'tags[0].key',
    ],
    [
      'a dockerLabels name',
      'RegisterTaskDefinition',
      () => definition({ dockerLabels: { [`label${lone}`]: 'x' } }),
      'containerDefinitions[0].dockerLabels.label\ufffd',
    ],
    [
      'a logConfiguration option (a lone low surrogate)',
      'RegisterTaskDefinition',
      () => definition({ logConfiguration: { logDriver: 'json-file', options: { 'max-size': 'x\udc00' } } }),
      'containerDefinitions[0].logConfiguration.options.max-size',
    ],
    [
      "UpdateCluster's configuration",
      'UpdateCluster',
      () => ({ cluster: 'good', configuration: { executeCommandConfiguration: { [lone]: 'x' } } }),
      'configuration.executeCommandConfiguration.\ufffd',
    ],
  ])(
    'answers %s with InvalidParameterException naming the field, and writes nothing',
    async (_what, action, body, field) => {
      // Prepare
      const before = canonicalJson(await scanTable(berth.db));

      // Act
      const answer = await operator(action, body());
      await berth.drain();
      const after = canonicalJson(await scanTable(berth.db));
      const listed = await berth.ecs.send(new ListClustersCommand({}));
      const described = await berth.ecs.send(new DescribeClustersCommand({ clusters: ['good'] }));

      // Assess
      expect(answer.status).toBe(400);
      expect(answer.body.__type).toBe('InvalidParameterException');
      expect(String(answer.body.message)).toContain(field);
      expect(after).toBe(before);
      expect(listed.clusterArns).toEqual([world.clusterArn]);
      expect(described.clusters?.[0]?.status).toBe('ACTIVE');
    },
  );

  it('refuses an agent report holding a lone surrogate with 400, naming its task, and writes nothing', async () => {
    // Prepare
    const before = canonicalJson(await scanTable(berth.db));
    const report = {
      taskArn: world.taskArn,
      seq: 1,
      lastStatus: 'RUNNING',
      containers: [{ name: 'app', lastStatus: 'RUNNING', reason: `r${lone}` }],
    };

    // Act
    const answer = await berth.agent('/sync', { assignmentVersion: 0, reports: [report] }, world.token);
    await berth.drain();
    const after = canonicalJson(await scanTable(berth.db));

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe('InvalidParameterException');
    expect(answer.body.message).toContain('reports[0].containers[0].reason');
    expect(answer.body.taskArn).toBe(world.taskArn);
    expect(after).toBe(before);
  });

  it.each<[string, string]>([
    ['a key with a character outside ECS pattern', 'team*'],
    ['a key with an emoji', 'team💥'],
  ])('refuses tags that break ECS tag rules: %s', async (_what, key) => {
    // Prepare
    const before = canonicalJson(await scanTable(berth.db));

    // Act
    const tagged = await operator('TagResource', {
      resourceArn: world.clusterArn,
      tags: [{ key, value: 'v' }],
    });
    const created = await operator('CreateCluster', {
      clusterName: 'tagged',
      tags: [{ key: 'ok', value: `${key}<` }],
    });
    const after = canonicalJson(await scanTable(berth.db));

    // Assess
    expect([tagged.status, created.status]).toEqual([400, 400]);
    expect([tagged.body.__type, created.body.__type]).toEqual([
      'InvalidParameterException',
      'InvalidParameterException',
    ]);
    expect(after).toBe(before);
  });

  it('keeps accepting tags ECS accepts: letters of any script, spaces, digits and _ . : / = + - @', async () => {
    // Act
    const answer = await operator('TagResource', {
      resourceArn: world.clusterArn,
      tags: [
        { key: 'équipe/東京 1', value: 'a_b.c:d/e=f+g-h@i' },
        { key: 'berth:replace-after-disconnect', value: '30' },
        { key: '𝒳', value: '' },
      ],
    });

    // Assess
    expect(answer.status).toBe(200);
  });
});

describe('an item DynamoDB Local stored but cannot read', () => {
  let berth: TestBerth;
  let offsetMs = 0;
  const unreadable: UnreadableRange[] = [];
  const world = { betaArn: '', readableInstance: '', poisonedInstance: '', gammaInstance: '' };

  /** What TagResource wrote before requests were checked: a member name with a lone surrogate. */
  const poison = (key: { pk: string; sk: string }) =>
    berth.db.doc.send(
      new UpdateCommand({
        TableName: berth.db.table,
        Key: key,
        UpdateExpression: 'SET #bad = :value',
        ExpressionAttributeNames: { '#bad': `${lone}x` },
        ExpressionAttributeValues: { ':value': 'v' },
      }),
    );

  beforeAll(async () => {
    berth = await startBerth({
      sweepIntervalMs: 3_600_000,
      // Within SigV4's 15 minutes of skew, so the clock can be moved past both limits.
      sweepSettings: { graceSeconds: 180, pendingTimeoutSeconds: 120 },
      now: () => new Date(Date.now() + offsetMs),
    });
    // The host's one table handle (API, reconciler, sweeper) reports here instead of to stderr.
    Object.assign(berth.db, {
      onUnreadable: (range: UnreadableRange) => unreadable.push(range),
    });
    for (const clusterName of ['alpha', 'beta', 'delta', 'gamma']) {
      await berth.ecs.send(new CreateClusterCommand({ clusterName }));
    }
    world.betaArn =
      (await berth.ecs.send(new DescribeClustersCommand({ clusters: ['beta'] }))).clusters?.[0]?.clusterArn ??
      '';
    await berth.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'web',
        containerDefinitions: [{ name: 'web', image: 'busybox', cpu: 256, memory: 256 }],
      }),
    );
    const first = await registerAgent(berth, { cluster: 'beta' });
    const second = await registerAgent(berth, { cluster: 'beta' });
    // The poisoned instance sorts first in the cluster's partition, so the partition's read fails
    // before it reaches the readable one.
    const [poisoned, readable] = [first, second].sort((a, b) =>
      idOf(a.containerInstanceArn).localeCompare(idOf(b.containerInstanceArn)),
    ) as [typeof first, typeof second];
    world.poisonedInstance = idOf(poisoned.containerInstanceArn);
    world.readableInstance = idOf(readable.containerInstanceArn);
    world.gammaInstance = idOf((await registerAgent(berth, { cluster: 'gamma' })).containerInstanceArn);
    await berth.drain();
    const { pk, sk } = keys.cluster('alpha');
    await poison({ pk, sk });
    await poison(keys.containerInstance('beta', world.poisonedInstance));
  });

  afterAll(async () => {
    await berth?.stop();
  });

  it('is unreadable in DynamoDB Local (the premise of this suite)', async () => {
    // Act
    const read = berth.db.doc.send(
      new GetCommand({ TableName: berth.db.table, Key: { pk: keys.cluster('alpha').pk, sk: 'CLUSTER' } }),
    );

    // Assess
    // Not a 503: retrying would never help (core/db/client.ts).
    await expect(read).rejects.toMatchObject({ name: 'InternalFailure' });
  });

  it('lists and describes the other clusters', async () => {
    // Act
    const listed = await berth.ecs.send(new ListClustersCommand({}));
    const paged = await berth.ecs.send(new ListClustersCommand({ maxResults: 1 }));
    const described = await berth.ecs.send(new DescribeClustersCommand({ clusters: ['beta', 'gamma'] }));
    const withAlpha = await berth.ecs.send(new DescribeClustersCommand({ clusters: ['alpha', 'beta'] }));

    // Assess
    expect(listed.clusterArns?.map(idOf)).toEqual(['beta', 'delta', 'gamma']);
    expect(paged.clusterArns?.map(idOf)).toEqual(['beta']);
    expect(described.clusters?.map((cluster) => cluster.status)).toEqual(['ACTIVE', 'ACTIVE']);
    expect(withAlpha.clusters?.map((cluster) => cluster.clusterName)).toEqual(['beta']);
    expect(withAlpha.failures).toEqual([
      expect.objectContaining({ arn: expect.stringContaining(':cluster/alpha'), reason: 'UNREADABLE' }),
    ]);
    // The poisoned instance cannot be read, so it is not counted.
    expect(described.clusters?.[0]?.registeredContainerInstancesCount).toBe(1);
    expect(unreadable).toContainEqual(expect.objectContaining({ index: 'gsi1', partition: 'CLUSTERS' }));
  });

  it('skips, in a query, what lies between the last item readable from its start and the first from its end', async () => {
    // Prepare: a partition of its own: a, b unreadable, c, d unreadable, e.
    const pk = 'SCRATCH#query';
    for (const sk of ['a', 'c', 'e']) {
      await berth.db.doc.send(new PutCommand({ TableName: berth.db.table, Item: { pk, sk } }));
    }
    for (const sk of ['b', 'd']) await poison({ pk, sk });
    const query = { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk } };

    // Act
    const all = await queryAllItems(berth.db, query, { skipUnreadable: true });
    const descending = await queryAllItems(
      berth.db,
      { ...query, ScanIndexForward: false },
      { skipUnreadable: true },
    );
    // Where a missing item would mislead a decision (a service unit's tasks, an instance's
    // assignment), the query fails instead of answering short.
    const strict = queryAllItems(berth.db, query);

    // Assess: c lies between two unreadable items, so it is skipped with them.
    expect(all.map((item) => item.sk)).toEqual(['a', 'e']);
    expect(descending.map((item) => item.sk)).toEqual(['e', 'a']);
    await expect(strict).rejects.toMatchObject({ name: 'InternalFailure' });
    expect(unreadable).toContainEqual({
      index: undefined,
      partition: pk,
      after: { pk, sk: 'a' },
      before: { pk, sk: 'e' },
    });
  });

  it('lets the reconciler place the tasks of a new service on the readable instance', async () => {
    // Act
    await berth.ecs.send(
      new CreateServiceCommand({
        cluster: 'beta',
        serviceName: 'web',
        taskDefinition: 'web',
        desiredCount: 2,
      }),
    );
    await berth.drain(30_000);
    const listed = await berth.ecs.send(new ListTasksCommand({ cluster: 'beta', serviceName: 'web' }));
    const instance = await berth.db.doc.send(
      new GetCommand({
        TableName: berth.db.table,
        Key: keys.containerInstance('beta', world.readableInstance),
        ConsistentRead: true,
      }),
    );

    // Assess
    expect(listed.taskArns).toHaveLength(2);
    expect(instance.Item?.liveTasksCount).toBe(2);
    expect(unreadable).toContainEqual(expect.objectContaining({ partition: keys.cluster('beta').pk }));
  });

  it('lets the sweeper sweep every other cluster, and fail only once it has', async () => {
    // Prepare: in delta, a task waits on an instance that then became unreadable: stopping it as
    // stuck writes that instance, and fails.
    const delta = await registerAgent(berth, { cluster: 'delta' });
    await berth.ecs.send(
      new StartTaskCommand({
        cluster: 'delta',
        taskDefinition: 'web',
        containerInstances: [delta.containerInstanceArn],
      }),
    );
    await berth.drain();
    await poison(keys.containerInstance('delta', idOf(delta.containerInstanceArn)));
    // Every agent has been silent for longer than the grace, every task pending past its timeout.
    offsetMs = 200_000;

    // Act
    const failed = await berth.sweep().then(
      () => undefined,
      (error: unknown) => error as { code?: string; details?: { report: { disconnected: number } } },
    );
    const gamma = await berth.ecs.send(
      new DescribeContainerInstancesCommand({ cluster: 'gamma', containerInstances: [world.gammaInstance] }),
    );
    const beta = await berth.ecs.send(
      new DescribeContainerInstancesCommand({
        cluster: 'beta',
        containerInstances: [world.readableInstance],
      }),
    );

    // Assess
    expect(failed?.code).toBe('SweepIncomplete');
    expect(failed?.details?.report.disconnected).toBe(2);
    expect(String(failed)).toContain('delta');
    expect(gamma.containerInstances?.[0]?.agentConnected).toBe(false);
    expect(beta.containerInstances?.[0]?.agentConnected).toBe(false);
  });
});
