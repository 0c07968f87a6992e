import {
  CreateClusterCommand,
  DeregisterContainerInstanceCommand,
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  RegisterTaskDefinitionCommand,
  StartTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyOfTaskRef, taskRef } from '../../core/db/keys.ts';
import { registerAgent, startBerth, type TestBerth } from './harness.ts';

let berth: TestBerth;

beforeAll(async () => {
  berth = await startBerth({ sweepIntervalMs: 3_600_000 });
  await berth.ecs.send(new CreateClusterCommand({ clusterName: 'sync' }));
  await berth.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'sync-app',
      containerDefinitions: [{ name: 'app', image: 'busybox', cpu: 256, memory: 256, essential: true }],
    }),
  );
});

afterAll(async () => {
  await berth?.stop();
});

type Registered = Awaited<ReturnType<typeof registerAgent>>;

const register = () => registerAgent(berth, { cluster: 'sync', cpu: 2048, memory: 4096 });

/** Starts one sync-app task on the instance and returns its ARN. */
const startOn = async (agent: Registered): Promise<string> => {
  const answer = await berth.ecs.send(
    new StartTaskCommand({
      cluster: 'sync',
      taskDefinition: 'sync-app',
      containerInstances: [agent.containerInstanceArn],
    }),
  );
  return answer.tasks?.[0]?.taskArn ?? '';
};

const sync = (agent: Registered, assignmentVersion: number, reports: unknown[] = []) =>
  berth.agent('/sync', { assignmentVersion, reports }, agent.token);

const report = (taskArn: string, seq: number, lastStatus: 'PENDING' | 'RUNNING' | 'STOPPED') => ({
  taskArn,
  seq,
  lastStatus,
  containers: [{ name: 'app', lastStatus, ...(lastStatus === 'STOPPED' ? { exitCode: 0 } : {}) }],
});

const describeTask = async (taskArn: string): Promise<Task> => {
  const answer = await berth.ecs.send(new DescribeTasksCommand({ cluster: 'sync', tasks: [taskArn] }));
  const task = answer.tasks?.[0];
  if (!task) throw new Error(`task ${taskArn} not found`);
  return task;
};

const remainingCpu = async (agent: Registered) => {
  const answer = await berth.ecs.send(
    new DescribeContainerInstancesCommand({
      cluster: 'sync',
      containerInstances: [agent.containerInstanceArn],
    }),
  );
  return answer.containerInstances?.[0]?.remainingResources?.find((r) => r.name === 'CPU')?.integerValue;
};

/** The doorbell long-poll, as the agent makes it; resolves with the answer and how long it took. */
const doorbell = async (token: string, wait: number) => {
  const started = performance.now();
  const response = await fetch(`${berth.endpoint}/agent/v1/doorbell?wait=${wait}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await response.json()) as { rung?: boolean };
  return { status: response.status, rung: body.rung, ms: performance.now() - started };
};

describe('POST /agent/v1/sync', () => {
  it("answers a token with its own instance's tasks only", async () => {
    // Prepare
    const first = await register();
    const second = await register();
    const firstTask = await startOn(first);
    const secondTask = await startOn(second);

    // Act
    const firstSync = await sync(first, 0);
    const secondSync = await sync(second, 0);

    // Assess
    expect(firstSync.status).toBe(200);
    expect(firstSync.body.tasks.map((task: { taskArn: string }) => task.taskArn)).toEqual([firstTask]);
    expect(secondSync.body.tasks.map((task: { taskArn: string }) => task.taskArn)).toEqual([secondTask]);
  });

  it("refuses a report about another instance's task with 403 and changes nothing", async () => {
    // Prepare
    const mine = await register();
    const theirs = await register();
    const myTask = await startOn(mine);
    const theirTask = await startOn(theirs);
    const { body } = await sync(mine, 0);
    const before = await Promise.all([describeTask(myTask), describeTask(theirTask)]);

    // Act
    const answer = await sync(mine, body.assignmentVersion, [
      report(myTask, 1, 'RUNNING'),
      report(theirTask, 1, 'STOPPED'),
    ]);

    // Assess
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ code: 'AccessDeniedException', taskArn: theirTask });
    const after = await Promise.all([describeTask(myTask), describeTask(theirTask)]);
    expect(after.map((task) => [task.lastStatus, task.desiredStatus, task.version])).toEqual(
      before.map((task) => [task.lastStatus, task.desiredStatus, task.version]),
    );
    expect(after[1]?.lastStatus).toBe('PROVISIONING');
    expect(await remainingCpu(theirs)).toBe(2048 - 256);
  });

  it('names the task whose report is malformed, and records none of the request', async () => {
    // Prepare
    const agent = await register();
    const taskArn = await startOn(agent);
    const { body } = await sync(agent, 0);
    const malformed = { ...report(taskArn, 1, 'RUNNING'), stoppedReason: 'x'.repeat(5000) };

    // Act
    const answer = await sync(agent, body.assignmentVersion, [report(taskArn, 1, 'RUNNING'), malformed]);

    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'InvalidParameterException', taskArn });
    expect(answer.body.message).toMatch(/reports\[1\]\.stoppedReason/);
    expect((await describeTask(taskArn)).lastStatus).toBe('PROVISIONING');
  });

  it('answers 401 to a missing, malformed or unknown token', async () => {
    // Prepare
    const body = { assignmentVersion: 0, reports: [] };

    // Act
    const missing = await berth.agent('/sync', body);
    const malformed = await berth.agent('/sync', body, 'not a token!');
    const unknown = await berth.agent('/sync', body, 'A'.repeat(43));
    const unknownDoorbell = await doorbell('A'.repeat(43), 0);

    // Assess
    expect([missing.status, malformed.status, unknown.status, unknownDoorbell.status]).toEqual([
      401, 401, 401, 401,
    ]);
    expect(unknown.body.tasks).toBeUndefined();
  });

  it("answers 401 to a deregistered instance's token", async () => {
    // Prepare
    const agent = await register();
    const working = await sync(agent, 0);
    await berth.ecs.send(
      new DeregisterContainerInstanceCommand({
        cluster: 'sync',
        containerInstance: agent.containerInstanceArn,
        force: true,
      }),
    );

    // Act
    const afterwards = await sync(agent, 0);
    const doorbellAfterwards = await doorbell(agent.token, 0);

    // Assess
    expect(working.status).toBe(200);
    expect(afterwards.status).toBe(401);
    expect(doorbellAfterwards.status).toBe(401);
  });

  it('ignores replayed, older and backwards reports', async () => {
    // Prepare
    const agent = await register();
    const taskArn = await startOn(agent);
    const { body } = await sync(agent, 0);
    const version = body.assignmentVersion;
    await sync(agent, version, [report(taskArn, 2, 'RUNNING')]);
    const running = await describeTask(taskArn);

    // Act
    const sameSeq = await sync(agent, version, [report(taskArn, 2, 'STOPPED')]);
    const lowerSeq = await sync(agent, version, [report(taskArn, 1, 'STOPPED')]);
    const afterStale = await describeTask(taskArn);
    await sync(agent, version, [report(taskArn, 3, 'STOPPED')]);
    const stopped = await describeTask(taskArn);
    const cpuWhenStopped = await remainingCpu(agent);
    const replayedStop = await sync(agent, version, [report(taskArn, 3, 'STOPPED')]);
    const backwards = await sync(agent, version, [report(taskArn, 4, 'RUNNING')]);

    // Assess
    expect(running).toMatchObject({ lastStatus: 'RUNNING', desiredStatus: 'RUNNING' });
    expect(sameSeq.body.acked).toEqual([{ taskArn, seq: 2 }]);
    expect(lowerSeq.body.acked).toEqual([{ taskArn, seq: 1 }]);
    expect(afterStale).toEqual(running);
    expect(stopped).toMatchObject({ lastStatus: 'STOPPED', desiredStatus: 'STOPPED' });
    expect(cpuWhenStopped).toBe(2048);
    expect([replayedStop.status, backwards.status]).toEqual([200, 200]);
    const final = await describeTask(taskArn);
    expect(final).toMatchObject({ lastStatus: 'STOPPED', desiredStatus: 'STOPPED' });
    expect(final.containers?.[0]?.lastStatus).toBe('STOPPED');
    expect(final.stoppedAt).toEqual(stopped.stoppedAt);
    expect(await remainingCpu(agent)).toBe(2048);
  });

  it("folds one task's reports of one sync into one write that ends where the last one does", async () => {
    // Prepare
    const agent = await register();
    const taskArn = await startOn(agent);
    const { body } = await sync(agent, 0);
    const before = await describeTask(taskArn);

    // Act
    const answer = await sync(agent, body.assignmentVersion, [
      report(taskArn, 5, 'PENDING'),
      report(taskArn, 6, 'RUNNING'),
      report(taskArn, 7, 'STOPPED'),
    ]);
    const after = await describeTask(taskArn);

    // Assess
    expect(answer.body.acked).toEqual([
      { taskArn, seq: 5 },
      { taskArn, seq: 6 },
      { taskArn, seq: 7 },
    ]);
    expect(after).toMatchObject({ lastStatus: 'STOPPED', desiredStatus: 'STOPPED' });
    // Each step's fields are kept, though only one write was made.
    expect(after.pullStartedAt).toBeDefined();
    expect(after.startedAt).toBeDefined();
    expect(after.stoppedAt).toBeDefined();
    expect(after.containers?.[0]).toMatchObject({ lastStatus: 'STOPPED', exitCode: 0 });
    expect(after.version).toBe((before.version ?? 0) + 1);
    expect(await remainingCpu(agent)).toBe(2048);
  });

  it('reads the tasks its instance names by key, so an index that has not caught up loses none', async () => {
    // Prepare
    const agent = await register();
    const taskArn = await startOn(agent);
    const id = taskArn.split('/').at(-1) ?? '';
    // As a global secondary index may be for a moment on AWS: the new task is not in it yet.
    const { pk, sk } = keyOfTaskRef(taskRef('sync', id));
    await berth.db.doc.send(
      new UpdateCommand({
        TableName: berth.db.table,
        Key: { pk, sk },
        UpdateExpression: 'REMOVE gsi2pk, gsi2sk',
      }),
    );

    // Act
    const answer = await sync(agent, 0);
    const reported = await sync(agent, answer.body.assignmentVersion, [report(taskArn, 1, 'RUNNING')]);

    // Assess
    expect(answer.body.tasks.map((task: { taskArn: string }) => task.taskArn)).toEqual([taskArn]);
    expect(reported.body.acked).toEqual([{ taskArn, seq: 1 }]);
    expect(await describeTask(taskArn)).toMatchObject({ lastStatus: 'RUNNING' });
  });

  it('carries the desired tasks only when the assignment version moved', async () => {
    // Prepare
    const agent = await register();
    const initial = await sync(agent, 0);
    const unchanged = await sync(agent, initial.body.assignmentVersion);

    // Act
    const taskArn = await startOn(agent);
    const moved = await sync(agent, initial.body.assignmentVersion);
    const caughtUp = await sync(agent, moved.body.assignmentVersion);

    // Assess
    expect(initial.body).toMatchObject({ assignmentVersion: 0, acked: [] });
    expect(initial.body).not.toHaveProperty('tasks');
    expect(unchanged.body).not.toHaveProperty('tasks');
    expect(moved.body.assignmentVersion).toBeGreaterThan(initial.body.assignmentVersion);
    expect(moved.body.tasks).toEqual([
      expect.objectContaining({ taskArn, desiredStatus: 'RUNNING', family: 'sync-app', revision: 1 }),
    ]);
    expect(caughtUp.body).not.toHaveProperty('tasks');
    expect(caughtUp.body.assignmentVersion).toBe(moved.body.assignmentVersion);
  });
});

describe('GET /agent/v1/doorbell', () => {
  it('rings promptly when a task is placed on the instance', async () => {
    // Prepare
    const agent = await register();
    await doorbell(agent.token, 0);
    const waiting = doorbell(agent.token, 10);
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Act
    await startOn(agent);
    const placedAt = performance.now();
    const answer = await waiting;

    // Assess
    expect(answer).toMatchObject({ status: 200, rung: true });
    // Unrung, the long-poll would have lasted its 10 s.
    expect(performance.now() - placedAt).toBeLessThan(2_000);
  });

  it('answers rung:false after the wait when nothing happened', async () => {
    // Prepare
    const agent = await register();
    const other = await register();
    await doorbell(agent.token, 0);

    // Act
    const waiting = doorbell(agent.token, 2);
    await startOn(other);
    const answer = await waiting;

    // Assess
    expect(answer).toMatchObject({ status: 200, rung: false });
    expect(answer.ms).toBeGreaterThanOrEqual(1_900);
  });
});
