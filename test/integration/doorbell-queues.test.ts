import { CreateClusterCommand } from '@aws-sdk/client-ecs';
import { CreateActivationCommand } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticKeys } from '../../core/auth/access-keys.ts';
import type { Doorbell } from '../../core/doorbell/port.ts';
import { createSqsDoorbells } from '../../core/doorbell/sqs.ts';
import { deregisterContainerInstanceAction } from '../../core/ecs/container-instances.ts';
import { createContext } from '../../core/ecs/context.ts';
import { createAgentApiHandler } from '../../functions/agent-api.ts';
import { logger } from '../../functions/deps.ts';
import { startBerth, type TestBerth } from './harness.ts';

// The AWS wiring of the doorbell, through the agent API's Lambda handler and the ECS action, on
// DynamoDB Local: every registered instance gets a queue before it exists, a refused registration
// leaves none behind, and a deregistered instance's queue is deleted. (SQS itself is the port's
// other side, core/doorbell/sqs.ts; no SQS runs here, so queues are recorded, not created.)

let berth: TestBerth;
const queues = new Set<string>();
const calls: string[] = [];
const doorbellQueues: Pick<Doorbell, 'create' | 'delete'> = {
  create: async (instanceId) => {
    calls.push(`create ${instanceId}`);
    queues.add(instanceId);
  },
  delete: async (instanceId) => {
    calls.push(`delete ${instanceId}`);
    queues.delete(instanceId);
  },
};

const event = (method: string, path: string, body: unknown, token?: string): APIGatewayProxyEventV2 =>
  ({
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { http: { method, sourceIp: '192.0.2.1' } },
  }) as unknown as APIGatewayProxyEventV2;

// Addresses are presigned locally (an HMAC over the request): no SQS is needed to make one.
const signer = createSqsDoorbells({
  region: 'eu-west-1',
  accountId: '123456789012',
  prefix: 'berth-ci-bell-',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
});

const agentApi = () =>
  createAgentApiHandler({
    db: berth.db,
    config: berth.config,
    lookupSecret: staticKeys([berth.credentials]),
    logger,
    doorbell: { ...doorbellQueues, ring: async () => {}, address: signer.address },
  });

const activation = async (limit: number) => {
  const output = await berth.ssm.send(
    new CreateActivationCommand({ IamRole: 'edge', RegistrationLimit: limit }),
  );
  return { activationId: output.ActivationId, activationCode: output.ActivationCode };
};

const register = (credentials: { activationId?: string; activationCode?: string }) =>
  agentApi()(
    event('POST', '/agent/v1/register', {
      ...credentials,
      hostname: 'edge-1',
      agentVersion: '0.1.0',
      resources: { cpu: 2048, memory: 4096 },
    }),
  );

const instanceIdOf = (arn: string) => arn.split('/').pop() ?? '';

beforeAll(async () => {
  berth = await startBerth({ withoutScheduler: true });
  await berth.ecs.send(new CreateClusterCommand({ clusterName: 'default' }));
});

afterAll(async () => {
  await berth?.stop();
});

describe('doorbell queues on AWS', () => {
  it('exist for every registered instance', async () => {
    // Prepare
    const credentials = await activation(1);
    // Act
    const response = await register(credentials);
    // Assess
    expect(response.statusCode).toBe(200);
    const instanceId = instanceIdOf(JSON.parse(response.body ?? '{}').containerInstanceArn);
    expect(queues.has(instanceId)).toBe(true);
    expect(calls).toContain(`create ${instanceId}`);
  });

  it('are long-polled straight from SQS with the address every sync answer carries', async () => {
    // Prepare
    const registered = JSON.parse((await register(await activation(1))).body ?? '{}');
    const instanceId = instanceIdOf(registered.containerInstanceArn);
    // Act
    const sync = await agentApi()(
      event('POST', '/agent/v1/sync', { assignmentVersion: 0, reports: [] }, registered.token),
    );
    // Assess: a presigned ReceiveMessage on this instance's queue, nothing else.
    expect(sync.statusCode).toBe(200);
    const { doorbell } = JSON.parse(sync.body ?? '{}');
    expect(doorbell.validForSeconds).toBe(900);
    const url = new URL(doorbell.url);
    expect(`${url.origin}${url.pathname}`).toBe(
      `https://sqs.eu-west-1.amazonaws.com/123456789012/berth-ci-bell-${instanceId}`,
    );
    expect(url.searchParams.get('Action')).toBe('ReceiveMessage');
    expect(url.searchParams.get('WaitTimeSeconds')).toBe('20');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(
      /^AKIDEXAMPLE\/\d{8}\/eu-west-1\/sqs\/aws4_request$/,
    );
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(doorbell.url).not.toContain(registered.token);
  });

  it('answer a sync without an address when none can be signed, the reports applied', async () => {
    // Prepare: credentials that cannot be had (as when the role's cannot be fetched).
    const registered = JSON.parse((await register(await activation(1))).body ?? '{}');
    const failing = createAgentApiHandler({
      db: berth.db,
      config: berth.config,
      lookupSecret: staticKeys([berth.credentials]),
      logger,
      doorbell: {
        ...doorbellQueues,
        ring: async () => {},
        address: async () => {
          throw new Error('Could not load credentials from any providers');
        },
      },
    });
    // Act
    const sync = await failing(
      event('POST', '/agent/v1/sync', { assignmentVersion: 0, reports: [] }, registered.token),
    );
    // Assess
    expect(sync.statusCode).toBe(200);
    const answer = JSON.parse(sync.body ?? '{}');
    expect(answer.doorbell).toBeUndefined();
    expect(answer.assignmentVersion).toBeGreaterThanOrEqual(0);
  });

  it('are removed again when the activation refuses the registration', async () => {
    // Prepare: an activation already used up.
    const credentials = await activation(1);
    expect((await register(credentials)).statusCode).toBe(200);
    const before = new Set(queues);
    // Act
    const refused = await register(credentials);
    // Assess
    expect(refused.statusCode).toBe(409);
    expect(queues).toEqual(before);
    const created = calls.filter((call) => call.startsWith('create ')).at(-1);
    expect(calls.at(-1)).toBe(created?.replace('create ', 'delete '));
  });

  it('are deleted with their instance, whose token then stops working', async () => {
    // Prepare
    const credentials = await activation(1);
    const registered = JSON.parse((await register(credentials)).body ?? '{}');
    const instanceId = instanceIdOf(registered.containerInstanceArn);
    const context = createContext(berth.db, berth.config, { accessKeyId: 'admin' }, undefined, {
      ...doorbellQueues,
      ring: async () => {},
      address: signer.address,
    });
    // Act
    await deregisterContainerInstanceAction.run(context, {
      containerInstance: registered.containerInstanceArn,
    });
    // Assess
    expect(queues.has(instanceId)).toBe(false);
    const sync = await agentApi()(
      event('POST', '/agent/v1/sync', { assignmentVersion: 0, reports: [] }, registered.token),
    );
    expect(sync.statusCode).toBe(401);
  });
});
