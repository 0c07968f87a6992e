import {
  ClientException,
  type ContainerDefinition,
  type ContainerInstance,
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  InvalidParameterException,
  ListTasksCommand,
  type ListTasksCommandInput,
  RunTaskCommand,
  StartTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, idOf, registerFamily } from './fixtures.ts';
import { registerAgent, startBerth, type TestBerth } from './harness.ts';
import { fleet, settle, tasksOf } from './scripted-agent.ts';

let berth: TestBerth;

beforeAll(async () => {
  berth = await startBerth({ sweepIntervalMs: 3_600_000 });
});

afterAll(async () => {
  await berth?.stop();
});

/** Registers a sleeping one-container definition with `container`'s fields; answers its ARN. */
const registerDefinition = (family: string, container: Partial<ContainerDefinition> = {}) =>
  registerFamily(berth, family, 1, {
    container: () => ({
      command: ['sleep', 'infinity'],
      environment: [{ name: 'MODE', value: 'default' }],
      ...container,
    }),
  });

const describeInstance = async (cluster: string, instanceId: string): Promise<ContainerInstance> => {
  const answer = await berth.ecs.send(
    new DescribeContainerInstancesCommand({ cluster, containerInstances: [instanceId] }),
  );
  const instance = answer.containerInstances?.[0];
  if (!instance) throw new Error(`instance ${instanceId} not found`);
  return instance;
};

const resource = (instance: ContainerInstance, name: string) =>
  instance.remainingResources?.find((r) => r.name === name);

const listTasks = async (input: ListTasksCommandInput) =>
  ((await berth.ecs.send(new ListTasksCommand(input))).taskArns ?? []).sort();

describe('RunTask', () => {
  it('places one to ten tasks per call and refuses eleven', async () => {
    // Prepare
    const agents = await fleet(berth, 'run-count', 3);
    await registerDefinition('run-count');

    // Act
    const ten = await berth.ecs.send(
      new RunTaskCommand({ cluster: 'run-count', taskDefinition: 'run-count', count: 10 }),
    );
    const eleven = await errorOf(
      berth.ecs.send(new RunTaskCommand({ cluster: 'run-count', taskDefinition: 'run-count', count: 11 })),
    );
    const none = await errorOf(
      berth.ecs.send(new RunTaskCommand({ cluster: 'run-count', taskDefinition: 'run-count', count: 0 })),
    );
    await settle(berth, agents);

    // Assess
    expect(ten.tasks).toHaveLength(10);
    expect(ten.failures).toEqual([]);
    expect(eleven).toBeInstanceOf(InvalidParameterException);
    expect(none).toBeInstanceOf(InvalidParameterException);
    const tasks = await tasksOf(berth, { cluster: 'run-count' });
    expect(tasks).toHaveLength(10);
    expect(tasks.every((task) => task.lastStatus === 'RUNNING' && task.group === 'family:run-count')).toBe(
      true,
    );
    expect(agents.flatMap((agent) => agent.running())).toHaveLength(10);
  });

  it('answers placement failures in failures[] with the reason of the closest instance', async () => {
    // Prepare
    const [agent] = await fleet(berth, 'run-short', 1, { cpu: 1024, memory: 1024 });
    await fleet(berth, 'run-empty', 0);
    await registerDefinition('run-short-cpu', { cpu: 2048, memory: 128 });
    await registerDefinition('run-short-memory', { cpu: 128, memory: 2048 });
    await registerDefinition('run-short-port', { portMappings: [{ containerPort: 80, hostPort: 8080 }] });
    const run = (cluster: string, taskDefinition: string) =>
      berth.ecs.send(new RunTaskCommand({ cluster, taskDefinition }));
    const instanceArn = agent?.containerInstanceArn;

    // Act
    const cpu = await run('run-short', 'run-short-cpu');
    const memory = await run('run-short', 'run-short-memory');
    const firstPort = await run('run-short', 'run-short-port');
    const secondPort = await run('run-short', 'run-short-port');
    const noInstances = await run('run-empty', 'run-short-port');

    // Assess
    expect(cpu).toMatchObject({ tasks: [], failures: [{ arn: instanceArn, reason: 'RESOURCE:CPU' }] });
    expect(memory).toMatchObject({ tasks: [], failures: [{ arn: instanceArn, reason: 'RESOURCE:MEMORY' }] });
    expect(firstPort.tasks).toHaveLength(1);
    expect(firstPort.failures).toEqual([]);
    expect(secondPort).toMatchObject({
      tasks: [],
      failures: [{ arn: instanceArn, reason: 'RESOURCE:PORTS' }],
    });
    expect(noInstances).toMatchObject({ tasks: [], failures: [{ reason: 'AGENT' }] });
    expect(await tasksOf(berth, { cluster: 'run-short' })).toHaveLength(1);
    expect(await tasksOf(berth, { cluster: 'run-empty' })).toHaveLength(0);
  });

  it('answers the same tasks for a repeated clientToken and refuses it with other parameters', async () => {
    // Prepare
    await fleet(berth, 'run-token', 2);
    await registerDefinition('run-token');
    const input = { cluster: 'run-token', taskDefinition: 'run-token', count: 2, clientToken: 'deploy-42' };
    const first = await berth.ecs.send(new RunTaskCommand(input));

    // Act
    const again = await berth.ecs.send(new RunTaskCommand(input));
    const otherParameters = await errorOf(berth.ecs.send(new RunTaskCommand({ ...input, count: 3 })));
    const tooLong = await errorOf(
      berth.ecs.send(new RunTaskCommand({ ...input, clientToken: 'x'.repeat(65) })),
    );

    // Assess
    const arns = (answer: typeof first) => (answer.tasks ?? []).map((task) => task.taskArn).sort();
    expect(arns(first)).toHaveLength(2);
    expect(arns(again)).toEqual(arns(first));
    expect(otherParameters).toBeInstanceOf(ClientException);
    expect(tooLong).toBeInstanceOf(InvalidParameterException);
    expect((await tasksOf(berth, { cluster: 'run-token' })).map((task) => task.taskArn).sort()).toEqual(
      arns(first),
    );
  });

  it('hands the container overrides to the agent', async () => {
    // Prepare
    const [agent] = await fleet(berth, 'run-overrides', 1);
    await registerDefinition('run-overrides');

    // Act
    const run = await berth.ecs.send(
      new RunTaskCommand({
        cluster: 'run-overrides',
        taskDefinition: 'run-overrides',
        overrides: {
          containerOverrides: [
            {
              name: 'app',
              command: ['echo', 'overridden'],
              environment: [
                { name: 'MODE', value: 'override' },
                { name: 'EXTRA', value: '1' },
              ],
            },
          ],
        },
      }),
    );
    await agent?.sync();

    // Assess
    const assigned = agent?.held.get(run.tasks?.[0]?.taskArn ?? '')?.task;
    expect(assigned?.containers[0]?.command).toEqual(['echo', 'overridden']);
    expect(assigned?.containers[0]?.environment).toEqual(
      expect.arrayContaining([
        { name: 'MODE', value: 'override' },
        { name: 'EXTRA', value: '1' },
      ]),
    );
    expect(assigned?.containers[0]?.environment).toHaveLength(2);
    const [described] =
      (
        await berth.ecs.send(
          new DescribeTasksCommand({ cluster: 'run-overrides', tasks: [run.tasks?.[0]?.taskArn ?? ''] }),
        )
      ).tasks ?? [];
    expect(described?.overrides?.containerOverrides?.[0]?.command).toEqual(['echo', 'overridden']);
  });
});

describe('StartTask', () => {
  it('starts one task on each named instance', async () => {
    // Prepare
    const agents = await fleet(berth, 'start', 3);
    await registerDefinition('start');
    const named = [agents[0], agents[2]].map((agent) => agent?.containerInstanceArn ?? '');

    // Act
    const started = await berth.ecs.send(
      new StartTaskCommand({ cluster: 'start', taskDefinition: 'start', containerInstances: named }),
    );
    await settle(berth, agents);

    // Assess
    expect(started.failures).toEqual([]);
    expect((started.tasks ?? []).map((task) => task.containerInstanceArn).sort()).toEqual([...named].sort());
    expect(agents.map((agent) => agent.running().length)).toEqual([1, 0, 1]);
  });
});

describe('ListTasks', () => {
  it('filters by family, service, instance, desired status and startedBy', async () => {
    // Prepare
    const agents = await fleet(berth, 'list', 2);
    await registerDefinition('list-a');
    await registerDefinition('list-b');
    const [onFirst] =
      (
        await berth.ecs.send(
          new StartTaskCommand({
            cluster: 'list',
            taskDefinition: 'list-a',
            containerInstances: [agents[0]?.containerInstanceArn ?? ''],
            startedBy: 'nightly',
          }),
        )
      ).tasks ?? [];
    const [onSecond] =
      (
        await berth.ecs.send(
          new StartTaskCommand({
            cluster: 'list',
            taskDefinition: 'list-b',
            containerInstances: [agents[1]?.containerInstanceArn ?? ''],
          }),
        )
      ).tasks ?? [];
    const [toStop] =
      (await berth.ecs.send(new RunTaskCommand({ cluster: 'list', taskDefinition: 'list-b' }))).tasks ?? [];
    await berth.ecs.send(
      new CreateServiceCommand({
        cluster: 'list',
        serviceName: 'svc',
        taskDefinition: 'list-a',
        desiredCount: 1,
      }),
    );
    await settle(berth, agents);
    await berth.ecs.send(new StopTaskCommand({ cluster: 'list', task: toStop?.taskArn }));
    await settle(berth, agents);
    const serviceTasks = await listTasks({ cluster: 'list', serviceName: 'svc' });

    // Act
    const family = await listTasks({ cluster: 'list', family: 'list-a' });
    const instance = await listTasks({ cluster: 'list', containerInstance: agents[1]?.containerInstanceArn });
    const stopped = await listTasks({ cluster: 'list', desiredStatus: 'STOPPED' });
    const startedBy = await listTasks({ cluster: 'list', startedBy: 'nightly' });
    const all = await listTasks({ cluster: 'list' });

    // Assess
    expect(serviceTasks).toHaveLength(1);
    expect(serviceTasks).not.toContain(onFirst?.taskArn);
    expect(family).toEqual([onFirst?.taskArn, ...serviceTasks].sort());
    const serviceTaskInstance = (
      await berth.ecs.send(new DescribeTasksCommand({ cluster: 'list', tasks: serviceTasks }))
    ).tasks?.[0]?.containerInstanceArn;
    expect(instance).toEqual(
      [
        onSecond?.taskArn,
        ...(serviceTaskInstance === agents[1]?.containerInstanceArn ? serviceTasks : []),
      ].sort(),
    );
    expect(stopped).toEqual([toStop?.taskArn]);
    expect(startedBy).toEqual([onFirst?.taskArn]);
    expect(all).toEqual([onFirst?.taskArn, onSecond?.taskArn, ...serviceTasks].sort());
  });
});

describe('DescribeTasks and StopTask', () => {
  it('shows what the agent reported, the stop and its timestamps, and MISSING for unknown tasks', async () => {
    // Prepare
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'describe' }));
    const agent = await registerAgent(berth, { cluster: 'describe' });
    await registerDefinition('describe', {
      portMappings: [{ containerPort: 80, hostPort: 0 }],
      healthCheck: { command: ['CMD', 'true'] },
    });
    const run = await berth.ecs.send(new RunTaskCommand({ cluster: 'describe', taskDefinition: 'describe' }));
    const taskArn = run.tasks?.[0]?.taskArn ?? '';
    const first = await berth.agent('/sync', { assignmentVersion: 0, reports: [] }, agent.token);
    const report = (seq: number, lastStatus: string) => ({
      taskArn,
      seq,
      lastStatus,
      ...(lastStatus === 'RUNNING' ? { healthStatus: 'HEALTHY' } : {}),
      containers: [
        {
          name: 'app',
          lastStatus,
          runtimeId: 'c0ffee',
          ...(lastStatus === 'RUNNING'
            ? {
                healthStatus: 'HEALTHY',
                networkBindings: [{ containerPort: 80, hostPort: 32768, protocol: 'tcp', bindIP: '0.0.0.0' }],
              }
            : { exitCode: 137 }),
        },
      ],
    });

    // Act
    await berth.agent(
      '/sync',
      { assignmentVersion: first.body.assignmentVersion, reports: [report(1, 'RUNNING')] },
      agent.token,
    );
    const [running] =
      (await berth.ecs.send(new DescribeTasksCommand({ cluster: 'describe', tasks: [taskArn] }))).tasks ?? [];
    const stopping = await berth.ecs.send(
      new StopTaskCommand({ cluster: 'describe', task: taskArn, reason: 'maintenance window' }),
    );
    await berth.agent(
      '/sync',
      { assignmentVersion: first.body.assignmentVersion, reports: [report(2, 'STOPPED')] },
      agent.token,
    );
    const described = await berth.ecs.send(
      new DescribeTasksCommand({
        cluster: 'describe',
        tasks: [taskArn, 'arn:aws:ecs:us-east-1:000000000000:task/describe/0123456789abcdef0123456789abcdef'],
      }),
    );

    // Assess
    expect(running).toMatchObject({
      lastStatus: 'RUNNING',
      desiredStatus: 'RUNNING',
      healthStatus: 'HEALTHY',
    });
    expect(running?.containers?.[0]).toMatchObject({
      name: 'app',
      lastStatus: 'RUNNING',
      runtimeId: 'c0ffee',
      healthStatus: 'HEALTHY',
      networkBindings: [{ containerPort: 80, hostPort: 32768, protocol: 'tcp', bindIP: '0.0.0.0' }],
    });
    expect(running?.createdAt).toBeInstanceOf(Date);
    expect(running?.startedAt).toBeInstanceOf(Date);
    expect(running?.stoppedAt).toBeUndefined();
    expect(running?.stopCode).toBeUndefined();
    expect(stopping.task).toMatchObject({ desiredStatus: 'STOPPED', stopCode: 'UserInitiated' });
    const [stopped] = described.tasks ?? [];
    expect(stopped).toMatchObject({
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'UserInitiated',
      stoppedReason: 'maintenance window',
    });
    expect(stopped?.containers?.[0]).toMatchObject({ lastStatus: 'STOPPED', exitCode: 137 });
    for (const field of [
      'createdAt',
      'startedAt',
      'stoppingAt',
      'stoppedAt',
      'executionStoppedAt',
    ] as const) {
      expect(stopped?.[field], field).toBeInstanceOf(Date);
    }
    expect((stopped?.stoppedAt?.getTime() ?? 0) >= (stopped?.startedAt?.getTime() ?? Infinity)).toBe(true);
    expect(described.failures).toEqual([
      {
        arn: 'arn:aws:ecs:us-east-1:000000000000:task/describe/0123456789abcdef0123456789abcdef',
        reason: 'MISSING',
      },
    ]);
  });
});

describe('instance resources and counts', () => {
  it('takes resources on placement and gives them back once the agent reports STOPPED', async () => {
    // Prepare
    const [agent] = await fleet(berth, 'resources', 1, { cpu: 2048, memory: 4096 });
    if (!agent) throw new Error('no agent');
    await registerDefinition('resources', {
      cpu: 512,
      memory: 1024,
      portMappings: [{ containerPort: 80, hostPort: 8080 }],
    });
    const before = await describeInstance('resources', agent.instanceId);

    // Act
    const run = await berth.ecs.send(
      new RunTaskCommand({ cluster: 'resources', taskDefinition: 'resources' }),
    );
    const placed = await describeInstance('resources', agent.instanceId);
    await settle(berth, [agent]);
    const running = await describeInstance('resources', agent.instanceId);
    await berth.ecs.send(new StopTaskCommand({ cluster: 'resources', task: run.tasks?.[0]?.taskArn }));
    const stopping = await describeInstance('resources', agent.instanceId);
    await settle(berth, [agent]);
    const after = await describeInstance('resources', agent.instanceId);

    // Assess
    expect(resource(before, 'CPU')?.integerValue).toBe(2048);
    expect(resource(before, 'MEMORY')?.integerValue).toBe(4096);
    expect(resource(before, 'PORTS')?.stringSetValue).not.toContain('8080');
    expect(before).toMatchObject({ runningTasksCount: 0, pendingTasksCount: 0 });

    expect(resource(placed, 'CPU')?.integerValue).toBe(1536);
    expect(resource(placed, 'MEMORY')?.integerValue).toBe(3072);
    expect(resource(placed, 'PORTS')?.stringSetValue).toContain('8080');
    expect(placed).toMatchObject({ runningTasksCount: 0, pendingTasksCount: 1 });

    expect(running).toMatchObject({ runningTasksCount: 1, pendingTasksCount: 0 });
    expect(resource(stopping, 'CPU')?.integerValue).toBe(1536);
    expect(stopping).toMatchObject({ runningTasksCount: 1 });

    expect(resource(after, 'CPU')?.integerValue).toBe(2048);
    expect(resource(after, 'MEMORY')?.integerValue).toBe(4096);
    expect(resource(after, 'PORTS')?.stringSetValue).not.toContain('8080');
    expect(resource(after, 'PORTS')?.stringSetValue).toEqual(resource(before, 'PORTS')?.stringSetValue);
    expect(after).toMatchObject({ runningTasksCount: 0, pendingTasksCount: 0 });
    expect(idOf(run.tasks?.[0]?.containerInstanceArn)).toBe(agent.instanceId);
  });
});
