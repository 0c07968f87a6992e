import type { ContainerInstanceStatus } from '../model/container-instance.ts';
import { replaceAfterDisconnectOf, type ServiceRecord } from '../model/service.ts';
import type { TaskRecord } from '../model/task.ts';

/** What the reconciler needs to know about an instance a task sits on. */
export type InstanceView = {
  id: string;
  status: ContainerInstanceStatus;
  agentConnected: boolean;
  /** When the sweeper last saw it go silent. */
  disconnectedAt?: string;
};

export type Classified = {
  /** Live tasks whose instance is deregistered or unknown. */
  gone: TaskRecord[];
  /** Live tasks on instances disconnected past the service's replace-after-disconnect. */
  lost: TaskRecord[];
  /** Live, desired STOPPED, not lost. */
  stopping: TaskRecord[];
  /** Live, desired RUNNING, not lost. */
  active: TaskRecord[];
  stopped: TaskRecord[];
};

/**
 * When the service's tasks on a disconnected instance count as lost (epoch ms); undefined: never
 * (connected, or no replace-after-disconnect policy). Without a recorded disconnect time only a
 * policy of 0 s applies.
 */
export const lostAtOf = (
  service: Pick<ServiceRecord, 'tags'>,
  instance: InstanceView,
): number | undefined => {
  const after = replaceAfterDisconnectOf(service);
  if (instance.agentConnected || after === undefined) return undefined;
  if (!instance.disconnectedAt) return after === 0 ? Number.NEGATIVE_INFINITY : undefined;
  const since = Date.parse(instance.disconnectedAt);
  return Number.isNaN(since) ? undefined : since + after * 1000;
};

const isLost = (service: ServiceRecord, instance: InstanceView, now: Date): boolean => {
  const lostAt = lostAtOf(service, instance);
  return lostAt !== undefined && now.getTime() >= lostAt;
};

/** Sorts a service's tasks into the reconciler's categories (see README.md). */
export const classifyTasks = (
  service: ServiceRecord,
  tasks: readonly TaskRecord[],
  instances: ReadonlyMap<string, InstanceView>,
  now: Date,
): Classified => {
  const result: Classified = { gone: [], lost: [], stopping: [], active: [], stopped: [] };
  for (const task of tasks) {
    if (task.lastStatus === 'STOPPED') {
      result.stopped.push(task);
      continue;
    }
    const instance = instances.get(task.instanceId);
    if (!instance || instance.status === 'INACTIVE' || instance.status === 'DEREGISTERING') {
      result.gone.push(task);
    } else if (isLost(service, instance, now)) {
      result.lost.push(task);
    } else if (task.desiredStatus === 'STOPPED') {
      result.stopping.push(task);
    } else {
      result.active.push(task);
    }
  }
  return result;
};

export const isHealthy = (task: TaskRecord): boolean =>
  task.lastStatus === 'RUNNING' &&
  task.healthStatus !== 'UNHEALTHY' &&
  (!task.hasHealthCheck || task.healthStatus === 'HEALTHY');

export const isUnhealthy = (task: TaskRecord): boolean =>
  task.lastStatus === 'RUNNING' && task.healthStatus === 'UNHEALTHY';

/** Stopped without ever becoming healthy: it failed to start, or its essential container exited first. */
export const hasFailed = (task: TaskRecord): boolean =>
  task.lastStatus === 'STOPPED' &&
  (task.stopCode === 'TaskFailedToStart' || task.stopCode === 'EssentialContainerExited') &&
  task.healthyAt === undefined;
