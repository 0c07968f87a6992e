import { afterEach, describe, expect, it } from 'vitest';
import { TaskEngine } from '../../agent/engine.ts';
import { createLogger } from '../../agent/log.ts';
import { FakeRuntime } from '../../agent/runtime/fake.ts';
import { type AgentState, emptyState } from '../../agent/state.ts';
import type { AssignedContainer, AssignedTask } from '../../core/protocol/agent.ts';

const engines: TaskEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});

let counter = 0;
const assigned = (
  containers: Partial<AssignedContainer>[],
  extra: Partial<AssignedTask> = {},
): AssignedTask => ({
  taskArn: `arn:aws:ecs:us-east-1:000000000000:task/c/${(++counter).toString(16).padStart(32, '0')}`,
  desiredStatus: 'RUNNING',
  family: 'fam',
  revision: 1,
  networkMode: 'bridge',
  containers: containers.map((c, i) => ({ name: `c${i}`, image: 'img', essential: true, ...c })),
  volumes: [],
  restartOnFailure: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  ...extra,
});

const setup = (
  options: { offline?: boolean; state?: AgentState; runtime?: FakeRuntime; owner?: string } = {},
) => {
  const runtime = options.runtime ?? new FakeRuntime({ images: ['img'] });
  const state = options.state ?? emptyState();
  const link = { offline: options.offline ?? false };
  const events: string[] = [];
  runtime.watch(undefined, (event) => events.push(`${event.kind}:${event.containerName}`));
  const engine = new TaskEngine({
    state,
    runtime,
    log: createLogger('silent'),
    now: () => Date.now(),
    isOffline: () => link.offline,
    onReport: () => {},
    saveNow: () => {},
    saveSoon: () => {},
    settings: {
      cluster: 'c',
      containerInstanceArn: options.owner ?? 'arn:aws:ecs:us-east-1:000000000000:container-instance/c/1',
      pullBehavior: 'default',
      stopTimeoutSeconds: 1,
      cleanupWaitMs: 10,
      observeIntervalMs: 60_000,
      restart: { baseMs: 20, maxMs: 100, resetAfterMs: 60_000 },
      registryCredentials: {},
    },
  });
  engines.push(engine);
  return { runtime, state, engine, link, events };
};

const until = async (what: string, check: () => boolean, timeoutMs = 3000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

const lastReport = (state: AgentState, task: AssignedTask) => state.tasks[task.taskArn]?.pending.at(-1);

describe('task engine', () => {
  it('starts containers in dependsOn order and reports RUNNING with the dynamic host port', async () => {
    const { engine, state, events } = setup();
    await engine.recover();
    const task = assigned([
      {
        name: 'web',
        portMappings: [{ containerPort: 80, hostPort: 0 }],
        dependsOn: [{ containerName: 'db', condition: 'START' }],
      },
      { name: 'db' },
    ]);
    engine.applyAssignments([task]);
    await until('RUNNING', () => lastReport(state, task)?.lastStatus === 'RUNNING');
    expect(events.filter((e) => e.startsWith('start:'))).toEqual(['start:db', 'start:web']);
    expect(lastReport(state, task)?.containers.find((c) => c.name === 'web')?.networkBindings).toEqual([
      { containerPort: 80, hostPort: 32768, protocol: 'tcp', bindIP: '0.0.0.0' },
    ]);
  });

  it('stops containers in reverse dependency order when the task is desired STOPPED', async () => {
    const { engine, state, events } = setup();
    await engine.recover();
    const task = assigned([
      { name: 'app', dependsOn: [{ containerName: 'db', condition: 'START' }] },
      { name: 'db' },
    ]);
    engine.applyAssignments([task]);
    await until('RUNNING', () => lastReport(state, task)?.lastStatus === 'RUNNING');
    engine.applyAssignments([{ ...task, desiredStatus: 'STOPPED' }]);
    await until('STOPPED', () => lastReport(state, task)?.lastStatus === 'STOPPED');
    expect(events.filter((e) => e.startsWith('die:'))).toEqual(['die:app', 'die:db']);
    expect(lastReport(state, task)?.stopCode).toBeUndefined();
  });

  it('fails the task with TaskFailedToStart when an image cannot be pulled', async () => {
    const runtime = new FakeRuntime();
    runtime.unpullable.add('private/img');
    const { engine, state } = setup({ runtime });
    await engine.recover();
    const task = assigned([{ image: 'private/img' }]);
    engine.applyAssignments([task]);
    await until('STOPPED', () => lastReport(state, task)?.lastStatus === 'STOPPED');
    expect(lastReport(state, task)).toMatchObject({
      stopCode: 'TaskFailedToStart',
      stoppedReason: expect.stringMatching(/^CannotPullContainerError/),
    });
    expect(runtime.containers.size).toBe(0);
  });

  it('restarts a crashed essential container of a service task in place while offline', async () => {
    const { engine, state, runtime } = setup({ offline: true });
    await engine.recover();
    const task = assigned([{ name: 'app' }], { restartOnFailure: true });
    engine.applyAssignments([task]);
    await until('RUNNING', () => lastReport(state, task)?.lastStatus === 'RUNNING');
    const container = runtime.containersOf(task.taskArn).get('app');
    runtime.exit(container?.id ?? '', 137);
    await until('the restart', () => state.tasks[task.taskArn]?.containers[0]?.restarts === 1);
    expect(container?.running).toBe(true);
    expect(runtime.containers.size).toBe(1);
    const history = state.tasks[task.taskArn]?.pending.map(
      (r) => `${r.lastStatus}/${r.containers[0]?.lastStatus}`,
    );
    expect(history?.slice(-2)).toEqual(['RUNNING/PENDING', 'RUNNING/RUNNING']);
  });

  it('stops the task when an essential container exits while the control plane is reachable', async () => {
    const { engine, state, runtime } = setup({ offline: false });
    await engine.recover();
    const task = assigned([{ name: 'app' }, { name: 'side', essential: false }], { restartOnFailure: true });
    engine.applyAssignments([task]);
    await until('RUNNING', () => lastReport(state, task)?.lastStatus === 'RUNNING');
    runtime.exit(runtime.containersOf(task.taskArn).get('app')?.id ?? '', 2);
    await until('STOPPED', () => lastReport(state, task)?.lastStatus === 'STOPPED');
    expect(lastReport(state, task)).toMatchObject({
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      containers: [
        { name: 'app', lastStatus: 'STOPPED', exitCode: 2 },
        { name: 'side', lastStatus: 'STOPPED', exitCode: 143 },
      ],
    });
  });

  it('removes the containers only after the STOPPED report is acknowledged and the cleanup wait passed', async () => {
    const { engine, state, runtime } = setup();
    await engine.recover();
    const task = assigned([{ name: 'app' }]);
    engine.applyAssignments([task]);
    await until('RUNNING', () => lastReport(state, task)?.lastStatus === 'RUNNING');
    engine.applyAssignments([]);
    await until('STOPPED', () => lastReport(state, task)?.lastStatus === 'STOPPED');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(runtime.containers.size).toBe(1);
    engine.acknowledge([{ taskArn: task.taskArn, seq: lastReport(state, task)?.seq ?? 0 }]);
    await until('cleanup', () => runtime.containers.size === 0 && state.tasks[task.taskArn] === undefined);
  });

  it('adopts the containers of known tasks after a restart instead of creating new ones', async () => {
    const first = setup();
    await first.engine.recover();
    const task = assigned([{ name: 'app' }, { name: 'side' }]);
    first.engine.applyAssignments([task]);
    await until('RUNNING', () => lastReport(first.state, task)?.lastStatus === 'RUNNING');
    await first.engine.close();
    const ids = [...first.runtime.containers.keys()].sort();
    // As if the agent died before recording one container's id.
    const saved = structuredClone(first.state);
    const side = saved.tasks[task.taskArn]?.containers[1];
    if (side) Object.assign(side, { runtimeId: undefined, phase: 'PULLED' });

    const second = setup({ runtime: first.runtime, state: saved });
    await second.engine.recover();
    await until(
      'adoption',
      () => second.state.tasks[task.taskArn]?.containers.every((c) => c.phase === 'RUNNING') ?? false,
    );
    expect([...second.runtime.containers.keys()].sort()).toEqual(ids);
    expect(second.state.tasks[task.taskArn]?.containers.map((c) => c.runtimeId).sort()).toEqual(ids);
  });

  it('reports a container removed behind its back as stopped and stops the task', async () => {
    const { engine, state, runtime } = setup();
    await engine.recover();
    const task = assigned([{ name: 'app' }]);
    engine.applyAssignments([task]);
    await until('RUNNING', () => lastReport(state, task)?.lastStatus === 'RUNNING');
    await runtime.remove(runtime.containersOf(task.taskArn).get('app')?.id ?? '');
    engine.observeAll();
    await until('STOPPED', () => lastReport(state, task)?.lastStatus === 'STOPPED');
    expect(lastReport(state, task)?.containers[0]?.reason).toBe('The container was removed outside Berth');
  });

  it('leaves the containers of another container instance on the same engine alone', async () => {
    const first = setup();
    await first.engine.recover();
    const task = assigned([{ name: 'app' }]);
    first.engine.applyAssignments([task]);
    await until('RUNNING', () => lastReport(first.state, task)?.lastStatus === 'RUNNING');

    const other = setup({
      runtime: first.runtime,
      owner: 'arn:aws:ecs:us-east-1:000000000000:container-instance/c/2',
    });
    await other.engine.recover();
    other.engine.applyAssignments([]);
    await other.engine.removeUnclaimedOrphans();
    expect([...first.runtime.containers.values()].map((c) => c.running)).toEqual([true]);
    expect(other.state.tasks).toEqual({});
  });

  it('keeps an orphan it could not remove, and removes it on the next try', async () => {
    // Prepare: another instance's engine state is lost; its container is an orphan here.
    const first = setup();
    await first.engine.recover();
    const task = assigned([{ name: 'app' }]);
    first.engine.applyAssignments([task]);
    await until('RUNNING', () => lastReport(first.state, task)?.lastStatus === 'RUNNING');
    await first.engine.close();
    const again = setup({ runtime: first.runtime });
    await again.engine.recover();
    expect(again.engine.hasOrphans).toBe(true);
    const remove = first.runtime.remove.bind(first.runtime);
    let refusals = 1;
    first.runtime.remove = async (id) => {
      if (refusals-- > 0) throw new Error('device or resource busy');
      return remove(id);
    };
    // Act
    again.engine.applyAssignments([]);
    await again.engine.removeUnclaimedOrphans();
    const keptAfterFailure = again.engine.hasOrphans;
    await again.engine.removeUnclaimedOrphans();
    // Assess
    expect(keptAfterFailure).toBe(true);
    expect(again.engine.hasOrphans).toBe(false);
    expect(first.runtime.containers.size).toBe(0);
  });

  it('reports a task PENDING while its image is still being pulled', async () => {
    // Prepare: a pull that takes a while.
    const { engine, state } = setup({ runtime: new FakeRuntime({ pullDelayMs: 300 }) });
    await engine.recover();
    const task = assigned([{ name: 'app' }]);
    // Act
    engine.applyAssignments([task]);
    await until('a report', () => (state.tasks[task.taskArn]?.pending.length ?? 0) > 0);
    const first = lastReport(state, task);
    await until('RUNNING', () => lastReport(state, task)?.lastStatus === 'RUNNING');
    // Assess: PENDING was queued before the pull ended, RUNNING after it.
    expect(first?.lastStatus).toBe('PENDING');
    expect(state.tasks[task.taskArn]?.pending.map((r) => r.lastStatus)).toEqual(['PENDING', 'RUNNING']);
  });
});
