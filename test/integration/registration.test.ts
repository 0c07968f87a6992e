import {
  type Attribute,
  type ContainerInstance,
  type ContainerInstanceStatus,
  CreateClusterCommand,
  DescribeContainerInstancesCommand,
  ListContainerInstancesCommand,
} from '@aws-sdk/client-ecs';
import { CreateActivationCommand, DescribeActivationsCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from './harness.ts';

let berth: TestBerth;
/** Berth's clock runs this far ahead of the real one: lets a test jump past an expiry. */
let clockOffsetMs = 0;

const clusters = ['default', 'edge', 'wrong-code', 'expired', 'race-10', 'race-50', 'bad-input'];

beforeAll(async () => {
  berth = await startBerth({ now: () => new Date(Date.now() + clockOffsetMs) });
  for (const clusterName of clusters) {
    await berth.ecs.send(new CreateClusterCommand({ clusterName }));
  }
});

afterAll(async () => {
  await berth?.stop();
});

const createActivation = (registrationLimit = 1) =>
  berth.ssm
    .send(new CreateActivationCommand({ IamRole: 'edge-role', RegistrationLimit: registrationLimit }))
    .then((output) => ({ id: output.ActivationId as string, code: output.ActivationCode as string }));

const registration = (
  activation: { id: string; code: string },
  overrides: Record<string, unknown> = {},
): Record<string, unknown> => ({
  activationId: activation.id,
  activationCode: activation.code,
  hostname: 'edge-host',
  agentVersion: '0.1.0',
  resources: { cpu: 4096, memory: 8192 },
  ...overrides,
});

const activationState = async (id: string) => {
  const output = await berth.ssm.send(
    new DescribeActivationsCommand({ Filters: [{ FilterKey: 'ActivationIds', FilterValues: [id] }] }),
  );
  return output.ActivationList?.[0];
};

/**
 * Every instance ARN of the cluster, whatever its status. (INACTIVE is Berth's extension: ECS's
 * status filter has no value for deregistered instances, so the SDK's type leaves it out.)
 */
const instanceArnsOf = async (cluster: string): Promise<string[]> => {
  const arns: string[] = [];
  for (const status of ['ACTIVE', 'DRAINING', 'REGISTERING', 'INACTIVE'] as ContainerInstanceStatus[]) {
    let nextToken: string | undefined;
    do {
      const page = await berth.ecs.send(
        new ListContainerInstancesCommand({ cluster, status, nextToken, maxResults: 100 }),
      );
      arns.push(...(page.containerInstanceArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
  }
  return arns;
};

const describeInstance = async (cluster: string, arn: string): Promise<ContainerInstance> => {
  const output = await berth.ecs.send(
    new DescribeContainerInstancesCommand({ cluster, containerInstances: [arn] }),
  );
  expect(output.failures).toEqual([]);
  expect(output.containerInstances).toHaveLength(1);
  return output.containerInstances?.[0] as ContainerInstance;
};

const resource = (instance: ContainerInstance, which: 'registered' | 'remaining', name: string) =>
  (which === 'registered' ? instance.registeredResources : instance.remainingResources)?.find(
    (r) => r.name === name,
  );

const attributeMap = (attributes: Attribute[] | undefined) =>
  Object.fromEntries((attributes ?? []).map((a) => [a.name, a.value ?? null]));

describe('POST /agent/v1/register', () => {
  it('registers the machine as an ACTIVE container instance and answers its ARN, cluster and token', async () => {
    // Prepare
    const activation = await createActivation();

    // Act
    const response = await berth.agent(
      '/register',
      registration(activation, {
        cluster: 'edge',
        hostname: 'berlin-01',
        agentVersion: '0.3.7',
        attributes: [{ name: 'site', value: 'berlin' }, { name: 'gpu' }],
      }),
    );

    // Assess
    expect(response.status).toBe(200);
    expect(response.body.cluster).toBe('edge');
    expect(response.body.containerInstanceArn).toMatch(
      /^arn:aws:ecs:us-east-1:\d{12}:container-instance\/edge\/[A-Za-z0-9]+$/,
    );
    expect(response.body.token).toEqual(expect.any(String));
    expect(response.body.token.length).toBeGreaterThanOrEqual(32);

    const listed = await berth.ecs.send(new ListContainerInstancesCommand({ cluster: 'edge' }));
    expect(listed.containerInstanceArns).toEqual([response.body.containerInstanceArn]);

    const instance = await describeInstance('edge', response.body.containerInstanceArn);
    expect(instance.containerInstanceArn).toBe(response.body.containerInstanceArn);
    expect(instance.status).toBe('ACTIVE');
    expect(instance.agentConnected).toBe(true);
    expect(instance.versionInfo?.agentVersion).toBe('0.3.7');
    expect(instance.ec2InstanceId).toMatch(/^mi-[0-9a-f]{17}$/);
    expect(instance.runningTasksCount).toBe(0);
    expect(instance.pendingTasksCount).toBe(0);
    for (const which of ['registered', 'remaining'] as const) {
      expect(resource(instance, which, 'CPU')).toMatchObject({ type: 'INTEGER', integerValue: 4096 });
      expect(resource(instance, which, 'MEMORY')).toMatchObject({ type: 'INTEGER', integerValue: 8192 });
      expect(resource(instance, which, 'PORTS')?.type).toBe('STRINGSET');
      expect([...(resource(instance, which, 'PORTS')?.stringSetValue ?? [])].sort()).toEqual(
        ['22', '2375', '2376', '51678', '51679'].sort(),
      );
      expect(resource(instance, which, 'PORTS_UDP')).toMatchObject({ type: 'STRINGSET', stringSetValue: [] });
    }
    const attributes = attributeMap(instance.attributes);
    expect(attributes).toMatchObject({
      'ecs.os-type': 'linux',
      'ecs.cpu-architecture': 'x86_64',
      'ecs.capability.external': null,
      site: 'berlin',
      gpu: null,
    });
    expect((await activationState(activation.id))?.RegistrationsCount).toBe(1);
  });

  it('registers into the default cluster when none is given, keeping the agent’s architecture', async () => {
    // Prepare
    const activation = await createActivation();

    // Act
    const response = await berth.agent(
      '/register',
      registration(activation, { attributes: [{ name: 'ecs.cpu-architecture', value: 'arm64' }] }),
    );

    // Assess
    expect(response.status).toBe(200);
    expect(response.body.cluster).toBe('default');
    const instance = await describeInstance('default', response.body.containerInstanceArn);
    expect(attributeMap(instance.attributes)['ecs.cpu-architecture']).toBe('arm64');
  });

  it('refuses a wrong activation code with 401 and writes nothing', async () => {
    // Prepare
    const activation = await createActivation();

    // Act
    const response = await berth.agent(
      '/register',
      registration({ id: activation.id, code: 'AAAAAAAAAAAAAAAAAAAA' }, { cluster: 'wrong-code' }),
    );

    // Assess
    expect(response.status).toBe(401);
    expect(response.body.code).toEqual(expect.any(String));
    expect(JSON.stringify(response.body)).not.toContain(activation.code);
    expect(await instanceArnsOf('wrong-code')).toEqual([]);
    expect((await activationState(activation.id))?.RegistrationsCount).toBe(0);
  });

  it('refuses an unknown activation id with the same 401 as a wrong code', async () => {
    // Prepare
    const activation = await createActivation();

    // Act
    const unknownId = await berth.agent(
      '/register',
      registration({ id: '00000000-0000-0000-0000-000000000000', code: activation.code }),
    );
    const wrongCode = await berth.agent('/register', registration({ id: activation.id, code: 'x' }));

    // Assess
    expect(unknownId.status).toBe(401);
    expect(unknownId.body).toEqual(wrongCode.body);
  });

  it('refuses an unknown cluster with ClusterNotFoundException and consumes no registration', async () => {
    // Prepare
    const activation = await createActivation();

    // Act
    const response = await berth.agent('/register', registration(activation, { cluster: 'no-such-cluster' }));

    // Assess
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.body.code).toBe('ClusterNotFoundException');
    expect((await activationState(activation.id))?.RegistrationsCount).toBe(0);
  });

  it('refuses an expired activation with 401 and writes nothing', async () => {
    // Prepare
    const activation = await createActivation();
    clockOffsetMs = 25 * 3600 * 1000;

    // Act
    let response: Awaited<ReturnType<TestBerth['agent']>>;
    try {
      response = await berth.agent('/register', registration(activation, { cluster: 'expired' }));
    } finally {
      clockOffsetMs = 0;
    }

    // Assess
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('ActivationExpired');
    expect(await instanceArnsOf('expired')).toEqual([]);
    expect((await activationState(activation.id))?.RegistrationsCount).toBe(0);
  });

  it('accepts the same activation again before it expires (the clock is what refused it)', async () => {
    // Prepare
    const activation = await createActivation();
    clockOffsetMs = 23 * 3600 * 1000;

    // Act
    let response: Awaited<ReturnType<TestBerth['agent']>>;
    try {
      response = await berth.agent('/register', registration(activation, { cluster: 'expired' }));
    } finally {
      clockOffsetMs = 0;
    }

    // Assess
    expect(response.status).toBe(200);
    expect(await instanceArnsOf('expired')).toEqual([response.body.containerInstanceArn]);
  });

  it('refuses a body that is not JSON with 400', async () => {
    // Act
    const response = await berth.agent('/register', '{"activationId": ');

    // Assess
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/JSON/);
  });

  it.each([
    ['resources.cpu', { resources: { cpu: '4096', memory: 8192 } }],
    ['resources.memory', { resources: { cpu: 4096, memory: -1 } }],
    ['hostname', { hostname: 42 }],
    ['activationCode', { activationCode: undefined }],
    ['attributes[0].name', { attributes: [{ name: 'has space', value: 'x' }] }],
  ])('refuses a wrongly typed or missing %s with 400 naming the field', async (field, overrides) => {
    // Prepare
    const activation = await createActivation();

    // Act
    const response = await berth.agent(
      '/register',
      registration(activation, { cluster: 'bad-input', ...overrides }),
    );

    // Assess
    expect(response.status).toBe(400);
    expect(response.body.message).toContain(field);
    expect(await instanceArnsOf('bad-input')).toEqual([]);
    expect((await activationState(activation.id))?.RegistrationsCount).toBe(0);
  });
});

/**
 * Registers as the agent does (agent/client.ts, agent/agent.ts): a 5xx or 429 answer is no answer,
 * so it tries again after a jittered pause. A hundred transactions racing on one activation item
 * lose races to each other (more of them on a slower machine), and a registration that keeps losing
 * is answered 503 rather than held forever: what must not depend on the machine's speed is the
 * outcome, not how many tries it took.
 */
const registerAsAnAgent = async (body: Record<string, unknown>) => {
  for (let attempt = 1; ; attempt++) {
    const response = await berth.agent('/register', body);
    if ((response.status < 500 && response.status !== 429) || attempt >= 40) return response;
    await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100 * Math.min(attempt, 10)));
  }
};

// A hundred transactions racing on one item: allow for retries on a busy machine.
describe('registration under concurrency', { timeout: 240_000 }, () => {
  it('lets exactly 10 of 100 parallel registrations through an activation limited to 10', async () => {
    // Prepare
    const activation = await createActivation(10);

    // Act
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        registerAsAnAgent(registration(activation, { cluster: 'race-10', hostname: `racer-${i}` })),
      ),
    );

    // Assess
    const succeeded = responses.filter((response) => response.status === 200);
    const refused = responses.filter((response) => response.status >= 400 && response.status < 500);
    expect(succeeded).toHaveLength(10);
    expect(refused).toHaveLength(90);
    expect(new Set(refused.map((response) => response.body.code))).toEqual(
      new Set(['ActivationLimitExceeded']),
    );
    const arns = await instanceArnsOf('race-10');
    expect(arns).toHaveLength(10);
    expect(new Set(arns)).toEqual(new Set(succeeded.map((response) => response.body.containerInstanceArn)));
    expect(new Set(succeeded.map((response) => response.body.token)).size).toBe(10);
    const state = await activationState(activation.id);
    expect(state?.RegistrationsCount).toBe(10);
    expect(state?.RegistrationLimit).toBe(10);
  });

  it('lets all 50 parallel registrations through an activation limited to 50, as 50 instances', async () => {
    // Prepare
    const activation = await createActivation(50);

    // Act
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        registerAsAnAgent(registration(activation, { cluster: 'race-50', hostname: `racer-${i}` })),
      ),
    );

    // Assess
    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(200));
    const answered = new Set(responses.map((response) => response.body.containerInstanceArn));
    expect(answered.size).toBe(50);
    const arns = await instanceArnsOf('race-50');
    expect(arns).toHaveLength(50);
    expect(new Set(arns)).toEqual(answered);
    expect((await activationState(activation.id))?.RegistrationsCount).toBe(50);
  });
});
