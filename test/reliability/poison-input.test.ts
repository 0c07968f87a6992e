import {
  CreateClusterCommand,
  DescribeClustersCommand,
  ListClustersCommand,
  RegisterTaskDefinitionCommand,
  StartTaskCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerAgent, startBerth, type TestBerth } from '../integration/harness.ts';
import { canonicalJson, scanTable } from './invariants.ts';
import { ecsTarget, post, signRequest } from './signing.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

/**
 * Poison input: JSON's `\ud800` escape is a lone UTF-16 surrogate. DynamoDB Local stores an item
 * whose member name holds one (an UpdateItem that sets a tag, a task group, a label) but then fails
 * every read and write of it with InternalFailure, for good: the cluster list, the stream, the
 * sweeper. Every string and member name is checked before anything is written.
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
