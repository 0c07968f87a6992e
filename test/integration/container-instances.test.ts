import { createHash } from 'node:crypto';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  type Attribute,
  type ContainerInstance,
  type ContainerInstanceStatus,
  CreateClusterCommand,
  DeleteAttributesCommand,
  DeregisterContainerInstanceCommand,
  DescribeContainerInstancesCommand,
  ListAttributesCommand,
  ListContainerInstancesCommand,
  PutAttributesCommand,
  UpdateContainerInstancesStateCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAgent, startBerth, type TestBerth } from './harness.ts';

let berth: TestBerth;
/** The instances of cluster `fleet`, by role, as ARNs. */
const fleet: Record<'berlinX86' | 'berlinArm' | 'parisArm' | 'plain1' | 'plain2', string> = {
  berlinX86: '',
  berlinArm: '',
  parisArm: '',
  plain1: '',
  plain2: '',
};

beforeAll(async () => {
  berth = await startBerth();
  for (const clusterName of ['fleet', 'lifecycle', 'attrs']) {
    await berth.ecs.send(new CreateClusterCommand({ clusterName }));
  }
  const register = async (attributes: { name: string; value?: string }[]) =>
    (await registerAgent(berth, { cluster: 'fleet', attributes })).containerInstanceArn;
  // One at a time, so the list order (by registration time) is known.
  fleet.berlinX86 = await register([{ name: 'site', value: 'berlin' }]);
  fleet.berlinArm = await register([
    { name: 'site', value: 'berlin' },
    { name: 'ecs.cpu-architecture', value: 'arm64' },
  ]);
  fleet.parisArm = await register([
    { name: 'site', value: 'paris' },
    { name: 'ecs.cpu-architecture', value: 'arm64' },
  ]);
  fleet.plain1 = await register([]);
  fleet.plain2 = await register([]);
});

afterAll(async () => {
  await berth?.stop();
});

const idOf = (arn: string) => arn.split('/').at(-1) as string;

const errorOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as { name: string; message: string };
  }
  throw new Error('expected the call to fail');
};

/** INACTIVE is Berth's extension: ECS's status filter has no value for deregistered instances. */
const inactive = 'INACTIVE' as ContainerInstanceStatus;

const listAll = async (
  cluster: string,
  options: { filter?: string; status?: ContainerInstanceStatus } = {},
) => {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await berth.ecs.send(new ListContainerInstancesCommand({ cluster, ...options, nextToken }));
    arns.push(...(page.containerInstanceArns ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return arns;
};

const describeInstance = async (cluster: string, reference: string): Promise<ContainerInstance> => {
  const output = await berth.ecs.send(
    new DescribeContainerInstancesCommand({ cluster, containerInstances: [reference] }),
  );
  expect(output.failures).toEqual([]);
  return output.containerInstances?.[0] as ContainerInstance;
};

const attributeMap = (attributes: Attribute[] | undefined) =>
  Object.fromEntries((attributes ?? []).map((a) => [a.name, a.value ?? null]));

/** The partition keys of every item in the table, read straight from DynamoDB Local. */
const tablePartitionKeys = async (): Promise<string[]> => {
  const client = new DynamoDBClient({
    endpoint: berth.dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: berth.dynamoAccessKeyId, secretAccessKey: 'berthlocal' },
  });
  const keys: string[] = [];
  try {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        // biome-ignore lint/suspicious/noExplicitAny: the raw key goes back as it came
        new ScanCommand({ TableName: 'berth', ExclusiveStartKey: startKey as any }),
      );
      keys.push(...(page.Items ?? []).map((item) => String(item.pk?.S)));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  } finally {
    client.destroy();
  }
  return keys;
};

const tokenKey = (token: string) => `AGENTTOKEN#${createHash('sha256').update(token).digest('hex')}`;

describe('ListContainerInstances', () => {
  it('lists every active instance of the cluster in registration order', async () => {
    // Act
    const arns = await listAll('fleet');

    // Assess
    expect(arns).toEqual([fleet.berlinX86, fleet.berlinArm, fleet.parisArm, fleet.plain1, fleet.plain2]);
  });

  it.each([
    ['attribute:site == berlin', ['berlinX86', 'berlinArm']],
    ['attribute:ecs.cpu-architecture in [arm64]', ['berlinArm', 'parisArm']],
    ['attribute:site == berlin and attribute:ecs.cpu-architecture == arm64', ['berlinArm']],
    // An instance without the attribute satisfies no comparison on it, a negative one included.
    ['attribute:site != berlin', ['parisArm']],
    ['attribute:site !exists', ['plain1', 'plain2']],
    ['attribute:site exists', ['berlinX86', 'berlinArm', 'parisArm']],
    ['agentConnected == true', ['berlinX86', 'berlinArm', 'parisArm', 'plain1', 'plain2']],
    ['agentConnected == false', []],
  ] as const)('filters with the cluster query language: %s', async (filter, expected) => {
    // Act
    const arns = await listAll('fleet', { filter });

    // Assess
    expect(arns).toEqual(expected.map((role) => fleet[role]));
  });

  it('refuses a filter that does not parse with InvalidParameterException', async () => {
    // Act
    const error = await errorOf(
      berth.ecs.send(new ListContainerInstancesCommand({ cluster: 'fleet', filter: 'attribute:site ==' })),
    );

    // Assess
    expect(error.name).toBe('InvalidParameterException');
  });

  it('pages with maxResults and nextToken, each instance exactly once', async () => {
    // Act
    const pages: string[][] = [];
    let nextToken: string | undefined;
    do {
      const page = await berth.ecs.send(
        new ListContainerInstancesCommand({ cluster: 'fleet', maxResults: 2, nextToken }),
      );
      pages.push(page.containerInstanceArns ?? []);
      nextToken = page.nextToken;
    } while (nextToken);

    // Assess
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual([
      fleet.berlinX86,
      fleet.berlinArm,
      fleet.parisArm,
      fleet.plain1,
      fleet.plain2,
    ]);
  });

  it('answers ClusterNotFoundException for a cluster that does not exist', async () => {
    // Act
    const error = await errorOf(berth.ecs.send(new ListContainerInstancesCommand({ cluster: 'nowhere' })));

    // Assess
    expect(error.name).toBe('ClusterNotFoundException');
  });
});

describe('DescribeContainerInstances', () => {
  it('describes instances given by id or full ARN and reports a missing id as MISSING', async () => {
    // Prepare
    const missing = '0123456789abcdef0123456789abcdef';

    // Act
    const output = await berth.ecs.send(
      new DescribeContainerInstancesCommand({
        cluster: 'fleet',
        containerInstances: [idOf(fleet.berlinX86), fleet.parisArm, missing],
      }),
    );

    // Assess
    expect(output.containerInstances?.map((instance) => instance.containerInstanceArn)).toEqual([
      fleet.berlinX86,
      fleet.parisArm,
    ]);
    expect(output.failures).toHaveLength(1);
    expect(output.failures?.[0]?.reason).toBe('MISSING');
    expect(output.failures?.[0]?.arn).toContain(missing);
  });

  it('reports an instance ARN of another cluster as MISSING', async () => {
    // Act
    const output = await berth.ecs.send(
      new DescribeContainerInstancesCommand({ cluster: 'attrs', containerInstances: [fleet.plain1] }),
    );

    // Assess
    expect(output.containerInstances).toEqual([]);
    expect(output.failures?.map((failure) => failure.reason)).toEqual(['MISSING']);
  });
});

describe('UpdateContainerInstancesState', () => {
  it('drains an instance and activates it again, storing each state', async () => {
    // Prepare
    const { containerInstanceArn: arn } = await registerAgent(berth, { cluster: 'lifecycle' });

    // Act
    const drained = await berth.ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: 'lifecycle',
        containerInstances: [idOf(arn)],
        status: 'DRAINING',
      }),
    );

    // Assess
    expect(drained.failures).toEqual([]);
    expect(drained.containerInstances?.[0]?.status).toBe('DRAINING');
    expect((await describeInstance('lifecycle', arn)).status).toBe('DRAINING');
    expect(await listAll('lifecycle', { status: 'DRAINING' })).toEqual([arn]);
    expect(await listAll('lifecycle', { status: 'ACTIVE' })).not.toContain(arn);

    // Act
    const activated = await berth.ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: 'lifecycle',
        containerInstances: [arn],
        status: 'ACTIVE',
      }),
    );

    // Assess
    expect(activated.containerInstances?.[0]?.status).toBe('ACTIVE');
    expect((await describeInstance('lifecycle', arn)).status).toBe('ACTIVE');
    expect(await listAll('lifecycle', { status: 'DRAINING' })).toEqual([]);
  });

  it('reports an unknown instance as a MISSING failure', async () => {
    // Act
    const output = await berth.ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: 'lifecycle',
        containerInstances: ['0123456789abcdef0123456789abcdef'],
        status: 'DRAINING',
      }),
    );

    // Assess
    expect(output.containerInstances).toEqual([]);
    expect(output.failures?.map((failure) => failure.reason)).toEqual(['MISSING']);
  });
});

describe('DeregisterContainerInstance', () => {
  it('makes the instance INACTIVE, hides it from the default list and revokes its token', async () => {
    // Prepare
    const keep = await registerAgent(berth, { cluster: 'lifecycle' });
    const gone = await registerAgent(berth, { cluster: 'lifecycle' });
    const keysBefore = await tablePartitionKeys();
    expect(keysBefore).toContain(tokenKey(gone.token));

    // Act
    const output = await berth.ecs.send(
      new DeregisterContainerInstanceCommand({
        cluster: 'lifecycle',
        containerInstance: gone.containerInstanceArn,
      }),
    );

    // Assess
    expect(output.containerInstance?.status).toBe('INACTIVE');
    const described = await describeInstance('lifecycle', gone.containerInstanceArn);
    expect(described.status).toBe('INACTIVE');
    expect(described.agentConnected).toBe(false);
    const listed = await listAll('lifecycle');
    expect(listed).toContain(keep.containerInstanceArn);
    expect(listed).not.toContain(gone.containerInstanceArn);
    expect(await listAll('lifecycle', { status: inactive })).toEqual([gone.containerInstanceArn]);
    expect(await listAll('lifecycle', { status: inactive, filter: 'agentConnected == false' })).toEqual([
      gone.containerInstanceArn,
    ]);
    const keysAfter = await tablePartitionKeys();
    expect(keysAfter).not.toContain(tokenKey(gone.token));
    expect(keysAfter).toContain(tokenKey(keep.token));
  });

  it('refuses to deregister an instance twice', async () => {
    // Prepare
    const { containerInstanceArn: arn } = await registerAgent(berth, { cluster: 'lifecycle' });
    await berth.ecs.send(
      new DeregisterContainerInstanceCommand({ cluster: 'lifecycle', containerInstance: arn }),
    );

    // Act
    const error = await errorOf(
      berth.ecs.send(
        new DeregisterContainerInstanceCommand({ cluster: 'lifecycle', containerInstance: arn }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidParameterException');
    expect((await describeInstance('lifecycle', arn)).status).toBe('INACTIVE');
  });
});

describe('PutAttributes, ListAttributes, DeleteAttributes', () => {
  let target: string;

  beforeAll(async () => {
    target = (await registerAgent(berth, { cluster: 'attrs', attributes: [{ name: 'rack', value: 'r1' }] }))
      .containerInstanceArn;
  });

  const put = (attributes: { name: string; value?: string; targetId?: string }[]) =>
    berth.ecs.send(
      new PutAttributesCommand({
        cluster: 'attrs',
        attributes: attributes.map((attribute) => ({
          targetType: 'container-instance',
          targetId: target,
          ...attribute,
        })),
      }),
    );

  const listByName = async (attributeName: string, attributeValue?: string) =>
    (
      await berth.ecs.send(
        new ListAttributesCommand({
          cluster: 'attrs',
          targetType: 'container-instance',
          attributeName,
          attributeValue,
        }),
      )
    ).attributes ?? [];

  it('puts attributes on an instance given by id or by ARN and describes them back', async () => {
    // Act
    const byId = await put([{ name: 'zone', value: 'z1', targetId: idOf(target) }]);
    await put([{ name: 'tier', value: 'gold' }, { name: 'ssd' }]);

    // Assess
    expect(byId.attributes).toEqual([
      { name: 'zone', value: 'z1', targetType: 'container-instance', targetId: target },
    ]);
    const attributes = attributeMap((await describeInstance('attrs', target)).attributes);
    expect(attributes).toMatchObject({
      rack: 'r1',
      zone: 'z1',
      tier: 'gold',
      ssd: null,
      'ecs.os-type': 'linux',
    });
  });

  it('lists attributes by name and by name and value', async () => {
    // Act
    const byName = await listByName('zone');
    const byNameAndValue = await listByName('zone', 'z1');
    const byOtherValue = await listByName('zone', 'z9');
    const builtIn = await listByName('ecs.os-type');

    // Assess
    expect(byName).toEqual([
      { name: 'zone', value: 'z1', targetType: 'container-instance', targetId: target },
    ]);
    expect(byNameAndValue).toEqual(byName);
    expect(byOtherValue).toEqual([]);
    expect(builtIn).toEqual([
      { name: 'ecs.os-type', value: 'linux', targetType: 'container-instance', targetId: target },
    ]);
  });

  it('deletes an attribute so that it is neither listed nor described', async () => {
    // Prepare
    await put([{ name: 'doomed', value: 'yes' }]);

    // Act
    await berth.ecs.send(
      new DeleteAttributesCommand({
        cluster: 'attrs',
        attributes: [{ name: 'doomed', targetType: 'container-instance', targetId: idOf(target) }],
      }),
    );

    // Assess
    expect(await listByName('doomed')).toEqual([]);
    const attributes = attributeMap((await describeInstance('attrs', target)).attributes);
    expect(attributes).not.toHaveProperty('doomed');
    expect(attributes).toHaveProperty('zone', 'z1');
  });

  it('answers TargetNotFoundException for an unknown target and writes nothing', async () => {
    // Act
    const error = await errorOf(
      put([{ name: 'orphan', value: 'x', targetId: '0123456789abcdef0123456789abcdef' }]),
    );

    // Assess
    expect(error.name).toBe('TargetNotFoundException');
    expect(await listByName('orphan')).toEqual([]);
  });

  it('refuses attribute names starting with ecs. and keeps the built-in value', async () => {
    // Act
    const error = await errorOf(put([{ name: 'ecs.os-type', value: 'windows' }]));

    // Assess
    expect(error.name).toBe('InvalidParameterException');
    expect(attributeMap((await describeInstance('attrs', target)).attributes)['ecs.os-type']).toBe('linux');
  });

  it('allows ten custom attributes and refuses the eleventh with AttributeLimitExceededException', async () => {
    // Prepare: a fresh instance that registered with one custom attribute.
    const { containerInstanceArn: arn } = await registerAgent(berth, {
      cluster: 'attrs',
      attributes: [{ name: 'rack', value: 'r2' }],
    });
    const nine = Array.from({ length: 9 }, (_, i) => ({ name: `extra-${i}`, value: `v${i}`, targetId: arn }));
    await put(nine);

    // Act
    const error = await errorOf(put([{ name: 'one-too-many', value: 'x', targetId: arn }]));
    const update = await put([{ name: 'extra-0', value: 'changed', targetId: arn }]);

    // Assess
    expect(error.name).toBe('AttributeLimitExceededException');
    expect(update.attributes?.[0]?.value).toBe('changed');
    const attributes = attributeMap((await describeInstance('attrs', arn)).attributes);
    expect(Object.keys(attributes).filter((name) => !name.startsWith('ecs.'))).toHaveLength(10);
    expect(attributes).not.toHaveProperty('one-too-many');
    expect(attributes['extra-0']).toBe('changed');
  });
});
