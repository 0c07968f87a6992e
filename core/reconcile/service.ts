import type { Deployment, ServiceRecord } from '../model/service.ts';
import type { StopCode, TaskRecord } from '../model/task.ts';
import {
  type Classified,
  classifyTasks,
  hasFailed,
  type InstanceView,
  isHealthy,
  isUnhealthy,
} from './classify.ts';
import { deploymentIdOf } from './ids.ts';

export type ReconcileInput = {
  service: ServiceRecord;
  tasks: readonly TaskRecord[];
  /** The instances the tasks sit on (an absent one is gone). */
  instances: ReadonlyMap<string, InstanceView>;
  now: Date;
};

export type StartRequest = { deploymentId: string; family: string; revision: number; count: number };
export type StopRequest = { taskId: string; reason: string; stopCode: StopCode };

/** What one pass decided. An empty plan means the service is where it should be. */
export type ServicePlan = {
  start: StartRequest[];
  stop: StopRequest[];
  /** Tasks to mark STOPPED without an agent (their instance is gone). */
  finalize: { taskId: string; reason: string }[];
  /** Service fields to write (guarded by its version); undefined when none changed. */
  service?: Partial<Pick<ServiceRecord, 'deployments' | 'status' | 'steadySince' | 'retryAfter'>>;
  events: string[];
  /** When time alone will change the decision (backoff ending); the host looks again then. */
  recheckAt?: string;
};

/** ECS: the circuit breaker trips after half the desired count failed, at least 3, at most 200. */
export const failureThreshold = (desiredCount: number): number =>
  Math.min(200, Math.max(3, Math.ceil(desiredCount * 0.5)));

/** Consecutive start failures before placing backs off, and the longest wait (ECS: 15 minutes). */
const backoffAfterFailures = 3;
const maxBackoffSeconds = 15 * 60;
const backoffBaseSeconds = 10;

const isPending = (task: TaskRecord) => task.lastStatus !== 'RUNNING';

/** Tasks to take away, best first: not yet healthy, then from the most crowded instance. */
const removalOrder = (tasks: readonly TaskRecord[]): TaskRecord[] => {
  const perInstance = new Map<string, number>();
  for (const task of tasks) perInstance.set(task.instanceId, (perInstance.get(task.instanceId) ?? 0) + 1);
  return [...tasks].sort(
    (a, b) =>
      Number(isHealthy(a)) - Number(isHealthy(b)) ||
      (perInstance.get(b.instanceId) ?? 0) - (perInstance.get(a.instanceId) ?? 0) ||
      b.createdAt.localeCompare(a.createdAt) ||
      a.id.localeCompare(b.id),
  );
};

/** Backoff after repeated start failures, derived from the tasks themselves (no stored counter). */
const backoffUntil = (tasks: readonly TaskRecord[]): { until?: number; failures: number } => {
  const lastHealthy = Math.max(
    0,
    ...tasks.filter((t) => t.healthyAt).map((t) => Date.parse(t.healthyAt ?? '')),
  );
  const failures = tasks
    .filter((task) => hasFailed(task) && Date.parse(task.createdAt) > lastHealthy)
    .map((task) => Date.parse(task.stoppedAt ?? task.updatedAt));
  if (failures.length < backoffAfterFailures) return { failures: failures.length };
  const delay = Math.min(
    maxBackoffSeconds,
    backoffBaseSeconds * 2 ** (failures.length - backoffAfterFailures),
  );
  return { until: Math.max(...failures) + delay * 1000, failures: failures.length };
};

const describeDeployment = (service: ServiceRecord, deployment: Deployment) =>
  `(service ${service.name}) (deployment ${deployment.id})`;

/**
 * One reconcile pass over a service: pure, total and deterministic. See README.md for the words.
 */
export const reconcileService = (input: ReconcileInput): ServicePlan => {
  const { service, now } = input;
  const at = now.toISOString();
  const plan: ServicePlan = { start: [], stop: [], finalize: [], events: [] };
  if (service.status === 'INACTIVE') return plan;

  const classified: Classified = classifyTasks(service, input.tasks, input.instances, now);
  const desired = service.status === 'DRAINING' ? 0 : service.desiredCount;
  const { maximumPercent, minimumHealthyPercent, deploymentCircuitBreaker } = service.deploymentConfiguration;
  const ceiling = Math.max(desired > 0 ? 1 : 0, Math.floor((desired * maximumPercent) / 100));
  const floor = Math.ceil((desired * minimumHealthyPercent) / 100);
  let deployments = service.deployments.map((deployment) => ({ ...deployment }));
  const primary = deployments.find((deployment) => deployment.status === 'PRIMARY');

  // Tasks whose instance is gone for good are STOPPED now; lost ones are asked to stop.
  for (const task of classified.gone) {
    plan.finalize.push({ taskId: task.id, reason: 'Container instance was deregistered.' });
  }
  for (const task of classified.lost) {
    if (task.desiredStatus === 'RUNNING') {
      plan.stop.push({
        taskId: task.id,
        reason: 'Container instance was disconnected; the task was replaced.',
        stopCode: 'ServiceSchedulerInitiated',
      });
    }
  }

  const stopped = new Set<string>();
  const stop = (task: TaskRecord, reason: string) => {
    stopped.add(task.id);
    plan.stop.push({ taskId: task.id, reason, stopCode: 'ServiceSchedulerInitiated' });
  };

  const instanceOf = (task: TaskRecord) => input.instances.get(task.instanceId);
  const onDraining = (task: TaskRecord) => instanceOf(task)?.status === 'DRAINING';

  // Unhealthy tasks of a service are replaced (standalone ones are not: that is RunTask's caller's job).
  for (const task of classified.active) {
    if (isUnhealthy(task)) stop(task, 'Task failed container health checks.');
    else if (onDraining(task) && isPending(task)) stop(task, 'Container instance is draining.');
  }
  const active = classified.active.filter((task) => !stopped.has(task.id));

  // Starts: the primary deployment up to the desired count, within the ceiling.
  const primaryKeep = active.filter((task) => task.deploymentId === primary?.id && !onDraining(task));
  const occupying = active.length + classified.stopping.length;
  const backoff = backoffUntil(input.tasks);
  const backingOff = backoff.until !== undefined && backoff.until > now.getTime();
  const rolloutFailed = primary?.rolloutState === 'FAILED';
  if (primary && !backingOff && !rolloutFailed) {
    const count = Math.min(desired - primaryKeep.length, ceiling - occupying);
    if (count > 0) {
      plan.start.push({
        deploymentId: primary.id,
        family: primary.family,
        revision: primary.revision,
        count,
      });
    }
  }
  if (backingOff && backoff.until !== undefined) {
    plan.recheckAt = new Date(backoff.until).toISOString();
    if (service.retryAfter !== plan.recheckAt) {
      plan.events.push(
        `service ${service.name} is unable to consistently start tasks successfully. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.`,
      );
    }
  }

  // Stops: what must go — old deployments, excess primary tasks, tasks on draining instances —
  // unhealthy or pending ones freely, healthy ones only while healthy stays at or above the floor.
  let healthy = active.filter(isHealthy).length;
  const excessPrimary = removalOrder(primaryKeep).slice(0, Math.max(0, primaryKeep.length - desired));
  const toRemove = removalOrder([
    ...active.filter((task) => task.deploymentId !== primary?.id),
    ...active.filter((task) => task.deploymentId === primary?.id && onDraining(task)),
    ...excessPrimary,
  ]);
  let removableHealthy = Math.max(0, healthy - floor);
  for (const task of toRemove) {
    if (!isHealthy(task)) {
      stop(task, 'Task stopped by the service scheduler during a deployment.');
    } else if (removableHealthy > 0) {
      const excess = excessPrimary.includes(task);
      stop(
        task,
        excess ? 'Scaling activity initiated by the service.' : 'Task replaced by a newer deployment.',
      );
      removableHealthy -= 1;
      healthy -= 1;
    }
  }

  // Rollout state and the circuit breaker.
  if (primary) {
    const failedTasks = Math.max(
      primary.failedTasks,
      input.tasks.filter((task) => task.deploymentId === primary.id && hasFailed(task)).length,
    );
    const current = deployments.find((deployment) => deployment.id === primary.id);
    if (current && failedTasks !== current.failedTasks) {
      current.failedTasks = failedTasks;
      current.updatedAt = at;
    }
    const others = input.tasks.filter(
      (task) => task.deploymentId !== primary.id && task.lastStatus !== 'STOPPED' && !stopped.has(task.id),
    );
    const primaryHealthyOnActive = primaryKeep.filter(isHealthy).length;
    const steady =
      primaryHealthyOnActive === desired &&
      primaryKeep.length === desired &&
      others.length === 0 &&
      classified.stopping.length === 0 &&
      plan.start.length === 0 &&
      plan.stop.length === 0;
    if (
      current &&
      current.rolloutState === 'IN_PROGRESS' &&
      deploymentCircuitBreaker.enable &&
      failedTasks >= failureThreshold(desired)
    ) {
      current.rolloutState = 'FAILED';
      current.rolloutStateReason = `ECS deployment circuit breaker: tasks failed to start.`;
      current.updatedAt = at;
      plan.events.push(`${describeDeployment(service, current)} deployment failed: tasks failed to start.`);
      const previous = deployments
        .filter((deployment) => deployment.id !== current.id && deployment.status !== 'INACTIVE')
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
      if (deploymentCircuitBreaker.rollback && previous) {
        const rollback: Deployment = {
          id: deploymentIdOf(service.cluster, service.name, 'rollback', current.id, at),
          status: 'PRIMARY',
          family: previous.family,
          revision: previous.revision,
          desiredCount: desired,
          rolloutState: 'IN_PROGRESS',
          rolloutStateReason: `ECS deployment circuit breaker: rolling back to deploymentId ${previous.id}.`,
          failedTasks: 0,
          createdAt: at,
          updatedAt: at,
        };
        current.status = 'ACTIVE';
        deployments = [rollback, ...deployments.filter((deployment) => deployment.id !== previous.id)];
        plan.events.push(
          `${describeDeployment(service, current)} deployment failed: rolling back to deployment ${previous.id}.`,
        );
        // Stop starting tasks of the failed definition in this pass.
        plan.start = [];
      }
    } else if (steady && current && current.rolloutState !== 'COMPLETED') {
      current.rolloutState = 'COMPLETED';
      current.rolloutStateReason = 'ECS deployment completed.';
      current.updatedAt = at;
      deployments = deployments.filter((deployment) => deployment.id === current.id);
      plan.events.push(`${describeDeployment(service, current)} has completed.`);
    } else if (steady && current && deployments.length > 1) {
      deployments = deployments.filter((deployment) => deployment.id === current.id);
    }
    if (steady && !service.steadySince) {
      plan.events.push(`service ${service.name} has reached a steady state.`);
    }
    const serviceChanges: NonNullable<ServicePlan['service']> = {};
    if (JSON.stringify(deployments) !== JSON.stringify(service.deployments))
      serviceChanges.deployments = deployments;
    if (steady && !service.steadySince) serviceChanges.steadySince = at;
    if (!steady && service.steadySince) serviceChanges.steadySince = undefined;
    if (plan.recheckAt !== service.retryAfter && (plan.recheckAt || service.retryAfter)) {
      serviceChanges.retryAfter = plan.recheckAt;
    }
    if (Object.keys(serviceChanges).length > 0) plan.service = serviceChanges;
  }

  // A deleted service disappears once nothing of it is live any more.
  if (service.status === 'DRAINING') {
    const live = input.tasks.filter(
      (task) => task.lastStatus !== 'STOPPED' && !plan.finalize.some((f) => f.taskId === task.id),
    );
    if (live.length === 0) plan.service = { ...plan.service, status: 'INACTIVE' };
  }
  return plan;
};

export const isEmptyPlan = (plan: ServicePlan): boolean =>
  plan.start.length === 0 &&
  plan.stop.length === 0 &&
  plan.finalize.length === 0 &&
  plan.service === undefined &&
  plan.events.length === 0;
