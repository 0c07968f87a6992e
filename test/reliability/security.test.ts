import { CreateClusterCommand, RegisterTaskDefinitionCommand, StartTaskCommand } from '@aws-sdk/client-ecs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registrationThrottle } from '../../core/agent-api/register-instance.ts';
import { type LocalHost, startLocalHost } from '../../local/host.ts';
import { registerAgent, startBerth, type TestBerth } from '../integration/harness.ts';
import { scenarioTimeout } from './fleet.ts';
import { canonicalJson, scanTable, type TableItem } from './invariants.ts';
import { attemptRegistration, newActivation } from './registration-attempts.ts';
import { ecsTarget, post, signRequest } from './signing.ts';

vi.setConfig({ testTimeout: scenarioTimeout(), hookTimeout: scenarioTimeout() });

/**
 * Hostile callers. SigV4 cases not covered by test/unit/sigv4.test.ts (the verifier's rules) and
 * test/integration/wire.test.ts (wrong secret, unknown key, no signature, stale and future dates,
 * tampered body and target): here a signed request is changed on the wire in its other parts. Agent
 * tokens: what agent-sync.test.ts does not show. And the slowing down of wrong activation codes.
 * Every refusal is checked against the whole table: nothing may have been written.
 */

let berth: TestBerth;
let second: LocalHost;
/**
 * Berth's clock, moved ahead only while a test talks to the unsigned agent API (a signed request
 * would be refused as skewed; the SDK re-learns the server's real time from each answer's Date).
 */
let clockOffsetMs = 0;
const now = () => new Date(Date.now() + clockOffsetMs);

beforeAll(async () => {
  berth = await startBerth({ now, sweepIntervalMs: 3_600_000 });
  // A second control plane on the same table: another Lambda instance, as far as the table knows.
  second = await startLocalHost({
    dynamoEndpoint: berth.dynamoEndpoint,
    dynamoAccessKeyId: berth.dynamoAccessKeyId,
    inMemory: true,
    port: 0,
    now,
    withoutScheduler: true,
    adminKeys: berth.credentials,
  });
  await berth.ecs.send(new CreateClusterCommand({ clusterName: 'sec' }));
});

afterAll(async () => {
  await second?.stop();
  await berth?.stop();
});

/** The table as canonical text, minus the failed-registration counters (written on purpose). */
const tableState = async (options: { withCounters?: boolean } = {}) =>
  canonicalJson(
    (await scanTable(berth.db)).filter(
      (item: TableItem) => options.withCounters || !item.pk.startsWith('REGFAIL#'),
    ),
  );

describe('SigV4 on the wire', () => {
  const body = JSON.stringify({ clusterName: 'sec-tampered' });
  const signed = () =>
    signRequest(berth.endpoint, berth.credentials, { target: ecsTarget('CreateCluster'), body });

  it('accepts the untouched request, so each refusal below is about the change made', async () => {
    // Prepare
    const request = await signRequest(berth.endpoint, berth.credentials, {
      target: ecsTarget('DescribeClusters'),
      body: JSON.stringify({ clusters: ['sec'] }),
    });

    // Act
    const answer = await post(request.url, request.headers, JSON.stringify({ clusters: ['sec'] }));

    // Assess
    expect(answer.status).toBe(200);
  });

  it.each<
    [
      string,
      (request: { url: string; headers: Record<string, string> }) => {
        url: string;
        headers: Record<string, string>;
      },
      string,
    ]
  >([
    [
      'a signed header changed (content-type)',
      (r) => ({ ...r, headers: { ...r.headers, 'content-type': 'application/json' } }),
      'InvalidSignatureException',
    ],
    [
      'X-Amz-Date moved by a second',
      (r) => ({
        ...r,
        headers: {
          ...r.headers,
          'x-amz-date':
            r.headers['x-amz-date']?.replace(/\d(Z)$/, (d) => `${(Number(d[0]) + 1) % 10}Z`) ?? '',
        },
      }),
      'InvalidSignatureException',
    ],
    ['the path changed', (r) => ({ ...r, url: r.url.replace(/\/$/, '/other') }), 'InvalidSignatureException'],
    [
      'a query parameter added',
      (r) => ({ ...r, url: `${r.url}?Action=DeleteCluster` }),
      'InvalidSignatureException',
    ],
    [
      'X-Amz-Date removed',
      (r) => ({
        ...r,
        headers: Object.fromEntries(Object.entries(r.headers).filter(([name]) => name !== 'x-amz-date')),
      }),
      'IncompleteSignatureException',
    ],
    [
      'a signed header removed (x-amz-content-sha256)',
      (r) => ({
        ...r,
        headers: Object.fromEntries(
          Object.entries(r.headers).filter(([name]) => name !== 'x-amz-content-sha256'),
        ),
      }),
      'InvalidSignatureException',
    ],
    [
      'the signature cut short',
      (r) => ({
        ...r,
        headers: { ...r.headers, authorization: r.headers.authorization?.slice(0, -2) ?? '' },
      }),
      'InvalidSignatureException',
    ],
  ])('refuses a request with %s, and writes nothing', async (_, tamper, type) => {
    // Prepare
    const before = await tableState();
    const request = tamper(await signed());

    // Act
    const answer = await post(request.url, request.headers, body);

    // Assess
    expect([answer.status, answer.body.__type]).toEqual([400, type]);
    expect(await tableState()).toBe(before);
  });

  it.each([
    ['the ssm service', { service: 'ssm' as const }, /correct service: 'ecs'/],
    ['another region', { region: 'eu-west-1' }, /valid region/],
  ])('refuses a signature scoped to %s, and writes nothing', async (_, scope, message) => {
    // Prepare
    const before = await tableState();
    const request = await signRequest(berth.endpoint, berth.credentials, {
      target: ecsTarget('CreateCluster'),
      body,
      ...scope,
    });

    // Act
    const answer = await post(request.url, request.headers, body);

    // Assess
    expect([answer.status, answer.body.__type]).toEqual([400, 'InvalidSignatureException']);
    expect(String(answer.body.message)).toMatch(message);
    expect(await tableState()).toBe(before);
  });
});

describe('agent tokens', () => {
  it("cannot touch another cluster's task by naming it in a report", async () => {
    // Prepare
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'sec-other' }));
    await berth.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'sec-app',
        containerDefinitions: [{ name: 'app', image: 'busybox', cpu: 128, memory: 128 }],
      }),
    );
    const mine = await registerAgent(berth, { cluster: 'sec' });
    const theirs = await registerAgent(berth, { cluster: 'sec-other' });
    const started = await berth.ecs.send(
      new StartTaskCommand({
        cluster: 'sec-other',
        taskDefinition: 'sec-app',
        containerInstances: [theirs.containerInstanceArn],
      }),
    );
    const theirTask = started.tasks?.[0]?.taskArn as string;
    const before = await tableState();
    const stop = (taskArn: string) => ({
      assignmentVersion: 0,
      reports: [
        {
          taskArn,
          seq: Date.now(),
          lastStatus: 'STOPPED',
          containers: [{ name: 'app', lastStatus: 'STOPPED', exitCode: 0 }],
        },
      ],
    });

    // Act: the task's own ARN, and its id dressed up as a task of the reporter's cluster.
    const direct = await berth.agent('/sync', stop(theirTask), mine.token);
    const disguised = await berth.agent('/sync', stop(theirTask.replace('/sec-other/', '/sec/')), mine.token);
    const after = await tableState();

    // Assess
    expect(direct.status).toBe(200);
    expect(disguised.status).toBe(200);
    expect(direct.body.tasks ?? []).toEqual([]);
    // Only the reporter's own heartbeat moved.
    const changed = (JSON.parse(after) as TableItem[]).filter(
      (item) =>
        !(JSON.parse(before) as TableItem[]).some((old) => canonicalJson(old) === canonicalJson(item)),
    );
    expect(changed.map((item) => item.sk)).toEqual([
      `HEARTBEAT#${mine.containerInstanceArn.split('/').at(-1)}`,
    ]);
  });

  it("refuses a deregistered instance's token on every route, and writes nothing", async () => {
    // Prepare
    const agent = await registerAgent(berth, { cluster: 'sec' });
    const { DeregisterContainerInstanceCommand } = await import('@aws-sdk/client-ecs');
    await berth.ecs.send(
      new DeregisterContainerInstanceCommand({
        cluster: 'sec',
        containerInstance: agent.containerInstanceArn,
        force: true,
      }),
    );
    const before = await tableState();

    // Act
    const sync = await berth.agent('/sync', { assignmentVersion: 0, reports: [] }, agent.token);
    const doorbell = await fetch(`${berth.endpoint}/agent/v1/doorbell?wait=0`, {
      headers: { authorization: `Bearer ${agent.token}` },
    });

    // Assess
    expect([sync.status, doorbell.status]).toEqual([401, 401]);
    expect(await tableState()).toBe(before);
  });
});

describe('wrong activation codes', () => {
  const { windowSeconds, perActivation, perSourceIp } = registrationThrottle;
  /** The last throttle window a test used: each test moves Berth's clock into a window of its own. */
  let lastWindow = Math.floor(Date.now() / 1000 / windowSeconds) * windowSeconds;
  const freshWindow = () => {
    lastWindow += windowSeconds;
    clockOffsetMs = (lastWindow + 1) * 1000 - Date.now();
  };
  afterEach(() => {
    clockOffsetMs = 0;
  });
  const activation = () => newActivation(berth.ssm, 'sec');
  const register = (host: { endpoint: string }, id: string, code: string) =>
    attemptRegistration(host, 'sec', id, code);
  const registrationsOf = async (id: string) =>
    (await scanTable(berth.db)).find((item) => item.pk === `ACTIVATION#${id}`)?.registrationsCount;

  it(`answers 429 with Retry-After after ${perActivation} wrong codes for an activation, counted across control planes, even to the right code`, async () => {
    // Prepare
    const target = await activation();
    freshWindow();

    // Act: the guesses alternate between two control planes sharing the table.
    const guesses = [];
    for (let i = 0; i < perActivation; i++) {
      guesses.push(await register(i % 2 === 0 ? berth : second, target.id, `wrong-guess-${i}`));
    }
    const throttled = await register(second, target.id, target.code);
    const counters = (await scanTable(berth.db)).filter(
      (item) => item.pk === `REGFAIL#ACTIVATION#${target.id}`,
    );
    freshWindow();
    const afterWindow = await register(berth, target.id, target.code);

    // Assess
    expect(guesses.map((guess) => guess.status)).toEqual(guesses.map(() => 401));
    expect(throttled.status).toBe(429);
    expect(throttled.body.code).toBe('TooManyRegistrationFailures');
    expect(Number(throttled.retryAfter)).toBeGreaterThan(0);
    expect(Number(throttled.retryAfter)).toBeLessThanOrEqual(windowSeconds);
    expect(counters).toEqual([
      expect.objectContaining({ ttl: expect.any(Number), type: 'registrationFailures' }),
    ]);
    expect([...((counters[0]?.failedAttempts as Set<string> | undefined) ?? [])]).toHaveLength(perActivation);
    expect(afterWindow.status).toBe(200);
    expect(await registrationsOf(target.id)).toBe(1);
  });

  it(`answers 429 to an address after ${perSourceIp} wrong codes from it, whichever activations they named`, async () => {
    // Prepare
    const target = await activation();
    freshWindow();

    // Act
    const guesses = [];
    for (let i = 0; i < perSourceIp; i++) {
      // Unknown ids count against the address alone.
      guesses.push(await register(berth, `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, 'guess'));
    }
    const throttled = await register(berth, target.id, target.code);

    // Assess
    expect(guesses.map((guess) => guess.status)).toEqual(guesses.map(() => 401));
    expect(throttled.status).toBe(429);
    expect(await registrationsOf(target.id)).toBe(0);
    freshWindow();
    expect((await register(berth, target.id, target.code)).status).toBe(200);
  });

  it('does not count a correct registration, nor an activation that is used up', async () => {
    // Prepare
    const target = await activation();
    freshWindow();
    const registered = await register(berth, target.id, target.code);

    // Act: used up is a conflict, not a guess.
    const usedUp = [];
    for (let i = 0; i <= perActivation; i++) usedUp.push(await register(berth, target.id, target.code));

    // Assess
    expect(registered.status).toBe(200);
    expect(usedUp.map((answer) => answer.status)).toEqual(usedUp.map(() => 409));
    expect(
      (await scanTable(berth.db)).filter((item) => item.pk === `REGFAIL#ACTIVATION#${target.id}`),
    ).toEqual([]);
  });
});
