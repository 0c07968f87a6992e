import type { TaskReport } from '../protocol/agent.ts';
import { type ContainerState, statusRank, stoppedTaskTtl, type TaskRecord, type TaskStatus } from './task.ts';

/** The task fields an agent report may change. */
export type ReportChanges = Partial<
  Pick<
    TaskRecord,
    | 'lastStatus'
    | 'desiredStatus'
    | 'healthStatus'
    | 'stopCode'
    | 'stoppedReason'
    | 'containers'
    | 'pullStartedAt'
    | 'pullStoppedAt'
    | 'startedAt'
    | 'healthyAt'
    | 'stoppedAt'
    | 'executionStoppedAt'
  >
> & { ttl?: number };

/** The changes a report makes, given what is stored: statuses only move forward. */
export const changesOf = (task: TaskRecord, report: TaskReport, at: string): ReportChanges => {
  const reported = report.lastStatus as TaskStatus;
  const forward = statusRank(reported) > statusRank(task.lastStatus);
  const lastStatus = forward ? reported : task.lastStatus;
  const containers: ContainerState[] = task.containers.map((container) => {
    const update = report.containers.find((c) => c.name === container.name);
    if (!update) return container;
    // A container that stopped does not come back to life in a later report of the same task.
    const status = container.lastStatus === 'STOPPED' ? 'STOPPED' : update.lastStatus;
    return {
      ...container,
      lastStatus: status,
      ...(update.exitCode !== undefined ? { exitCode: update.exitCode } : {}),
      ...(update.reason !== undefined ? { reason: update.reason } : {}),
      ...(update.healthStatus !== undefined ? { healthStatus: update.healthStatus } : {}),
      ...(update.runtimeId !== undefined ? { runtimeId: update.runtimeId } : {}),
      ...(update.networkBindings !== undefined ? { networkBindings: update.networkBindings } : {}),
    };
  });
  const changes: ReportChanges = { containers };
  if (lastStatus !== task.lastStatus) changes.lastStatus = lastStatus;
  if (lastStatus !== 'STOPPED' && report.healthStatus) changes.healthStatus = report.healthStatus;
  if (statusRank(lastStatus) >= statusRank('PENDING') && !task.pullStartedAt) {
    changes.pullStartedAt = at;
    changes.pullStoppedAt = at;
  }
  if (lastStatus === 'RUNNING' && !task.startedAt) changes.startedAt = at;
  const healthyNow =
    lastStatus === 'RUNNING' &&
    (report.healthStatus ?? task.healthStatus) !== 'UNHEALTHY' &&
    (!task.hasHealthCheck || (report.healthStatus ?? task.healthStatus) === 'HEALTHY');
  if (healthyNow && !task.healthyAt) changes.healthyAt = at;
  if (lastStatus === 'STOPPED' && task.lastStatus !== 'STOPPED') {
    changes.desiredStatus = 'STOPPED';
    changes.stoppedAt = at;
    changes.executionStoppedAt = at;
    if (!task.stopCode && report.stopCode) changes.stopCode = report.stopCode;
    if (!task.stoppedReason && report.stoppedReason) changes.stoppedReason = report.stoppedReason;
    changes.ttl = stoppedTaskTtl(at);
  }
  return changes;
};
