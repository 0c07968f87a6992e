import { execFile } from 'node:child_process';
import { CreateClusterCommand, ListClustersCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBerth, type TestBerth } from '../integration/harness.ts';
import { scenarioTimeout } from './fleet.ts';
import { canonicalJson, scanTable } from './invariants.ts';
import { ecsTarget, post, type Signable, signRequest } from './signing.ts';

vi.setConfig({ testTimeout: scenarioTimeout(), hookTimeout: scenarioTimeout() });

/**
 * What a signature must cover. A captured request stays valid for 15 minutes, so every header that
 * steers it has to be signed: X-Amz-Target picks the action, X-Amz-Content-Sha256 stands for the body,
 * X-Amz-Security-Token names the credentials. Berth requires every X-Amz-* header present to be
 * signed (as AWS does), and refuses a session token its keys do not have. Each refusal is checked
 * against the whole table; the real AWS CLIs (v1 and v2) and the SDK show that clients keep working.
 */

let berth: TestBerth;

beforeAll(async () => {
  berth = await startBerth();
  await berth.ecs.send(new CreateClusterCommand({ clusterName: 'victim' }));
});

afterAll(async () => {
  await berth?.stop();
});

const tableState = async () => canonicalJson(await scanTable(berth.db));

/** Signs a request for the test's control plane and sends it, with `edit` applied after signing. */
const send = async (
  request: Signable,
  edit: (headers: Record<string, string>) => Record<string, string> = (headers) => headers,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = berth.credentials,
) => {
  const signed = await signRequest(berth.endpoint, credentials, request);
  return post(signed.url, edit(signed.headers), request.body);
};

const signedHeadersOf = (headers: Record<string, string>) =>
  /SignedHeaders=([^,\s]+)/.exec(headers.authorization ?? '')?.[1];

describe('a signature that leaves X-Amz-* headers out', () => {
  it('cannot be replayed as another action: ListServices signed over host;x-amz-date, sent as DeleteCluster', async () => {
    // Prepare: a request whose signature covers only host and x-amz-date, as a minimal signer makes it.
    const body = JSON.stringify({ cluster: 'victim' });
    const captured = await signRequest(berth.endpoint, berth.credentials, {
      target: ecsTarget('ListServices'),
      body,
      unsigned: ['content-type', 'x-amz-target'],
      applyChecksum: false,
    });
    const before = await tableState();

    // Act: the same signature, with another action in the unsigned X-Amz-Target.
    const replayed = await post(
      captured.url,
      { ...captured.headers, 'x-amz-target': ecsTarget('DeleteCluster') },
      body,
    );
    const original = await post(captured.url, captured.headers, body);

    // Assess
    expect(signedHeadersOf(captured.headers)).toBe('host;x-amz-date');
    expect([replayed.status, replayed.body.__type]).toEqual([400, 'InvalidSignatureException']);
    expect(String(replayed.body.message)).toMatch(/not signed.*x-amz-target/);
    expect([original.status, original.body.__type]).toEqual([400, 'InvalidSignatureException']);
    expect(await tableState()).toBe(before);
    const clusters = await berth.ecs.send(new ListClustersCommand({}));
    expect(clusters.clusterArns?.some((arn) => arn.endsWith(':cluster/victim'))).toBe(true);
  });

  it.each<[string, Signable, (headers: Record<string, string>) => Record<string, string>]>([
    [
      'an unsigned x-amz-content-sha256 (of another body)',
      {
        target: ecsTarget('CreateCluster'),
        body: JSON.stringify({ clusterName: 'sha' }),
        applyChecksum: false,
      },
      (headers) => ({ ...headers, 'x-amz-content-sha256': '0'.repeat(64) }),
    ],
    [
      'an unsigned x-amz-content-sha256 (of this body)',
      {
        target: ecsTarget('CreateCluster'),
        body: JSON.stringify({ clusterName: 'sha' }),
        unsigned: ['x-amz-content-sha256'],
      },
      (headers) => headers,
    ],
    [
      'an X-Amz-* header added after signing',
      { target: ecsTarget('CreateCluster'), body: JSON.stringify({ clusterName: 'added' }) },
      (headers) => ({ ...headers, 'X-Amz-Meta-Added': 'later' }),
    ],
    [
      'an X-Amz-* header the signer was told to leave out',
      {
        target: ecsTarget('CreateCluster'),
        body: JSON.stringify({ clusterName: 'left-out' }),
        headers: { 'x-amz-user-agent': 'aws-sdk-js/3' },
        unsigned: ['x-amz-user-agent'],
      },
      (headers) => headers,
    ],
    [
      'an unsigned X-Amz-Security-Token',
      { target: ecsTarget('CreateCluster'), body: JSON.stringify({ clusterName: 'token' }) },
      (headers) => ({ ...headers, 'x-amz-security-token': 'FwoGZXIvYXdzEXAMPLE' }),
    ],
  ])('refuses %s, and writes nothing', async (_, request, edit) => {
    // Prepare
    const before = await tableState();

    // Act
    const answer = await send(request, edit);

    // Assess
    expect([answer.status, answer.body.__type]).toEqual([400, 'InvalidSignatureException']);
    expect(String(answer.body.message)).toMatch(/not signed/);
    expect(await tableState()).toBe(before);
  });

  it('accepts headers outside X-Amz-* unsigned, such as the X-Amzn-Trace-Id a load balancer adds', async () => {
    // Act
    const answer = await send({ target: ecsTarget('ListClusters'), body: '{}' }, (headers) => ({
      ...headers,
      'x-amzn-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793',
    }));

    // Assess
    expect(answer.status).toBe(200);
  });
});

describe('a session token', () => {
  it('is refused as UnrecognizedClientException when signed with a key that has none, and nothing is written', async () => {
    // Prepare
    const before = await tableState();

    // Act
    const answer = await send(
      { target: ecsTarget('CreateCluster'), body: JSON.stringify({ clusterName: 'with-token' }) },
      undefined,
      { ...berth.credentials, sessionToken: 'FwoGZXIvYXdzEXAMPLE' },
    );

    // Assess
    expect([answer.status, answer.body.__type]).toEqual([400, 'UnrecognizedClientException']);
    expect(answer.body.message).toBe('The security token included in the request is invalid.');
    expect(await tableState()).toBe(before);
  });
});

/** Runs an AWS CLI against the control plane with only the environment given; resolves with its result. */
const awsCli = (binary: string, env: Record<string, string>, ...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      binary,
      ['--output', 'json', '--endpoint-url', berth.endpoint, ...args],
      {
        timeout: 60_000,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/tmp',
          AWS_CONFIG_FILE: '/nonexistent/berth-test-config',
          AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/berth-test-credentials',
          AWS_DEFAULT_REGION: berth.region,
          AWS_ACCESS_KEY_ID: berth.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: berth.credentials.secretAccessKey,
          AWS_PAGER: '',
          ...env,
        },
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });

describe('real clients', { timeout: scenarioTimeout() }, () => {
  it.each([
    ['v1 (aws on PATH)', 'aws'],
    ['v2 (/usr/bin/aws)', '/usr/bin/aws'],
  ])(
    'the AWS CLI %s signs everything it sends, and a session token it carries is refused',
    async (_, binary) => {
      // Act
      const ecs = await awsCli(binary, {}, 'ecs', 'list-clusters');
      const ssm = await awsCli(binary, {}, 'ssm', 'describe-activations');
      const withToken = await awsCli(
        binary,
        { AWS_SESSION_TOKEN: 'FwoGZXIvYXdzEXAMPLE' },
        'ecs',
        'list-clusters',
      );

      // Assess
      expect([ecs.code, ecs.stderr]).toEqual([0, '']);
      expect(JSON.parse(ecs.stdout).clusterArns).toEqual(
        expect.arrayContaining([expect.stringMatching(/:cluster\/victim$/)]),
      );
      expect([ssm.code, ssm.stderr]).toEqual([0, '']);
      expect(JSON.parse(ssm.stdout)).toHaveProperty('ActivationList');
      expect(withToken.code).not.toBe(0);
      expect(withToken.stderr).toContain('UnrecognizedClientException');
    },
  );

  it('the AWS SDK signs everything it sends', async () => {
    // Act
    const clusters = await berth.ecs.send(new ListClustersCommand({}));

    // Assess
    expect(clusters.clusterArns?.some((arn) => arn.endsWith(':cluster/victim'))).toBe(true);
  });
});
