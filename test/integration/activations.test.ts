import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateClusterCommand } from '@aws-sdk/client-ecs';
import {
  type Activation as ActivationDescription,
  CreateActivationCommand,
  DeleteActivationCommand,
  DescribeActivationsCommand,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAgent, startBerth, type TestBerth } from './harness.ts';

let berth: TestBerth;

beforeAll(async () => {
  berth = await startBerth();
  await berth.ecs.send(new CreateClusterCommand({ clusterName: 'default' }));
});

afterAll(async () => {
  await berth?.stop();
});

/** Every item of the table, read straight from DynamoDB Local (no Berth code in between). */
const scanTable = async (): Promise<Record<string, unknown>[]> => {
  const client = new DynamoDBClient({
    endpoint: berth.dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: berth.dynamoAccessKeyId, secretAccessKey: 'berthlocal' },
  });
  const items: Record<string, unknown>[] = [];
  try {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        // biome-ignore lint/suspicious/noExplicitAny: the raw key goes back as it came
        new ScanCommand({ TableName: 'berth', ExclusiveStartKey: startKey as any }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  } finally {
    client.destroy();
  }
  return items;
};

const describeOne = async (activationId: string) => {
  const output = await berth.ssm.send(
    new DescribeActivationsCommand({
      Filters: [{ FilterKey: 'ActivationIds', FilterValues: [activationId] }],
    }),
  );
  expect(output.ActivationList).toHaveLength(1);
  return output.ActivationList?.[0] as ActivationDescription;
};

const errorOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
  }
  throw new Error('expected the call to fail');
};

const hourMs = 3600 * 1000;
const dayMs = 24 * hourMs;

describe('CreateActivation', () => {
  it('defaults to one registration that expires 24 hours ahead', async () => {
    // Prepare
    const before = Date.now();

    // Act
    const created = await berth.ssm.send(new CreateActivationCommand({ IamRole: 'edge-role' }));

    // Assess
    expect(created.ActivationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.ActivationCode).toMatch(/^[A-Za-z0-9]{20}$/);
    const stored = await describeOne(created.ActivationId as string);
    expect(stored.RegistrationLimit).toBe(1);
    expect(stored.RegistrationsCount).toBe(0);
    expect(stored.Expired).toBe(false);
    expect(stored.IamRole).toBe('edge-role');
    const expires = stored.ExpirationDate?.getTime() ?? 0;
    expect(expires).toBeGreaterThanOrEqual(before + dayMs - 5000);
    expect(expires).toBeLessThanOrEqual(Date.now() + dayMs + 5000);
    expect(stored.CreatedDate?.getTime()).toBeGreaterThanOrEqual(before - 5000);
  });

  it('keeps the given limit, description, default instance name, expiry and tags', async () => {
    // Prepare
    const expiration = new Date(Math.floor((Date.now() + 7 * dayMs) / 1000) * 1000);

    // Act
    const created = await berth.ssm.send(
      new CreateActivationCommand({
        IamRole: 'edge-role',
        Description: 'berlin shop floor',
        DefaultInstanceName: 'shop-floor',
        RegistrationLimit: 1000,
        ExpirationDate: expiration,
        Tags: [
          { Key: 'site', Value: 'berlin' },
          { Key: 'team', Value: 'edge' },
        ],
      }),
    );

    // Assess
    const stored = await describeOne(created.ActivationId as string);
    expect(stored.RegistrationLimit).toBe(1000);
    expect(stored.Description).toBe('berlin shop floor');
    expect(stored.DefaultInstanceName).toBe('shop-floor');
    expect(stored.ExpirationDate?.getTime()).toBe(expiration.getTime());
    expect(stored.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'site', Value: 'berlin' },
        { Key: 'team', Value: 'edge' },
      ]),
    );
    expect(stored.Tags).toHaveLength(2);
  });

  it.each([0, 1001, -5])('refuses a registration limit of %i with ValidationException', async (limit) => {
    // Act
    const error = await errorOf(
      berth.ssm.send(new CreateActivationCommand({ IamRole: 'edge-role', RegistrationLimit: limit })),
    );

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.$metadata?.httpStatusCode).toBe(400);
  });

  it('refuses an expiration more than 30 days ahead with ValidationException', async () => {
    // Act
    const error = await errorOf(
      berth.ssm.send(
        new CreateActivationCommand({
          IamRole: 'edge-role',
          ExpirationDate: new Date(Date.now() + 31 * dayMs),
        }),
      ),
    );

    // Assess
    expect(error.name).toBe('ValidationException');
  });

  it('refuses an expiration in the past with ValidationException', async () => {
    // Act
    const error = await errorOf(
      berth.ssm.send(
        new CreateActivationCommand({ IamRole: 'edge-role', ExpirationDate: new Date(Date.now() - hourMs) }),
      ),
    );

    // Assess
    expect(error.name).toBe('ValidationException');
  });

  it('accepts an expiration just under 30 days ahead', async () => {
    // Prepare
    const expiration = new Date(Math.floor((Date.now() + 30 * dayMs - 60_000) / 1000) * 1000);

    // Act
    const created = await berth.ssm.send(
      new CreateActivationCommand({ IamRole: 'edge-role', ExpirationDate: expiration }),
    );

    // Assess
    const stored = await describeOne(created.ActivationId as string);
    expect(stored.ExpirationDate?.getTime()).toBe(expiration.getTime());
  });
});

describe('DescribeActivations', () => {
  it('returns only the activations named by an ActivationIds filter', async () => {
    // Prepare
    const [first, second, third] = await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        berth.ssm.send(new CreateActivationCommand({ IamRole: 'edge-role', Description: name })),
      ),
    );

    // Act
    const output = await berth.ssm.send(
      new DescribeActivationsCommand({
        Filters: [
          {
            FilterKey: 'ActivationIds',
            FilterValues: [first?.ActivationId as string, third?.ActivationId as string],
          },
        ],
      }),
    );

    // Assess
    const ids = (output.ActivationList ?? []).map((activation) => activation.ActivationId).sort();
    expect(ids).toEqual([first?.ActivationId, third?.ActivationId].sort());
    expect(ids).not.toContain(second?.ActivationId);
  });

  it('returns an empty list for an id that does not exist', async () => {
    // Act
    const output = await berth.ssm.send(
      new DescribeActivationsCommand({
        Filters: [{ FilterKey: 'ActivationIds', FilterValues: ['00000000-0000-0000-0000-000000000000'] }],
      }),
    );

    // Assess
    expect(output.ActivationList).toEqual([]);
  });

  it('pages through every activation with MaxResults and NextToken, each exactly once', async () => {
    // Prepare
    const created = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        berth.ssm.send(new CreateActivationCommand({ IamRole: 'paged', Description: `page-${i}` })),
      ),
    );

    // Act
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let nextToken: string | undefined;
    do {
      const page = await berth.ssm.send(
        new DescribeActivationsCommand({ MaxResults: 2, NextToken: nextToken }),
      );
      pageSizes.push(page.ActivationList?.length ?? 0);
      seen.push(...(page.ActivationList ?? []).map((activation) => activation.ActivationId as string));
      nextToken = page.NextToken;
    } while (nextToken);

    // Assess
    expect(pageSizes.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...pageSizes)).toBeLessThanOrEqual(2);
    expect(new Set(seen).size).toBe(seen.length);
    for (const activation of created) expect(seen).toContain(activation.ActivationId);
  });

  it('filters by IamRole', async () => {
    // Prepare
    const mine = await berth.ssm.send(new CreateActivationCommand({ IamRole: 'only-this-role' }));

    // Act
    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await berth.ssm.send(
        new DescribeActivationsCommand({
          Filters: [{ FilterKey: 'IamRole', FilterValues: ['only-this-role'] }],
          NextToken: nextToken,
        }),
      );
      seen.push(...(page.ActivationList ?? []).map((activation) => activation.ActivationId as string));
      nextToken = page.NextToken;
    } while (nextToken);

    // Assess
    expect(seen).toEqual([mine.ActivationId]);
  });
});

describe('DeleteActivation', () => {
  it('removes the activation so that registering with it is refused with 401', async () => {
    // Prepare
    const created = await berth.ssm.send(
      new CreateActivationCommand({ IamRole: 'edge-role', RegistrationLimit: 5 }),
    );

    // Act
    await berth.ssm.send(new DeleteActivationCommand({ ActivationId: created.ActivationId }));
    const registration = await berth.agent('/register', {
      activationId: created.ActivationId,
      activationCode: created.ActivationCode,
      hostname: 'late-host',
      agentVersion: '0.1.0',
      resources: { cpu: 1024, memory: 1024 },
    });

    // Assess
    expect(registration.status).toBe(401);
    const described = await berth.ssm.send(
      new DescribeActivationsCommand({
        Filters: [{ FilterKey: 'ActivationIds', FilterValues: [created.ActivationId as string] }],
      }),
    );
    expect(described.ActivationList).toEqual([]);
  });

  it('answers InvalidActivationId for an activation that does not exist', async () => {
    // Act
    const error = await errorOf(
      berth.ssm.send(new DeleteActivationCommand({ ActivationId: '00000000-0000-0000-0000-000000000000' })),
    );

    // Assess
    expect(error.name).toBe('InvalidActivationId');
  });
});

describe('secrets at rest', () => {
  it('stores neither the activation code nor the agent token anywhere in the table', async () => {
    // Prepare
    const activation = await berth.ssm.send(
      new CreateActivationCommand({ IamRole: 'edge-role', RegistrationLimit: 2 }),
    );
    const registration = await berth.agent('/register', {
      activationId: activation.ActivationId,
      activationCode: activation.ActivationCode,
      hostname: 'secret-host',
      agentVersion: '0.1.0',
      resources: { cpu: 1024, memory: 1024 },
    });
    expect(registration.status).toBe(200);
    const other = await registerAgent(berth);

    // Act
    const items = (await scanTable()).map((item) => JSON.stringify(item));

    // Assess
    // The scan does see what was written: the activation item and the registered instances.
    expect(items.some((item) => item.includes(activation.ActivationId as string))).toBe(true);
    expect(items.some((item) => item.includes('AGENTTOKEN#'))).toBe(true);
    for (const secret of [activation.ActivationCode as string, registration.body.token, other.token]) {
      expect(secret.length).toBeGreaterThanOrEqual(20);
      expect(items.filter((item) => item.includes(secret))).toEqual([]);
    }
  });
});
