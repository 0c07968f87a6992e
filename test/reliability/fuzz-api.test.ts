import {
  CreateClusterCommand,
  CreateServiceCommand,
  ListClustersCommand,
  RegisterTaskDefinitionCommand,
  StartTaskCommand,
} from '@aws-sdk/client-ecs';
import { CreateActivationCommand } from '@aws-sdk/client-ssm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { actions } from '../../core/ecs/actions.ts';
import { registerAgent, startBerth, type TestBerth } from '../integration/harness.ts';
import { chaosScale, chaosSeed, scenarioTimeout } from './fleet.ts';
import { canonicalJson, scanTable } from './invariants.ts';
import { post, signRequest } from './signing.ts';

vi.setConfig({ testTimeout: scenarioTimeout(), hookTimeout: scenarioTimeout() });

/**
 * Every ECS and SSM action and every agent route, fed random and boundary JSON: valid requests
 * with one part replaced by something hostile (wrong types, huge strings and arrays, unicode, `#`
 * and quotes, deep nesting), whole random documents, oversized and broken bodies. Berth must answer
 * each with a client error or a success — never a server error, never a crash — and a refused
 * request must not have written anything (the DynamoDB client's meter counts every write call).
 */

let berth: TestBerth;
const world = { instanceArn: '', token: '', taskArn: '', activationId: '', clusterArn: '' };

beforeAll(async () => {
  // No reconciler, poller or sweeper: every write comes from the request being made.
  berth = await startBerth({ meter: true, withoutScheduler: true });
  world.clusterArn =
    (await berth.ecs.send(new CreateClusterCommand({ clusterName: 'fuzz' }))).cluster?.clusterArn ?? '';
  await berth.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'fuzz-app',
      containerDefinitions: [{ name: 'app', image: 'busybox', cpu: 16, memory: 16 }],
    }),
  );
  const agent = await registerAgent(berth, { cluster: 'fuzz', cpu: 1_048_576, memory: 1_048_576 });
  world.instanceArn = agent.containerInstanceArn;
  world.token = agent.token;
  await berth.ecs.send(
    new CreateServiceCommand({
      cluster: 'fuzz',
      serviceName: 'fuzz-svc',
      taskDefinition: 'fuzz-app',
      desiredCount: 0,
    }),
  );
  const started = await berth.ecs.send(
    new StartTaskCommand({
      cluster: 'fuzz',
      taskDefinition: 'fuzz-app',
      containerInstances: [agent.containerInstanceArn],
    }),
  );
  world.taskArn = started.tasks?.[0]?.taskArn ?? '';
  world.activationId =
    (await berth.ssm.send(new CreateActivationCommand({ IamRole: 'fuzz' }))).ActivationId ?? '';
});

afterAll(async () => {
  await berth?.stop();
});

/** A valid request body for every action, naming things that exist. */
const examples = (): Record<string, Record<string, unknown>> => ({
  CreateCluster: {
    clusterName: 'fz-c',
    tags: [{ key: 'k', value: 'v' }],
    settings: [{ name: 'containerInsights', value: 'enabled' }],
  },
  DescribeClusters: { clusters: ['fuzz'], include: ['TAGS'] },
  ListClusters: { maxResults: 10 },
  DeleteCluster: { cluster: 'fz-c' },
  UpdateCluster: { cluster: 'fuzz', settings: [{ name: 'containerInsights', value: 'disabled' }] },
  UpdateClusterSettings: { cluster: 'fuzz', settings: [{ name: 'containerInsights', value: 'enabled' }] },
  RegisterTaskDefinition: {
    family: 'fz-td',
    networkMode: 'bridge',
    containerDefinitions: [
      {
        name: 'app',
        image: 'busybox',
        memory: 64,
        portMappings: [{ containerPort: 80, hostPort: 8080 }],
        environment: [{ name: 'A', value: 'b' }],
        healthCheck: { command: ['CMD', 'true'], interval: 30 },
      },
    ],
  },
  DescribeTaskDefinition: { taskDefinition: 'fuzz-app', include: ['TAGS'] },
  ListTaskDefinitions: { familyPrefix: 'fuzz', status: 'ACTIVE', sort: 'DESC' },
  ListTaskDefinitionFamilies: { familyPrefix: 'fuzz' },
  DeregisterTaskDefinition: { taskDefinition: 'fz-td:1' },
  ListContainerInstances: { cluster: 'fuzz', filter: 'agentConnected == true', status: 'ACTIVE' },
  DescribeContainerInstances: { cluster: 'fuzz', containerInstances: [world.instanceArn], include: ['TAGS'] },
  UpdateContainerInstancesState: {
    cluster: 'fuzz',
    containerInstances: [world.instanceArn],
    status: 'ACTIVE',
  },
  DeregisterContainerInstance: {
    cluster: 'fuzz',
    containerInstance: 'ffffffffffffffffffffffffffffffff',
    force: true,
  },
  PutAttributes: {
    cluster: 'fuzz',
    attributes: [
      { name: 'stack', value: 'prod', targetType: 'container-instance', targetId: world.instanceArn },
    ],
  },
  ListAttributes: { cluster: 'fuzz', targetType: 'container-instance', attributeName: 'stack' },
  DeleteAttributes: { cluster: 'fuzz', attributes: [{ name: 'stack', targetId: world.instanceArn }] },
  TagResource: { resourceArn: world.clusterArn, tags: [{ key: 'team', value: 'edge' }] },
  UntagResource: { resourceArn: world.clusterArn, tagKeys: ['team'] },
  ListTagsForResource: { resourceArn: world.clusterArn },
  CreateService: {
    cluster: 'fuzz',
    serviceName: 'fz-s',
    taskDefinition: 'fuzz-app',
    desiredCount: 0,
    placementConstraints: [{ type: 'memberOf', expression: 'attribute:stack == prod' }],
    placementStrategy: [{ type: 'spread', field: 'instanceId' }],
    deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 50 },
  },
  UpdateService: { cluster: 'fuzz', service: 'fuzz-svc', desiredCount: 0, taskDefinition: 'fuzz-app' },
  DeleteService: { cluster: 'fuzz', service: 'fz-s', force: true },
  DescribeServices: { cluster: 'fuzz', services: ['fuzz-svc'], include: ['TAGS'] },
  ListServices: { cluster: 'fuzz', maxResults: 10 },
  RunTask: {
    cluster: 'fuzz',
    taskDefinition: 'fuzz-app',
    count: 1,
    startedBy: 'fuzz',
    overrides: {
      containerOverrides: [{ name: 'app', command: ['sh'], environment: [{ name: 'X', value: 'y' }] }],
    },
    placementConstraints: [{ type: 'distinctInstance' }],
  },
  StartTask: { cluster: 'fuzz', taskDefinition: 'fuzz-app', containerInstances: [world.instanceArn] },
  StopTask: { cluster: 'fuzz', task: world.taskArn, reason: 'fuzz' },
  ListTasks: { cluster: 'fuzz', desiredStatus: 'RUNNING', family: 'fuzz-app' },
  DescribeTasks: { cluster: 'fuzz', tasks: [world.taskArn], include: ['TAGS'] },
  CreateActivation: { IamRole: 'fuzz', RegistrationLimit: 2, Tags: [{ Key: 'k', Value: 'v' }] },
  DescribeActivations: { Filters: [{ FilterKey: 'ActivationIds', FilterValues: [world.activationId] }] },
  DeleteActivation: { ActivationId: '00000000-0000-4000-8000-000000000000' },
});

// --- hostile values ---------------------------------------------------------------------------------

const nested = (depth: number, leaf: unknown): unknown => {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { n: value };
  return value;
};

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53 + 2, -1e308, 1e308, '', [], {}),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(
    'a#b',
    '#',
    'CLUSTER#fuzz',
    '"quoted"',
    "it's",
    '\\',
    '\u0000',
    '\u202e',
    '💥',
    'fuzz#fuzz-svc',
    'arn:aws:ecs:us-east-1:000000000000:cluster/fuzz#x',
    'arn:aws:ecs:us-east-1:000000000000:task/fuzz/../../x',
    '../../etc/passwd',
    '__proto__',
    'constructor',
    // Lone surrogates (JSON's \ud800 escape): not well-formed Unicode.
    '\ud800',
    'x\udc00y',
  ),
  fc.constantFrom<unknown>(
    { '\ud800': 'x' },
    { constructor: 'x' },
    { constructor: { name: 'Set' } },
    { constructor: { name: 'Map' } },
    JSON.parse('{"__proto__": {"polluted": true}}'),
  ),
  fc.integer({ min: 1_000, max: 100_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 100, max: 20_000 }).map((n) => Array.from({ length: n }, (_, i) => `item-${i}`)),
  fc.integer({ min: 20, max: 3_000 }).map((depth) => nested(depth, 'deep')),
  fc.jsonValue({ maxDepth: 3 }),
  fc.object({ maxDepth: 2 }),
);

type Path = (string | number)[];
const pathsOf = (value: unknown, prefix: Path = []): Path[] => {
  const here = [prefix];
  if (Array.isArray(value)) return [...here, ...value.flatMap((item, i) => pathsOf(item, [...prefix, i]))];
  if (value && typeof value === 'object') {
    return [...here, ...Object.entries(value).flatMap(([key, item]) => pathsOf(item, [...prefix, key]))];
  }
  return here;
};

/** The example with the value at `path` replaced (or a key added beside it). */
const mutate = (example: unknown, path: Path, replacement: unknown, addKey?: string): unknown => {
  if (path.length === 0) {
    if (addKey !== undefined && example && typeof example === 'object' && !Array.isArray(example)) {
      return { ...example, [addKey]: replacement };
    }
    return replacement;
  }
  const [head, ...rest] = path as [string | number, ...Path];
  if (Array.isArray(example)) {
    const copy = [...example];
    copy[head as number] = mutate(copy[head as number], rest, replacement, addKey);
    return copy;
  }
  const record = example as Record<string, unknown>;
  return { ...record, [head]: mutate(record[head], rest, replacement, addKey) };
};

const mutation = (example: Record<string, unknown>): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc
      .tuple(fc.constantFrom(...pathsOf(example)), hostileValue)
      .map(([path, value]) => mutate(example, path, value)),
    fc
      .tuple(fc.constantFrom(...pathsOf(example)), fc.string({ maxLength: 12 }), hostileValue)
      .map(([path, key, value]) => mutate(example, path, value, key)),
    fc.constantFrom(...Object.keys(example)).map((key) => {
      const { [key]: _, ...rest } = example;
      return rest;
    }),
    hostileValue,
  );

/** The body as sent: JSON mostly, sometimes broken or over the size limit. */
const bodyOf = (value: unknown, variant: number): string => {
  if (variant === 0) return `${JSON.stringify(value ?? null).slice(0, -1)}`;
  if (variant === 1) return JSON.stringify({ pad: 'x'.repeat(140 * 1024), value });
  return JSON.stringify(value ?? null);
};

const writes = () => {
  const meter = berth.meter;
  if (!meter) throw new Error('meter off');
  const calls = [
    'PutItemCommand',
    'UpdateItemCommand',
    'DeleteItemCommand',
    'TransactWriteItemsCommand',
    'BatchWriteItemCommand',
  ];
  return { units: meter.writeUnits, calls: calls.reduce((sum, name) => sum + (meter.calls[name] ?? 0), 0) };
};

type Finding = { action: string; status: number; wrote: boolean; body: string; answer: string };

const record = (findings: Finding[], finding: Finding) => {
  if (finding.status >= 500 || (finding.status >= 400 && finding.wrote)) {
    findings.push({ ...finding, body: finding.body.slice(0, 300), answer: finding.answer.slice(0, 300) });
  }
};

describe('fuzzing the operator API', () => {
  const targets = Object.keys(actions);

  it('covers every action the endpoint serves', () => {
    expect(Object.keys(examples()).sort()).toEqual(targets.map((target) => target.split('.')[1]).sort());
  });

  it('answers hostile input to every action with a client error or a success, and writes nothing it refused', async () => {
    // Prepare
    const findings: Finding[] = [];
    const statuses = new Map<number, number>();
    const runsPerAction = 8 * chaosScale();

    // Act
    for (const target of targets) {
      const name = target.split('.')[1] as string;
      const example = examples()[name] as Record<string, unknown>;
      const cases = fc.sample(fc.tuple(mutation(example), fc.integer({ min: 0, max: 9 })), {
        numRuns: runsPerAction,
        seed: chaosSeed(7_777) + name.length,
      });
      for (const [value, variant] of cases) {
        const body = bodyOf(value, variant);
        const before = writes();
        const request = await signRequest(berth.endpoint, berth.credentials, { target, body });
        const answer = await post(request.url, request.headers, body);
        const after = writes();
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        record(findings, {
          action: name,
          status: answer.status,
          wrote: after.calls !== before.calls || after.units !== before.units,
          body,
          answer: JSON.stringify(answer.body),
        });
      }
    }
    // Still serving, and still answering correctly.
    const alive = await berth.ecs.send(new ListClustersCommand({}));

    // Assess
    expect(findings).toEqual([]);
    expect(alive.clusterArns).toContain(world.clusterArn);
    expect([...statuses.keys()].every((status) => status === 200 || (status >= 400 && status < 500))).toBe(
      true,
    );
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
  });
});

describe('inputs the fuzzing found answered with a server error', () => {
  const deep = (depth: number) => nested(depth, 'deep');
  const definition = (extra: Record<string, unknown>, container: Record<string, unknown> = {}) => ({
    family: 'fz-regression',
    containerDefinitions: [{ name: 'app', image: 'busybox', memory: 64, ...container }],
    ...extra,
  });
  it.each<[string, string, number, string | undefined, unknown]>([
    [
      'a number past 2^53 in a field kept as given',
      'RegisterTaskDefinition',
      400,
      'InvalidParameterException',
      definition({ extra: 2 ** 53 + 2 }),
    ],
    [
      'a number past DynamoDB range',
      'RegisterTaskDefinition',
      400,
      'InvalidParameterException',
      definition({}, { portMappings: [{ containerPort: 80, x: 1.7976931348623143e308 }] }),
    ],
    [
      'nesting 40 levels deep',
      'RegisterTaskDefinition',
      400,
      'InvalidParameterException',
      definition({}, { environment: deep(40) }),
    ],
    [
      'nesting 3000 levels deep',
      'RegisterTaskDefinition',
      400,
      'InvalidParameterException',
      definition({ extra: deep(3000) }),
    ],
    [
      'a map member named constructor holding an object',
      'RegisterTaskDefinition',
      400,
      'InvalidParameterException',
      definition({}, { dockerLabels: { constructor: { name: 'Set' } } }),
    ],
    [
      'a member with an empty name',
      'RegisterTaskDefinition',
      400,
      'InvalidParameterException',
      definition({}, { portMappings: [{ containerPort: 80, '': 1 }] }),
    ],
    [
      'a member named __proto__',
      'RegisterTaskDefinition',
      400,
      'InvalidParameterException',
      definition({}, { x: JSON.parse('{"__proto__": {"polluted": true}}') }),
    ],
    [
      'a label named constructor',
      'RegisterTaskDefinition',
      200,
      undefined,
      definition({}, { dockerLabels: { constructor: 'x' } }),
    ],
    [
      'a tag named constructor',
      'CreateCluster',
      200,
      undefined,
      { clusterName: 'fz-ctor', tags: [{ key: 'constructor', value: 'v' }] },
    ],
    [
      'an SSM tag named constructor',
      'CreateActivation',
      200,
      undefined,
      { IamRole: 'fuzz', Tags: [{ Key: 'constructor', Value: 'v' }] },
    ],
    [
      'an empty tag key',
      'UntagResource',
      400,
      'InvalidParameterException',
      { resourceArn: 'CLUSTER', tagKeys: [''] },
    ],
    [
      'a 70000-character tag key',
      'UntagResource',
      400,
      'InvalidParameterException',
      { resourceArn: 'CLUSTER', tagKeys: ['x'.repeat(70_000)] },
    ],
    [
      'a 2000-character family prefix',
      'ListTaskDefinitionFamilies',
      200,
      undefined,
      { familyPrefix: 'x'.repeat(2000) },
    ],
    [
      'a 3000-character activation id filter',
      'DescribeActivations',
      200,
      undefined,
      { Filters: [{ FilterKey: 'ActivationIds', FilterValues: ['x'.repeat(3000)] }] },
    ],
  ])('answers %s (%s) with HTTP %i %s', async (_, action, status, type, input) => {
    // Prepare
    const body = JSON.stringify(input).replace('"CLUSTER"', JSON.stringify(world.clusterArn));
    const target =
      action === 'CreateActivation' || action === 'DescribeActivations'
        ? `AmazonSSM.${action}`
        : `AmazonEC2ContainerServiceV20141113.${action}`;
    const request = await signRequest(berth.endpoint, berth.credentials, { target, body });

    // Act
    const answer = await post(request.url, request.headers, body);

    // Assess
    expect(answer.status).toBe(status);
    expect(answer.body.__type).toBe(type);
  });

  it('registers an agent whose attribute is named constructor', async () => {
    // Prepare
    const activation = await berth.ssm.send(new CreateActivationCommand({ IamRole: 'fuzz' }));

    // Act
    const answer = await berth.agent('/register', {
      activationId: activation.ActivationId,
      activationCode: activation.ActivationCode,
      cluster: 'fuzz',
      hostname: 'ctor',
      agentVersion: '0.1.0',
      resources: { cpu: 1024, memory: 1024 },
      attributes: [{ name: 'constructor', value: 'x' }],
    });

    // Assess
    expect(answer.status).toBe(200);
    const stored = (await scanTable(berth.db)).find(
      (item) => item.sk === `INSTANCE#${String(answer.body.containerInstanceArn).split('/').at(-1)}`,
    );
    expect((stored?.attributes as Record<string, unknown>)?.constructor).toBe('x');
  });
});

describe('fuzzing the agent API', () => {
  const send = async (method: string, path: string, body: string | undefined, token?: string) => {
    const response = await fetch(`${berth.endpoint}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      ...(body === undefined ? {} : { body }),
    });
    return { status: response.status, text: await response.text() };
  };
  /** The table, minus the failed-registration counters that a wrong code writes on purpose. */
  const state = async () =>
    canonicalJson((await scanTable(berth.db)).filter((item) => !item.pk.startsWith('REGFAIL#')));

  it('answers hostile registrations, syncs, doorbells and paths with client errors, and writes nothing it refused', async () => {
    // Prepare
    const findings: Finding[] = [];
    const registration = {
      activationId: world.activationId,
      activationCode: 'AAAAAAAAAAAAAAAAAAAA',
      cluster: 'fuzz',
      hostname: 'fuzz-host',
      agentVersion: '0.1.0',
      resources: { cpu: 1024, memory: 1024 },
      attributes: [{ name: 'a', value: 'b' }],
      reservedPorts: [22],
    };
    const sync = {
      assignmentVersion: 0,
      reports: [
        {
          taskArn: world.taskArn,
          seq: 1,
          lastStatus: 'PENDING',
          containers: [
            {
              name: 'app',
              lastStatus: 'PENDING',
              networkBindings: [{ containerPort: 80, hostPort: 80, protocol: 'tcp' }],
            },
          ],
        },
      ],
    };
    const runs = 25 * chaosScale();
    const registerCases = fc.sample(fc.tuple(mutation(registration), fc.integer({ min: 0, max: 9 })), {
      numRuns: runs,
      seed: chaosSeed(1),
    });
    const syncCases = fc.sample(fc.tuple(mutation(sync), fc.integer({ min: 0, max: 9 })), {
      numRuns: runs,
      seed: chaosSeed(2),
    });
    const tokens = fc.sample(
      fc.oneof(
        fc.constant(world.token),
        fc.string({ maxLength: 60 }),
        fc.constantFrom('', 'berth_', `${world.token}x`, world.token.toUpperCase()),
      ),
      { numRuns: runs, seed: chaosSeed(3) },
    );
    const waits = fc.sample(
      fc.oneof(
        fc.constantFrom('0', '-1', 'NaN', 'abc', '1e309', '', '0x10', '20%00'),
        fc.string({ maxLength: 8 }),
      ),
      {
        numRuns: 12,
        seed: chaosSeed(4),
      },
    );
    const paths = fc.sample(
      fc.tuple(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
        fc.stringMatching(/^[a-z0-9/._%-]{0,20}$/),
      ),
      { numRuns: 12, seed: chaosSeed(5) },
    );

    // Act
    const check = async (route: string, call: () => Promise<{ status: number; text: string }>, body = '') => {
      const before = await state();
      const answer = await call();
      const after = await state();
      record(findings, {
        action: route,
        status: answer.status,
        wrote: before !== after,
        body,
        answer: answer.text,
      });
      return answer.status;
    };
    for (const [value, variant] of registerCases) {
      const body = bodyOf(value, variant);
      await check('register', () => send('POST', '/agent/v1/register', body), body);
    }
    for (const [index, [value, variant]] of syncCases.entries()) {
      const body = bodyOf(value, variant);
      await check('sync', () => send('POST', '/agent/v1/sync', body, tokens[index]), body);
    }
    for (const wait of waits) {
      // A wait that does not parse means the longest; ring so the test does not sit through it.
      const ring = setTimeout(() => berth.doorbell.ring(world.instanceArn.split('/').at(-1) ?? ''), 50);
      await check(
        'doorbell',
        () => send('GET', `/agent/v1/doorbell?wait=${encodeURIComponent(wait)}`, undefined, world.token),
        wait,
      );
      clearTimeout(ring);
    }
    for (const [method, path] of paths) {
      await check(`${method} ${path}`, () =>
        send(method, `/agent/v1/${path}`, method === 'GET' ? undefined : '{}', world.token),
      );
    }

    // Assess
    expect(findings).toEqual([]);
  });
});
