import type { ContainerReport, TaskReport } from '../core/protocol/agent.ts';
import { specOf } from './container-spec.ts';
import type { TaskState } from './state.ts';
import { reportedContainerStatus, type TaskFacts, taskHealthOf, taskStatusOf } from './steps.ts';

/**
 * The report queue, pure. Every change of a task's visible state becomes one report with a
 * higher seq; reports stay queued, in order, until the control plane acknowledges their seq
 * (DESIGN: "a status report is sent until acknowledged, in order").
 */

/** More unacknowledged reports than this for one task (a container flapping offline for days) drop the oldest. */
export const maxPendingPerTask = 50;

const statusOrder = ['PENDING', 'RUNNING', 'STOPPED'] as const;
type Status = (typeof statusOrder)[number];
const furthest = (a: Status | undefined, b: Status): Status =>
  a !== undefined && statusOrder.indexOf(a) > statusOrder.indexOf(b) ? a : b;

/** The engine's view of a task for the pure step functions. */
export const factsOf = (t: TaskState): TaskFacts => ({
  stopping: t.stopping !== undefined,
  containers: t.task.containers.map((container) => {
    const spec = specOf(container);
    const state = t.containers.find((c) => c.name === container.name);
    return {
      name: container.name,
      essential: spec.essential,
      phase: state?.phase ?? 'NONE',
      everStarted: state?.everStarted ?? false,
      ...(state?.exitCode !== undefined ? { exitCode: state.exitCode } : {}),
      ...(state?.health !== undefined ? { health: state.health } : {}),
      everHealthy: state?.everHealthy ?? false,
      ...(state?.restartAt !== undefined ? { restartAt: state.restartAt } : {}),
      dependsOn: (spec.dependsOn ?? []).map((d) => ({
        containerName: d.containerName,
        condition: d.condition,
      })),
      needs: [
        ...(spec.links ?? []).map((link) => link.split(':')[0] ?? link),
        ...(spec.volumesFrom ?? []).flatMap((from) => (from.sourceContainer ? [from.sourceContainer] : [])),
      ],
    };
  }),
});

/** What a report about `t` says now (without seq and time). */
export const reportBodyOf = (t: TaskState): Omit<TaskReport, 'seq' | 'at'> => {
  const facts = factsOf(t);
  const lastStatus = furthest(t.reportedStatus, taskStatusOf(facts));
  const containers: ContainerReport[] = t.containers.map((c) => {
    const status = reportedContainerStatus(c);
    const reason =
      c.reason ??
      (c.restarts > 0
        ? `Restarted ${c.restarts} time(s) by the Berth agent; last exit code ${c.exitCode ?? 'unknown'}`
        : undefined);
    return {
      name: c.name,
      lastStatus: status,
      // A running container's exit code would describe a previous run: it is left to the stored record.
      ...(status !== 'RUNNING' && c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
      ...(reason ? { reason: reason.slice(0, 1024) } : {}),
      ...(c.health !== undefined ? { healthStatus: c.health } : {}),
      ...(c.runtimeId ? { runtimeId: c.runtimeId } : {}),
      ...(c.networkBindings?.length ? { networkBindings: c.networkBindings } : {}),
    };
  });
  return {
    taskArn: t.task.taskArn,
    lastStatus,
    healthStatus: taskHealthOf(facts.containers),
    ...(lastStatus === 'STOPPED' && t.stopping?.stopCode ? { stopCode: t.stopping.stopCode } : {}),
    ...(lastStatus === 'STOPPED' && t.stopping?.reason
      ? { stoppedReason: t.stopping.reason.slice(0, 1024) }
      : {}),
    containers,
  };
};

/**
 * The next seq: above the previous one, and at least the clock in ms. The clock floor keeps seqs
 * rising even when the state file was lost: the server ignores any seq not above the last it
 * applied, so an agent restarting its count at 1 could never report again.
 */
export const nextSeq = (previous: number, nowMs: number): number => Math.max(previous + 1, Math.floor(nowMs));

/** Queues a report when the task's visible state changed since the last one; true when it did. */
export const recordReport = (t: TaskState, nowMs: number): boolean => {
  const body = reportBodyOf(t);
  const key = JSON.stringify(body);
  if (key === t.lastReport) return false;
  t.lastReport = key;
  t.reportedStatus = body.lastStatus;
  t.seq = nextSeq(t.seq, nowMs);
  t.pending.push({ ...body, seq: t.seq, at: new Date(nowMs).toISOString() });
  if (t.pending.length > maxPendingPerTask) t.pending.splice(0, t.pending.length - maxPendingPerTask);
  return true;
};

/**
 * Milliseconds until a task's pending reports should go: Infinity when it has none, 0 when one is
 * urgent (anything but PENDING) or unreadable, else until its oldest PENDING has waited `graceMs`
 * — a task just seen PENDING is usually RUNNING a moment later, and one sync carrying both is one
 * write of the task, not two.
 */
export const reportsDueIn = (t: TaskState, nowMs: number, graceMs: number): number => {
  let due = Number.POSITIVE_INFINITY;
  for (const report of t.pending) {
    if (report.lastStatus !== 'PENDING') return 0;
    const queuedAt = Date.parse(report.at ?? '');
    // Unreadable, or queued "in the future" (the clock was stepped back): due now.
    if (!Number.isFinite(queuedAt) || queuedAt > nowMs) return 0;
    due = Math.min(due, queuedAt + graceMs - nowMs);
  }
  return Math.max(0, due);
};

/**
 * Up to `max` pending reports and about `maxBytes` of JSON (the server refuses larger bodies),
 * each task's taken oldest first so the server applies them in order. The rest go next sync, as
 * do the reports of tasks `hold` holds back.
 */
export const reportBatch = (
  tasks: TaskState[],
  max: number,
  maxBytes = 96 * 1024,
  hold: (t: TaskState) => boolean = () => false,
): TaskReport[] => {
  const batch: TaskReport[] = [];
  let bytes = 0;
  for (const t of tasks) {
    if (hold(t)) continue;
    for (const report of t.pending) {
      const size = JSON.stringify(report).length + 1;
      if (batch.length >= max || (batch.length > 0 && bytes + size > maxBytes)) return batch;
      bytes += size;
      batch.push(report);
    }
  }
  return batch;
};

/**
 * Drops what the control plane acknowledged (an ack of seq N covers every report up to N). A
 * task whose STOPPED report is acknowledged is marked for cleanup; returns those tasks.
 */
export const applyAcks = (
  tasks: Record<string, TaskState>,
  acked: { taskArn: string; seq: number }[],
  nowMs: number,
): TaskState[] => {
  const stopped: TaskState[] = [];
  for (const ack of acked) {
    const t = tasks[ack.taskArn];
    if (!t) continue;
    t.pending = t.pending.filter((report) => report.seq > ack.seq);
    if (t.pending.length === 0 && t.reportedStatus === 'STOPPED' && t.stoppedAckedAt === undefined) {
      t.stoppedAckedAt = nowMs;
      stopped.push(t);
    }
  }
  return stopped;
};

/**
 * The reports to give up after the control plane refused a sync as such (400, 403): resending them
 * would block every later report. When it named the task at fault, only that task's; otherwise
 * the whole batch.
 */
export const refusedReports = <Sent extends { taskArn: string }>(
  sent: Sent[],
  refusedTaskArn?: string,
): Sent[] =>
  refusedTaskArn && sent.some((r) => r.taskArn === refusedTaskArn)
    ? sent.filter((r) => r.taskArn === refusedTaskArn)
    : sent;
