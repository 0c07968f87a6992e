import {
  CreateClusterCommand,
  ListClustersCommand,
  ListServicesCommand,
  ListTaskDefinitionFamiliesCommand,
  ListTaskDefinitionsCommand,
} from '@aws-sdk/client-ecs';
import { DescribeActivationsCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from '../integration/harness.ts';

const token = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');

/**
 * Tokens an attacker (or a broken client) can craft: each resumes the right partition, so the
 * partition check alone lets them through to DynamoDB, which then refuses the start key.
 */
const craftedTokens = (partition: { name: string; value: string }) => [
  token({ [partition.name]: partition.value }),
  token({ [partition.name]: partition.value, sk: '' }),
  token({ [partition.name]: partition.value, sk: 'x', pk: 'x', gsi1sk: 'x', extra: 'x' }),
  token({ [partition.name]: partition.value, pk: '', sk: '', gsi1pk: partition.value, gsi1sk: '' }),
  token({ [partition.name]: partition.value, pk: 'x'.repeat(3000), sk: 'x', gsi1sk: 'x' }),
  token({ [partition.name]: partition.value, pk: 'a\ud800', sk: 'x', gsi1sk: 'x' }),
  token([partition.value]),
  '%%%not-base64%%%',
  'x'.repeat(5000),
];

describe('crafted nextTokens', () => {
  let berth: TestBerth;
  beforeAll(async () => {
    berth = await startBerth();
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'default' }));
  });
  afterAll(async () => berth.stop());

  const expectRefused = async (send: () => Promise<unknown>) => {
    const error = await send().then(
      () => undefined,
      (caught: { name?: string; $metadata?: { httpStatusCode?: number } }) => caught,
    );
    expect(error?.name).toBe('InvalidParameterException');
    expect(error?.$metadata?.httpStatusCode).toBe(400);
  };

  it('ListClusters answers InvalidParameterException for each, never 500', async () => {
    for (const nextToken of craftedTokens({ name: 'gsi1pk', value: 'CLUSTERS' })) {
      await expectRefused(() => berth.ecs.send(new ListClustersCommand({ nextToken })));
    }
  });

  it('ListServices answers InvalidParameterException for each', async () => {
    for (const nextToken of craftedTokens({ name: 'gsi1pk', value: 'SERVICES#default' })) {
      await expectRefused(() => berth.ecs.send(new ListServicesCommand({ nextToken })));
    }
  });

  it('ListTaskDefinitions (all, and by family) answers InvalidParameterException for each', async () => {
    for (const nextToken of craftedTokens({ name: 'gsi1pk', value: 'TASKDEFS' })) {
      await expectRefused(() => berth.ecs.send(new ListTaskDefinitionsCommand({ nextToken })));
    }
    for (const nextToken of craftedTokens({ name: 'pk', value: 'TASKDEF#web' })) {
      await expectRefused(() =>
        berth.ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'web', nextToken })),
      );
    }
  });

  it('ListTaskDefinitionFamilies answers InvalidParameterException for each', async () => {
    for (const nextToken of craftedTokens({ name: 'gsi1pk', value: 'TASKDEF_FAMILIES' })) {
      await expectRefused(() => berth.ecs.send(new ListTaskDefinitionFamiliesCommand({ nextToken })));
    }
  });

  it('still resumes with the tokens Berth itself hands out', async () => {
    for (const clusterName of ['a', 'b', 'c'])
      await berth.ecs.send(new CreateClusterCommand({ clusterName }));
    const first = await berth.ecs.send(new ListClustersCommand({ maxResults: 2 }));
    expect(first.clusterArns).toHaveLength(2);
    const rest = await berth.ecs.send(new ListClustersCommand({ nextToken: first.nextToken }));
    expect(
      [...(first.clusterArns ?? []), ...(rest.clusterArns ?? [])].map((arn) => arn.split('/')[1]).sort(),
    ).toEqual(['a', 'b', 'c', 'default']);
  });

  it('DescribeActivations answers InvalidParameterException for each', async () => {
    for (const NextToken of craftedTokens({ name: 'gsi1pk', value: 'ACTIVATIONS' })) {
      const error = await berth.ssm.send(new DescribeActivationsCommand({ NextToken })).then(
        () => undefined,
        (caught: { name?: string; $metadata?: { httpStatusCode?: number } }) => caught,
      );
      expect(error?.$metadata?.httpStatusCode).toBe(400);
      expect(error?.name).toBe('InvalidParameterException');
    }
  });
});
