import {
  ClientException,
  CreateServiceCommand,
  type CreateServiceCommandInput,
  DeleteServiceCommand,
  DescribeContainerInstancesCommand,
  InvalidParameterException,
  ListServicesCommand,
  RegisterTaskDefinitionCommand,
  type Service,
  StopTaskCommand,
  type Task,
  UpdateContainerInstancesStateCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  breakerService,
  describeService,
  errorOf,
  type FamilyShape,
  idOf,
  registerFamily,
  runningOf,
} from './fixtures.ts';
import { startBerth, type TestBerth } from './harness.ts';
import { fleet, ScriptedAgent, settle, syncRound, tasksOf } from './scripted-agent.ts';

let berth: TestBerth;
/** Added to the wall clock: lets a test skip a backoff without waiting it out. */
let clockOffsetMs = 0;

beforeAll(async () => {
  berth = await startBerth({
    now: () => new Date(Date.now() + clockOffsetMs),
    // The sweeper runs only when a test asks for it.
    sweepIntervalMs: 3_600_000,
  });
});

afterAll(async () => {
  await berth?.stop();
});

/** This file's definitions: busybox tagged with the revision, sleeping; 256 MiB and `cpu` units. */
const sleeper = (cpu = 256): FamilyShape => ({
  container: (revision) => ({ image: `busybox:${revision}`, cpu, command: ['sleep', 'infinity'] }),
});

const createService = (input: Omit<CreateServiceCommandInput, 'serviceName'> & { serviceName: string }) =>
  berth.ecs.send(new CreateServiceCommand(input));

const live = (tasks: Task[]) => tasks.filter((task) => task.lastStatus !== 'STOPPED');
const revisionOf = (task: Task) => Number(task.taskDefinitionArn?.split(':').at(-1));

/** How many of the tasks sit on each instance id. */
const perInstance = (tasks: Task[]) => {
  const counts = new Map<string, number>();
  for (const task of tasks) {
    const id = idOf(task.containerInstanceArn);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
};

describe('CreateService', () => {
  it('runs the desired count spread over the instances and reports a steady state', async () => {
    // Prepare
    const agents = await fleet(berth, 'spread', 3);
    await registerFamily(berth, 'spread-web', 1, sleeper());

    // Act
    await createService({
      cluster: 'spread',
      serviceName: 'web',
      taskDefinition: 'spread-web',
      desiredCount: 5,
    });
    await settle(berth, agents);

    // Assess
    const tasks = await tasksOf(berth, { cluster: 'spread', serviceName: 'web' });
    expect(tasks).toHaveLength(5);
    expect(tasks.every((task) => task.lastStatus === 'RUNNING' && task.desiredStatus === 'RUNNING')).toBe(
      true,
    );
    expect(tasks.every((task) => task.group === 'service:web')).toBe(true);
    expect([...perInstance(tasks).values()].sort()).toEqual([1, 2, 2]);
    expect(new Set(agents.flatMap((agent) => agent.running())).size).toBe(5);
    const service = await describeService(berth, 'spread', 'web');
    expect(service).toMatchObject({ status: 'ACTIVE', desiredCount: 5, runningCount: 5, pendingCount: 0 });
    expect(service.deployments).toHaveLength(1);
    expect(service.deployments?.[0]).toMatchObject({ status: 'PRIMARY', rolloutState: 'COMPLETED' });
    expect(service.events?.[0]?.message).toBe('(service web) has reached a steady state.');
  });

  it('refuses launch types, awsvpc, a missing desiredCount and definitions that cannot run on EXTERNAL', async () => {
    // Prepare
    await fleet(berth, 'refusals', 0);
    await registerFamily(berth, 'refusals-web', 1, sleeper());
    await berth.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'refusals-fargate',
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: '256',
        memory: '512',
        containerDefinitions: [{ name: 'app', image: 'busybox', essential: true }],
      }),
    );
    const base = { cluster: 'refusals', serviceName: 'web', taskDefinition: 'refusals-web', desiredCount: 1 };

    // Act
    const fargate = await errorOf(createService({ ...base, launchType: 'FARGATE' }));
    const awsvpc = await errorOf(
      createService({
        ...base,
        networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'] } },
      }),
    );
    const noCount = await errorOf(createService({ ...base, desiredCount: undefined }));
    const fargateOnly = await errorOf(createService({ ...base, taskDefinition: 'refusals-fargate' }));

    // Assess
    expect(fargate).toBeInstanceOf(InvalidParameterException);
    expect(awsvpc).toBeInstanceOf(InvalidParameterException);
    expect(noCount).toBeInstanceOf(InvalidParameterException);
    expect(fargateOnly).toBeInstanceOf(ClientException);
    expect(fargateOnly.message).toContain('does not support launch_type EXTERNAL');
    const listed = await berth.ecs.send(new ListServicesCommand({ cluster: 'refusals' }));
    expect(listed.serviceArns).toEqual([]);
  });
});

describe('UpdateService', () => {
  it('rolls a new revision within the minimum healthy and maximum percent', async () => {
    // Prepare
    const agents = await fleet(berth, 'rolling', 3);
    await registerFamily(berth, 'rolling-web', 2, sleeper());
    await createService({
      cluster: 'rolling',
      serviceName: 'web',
      taskDefinition: 'rolling-web:1',
      desiredCount: 5,
    });
    await settle(berth, agents);
    const before = await describeService(berth, 'rolling', 'web');

    // Act
    await berth.ecs.send(
      new UpdateServiceCommand({ cluster: 'rolling', service: 'web', taskDefinition: 'rolling-web:2' }),
    );
    const seen: { occupying: number; healthy: number }[] = [];
    for (let round = 0; round < 30; round++) {
      await syncRound(berth, agents);
      const tasks = await tasksOf(berth, { cluster: 'rolling', serviceName: 'web' });
      seen.push({ occupying: live(tasks).length, healthy: runningOf(tasks).length });
      const service = await describeService(berth, 'rolling', 'web');
      const done =
        service.deployments?.length === 1 &&
        service.deployments[0]?.rolloutState === 'COMPLETED' &&
        live(tasks).length === 5;
      if (done) break;
    }

    // Assess
    expect(before.deployments?.[0]?.rolloutState).toBe('COMPLETED');
    for (const { occupying, healthy } of seen) {
      expect(occupying).toBeLessThanOrEqual(10);
      expect(healthy).toBeGreaterThanOrEqual(5);
    }
    const service = await describeService(berth, 'rolling', 'web');
    expect(service.taskDefinition).toMatch(/task-definition\/rolling-web:2$/);
    expect(service.deployments).toHaveLength(1);
    expect(service.deployments?.[0]).toMatchObject({
      status: 'PRIMARY',
      rolloutState: 'COMPLETED',
      runningCount: 5,
    });
    expect(service.deployments?.[0]?.id).not.toBe(before.deployments?.[0]?.id);
    const tasks = await tasksOf(berth, { cluster: 'rolling', serviceName: 'web' });
    expect(live(tasks).map(revisionOf)).toEqual([2, 2, 2, 2, 2]);
    expect(runningOf(tasks)).toHaveLength(5);
    expect(
      tasks.filter((task) => revisionOf(task) === 1).every((task) => task.lastStatus === 'STOPPED'),
    ).toBe(true);
  });

  it('stops every task when scaled to zero', async () => {
    // Prepare
    const agents = await fleet(berth, 'scale-zero', 2);
    await registerFamily(berth, 'scale-zero-web', 1, sleeper());
    await createService({
      cluster: 'scale-zero',
      serviceName: 'web',
      taskDefinition: 'scale-zero-web',
      desiredCount: 4,
    });
    await settle(berth, agents);

    // Act
    await berth.ecs.send(
      new UpdateServiceCommand({ cluster: 'scale-zero', service: 'web', desiredCount: 0 }),
    );
    await settle(berth, agents);

    // Assess
    const tasks = await tasksOf(berth, { cluster: 'scale-zero', serviceName: 'web' });
    expect(tasks).toHaveLength(4);
    expect(tasks.every((task) => task.lastStatus === 'STOPPED' && task.desiredStatus === 'STOPPED')).toBe(
      true,
    );
    expect(agents.flatMap((agent) => agent.running())).toEqual([]);
    const service = await describeService(berth, 'scale-zero', 'web');
    expect(service).toMatchObject({ desiredCount: 0, runningCount: 0, pendingCount: 0 });
  });

  it('rolls back to the previous revision when the circuit breaker trips', async () => {
    // Prepare
    const agents = await breakerService(berth, 'breaker', { family: sleeper() });

    // Act
    await berth.ecs.send(
      new UpdateServiceCommand({ cluster: 'breaker', service: 'web', taskDefinition: 'breaker-web:2' }),
    );
    let failedDeployment: { failedTasks?: number; rolloutState?: string } | undefined;
    for (let round = 0; round < 30; round++) {
      await syncRound(berth, agents);
      const service = await describeService(berth, 'breaker', 'web');
      failedDeployment ??= service.deployments?.find((deployment) => deployment.rolloutState === 'FAILED');
      const tasks = await tasksOf(berth, { cluster: 'breaker', serviceName: 'web' });
      const settled =
        service.deployments?.length === 1 &&
        service.deployments[0]?.rolloutState === 'COMPLETED' &&
        live(tasks).length === 3;
      if (settled) break;
      // Repeated start failures back off; move the clock past the backoff and let the sweeper look.
      clockOffsetMs += 11_000;
      await berth.sweep();
    }

    // Assess
    // The breaker trips at max(3, half the desired count) failed tasks.
    expect(failedDeployment?.rolloutState).toBe('FAILED');
    expect(failedDeployment?.failedTasks).toBeGreaterThanOrEqual(3);
    const service = await describeService(berth, 'breaker', 'web');
    expect(service.deployments).toHaveLength(1);
    expect(service.deployments?.[0]).toMatchObject({ rolloutState: 'COMPLETED', runningCount: 3 });
    expect(service.deployments?.[0]?.taskDefinition).toMatch(/breaker-web:1$/);
    expect(service.taskDefinition).toMatch(/breaker-web:1$/);
    const messages = service.events?.map((event) => event.message ?? '') ?? [];
    expect(messages.some((message) => message.includes('deployment failed: tasks failed to start.'))).toBe(
      true,
    );
    expect(messages.some((message) => message.includes('rolling back to deployment'))).toBe(true);
    expect(messages[0]).toBe('(service web) has reached a steady state.');
    const tasks = await tasksOf(berth, { cluster: 'breaker', serviceName: 'web' });
    expect(runningOf(tasks).map(revisionOf)).toEqual([1, 1, 1]);
    // Every task of the failed revision is stopped: those that failed by themselves, and any still
    // starting when the breaker tripped, which the rollback stopped (as ECS does).
    const revision2 = tasks.filter((task) => revisionOf(task) === 2);
    const failed = revision2.filter((task) => task.stopCode === 'EssentialContainerExited');
    expect(failed.length).toBeGreaterThanOrEqual(failedDeployment?.failedTasks ?? 3);
    expect(revision2.every((task) => task.desiredStatus === 'STOPPED')).toBe(true);
    expect(
      revision2.every((task) =>
        ['EssentialContainerExited', 'ServiceSchedulerInitiated'].includes(task.stopCode ?? ''),
      ),
    ).toBe(true);
  });
});

describe('StopTask on a service task', () => {
  it('replaces the stopped task with a new one', async () => {
    // Prepare
    const agents = await fleet(berth, 'replace', 3);
    await registerFamily(berth, 'replace-web', 1, sleeper());
    await createService({
      cluster: 'replace',
      serviceName: 'web',
      taskDefinition: 'replace-web',
      desiredCount: 5,
    });
    await settle(berth, agents);
    const [victim] = await tasksOf(berth, { cluster: 'replace', serviceName: 'web' });

    // Act
    await berth.ecs.send(
      new StopTaskCommand({ cluster: 'replace', task: victim?.taskArn, reason: 'testing' }),
    );
    await settle(berth, agents);

    // Assess
    const tasks = await tasksOf(berth, { cluster: 'replace', serviceName: 'web' });
    const running = runningOf(tasks);
    expect(running).toHaveLength(5);
    expect(running.map((task) => task.taskArn)).not.toContain(victim?.taskArn);
    const stopped = tasks.find((task) => task.taskArn === victim?.taskArn);
    expect(stopped).toMatchObject({
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'UserInitiated',
      stoppedReason: 'testing',
    });
    expect(tasks).toHaveLength(6);
  });
});

describe('DeleteService', () => {
  it('refuses a scaled service without force, and with force drains it to INACTIVE', async () => {
    // Prepare
    const agents = await fleet(berth, 'delete', 2);
    await registerFamily(berth, 'delete-web', 1, sleeper());
    await createService({
      cluster: 'delete',
      serviceName: 'web',
      taskDefinition: 'delete-web',
      desiredCount: 2,
    });
    await settle(berth, agents);

    // Act
    const refused = await errorOf(
      berth.ecs.send(new DeleteServiceCommand({ cluster: 'delete', service: 'web' })),
    );
    const afterRefusal = await describeService(berth, 'delete', 'web');
    const deleting = await berth.ecs.send(
      new DeleteServiceCommand({ cluster: 'delete', service: 'web', force: true }),
    );
    await settle(berth, agents);

    // Assess
    expect(refused).toBeInstanceOf(InvalidParameterException);
    expect(afterRefusal).toMatchObject({ status: 'ACTIVE', desiredCount: 2 });
    expect(deleting.service).toMatchObject({ status: 'DRAINING', desiredCount: 0 });
    const tasks = await tasksOf(berth, { cluster: 'delete', serviceName: 'web' });
    expect(tasks.every((task) => task.lastStatus === 'STOPPED')).toBe(true);
    const service = await describeService(berth, 'delete', 'web');
    expect(service.status).toBe('INACTIVE');
    const listed = await berth.ecs.send(new ListServicesCommand({ cluster: 'delete' }));
    expect(listed.serviceArns).toEqual([]);
  });
});

describe('placement of service tasks', () => {
  it('reports a placement failure once and places the rest when an instance registers', async () => {
    // Prepare
    const agents = await fleet(berth, 'no-room', 1, { cpu: 1024 });
    await registerFamily(berth, 'no-room-web', 1, sleeper(512));

    // Act
    await createService({
      cluster: 'no-room',
      serviceName: 'web',
      taskDefinition: 'no-room-web',
      desiredCount: 3,
    });
    await settle(berth, agents);
    await berth.sweep();
    await settle(berth, agents);
    const short = await describeService(berth, 'no-room', 'web');
    agents.push(await ScriptedAgent.register(berth, { cluster: 'no-room', cpu: 1024 }));
    await settle(berth, agents);

    // Assess
    const unplaceable = (service: Service) =>
      (service.events ?? []).filter((event) =>
        event.message?.startsWith(
          '(service web) was unable to place a task because no container instance met all of its requirements.',
        ),
      );
    expect(short.runningCount).toBe(2);
    expect(unplaceable(short)).toHaveLength(1);
    expect(unplaceable(short)[0]?.message).toContain('has insufficient CPU units available.');
    const service = await describeService(berth, 'no-room', 'web');
    expect(service.runningCount).toBe(3);
    expect(unplaceable(service)).toHaveLength(1);
    expect(service.events?.[0]?.message).toBe('(service web) has reached a steady state.');
    const tasks = await tasksOf(berth, { cluster: 'no-room', serviceName: 'web' });
    expect(perInstance(runningOf(tasks)).get(agents[1]?.instanceId ?? '')).toBe(1);
  });

  it('honours distinctInstance and memberOf constraints', async () => {
    // Prepare
    const siteA = await fleet(berth, 'constrained', 2, { attributes: [{ name: 'site', value: 'a' }] });
    const siteB = [
      await ScriptedAgent.register(berth, {
        cluster: 'constrained',
        attributes: [{ name: 'site', value: 'b' }],
      }),
      await ScriptedAgent.register(berth, {
        cluster: 'constrained',
        attributes: [{ name: 'site', value: 'b' }],
      }),
    ];
    await registerFamily(berth, 'constrained-web', 1, sleeper());

    // Act
    await createService({
      cluster: 'constrained',
      serviceName: 'web',
      taskDefinition: 'constrained-web',
      desiredCount: 3,
      placementConstraints: [
        { type: 'distinctInstance' },
        { type: 'memberOf', expression: 'attribute:site == a' },
      ],
    });
    await settle(berth, [...siteA, ...siteB]);

    // Assess
    const tasks = runningOf(await tasksOf(berth, { cluster: 'constrained', serviceName: 'web' }));
    expect(tasks).toHaveLength(2);
    expect([...perInstance(tasks).keys()].sort()).toEqual(siteA.map((agent) => agent.instanceId).sort());
    expect(siteB.flatMap((agent) => agent.running())).toEqual([]);
    const service = await describeService(berth, 'constrained', 'web');
    expect(
      service.events?.some((event) =>
        event.message?.startsWith('(service web) was unable to place a task because no container instance'),
      ),
    ).toBe(true);
  });

  it('moves service tasks off a DRAINING instance', async () => {
    // Prepare
    const agents = await fleet(berth, 'drain', 3);
    await registerFamily(berth, 'drain-web', 1, sleeper());
    await createService({
      cluster: 'drain',
      serviceName: 'web',
      taskDefinition: 'drain-web',
      desiredCount: 3,
    });
    await settle(berth, agents);
    const drained = agents[0] as ScriptedAgent;
    const [original] = (await tasksOf(berth, { cluster: 'drain', serviceName: 'web' })).filter(
      (task) => idOf(task.containerInstanceArn) === drained.instanceId,
    );

    // Act
    await berth.ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: 'drain',
        containerInstances: [drained.instanceId],
        status: 'DRAINING',
      }),
    );
    await settle(berth, agents);

    // Assess
    const tasks = await tasksOf(berth, { cluster: 'drain', serviceName: 'web' });
    const running = runningOf(tasks);
    expect(running).toHaveLength(3);
    expect(running.some((task) => idOf(task.containerInstanceArn) === drained.instanceId)).toBe(false);
    expect(tasks.find((task) => task.taskArn === original?.taskArn)?.lastStatus).toBe('STOPPED');
    const instance = await berth.ecs.send(
      new DescribeContainerInstancesCommand({ cluster: 'drain', containerInstances: [drained.instanceId] }),
    );
    expect(instance.containerInstances?.[0]).toMatchObject({
      status: 'DRAINING',
      runningTasksCount: 0,
      pendingTasksCount: 0,
    });
    expect(drained.running()).toEqual([]);
  });
});
