import { describe, expect, it } from 'vitest';
import type { ContainerObservation } from '../../agent/runtime/types.ts';
import { newTaskState, type TaskState } from '../../agent/state.ts';
import {
  applyObservation,
  failTask,
  pullBehaviorFor,
  startFailed,
  stepFailed,
} from '../../agent/transitions.ts';
import type { AssignedContainer, AssignedTask } from '../../core/protocol/agent.ts';

const now = Date.parse('2026-01-01T00:10:00.000Z');
const restart = { baseMs: 1000, maxMs: 8000, resetAfterMs: 60_000 };

const taskOf = (containers: Partial<AssignedContainer>[], extra: Partial<AssignedTask> = {}): TaskState =>
  newTaskState({
    taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/c/0123456789abcdef0123456789abcdef',
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

const running = (t: TaskState, index = 0) => {
  const c = t.containers[index];
  if (!c) throw new Error('no container');
  Object.assign(c, { phase: 'RUNNING', everStarted: true, runtimeId: 'id1', startedAt: now - 5000 });
  return c;
};

const observation = (overrides: Partial<ContainerObservation>): ContainerObservation => ({
  id: 'id1',
  taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/c/0123456789abcdef0123456789abcdef',
  containerName: 'c0',
  running: false,
  networkBindings: [],
  ...overrides,
});

const exit = (overrides: Partial<ContainerObservation> = {}): ContainerObservation =>
  observation({
    exitCode: 1,
    startedAt: new Date(now - 5000).toISOString(),
    finishedAt: new Date(now).toISOString(),
    ...overrides,
  });

describe('agent transitions', () => {
  it('stops the task when an essential container vanished from the runtime', () => {
    // Prepare
    const t = taskOf([{}]);
    const c = running(t);

    // Act
    const observed = applyObservation(t, c, undefined, { now, offline: false, restart });

    // Assess
    expect(observed).toEqual({ kind: 'vanished' });
    expect(c).toMatchObject({ phase: 'STOPPED', reason: 'The container was removed outside Berth' });
    expect(t.stopping).toEqual({
      stopCode: 'EssentialContainerExited',
      reason: 'Essential container in task exited',
    });
  });

  it('says nothing when a stopped container is gone', () => {
    // Prepare
    const t = taskOf([{}]);
    const c = running(t);
    c.phase = 'STOPPED';

    // Act
    const observed = applyObservation(t, c, undefined, { now, offline: false, restart });

    // Assess
    expect(observed).toEqual({ kind: 'nothing' });
    expect(t.stopping).toBeUndefined();
  });

  it('restarts an exited essential container of a service task in place while offline', () => {
    // Prepare
    const t = taskOf([{}], { restartOnFailure: true });
    const c = running(t);

    // Act
    const observed = applyObservation(t, c, exit(), { now, offline: true, restart });

    // Assess
    expect(observed).toEqual({ kind: 'exited', exitCode: 1, restart: { delayMs: 1000 } });
    expect(c).toMatchObject({ phase: 'STOPPED', exitCode: 1, restartAt: now + 1000, consecutiveRestarts: 1 });
    expect(c.reason).toBe('Exited with code 1; restarting in 1 s (control plane unreachable)');
    expect(t.stopping).toBeUndefined();
  });

  it('stops the task when an essential container exits online, keeping the OOM reason', () => {
    // Prepare
    const t = taskOf([{}], { restartOnFailure: true });
    const c = running(t);

    // Act
    const observed = applyObservation(t, c, exit({ exitCode: 137, oomKilled: true }), {
      now,
      offline: false,
      restart,
    });

    // Assess
    expect(observed).toEqual({ kind: 'exited', exitCode: 137, restart: false });
    expect(c.reason).toBe('OutOfMemoryError: Container killed due to memory usage');
    expect(t.stopping).toEqual({
      stopCode: 'EssentialContainerExited',
      reason: 'Essential container in task exited',
    });
  });

  it('adopts a container found running, with its health and ports', () => {
    // Prepare
    const t = taskOf([{ healthCheck: { command: ['CMD', 'true'] } }]);
    const c = t.containers[0];
    if (!c) throw new Error('no container');
    c.phase = 'CREATED';
    const bindings = [{ containerPort: 80, hostPort: 32768, protocol: 'tcp' as const }];

    // Act
    applyObservation(
      t,
      c,
      observation({
        running: true,
        health: 'healthy',
        startedAt: new Date(now - 1000).toISOString(),
        networkBindings: bindings,
      }),
      { now, offline: false, restart },
    );

    // Assess
    expect(c).toMatchObject({
      phase: 'RUNNING',
      everStarted: true,
      startedAt: now - 1000,
      health: 'HEALTHY',
      everHealthy: true,
      networkBindings: bindings,
    });
  });

  it('fails the task to start when a container cannot be pulled, created or started', () => {
    // Prepare
    const t = taskOf([{}, {}]);
    const c = t.containers[0];
    if (!c) throw new Error('no container');

    // Act
    failTask(t, c, `CannotPullContainerError: ${'x'.repeat(2000)}`);

    // Assess
    expect(c.phase).toBe('STOPPED');
    expect(c.reason).toHaveLength(1024);
    expect(t.stopping).toEqual({ stopCode: 'TaskFailedToStart', reason: c.reason });
  });

  it('stops a non-essential container whose step failed, and leaves its task running', () => {
    // Prepare
    const t = taskOf([{}, { essential: false }]);
    const sidecar = t.containers[1];
    if (!sidecar) throw new Error('no container');

    // Act
    stepFailed(t, sidecar, 'dependency c0 never started');

    // Assess
    expect(sidecar).toMatchObject({ phase: 'STOPPED', reason: 'dependency c0 never started' });
    expect(t.stopping).toBeUndefined();
  });

  it('takes the task down when a local restart of an essential container is refused', () => {
    // Prepare
    const t = taskOf([{}], { restartOnFailure: true });
    const c = running(t);
    c.restartAt = now;

    // Act
    startFailed(t, c, { essential: true }, true, 'CannotStartContainerError: gone');

    // Assess
    expect(c).toMatchObject({
      phase: 'STOPPED',
      reason: 'CannotStartContainerError: gone',
      restartAt: undefined,
    });
    expect(t.stopping?.stopCode).toBe('EssentialContainerExited');
  });

  it('pulls an image once, then uses the cached one, under the once behaviour', () => {
    // Act
    const first = pullBehaviorFor('once', [], 'img');
    const later = pullBehaviorFor('once', ['img'], 'img');
    const always = pullBehaviorFor('always', ['img'], 'img');

    // Assess
    expect([first, later, always]).toEqual(['always', 'prefer-cached', 'always']);
  });
});
