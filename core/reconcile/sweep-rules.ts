import type { ContainerInstanceRecord } from '../model/container-instance.ts';
import { replaceAfterDisconnectOf, type ServiceRecord } from '../model/service.ts';
import type { TaskRecord } from '../model/task.ts';

// What only time changes, decided purely: the sweep (run/sweep.ts) reads a cluster, asks these,
// and writes what they answer.

export type Silence = {
  /** Connected instances whose agent has not been heard from for longer than the grace period. */
  toDisconnect: string[];
  /** When each already-disconnected instance went silent (epoch ms). */
  silentSince: Map<string, number>;
};

/**
 * Which connected instances went silent (no heartbeat, or none since registering, for longer than
 * `graceSeconds`), and since when each disconnected one has been. A disconnected instance without a
 * recorded time counts as silent from now.
 */
export const silenceOf = (
  instances: readonly Pick<
    ContainerInstanceRecord,
    'id' | 'status' | 'agentConnected' | 'disconnectedAt' | 'registeredAt'
  >[],
  heartbeats: ReadonlyMap<string, string>,
  nowMs: number,
  graceSeconds: number,
): Silence => {
  const toDisconnect: string[] = [];
  const silentSince = new Map<string, number>();
  for (const instance of instances) {
    if (instance.status === 'INACTIVE') continue;
    if (!instance.agentConnected) {
      const since = instance.disconnectedAt ? Date.parse(instance.disconnectedAt) : Number.NaN;
      silentSince.set(instance.id, Number.isNaN(since) ? nowMs : since);
      continue;
    }
    const lastSeen = Date.parse(heartbeats.get(instance.id) ?? instance.registeredAt);
    if (nowMs - lastSeen > graceSeconds * 1000) toDisconnect.push(instance.id);
  }
  return { toDisconnect, silentSince };
};

/** Tasks meant to run that have not left PROVISIONING or PENDING within `pendingTimeoutSeconds`. */
export const stuckTasksOf = (
  tasks: readonly TaskRecord[],
  nowMs: number,
  pendingTimeoutSeconds: number,
): TaskRecord[] =>
  tasks.filter(
    (task) =>
      task.desiredStatus === 'RUNNING' &&
      (task.lastStatus === 'PROVISIONING' || task.lastStatus === 'PENDING') &&
      nowMs - Date.parse(task.createdAt) > pendingTimeoutSeconds * 1000,
  );

/**
 * Whether the sweep must reconcile a service: not yet steady, its backoff is over, or one of its
 * tasks sits on an instance silent for at least the service's `berth:replace-after-disconnect`
 * (nothing is written when a silence outlasts the policy, so only time can bring it due).
 */
export const isServiceDue = (
  service: ServiceRecord,
  tasks: readonly TaskRecord[],
  silentSince: ReadonlyMap<string, number>,
  nowMs: number,
): boolean => {
  if (!service.steadySince) return true;
  if (service.retryAfter !== undefined && Date.parse(service.retryAfter) <= nowMs) return true;
  const after = replaceAfterDisconnectOf(service);
  if (after === undefined) return false;
  return tasks.some((task) => {
    const since = silentSince.get(task.instanceId);
    return (
      task.serviceName === service.name &&
      task.desiredStatus === 'RUNNING' &&
      task.lastStatus !== 'STOPPED' &&
      since !== undefined &&
      nowMs - since >= after * 1000
    );
  });
};
