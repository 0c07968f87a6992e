import {
  ClusterContainsContainerInstancesException,
  ClusterNotFoundException,
  CreateClusterCommand,
  DeleteClusterCommand,
  DeregisterContainerInstanceCommand,
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeTaskDefinitionCommand,
  InvalidParameterException,
  ListClustersCommand,
  ListTagsForResourceCommand,
  RegisterTaskDefinitionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateClusterSettingsCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAgent, startBerth, type TestBerth } from './harness.ts';

let berth: TestBerth;

beforeAll(async () => {
  berth = await startBerth();
});

afterAll(async () => {
  await berth?.stop();
});

const clusterArn = (name: string) => `arn:aws:ecs:${berth.region}:000000000000:cluster/${name}`;

/** Every ACTIVE cluster ARN, following nextToken to the end. */
const listAllClusters = async (maxResults?: number): Promise<{ arns: string[]; pages: number }> => {
  const arns: string[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await berth.ecs.send(new ListClustersCommand({ maxResults, nextToken }));
    arns.push(...(page.clusterArns ?? []));
    nextToken = page.nextToken;
    pages += 1;
  } while (nextToken && pages < 100);
  return { arns, pages };
};

const describeOne = async (name: string, include?: ('TAGS' | 'SETTINGS')[]) => {
  const answer = await berth.ecs.send(new DescribeClustersCommand({ clusters: [name], include }));
  return answer.clusters?.[0];
};

describe('CreateCluster', () => {
  it('creates an ACTIVE cluster with its tags and settings stored', async () => {
    // Act
    const created = await berth.ecs.send(
      new CreateClusterCommand({
        clusterName: 'create-tags',
        tags: [
          { key: 'team', value: 'edge' },
          { key: 'empty', value: '' },
        ],
        settings: [{ name: 'containerInsights', value: 'enabled' }],
      }),
    );

    // Assess
    expect(created.cluster).toMatchObject({
      clusterArn: clusterArn('create-tags'),
      clusterName: 'create-tags',
      status: 'ACTIVE',
      registeredContainerInstancesCount: 0,
    });
    const stored = await describeOne('create-tags', ['TAGS', 'SETTINGS']);
    expect(stored?.status).toBe('ACTIVE');
    expect(stored?.tags).toEqual(
      expect.arrayContaining([
        { key: 'team', value: 'edge' },
        { key: 'empty', value: '' },
      ]),
    );
    expect(stored?.tags).toHaveLength(2);
    expect(stored?.settings).toEqual([{ name: 'containerInsights', value: 'enabled' }]);
  });

  it('returns the existing cluster unchanged when an ACTIVE name is created again', async () => {
    // Prepare
    const first = await berth.ecs.send(
      new CreateClusterCommand({ clusterName: 'create-twice', tags: [{ key: 'v', value: '1' }] }),
    );

    // Act
    const second = await berth.ecs.send(
      new CreateClusterCommand({ clusterName: 'create-twice', tags: [{ key: 'v', value: '2' }] }),
    );

    // Assess
    expect(second.cluster?.clusterArn).toBe(first.cluster?.clusterArn);
    expect(second.cluster?.status).toBe('ACTIVE');
    const stored = await describeOne('create-twice', ['TAGS']);
    expect(stored?.tags).toEqual([{ key: 'v', value: '1' }]);
    const { arns } = await listAllClusters();
    expect(arns.filter((arn) => arn === clusterArn('create-twice'))).toHaveLength(1);
  });

  it('creates the cluster named default when no name is given', async () => {
    // Act
    const created = await berth.ecs.send(new CreateClusterCommand({}));

    // Assess
    expect(created.cluster?.clusterName).toBe('default');
    const described = await berth.ecs.send(new DescribeClustersCommand({}));
    expect(described.clusters?.map((cluster) => cluster.clusterName)).toEqual(['default']);
  });

  it.each([
    ['a space', 'has space'],
    ['a slash', 'a/b'],
    ['a dot', 'a.b'],
    ['256 characters', 'x'.repeat(256)],
  ])('refuses a name with %s as InvalidParameterException and stores nothing', async (_, name) => {
    // Prepare
    const before = await listAllClusters();

    // Act
    const error = await berth.ecs.send(new CreateClusterCommand({ clusterName: name })).catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(InvalidParameterException);
    expect(error.message).toMatch(/name/i);
    expect((await listAllClusters()).arns.sort()).toEqual(before.arns.sort());
  });

  it('accepts a name of exactly 255 letters, digits, hyphens and underscores', async () => {
    // Prepare
    const name = `Ok_1-${'z'.repeat(250)}`;

    // Act
    const created = await berth.ecs.send(new CreateClusterCommand({ clusterName: name }));

    // Assess
    expect(created.cluster?.clusterName).toBe(name);
    expect((await describeOne(name))?.status).toBe('ACTIVE');
  });

  it('refuses an aws: tag key and stores no cluster', async () => {
    // Act
    const error = await berth.ecs
      .send(new CreateClusterCommand({ clusterName: 'aws-tag', tags: [{ key: 'aws:owner', value: 'x' }] }))
      .catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(InvalidParameterException);
    const described = await berth.ecs.send(new DescribeClustersCommand({ clusters: ['aws-tag'] }));
    expect(described.clusters).toEqual([]);
    expect(described.failures).toEqual([{ arn: clusterArn('aws-tag'), reason: 'MISSING' }]);
  });
});

describe('DescribeClusters', () => {
  it('answers found clusters and lists the missing ones in failures with reason MISSING', async () => {
    // Prepare
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'described-a' }));
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'described-b' }));

    // Act
    const answer = await berth.ecs.send(
      new DescribeClustersCommand({
        clusters: ['described-a', 'nowhere-1', clusterArn('described-b'), 'nowhere-2'],
      }),
    );

    // Assess
    expect(answer.clusters?.map((cluster) => cluster.clusterName)).toEqual(['described-a', 'described-b']);
    expect(answer.failures).toEqual([
      { arn: clusterArn('nowhere-1'), reason: 'MISSING' },
      { arn: clusterArn('nowhere-2'), reason: 'MISSING' },
    ]);
  });

  it('leaves tags and settings out unless included', async () => {
    // Prepare
    await berth.ecs.send(
      new CreateClusterCommand({
        clusterName: 'described-include',
        tags: [{ key: 'k', value: 'v' }],
        settings: [{ name: 'containerInsights', value: 'enhanced' }],
      }),
    );

    // Act
    const plain = await describeOne('described-include');
    const withTags = await describeOne('described-include', ['TAGS']);
    const withSettings = await describeOne('described-include', ['SETTINGS']);

    // Assess
    expect(plain?.tags ?? []).toEqual([]);
    expect(plain?.settings).toBeUndefined();
    expect(withTags?.tags).toEqual([{ key: 'k', value: 'v' }]);
    expect(withSettings?.settings).toEqual([{ name: 'containerInsights', value: 'enhanced' }]);
  });

  it('counts registered container instances', async () => {
    // Prepare
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'described-counts' }));
    await registerAgent(berth, { cluster: 'described-counts' });
    await registerAgent(berth, { cluster: 'described-counts' });

    // Act
    const cluster = await describeOne('described-counts');

    // Assess
    expect(cluster?.registeredContainerInstancesCount).toBe(2);
    expect(cluster?.runningTasksCount).toBe(0);
  });
});

describe('ListClusters', () => {
  it('pages with maxResults and nextToken, answering every cluster exactly once', async () => {
    // Prepare
    const names = Array.from({ length: 7 }, (_, i) => `paged-${i}`);
    await Promise.all(names.map((clusterName) => berth.ecs.send(new CreateClusterCommand({ clusterName }))));
    const everything = await listAllClusters();

    // Act
    const paged = await listAllClusters(3);

    // Assess
    expect(new Set(paged.arns).size).toBe(paged.arns.length);
    expect([...paged.arns].sort()).toEqual([...everything.arns].sort());
    for (const name of names) expect(paged.arns).toContain(clusterArn(name));
    expect(paged.pages).toBe(Math.ceil(everything.arns.length / 3));
    const first = await berth.ecs.send(new ListClustersCommand({ maxResults: 3 }));
    expect(first.clusterArns).toHaveLength(3);
    expect(first.nextToken).toEqual(expect.any(String));
  });

  it('refuses maxResults outside 1..100 and a forged nextToken', async () => {
    // Act
    const zero = await berth.ecs.send(new ListClustersCommand({ maxResults: 0 })).catch((e) => e);
    const tooMany = await berth.ecs.send(new ListClustersCommand({ maxResults: 101 })).catch((e) => e);
    const forged = await berth.ecs
      .send(
        new ListClustersCommand({
          nextToken: Buffer.from(JSON.stringify({ gsi1pk: 'TASKDEFS' })).toString('base64url'),
        }),
      )
      .catch((e) => e);

    // Assess
    expect(zero).toBeInstanceOf(InvalidParameterException);
    expect(tooMany).toBeInstanceOf(InvalidParameterException);
    expect(forged).toBeInstanceOf(InvalidParameterException);
  });
});

describe('DeleteCluster', () => {
  it('marks the cluster INACTIVE and removes it from ListClusters', async () => {
    // Prepare
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'deleted' }));

    // Act
    const deleted = await berth.ecs.send(new DeleteClusterCommand({ cluster: 'deleted' }));

    // Assess
    expect(deleted.cluster?.status).toBe('INACTIVE');
    expect((await describeOne('deleted'))?.status).toBe('INACTIVE');
    expect((await listAllClusters()).arns).not.toContain(clusterArn('deleted'));
  });

  it('answers ClusterNotFoundException for a cluster already deleted, and CreateCluster revives it', async () => {
    // Prepare
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'deleted-twice' }));
    await berth.ecs.send(new DeleteClusterCommand({ cluster: 'deleted-twice' }));

    // Act
    const again = await berth.ecs
      .send(new DeleteClusterCommand({ cluster: 'deleted-twice' }))
      .catch((e) => e);
    const revived = await berth.ecs.send(new CreateClusterCommand({ clusterName: 'deleted-twice' }));

    // Assess
    expect(again).toBeInstanceOf(ClusterNotFoundException);
    expect(revived.cluster?.status).toBe('ACTIVE');
    expect((await listAllClusters()).arns).toContain(clusterArn('deleted-twice'));
  });

  it('refuses while a container instance is registered, and deletes once it is deregistered', async () => {
    // Prepare
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'occupied' }));
    const agent = await registerAgent(berth, { cluster: 'occupied' });

    // Act
    const refused = await berth.ecs.send(new DeleteClusterCommand({ cluster: 'occupied' })).catch((e) => e);

    // Assess
    expect(refused).toBeInstanceOf(ClusterContainsContainerInstancesException);
    expect((await describeOne('occupied'))?.status).toBe('ACTIVE');
    expect((await listAllClusters()).arns).toContain(clusterArn('occupied'));

    // Act
    await berth.ecs.send(
      new DeregisterContainerInstanceCommand({
        cluster: 'occupied',
        containerInstance: agent.containerInstanceArn,
      }),
    );
    const deleted = await berth.ecs.send(new DeleteClusterCommand({ cluster: 'occupied' }));

    // Assess
    expect(deleted.cluster?.status).toBe('INACTIVE');
    expect((await describeOne('occupied'))?.status).toBe('INACTIVE');
  });
});

describe('ClusterNotFoundException', () => {
  it('reaches the SDK as its typed exception for a cluster that never existed', async () => {
    // Act
    const deleteError = await berth.ecs
      .send(new DeleteClusterCommand({ cluster: 'never-was' }))
      .catch((e) => e);
    const updateError = await berth.ecs
      .send(
        new UpdateClusterSettingsCommand({
          cluster: clusterArn('never-was'),
          settings: [{ name: 'containerInsights', value: 'enabled' }],
        }),
      )
      .catch((e) => e);

    // Assess
    for (const error of [deleteError, updateError]) {
      expect(error).toBeInstanceOf(ClusterNotFoundException);
      expect(error.name).toBe('ClusterNotFoundException');
      expect(error.$metadata.httpStatusCode).toBe(400);
    }
    const described = await berth.ecs.send(new DescribeClustersCommand({ clusters: ['never-was'] }));
    expect(described.clusters).toEqual([]);
  });

  it('is not confused with an invalid name, which is InvalidParameterException', async () => {
    // Act
    const error = await berth.ecs.send(new DeleteClusterCommand({ cluster: 'not valid!' })).catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(InvalidParameterException);
  });
});

describe('TagResource', () => {
  const tagsOf = async (resourceArn: string) =>
    (await berth.ecs.send(new ListTagsForResourceCommand({ resourceArn }))).tags ?? [];

  const byKey = (tags: { key?: string; value?: string }[]) =>
    [...tags].sort((a, b) => String(a.key).localeCompare(String(b.key)));

  it('adds, replaces and removes the tags of a cluster', async () => {
    // Prepare
    await berth.ecs.send(
      new CreateClusterCommand({ clusterName: 'tagged', tags: [{ key: 'keep', value: 'k' }] }),
    );
    const arn = clusterArn('tagged');

    // Act
    await berth.ecs.send(
      new TagResourceCommand({
        resourceArn: arn,
        tags: [
          { key: 'env', value: 'prod' },
          { key: 'keep', value: 'k2' },
        ],
      }),
    );
    await berth.ecs.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['env', 'not-there'] }));

    // Assess
    expect(await tagsOf(arn)).toEqual([{ key: 'keep', value: 'k2' }]);
    expect((await describeOne('tagged', ['TAGS']))?.tags).toEqual([{ key: 'keep', value: 'k2' }]);
  });

  it('tags a task definition revision, readable through DescribeTaskDefinition include TAGS', async () => {
    // Prepare
    const registered = await berth.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'tagged-family',
        containerDefinitions: [{ name: 'app', image: 'busybox', memory: 64 }],
        tags: [{ key: 'first', value: '1' }],
      }),
    );
    const arn = registered.taskDefinition?.taskDefinitionArn ?? '';

    // Act
    await berth.ecs.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'second', value: '2' }] }));
    await berth.ecs.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['first'] }));

    // Assess
    expect(await tagsOf(arn)).toEqual([{ key: 'second', value: '2' }]);
    const described = await berth.ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ['TAGS'] }),
    );
    expect(described.tags).toEqual([{ key: 'second', value: '2' }]);
  });

  it('tags a container instance, readable through DescribeContainerInstances include TAGS', async () => {
    // Prepare
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'tagged-instances' }));
    const agent = await registerAgent(berth, { cluster: 'tagged-instances' });
    const arn = agent.containerInstanceArn;

    // Act
    await berth.ecs.send(
      new TagResourceCommand({
        resourceArn: arn,
        tags: [
          { key: 'rack', value: 'r7' },
          { key: 'site', value: 'plant-2' },
        ],
      }),
    );
    await berth.ecs.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['site'] }));

    // Assess
    expect(await tagsOf(arn)).toEqual([{ key: 'rack', value: 'r7' }]);
    const described = await berth.ecs.send(
      new DescribeContainerInstancesCommand({
        cluster: 'tagged-instances',
        containerInstances: [arn],
        include: ['TAGS'],
      }),
    );
    expect(described.containerInstances?.[0]?.tags).toEqual([{ key: 'rack', value: 'r7' }]);
  });

  it('refuses aws: prefixed keys on every resource type and keeps the tags as they were', async () => {
    // Prepare
    await berth.ecs.send(
      new CreateClusterCommand({ clusterName: 'aws-prefix', tags: [{ key: 'a', value: '1' }] }),
    );
    const td = await berth.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'aws-prefix',
        containerDefinitions: [{ name: 'app', image: 'busybox', memory: 64 }],
      }),
    );
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'aws-prefix-instances' }));
    const agent = await registerAgent(berth, { cluster: 'aws-prefix-instances' });
    const resources = [
      clusterArn('aws-prefix'),
      td.taskDefinition?.taskDefinitionArn ?? '',
      agent.containerInstanceArn,
    ];
    const before = await Promise.all(resources.map(tagsOf));

    for (const resourceArn of resources) {
      // Act
      const error = await berth.ecs
        .send(
          new TagResourceCommand({
            resourceArn,
            tags: [
              { key: 'fine', value: 'x' },
              { key: 'AWS:reserved', value: 'x' },
            ],
          }),
        )
        .catch((e) => e);

      // Assess
      expect(error, resourceArn).toBeInstanceOf(InvalidParameterException);
      expect(error.message).toMatch(/aws:/i);
    }
    expect(await Promise.all(resources.map(tagsOf))).toEqual(before);
  });

  it('answers ResourceNotFoundException for a resource that does not exist, and for a deleted cluster', async () => {
    // Prepare
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'tag-gone' }));
    await berth.ecs.send(new DeleteClusterCommand({ cluster: 'tag-gone' }));
    const missing = [
      clusterArn('tag-never'),
      clusterArn('tag-gone'),
      `arn:aws:ecs:${berth.region}:000000000000:task-definition/tag-never:1`,
      `arn:aws:ecs:${berth.region}:000000000000:container-instance/tagged-instances/0123456789abcdef`,
    ];

    for (const resourceArn of missing) {
      // Act
      const error = await berth.ecs
        .send(new TagResourceCommand({ resourceArn, tags: [{ key: 'k', value: 'v' }] }))
        .catch((e) => e);
      const listError = await berth.ecs.send(new ListTagsForResourceCommand({ resourceArn })).catch((e) => e);

      // Assess
      expect(error.name, resourceArn).toBe('ResourceNotFoundException');
      expect(listError.name, resourceArn).toBe('ResourceNotFoundException');
    }
  });

  it('refuses a malformed resource ARN as InvalidParameterException', async () => {
    // Act
    const error = await berth.ecs
      .send(new TagResourceCommand({ resourceArn: 'not-an-arn', tags: [{ key: 'k', value: 'v' }] }))
      .catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(InvalidParameterException);
  });

  it('keeps tags across resources apart', async () => {
    // Prepare
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'tag-apart-a' }));
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'tag-apart-b' }));

    // Act
    await berth.ecs.send(
      new TagResourceCommand({ resourceArn: clusterArn('tag-apart-a'), tags: [{ key: 'only', value: 'a' }] }),
    );

    // Assess
    expect(byKey(await tagsOf(clusterArn('tag-apart-a')))).toEqual([{ key: 'only', value: 'a' }]);
    expect(await tagsOf(clusterArn('tag-apart-b'))).toEqual([]);
  });
});
