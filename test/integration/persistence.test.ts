import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateClusterCommand,
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeTaskDefinitionCommand,
  ListClustersCommand,
  ListContainerInstancesCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { CreateActivationCommand, DescribeActivationsCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from './harness.ts';

let dataDir: string;
let restarted: TestBerth | undefined;
/** What the first run wrote and answered. */
const first = {
  credentials: { accessKeyId: '', secretAccessKey: '' },
  clusterArns: [] as string[],
  taskDefinitionArns: [] as string[],
  activationId: '',
  instanceArn: '',
  token: '',
};

const taskDefinition = (image: string) =>
  new RegisterTaskDefinitionCommand({
    family: 'web',
    requiresCompatibilities: ['EXTERNAL'],
    networkMode: 'bridge',
    containerDefinitions: [{ name: 'web', image, memory: 128, portMappings: [{ containerPort: 80 }] }],
  });

beforeAll(async () => {
  // Prepare: a first run that writes one of everything, then stops.
  dataDir = mkdtempSync(join(tmpdir(), 'berth-persistence-'));
  const berth = await startBerth({ inMemory: false, dataDir });
  try {
    first.credentials = { ...berth.credentials };
    for (const clusterName of ['default', 'edge']) {
      const created = await berth.ecs.send(new CreateClusterCommand({ clusterName }));
      first.clusterArns.push(created.cluster?.clusterArn as string);
    }
    for (const image of ['nginx:1.26', 'nginx:1.27']) {
      const registered = await berth.ecs.send(taskDefinition(image));
      first.taskDefinitionArns.push(registered.taskDefinition?.taskDefinitionArn as string);
    }
    const activation = await berth.ssm.send(
      new CreateActivationCommand({ IamRole: 'edge-role', RegistrationLimit: 3, Description: 'kept' }),
    );
    first.activationId = activation.ActivationId as string;
    const registration = await berth.agent('/register', {
      activationId: activation.ActivationId,
      activationCode: activation.ActivationCode,
      cluster: 'edge',
      hostname: 'kept-host',
      agentVersion: '0.2.0',
      resources: { cpu: 2048, memory: 2048 },
      attributes: [{ name: 'site', value: 'berlin' }],
    });
    expect(registration.status).toBe(200);
    first.instanceArn = registration.body.containerInstanceArn;
    first.token = registration.body.token;
  } finally {
    await berth.stop();
  }
  // Act: start again on the same data directory.
  restarted = await startBerth({ inMemory: false, dataDir });
});

afterAll(async () => {
  await restarted?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const berth = () => restarted as TestBerth;

describe('a restart on the same data directory', () => {
  it('keeps the admin credentials in a credentials.json only its owner can read', () => {
    // Assess
    expect(first.credentials.accessKeyId).toMatch(/^AKIA[A-Z0-9]{16}$/);
    expect(berth().credentials).toEqual(first.credentials);
    const file = join(dataDir, 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(first.credentials);
  });

  it('keeps every cluster', async () => {
    // Assess
    const listed = await berth().ecs.send(new ListClustersCommand({}));
    expect([...(listed.clusterArns ?? [])].sort()).toEqual([...first.clusterArns].sort());
    const described = await berth().ecs.send(new DescribeClustersCommand({ clusters: ['default', 'edge'] }));
    expect(described.clusters?.map((cluster) => [cluster.clusterName, cluster.status])).toEqual([
      ['default', 'ACTIVE'],
      ['edge', 'ACTIVE'],
    ]);
    expect(described.clusters?.[1]?.registeredContainerInstancesCount).toBe(1);
  });

  it('keeps both revisions of the task definition', async () => {
    // Assess
    const listed = await berth().ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'web' }));
    expect(listed.taskDefinitionArns).toEqual(first.taskDefinitionArns);
    expect(first.taskDefinitionArns.map((arn) => arn.split(':').at(-1))).toEqual(['1', '2']);
    for (const [index, image] of ['nginx:1.26', 'nginx:1.27'].entries()) {
      const described = await berth().ecs.send(
        new DescribeTaskDefinitionCommand({ taskDefinition: `web:${index + 1}` }),
      );
      expect(described.taskDefinition?.status).toBe('ACTIVE');
      expect(described.taskDefinition?.containerDefinitions?.[0]?.image).toBe(image);
    }
  });

  it('keeps the activation with its registrations count', async () => {
    // Assess
    const described = await berth().ssm.send(
      new DescribeActivationsCommand({
        Filters: [{ FilterKey: 'ActivationIds', FilterValues: [first.activationId] }],
      }),
    );
    expect(described.ActivationList).toHaveLength(1);
    expect(described.ActivationList?.[0]).toMatchObject({
      ActivationId: first.activationId,
      Description: 'kept',
      RegistrationLimit: 3,
      RegistrationsCount: 1,
      Expired: false,
    });
  });

  it('keeps the container instance and its token', async () => {
    // Assess
    const listed = await berth().ecs.send(new ListContainerInstancesCommand({ cluster: 'edge' }));
    expect(listed.containerInstanceArns).toEqual([first.instanceArn]);
    const described = await berth().ecs.send(
      new DescribeContainerInstancesCommand({ cluster: 'edge', containerInstances: [first.instanceArn] }),
    );
    const instance = described.containerInstances?.[0];
    expect(instance?.status).toBe('ACTIVE');
    expect(instance?.versionInfo?.agentVersion).toBe('0.2.0');
    expect(instance?.attributes).toContainEqual({ name: 'site', value: 'berlin' });
    expect(instance?.registeredResources?.find((r) => r.name === 'CPU')?.integerValue).toBe(2048);

    const dynamo = new DynamoDBClient({
      endpoint: berth().dynamoEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: berth().dynamoAccessKeyId, secretAccessKey: 'berthlocal' },
    });
    try {
      const tokenHash = createHash('sha256').update(first.token).digest('hex');
      const item = await dynamo.send(
        new GetItemCommand({
          TableName: 'berth',
          Key: { pk: { S: `AGENTTOKEN#${tokenHash}` }, sk: { S: 'TOKEN' } },
        }),
      );
      expect(item.Item?.instanceId?.S).toBe(first.instanceArn.split('/').at(-1));
    } finally {
      dynamo.destroy();
    }
  });
});
