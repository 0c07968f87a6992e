import {
  ClientException,
  CreateClusterCommand,
  ECSClient,
  InvalidParameterException,
  ListClustersCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from './harness.ts';

/**
 * The operator endpoint's protocol edge: SigV4 with Berth's own keys, AWS JSON 1.1 routing by
 * X-Amz-Target, body parsing and limits. Every rejected request here tries to write something, and
 * each test checks afterwards that nothing was written.
 */

const ecsTarget = (action: string) => `AmazonEC2ContainerServiceV20141113.${action}`;

let berth: TestBerth;

beforeAll(async () => {
  berth = await startBerth();
  // Something to compare against: one cluster and one task definition exist before any test.
  await berth.ecs.send(new CreateClusterCommand({ clusterName: 'wire-existing' }));
  await berth.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'wire-existing',
      containerDefinitions: [{ name: 'app', image: 'busybox', memory: 32 }],
    }),
  );
});

afterAll(async () => {
  await berth?.stop();
});

/** What is stored: every cluster and task definition ARN. */
const storedState = async () => ({
  clusters: ((await berth.ecs.send(new ListClustersCommand({}))).clusterArns ?? []).sort(),
  taskDefinitions: (
    (await berth.ecs.send(new ListTaskDefinitionsCommand({ status: 'ACTIVE' }))).taskDefinitionArns ?? []
  ).sort(),
});

type SignOptions = {
  target: string;
  body: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  signingDate?: Date;
  /** Also sign an x-amz-content-sha256 header (the smithy signer's default). */
  applyChecksum?: boolean;
};

/** Signs a hand-built AWS JSON 1.1 request the way the SDK does, and returns its headers. */
const signedHeaders = async (options: SignOptions): Promise<Record<string, string>> => {
  const url = new URL(berth.endpoint);
  const signer = new SignatureV4({
    service: 'ecs',
    region: berth.region,
    credentials: {
      accessKeyId: options.accessKeyId ?? berth.credentials.accessKeyId,
      secretAccessKey: options.secretAccessKey ?? berth.credentials.secretAccessKey,
    },
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: options.applyChecksum ?? true,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      query: {},
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': options.target,
      },
      body: options.body,
    },
    { signingDate: options.signingDate ?? new Date() },
  );
  // fetch sets Host itself, to the same host:port that was signed.
  const { host: _host, ...headers } = signed.headers;
  return headers;
};

/** POSTs a body with the given headers and answers the status and the parsed JSON body. */
const post = async (headers: Record<string, string>, body: string) => {
  const response = await fetch(`${berth.endpoint}/`, { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, string> };
};

const signedPost = async (options: SignOptions) => post(await signedHeaders(options), options.body);

const clientWith = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
  new ECSClient({ endpoint: berth.endpoint, region: berth.region, credentials, maxAttempts: 1 });

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('the request was expected to fail'),
    (error: unknown) => error as Error & { $metadata?: { httpStatusCode?: number } },
  );

describe('SigV4 verification', () => {
  it('accepts a correctly hand-signed request, so the refusals below are about what was changed', async () => {
    // Prepare
    const body = JSON.stringify({ clusterName: 'wire-hand-signed' });

    // Act
    const answer = await signedPost({ target: ecsTarget('CreateCluster'), body });

    // Assess
    expect(answer.status).toBe(200);
    expect((await storedState()).clusters).toContain(
      `arn:aws:ecs:${berth.region}:000000000000:cluster/wire-hand-signed`,
    );
  });

  it('refuses a request signed with a wrong secret as InvalidSignatureException', async () => {
    // Prepare
    const before = await storedState();
    const client = clientWith({
      accessKeyId: berth.credentials.accessKeyId,
      secretAccessKey: `${berth.credentials.secretAccessKey.slice(0, -1)}x`,
    });

    // Act
    const error = await failureOf(
      client.send(new CreateClusterCommand({ clusterName: 'wire-wrong-secret' })),
    );
    client.destroy();

    // Assess
    expect(error.name).toBe('InvalidSignatureException');
    expect(error.$metadata?.httpStatusCode).toBe(400);
    expect(await storedState()).toEqual(before);
  });

  it('refuses an unknown access key as UnrecognizedClientException', async () => {
    // Prepare
    const before = await storedState();
    const client = clientWith({
      accessKeyId: 'AKIAUNKNOWNUNKNOWN00',
      secretAccessKey: berth.credentials.secretAccessKey,
    });

    // Act
    const error = await failureOf(client.send(new CreateClusterCommand({ clusterName: 'wire-unknown-key' })));
    client.destroy();

    // Assess
    expect(error.name).toBe('UnrecognizedClientException');
    expect(await storedState()).toEqual(before);
  });

  it('refuses a request without a signature as MissingAuthenticationTokenException', async () => {
    // Prepare
    const before = await storedState();

    // Act
    const answer = await post(
      { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': ecsTarget('CreateCluster') },
      JSON.stringify({ clusterName: 'wire-unsigned' }),
    );

    // Assess
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.body.__type).toBe('MissingAuthenticationTokenException');
    expect(await storedState()).toEqual(before);
  });

  it('refuses a request signed 20 minutes ago as InvalidSignatureException', async () => {
    // Prepare
    const before = await storedState();
    const body = JSON.stringify({ clusterName: 'wire-stale' });
    const headers = await signedHeaders({
      target: ecsTarget('CreateCluster'),
      body,
      signingDate: new Date(Date.now() - 20 * 60 * 1000),
    });

    // Act
    const answer = await post(headers, body);

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.__type).toBe('InvalidSignatureException');
    expect(answer.body.message).toMatch(/expired/i);
    expect(await storedState()).toEqual(before);
  });

  it('refuses a request dated 20 minutes ahead as InvalidSignatureException', async () => {
    // Prepare
    const before = await storedState();
    const body = JSON.stringify({ clusterName: 'wire-future' });

    // Act
    const answer = await signedPost({
      target: ecsTarget('CreateCluster'),
      body,
      signingDate: new Date(Date.now() + 20 * 60 * 1000),
    });

    // Assess
    expect(answer.body.__type).toBe('InvalidSignatureException');
    expect(await storedState()).toEqual(before);
  });

  it.each([
    ['with a signed content hash', true],
    ['with the body hash only in the canonical request', false],
  ])('refuses a body changed after signing (%s) as InvalidSignatureException', async (_, applyChecksum) => {
    // Prepare
    const before = await storedState();
    const headers = await signedHeaders({
      target: ecsTarget('CreateCluster'),
      body: JSON.stringify({ clusterName: 'wire-signed-name' }),
      applyChecksum,
    });

    // Act
    const answer = await post(headers, JSON.stringify({ clusterName: 'wire-tampered' }));

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.__type).toBe('InvalidSignatureException');
    expect(await storedState()).toEqual(before);
  });

  it('refuses a signed X-Amz-Target changed after signing as InvalidSignatureException', async () => {
    // Prepare
    const before = await storedState();
    const body = JSON.stringify({ cluster: 'wire-existing' });
    const headers = await signedHeaders({ target: ecsTarget('DescribeClusters'), body });

    // Act
    const answer = await post({ ...headers, 'x-amz-target': ecsTarget('DeleteCluster') }, body);

    // Assess
    expect(answer.body.__type).toBe('InvalidSignatureException');
    expect(await storedState()).toEqual(before);
  });
});

describe('AWS JSON 1.1 routing and parsing', () => {
  it('answers an unknown X-Amz-Target with 400 UnknownOperationException', async () => {
    // Prepare
    const before = await storedState();

    // Act
    const answer = await signedPost({
      target: ecsTarget('LaunchEverything'),
      body: JSON.stringify({ clusterName: 'wire-unknown-operation' }),
    });

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.__type).toBe('UnknownOperationException');
    expect(await storedState()).toEqual(before);
  });

  it('answers a malformed JSON body with SerializationException', async () => {
    // Prepare
    const before = await storedState();

    // Act
    const answer = await signedPost({
      target: ecsTarget('CreateCluster'),
      body: '{"clusterName": "wire-bad-json",',
    });

    // Assess
    expect(answer.status).toBe(400);
    expect(['SerializationException', 'ClientException']).toContain(answer.body.__type);
    expect(await storedState()).toEqual(before);
  });

  it.each([
    ['CreateCluster', { clusterName: 5 }, 'clusterName'],
    ['CreateCluster', { clusterName: 'wire-bad-tags', tags: { key: 'k' } }, 'tags'],
    [
      'RegisterTaskDefinition',
      { family: 'wire-bad-type', containerDefinitions: [{ name: 'app', image: 'busybox', memory: '64' }] },
      'containerDefinitions[0].memory',
    ],
    [
      'RegisterTaskDefinition',
      { family: 'wire-bad-type', containerDefinitions: 'app' },
      'containerDefinitions',
    ],
  ])(
    'answers %s with a wrongly typed field as InvalidParameterException naming it',
    async (action, input, field) => {
      // Prepare
      const before = await storedState();

      // Act
      const answer = await signedPost({ target: ecsTarget(action), body: JSON.stringify(input) });

      // Assess
      expect(answer.status).toBe(400);
      expect(answer.body.__type).toBe('InvalidParameterException');
      expect(answer.body.message).toContain(field);
      expect(await storedState()).toEqual(before);
    },
  );

  it('reaches the SDK as a typed InvalidParameterException for a wrongly typed field', async () => {
    // Prepare
    const before = await storedState();

    // Act
    const error = await failureOf(
      berth.ecs.send(
        new RegisterTaskDefinitionCommand({
          family: 'wire-sdk-bad-type',
          containerDefinitions: [{ name: 'app', image: 'busybox', essential: 'yes' as unknown as boolean }],
        }),
      ),
    );

    // Assess
    expect(error).toBeInstanceOf(InvalidParameterException);
    expect(error.message).toContain('containerDefinitions[0].essential');
    expect(await storedState()).toEqual(before);
  });

  it('refuses a body over 128 KiB as ClientException', async () => {
    // Prepare
    const before = await storedState();
    const big = 'x'.repeat(130 * 1024);

    // Act
    const error = await failureOf(
      berth.ecs.send(
        new RegisterTaskDefinitionCommand({
          family: 'wire-too-big',
          containerDefinitions: [
            { name: 'app', image: 'busybox', memory: 32, environment: [{ name: 'BIG', value: big }] },
          ],
        }),
      ),
    );

    // Assess
    expect(error).toBeInstanceOf(ClientException);
    expect(error.message).toMatch(/larger than/);
    expect(await storedState()).toEqual(before);
  });

  it('accepts a signed body of 120 KiB, under the limit', async () => {
    // Prepare: unknown members are ignored, as AWS JSON services do, so padding only adds size.
    const before = await storedState();
    const body = JSON.stringify({ clusterName: 'wire-large-but-fine', padding: 'x'.repeat(120 * 1024) });

    // Act
    const answer = await signedPost({ target: ecsTarget('CreateCluster'), body });

    // Assess
    expect(answer.status).toBe(200);
    expect((await storedState()).clusters).toEqual(
      [...before.clusters, `arn:aws:ecs:${berth.region}:000000000000:cluster/wire-large-but-fine`].sort(),
    );
  });
});
