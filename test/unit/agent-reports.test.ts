import { describe, expect, it } from 'vitest';
import {
  applyAcks,
  maxPendingPerTask,
  nextSeq,
  recordReport,
  refusedReports,
  reportBatch,
  reportsDueIn,
} from '../../agent/reports.ts';
import { newTaskState, type TaskState } from '../../agent/state.ts';
import type { AssignedTask } from '../../core/protocol/agent.ts';

const assigned = (id: string): AssignedTask => ({
  taskArn: `arn:aws:ecs:us-east-1:000000000000:task/c/${id}`,
  desiredStatus: 'RUNNING',
  family: 'f',
  revision: 1,
  networkMode: 'bridge',
  containers: [{ name: 'app', image: 'busybox', essential: true }],
  volumes: [],
  restartOnFailure: false,
  createdAt: '2026-01-01T00:00:00.000Z',
});

const taskState = (id: string): TaskState => newTaskState(assigned(id));

const start = (t: TaskState) => {
  const c = t.containers[0];
  if (c) Object.assign(c, { phase: 'RUNNING', everStarted: true, runtimeId: 'c1' });
};

describe('report queue', () => {
  it('queues a report only when what the task shows has changed', () => {
    const t = taskState('a');
    expect(recordReport(t, 1000)).toBe(true);
    expect(recordReport(t, 1001)).toBe(false);
    start(t);
    expect(recordReport(t, 1002)).toBe(true);
    expect(t.pending.map((r) => r.lastStatus)).toEqual(['PENDING', 'RUNNING']);
  });

  it('gives each report of a task a higher seq, never below the clock in ms', () => {
    expect(nextSeq(0, 1_700_000_000_000)).toBe(1_700_000_000_000);
    expect(nextSeq(1_700_000_000_005, 1_700_000_000_000)).toBe(1_700_000_000_006);
    const t = taskState('a');
    recordReport(t, 5000);
    start(t);
    recordReport(t, 5000);
    expect(t.pending.map((r) => r.seq)).toEqual([5000, 5001]);
  });

  it('never reports a task status going backwards', () => {
    const t = taskState('a');
    start(t);
    recordReport(t, 1);
    const c = t.containers[0];
    if (c) c.phase = 'CREATED';
    recordReport(t, 2);
    expect(t.pending.at(-1)?.lastStatus).toBe('RUNNING');
  });

  it('sends each task reports oldest first, up to the batch limit', () => {
    const a = taskState('a');
    const b = taskState('b');
    recordReport(a, 1);
    start(a);
    recordReport(a, 2);
    recordReport(b, 3);
    expect(reportBatch([a, b], 10).map((r) => `${r.taskArn.slice(-1)}${r.seq}`)).toEqual(['a1', 'a2', 'b3']);
    expect(reportBatch([a, b], 2).map((r) => r.seq)).toEqual([1, 2]);
  });

  it("holds back a task just seen PENDING while another task's report goes, but not for long", () => {
    // Prepare: task a was just seen PENDING; task b went on to RUNNING.
    const a = taskState('a');
    const b = taskState('b');
    recordReport(a, 10_000);
    recordReport(b, 10_000);
    start(b);
    recordReport(b, 10_100);
    const hold = (nowMs: number) => (t: TaskState) => reportsDueIn(t, nowMs, 1_000) > 0;
    // Act
    const soon = reportBatch([a, b], 10, undefined, hold(10_200));
    const later = reportBatch([a, b], 10, undefined, hold(11_000));
    const steppedBack = reportBatch([a, b], 10, undefined, hold(9_000));
    // Assess
    expect(soon.map((r) => `${r.taskArn.slice(-1)} ${r.lastStatus}`)).toEqual(['b PENDING', 'b RUNNING']);
    expect(later.map((r) => r.taskArn.slice(-1))).toEqual(['a', 'b', 'b']);
    expect(steppedBack.map((r) => r.taskArn.slice(-1))).toEqual(['a', 'b', 'b']);
    expect([reportsDueIn(a, 10_200, 1_000), reportsDueIn(b, 10_200, 1_000)]).toEqual([800, 0]);
    expect(reportsDueIn(taskState('c'), 10_200, 1_000)).toBe(Number.POSITIVE_INFINITY);
  });

  it('keeps a batch under the size the server accepts, leaving the rest for the next sync', () => {
    const tasks = Array.from({ length: 300 }, (_, i) => {
      const t = taskState(i.toString(16).padStart(32, '0'));
      Object.assign(t.containers[0] ?? {}, { reason: 'x'.repeat(900) });
      recordReport(t, i + 1);
      return t;
    });
    const batch = reportBatch(tasks, 200);
    expect(batch.length).toBeGreaterThan(50);
    expect(batch.length).toBeLessThan(200);
    expect(JSON.stringify(batch).length).toBeLessThanOrEqual(96 * 1024 + 200);
  });

  it('drops reports up to the acknowledged seq and keeps later ones for the next sync', () => {
    const t = taskState('a');
    recordReport(t, 1);
    start(t);
    recordReport(t, 2);
    applyAcks({ [t.task.taskArn]: t }, [{ taskArn: t.task.taskArn, seq: 1 }], 10);
    expect(t.pending.map((r) => r.seq)).toEqual([2]);
    applyAcks({ [t.task.taskArn]: t }, [{ taskArn: t.task.taskArn, seq: 2 }], 10);
    expect(t.pending).toEqual([]);
  });

  it('marks a task for cleanup once its STOPPED report is acknowledged, not before', () => {
    const t = taskState('a');
    start(t);
    recordReport(t, 1);
    Object.assign(t.containers[0] ?? {}, { phase: 'STOPPED', exitCode: 0 });
    t.stopping = { stopCode: 'EssentialContainerExited', reason: 'Essential container in task exited' };
    recordReport(t, 2);
    expect(t.pending.at(-1)).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'EssentialContainerExited' });
    expect(applyAcks({ [t.task.taskArn]: t }, [{ taskArn: t.task.taskArn, seq: 1 }], 50)).toEqual([]);
    expect(t.stoppedAckedAt).toBeUndefined();
    expect(applyAcks({ [t.task.taskArn]: t }, [{ taskArn: t.task.taskArn, seq: 2 }], 60)).toEqual([t]);
    expect(t.stoppedAckedAt).toBe(60);
  });

  it('keeps the newest reports when a task piles up more than the queue holds', () => {
    const t = taskState('a');
    for (let i = 0; i < maxPendingPerTask + 5; i++) {
      Object.assign(t.containers[0] ?? {}, { reason: `change ${i}` });
      recordReport(t, i + 1);
    }
    expect(t.pending).toHaveLength(maxPendingPerTask);
    expect(t.pending.at(-1)?.containers[0]?.reason).toBe(`change ${maxPendingPerTask + 4}`);
  });

  it('reports a container waiting for a local restart as PENDING with its exit code', () => {
    const t = taskState('a');
    start(t);
    Object.assign(t.containers[0] ?? {}, { phase: 'STOPPED', exitCode: 137, restartAt: 99 });
    recordReport(t, 1);
    expect(t.pending[0]).toMatchObject({
      lastStatus: 'RUNNING',
      containers: [{ name: 'app', lastStatus: 'PENDING', exitCode: 137 }],
    });
  });
});

describe('reports the control plane refused', () => {
  const sent = [
    { taskArn: 'arn:task/a', seq: 1 },
    { taskArn: 'arn:task/b', seq: 4 },
    { taskArn: 'arn:task/a', seq: 2 },
  ];

  it("are only the named task's when the refusal names one of the tasks sent", () => {
    // Act
    const dropped = refusedReports(sent, 'arn:task/a');
    // Assess
    expect(dropped).toEqual([sent[0], sent[2]]);
  });

  it('are the whole batch when the refusal names no task, or one that was not sent', () => {
    // Act
    const unnamed = refusedReports(sent);
    const unknown = refusedReports(sent, 'arn:task/z');
    // Assess
    expect(unnamed).toEqual(sent);
    expect(unknown).toEqual(sent);
  });
});
