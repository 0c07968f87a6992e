import { describe, expect, it } from 'vitest';
import { stoppedTaskRetentionSeconds } from '../../core/model/task.ts';
import { changesOf } from '../../core/model/task-report.ts';
import type { TaskReport } from '../../core/protocol/agent.ts';
import { at, pendingTask, task } from './reconcile-fixtures.ts';

const report = (overrides: Partial<TaskReport> = {}): TaskReport => ({
  taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/default/t1',
  seq: 4,
  lastStatus: 'RUNNING',
  containers: [],
  ...overrides,
});

const app = { name: 'app', image: 'busybox', essential: true } as const;

describe('changesOf (an agent report applied to its stored task)', () => {
  it('moves a pending task to RUNNING and stamps when it pulled, started and became healthy', () => {
    // Prepare
    const stored = pendingTask('t1', { containers: [{ ...app, lastStatus: 'PENDING' }] });
    const running = report({ containers: [{ name: 'app', lastStatus: 'RUNNING', runtimeId: 'c1' }] });

    // Act
    const changes = changesOf(stored, running, at(0));

    // Assess
    expect(changes).toEqual({
      lastStatus: 'RUNNING',
      containers: [{ ...app, lastStatus: 'RUNNING', runtimeId: 'c1' }],
      pullStartedAt: at(0),
      pullStoppedAt: at(0),
      startedAt: at(0),
      healthyAt: at(0),
    });
  });

  it('never moves a task status backwards', () => {
    // Prepare
    const stored = task('t1', { pullStartedAt: at(-595) });

    // Act
    const changes = changesOf(stored, report({ lastStatus: 'PENDING' }), at(0));

    // Assess
    expect(changes.lastStatus).toBeUndefined();
    expect(changes.startedAt).toBeUndefined();
  });

  it('keeps a stopped container stopped when a later report says it runs', () => {
    // Prepare
    const stored = task('t1', { containers: [{ ...app, lastStatus: 'STOPPED', exitCode: 1 }] });

    // Act
    const changes = changesOf(
      stored,
      report({ containers: [{ name: 'app', lastStatus: 'RUNNING' }] }),
      at(0),
    );

    // Assess
    expect(changes.containers).toEqual([{ ...app, lastStatus: 'STOPPED', exitCode: 1 }]);
  });

  it('counts a task with a health check healthy only once it reports HEALTHY', () => {
    // Prepare
    const stored = pendingTask('t1', { hasHealthCheck: true });

    // Act
    const unknown = changesOf(stored, report({ healthStatus: 'UNKNOWN' }), at(0));
    const healthy = changesOf(stored, report({ healthStatus: 'HEALTHY' }), at(1));

    // Assess
    expect(unknown.healthyAt).toBeUndefined();
    expect(healthy).toMatchObject({ healthStatus: 'HEALTHY', healthyAt: at(1) });
  });

  it('stops the task for good: desired STOPPED, stop times, the reason kept, expiry set', () => {
    // Prepare
    const stopped = report({
      lastStatus: 'STOPPED',
      healthStatus: 'UNHEALTHY',
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
    });

    // Act
    const changes = changesOf(task('t1'), stopped, at(0));

    // Assess
    expect(changes).toMatchObject({
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stoppedAt: at(0),
      executionStoppedAt: at(0),
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      ttl: Math.floor(Date.parse(at(0)) / 1000) + stoppedTaskRetentionSeconds,
    });
    expect(changes.healthStatus).toBeUndefined();
  });

  it('keeps the stop reason the control plane already recorded', () => {
    // Prepare
    const stopping = task('t1', { stopCode: 'UserInitiated', stoppedReason: 'Task stopped by user' });

    // Act
    const changes = changesOf(
      stopping,
      report({ lastStatus: 'STOPPED', stopCode: 'EssentialContainerExited', stoppedReason: 'exited' }),
      at(0),
    );

    // Assess
    expect(changes.stopCode).toBeUndefined();
    expect(changes.stoppedReason).toBeUndefined();
  });
});
