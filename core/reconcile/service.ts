import type { Deployment, ServiceRecord } from '../model/service.ts';
import type { StopCode, TaskRecord } from '../model/task.ts';
import {
  type Classified,
  classifyTasks,
  hasFailed,
  type InstanceView,
  isHealthy,
  isUnhealthy,
  lostAtOf,
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
  /**
   * When time alone will change the decision (a backoff ending, a disconnected instance's tasks
   * becoming lost); the host looks again then.
   */
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

  // Starts: the primary deployment up to the desired count, within the ceiling. Tasks stopped just
  // above still occupy their instances until their agents report them STOPPED, so they count.
  const primaryKeep = active.filter((task) => task.deploymentId === primary?.id && !onDraining(task));
  const occupying = classified.active.length + classified.stopping.length;
  // ECS: a service updated to a new task definition leaves the throttle at once, so only the
  // primary deployment's own failures hold its starts back.
  const backoff = backoffUntil(input.tasks.filter((task) => task.deploymentId === primary?.id));
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
  // Time alone changes two decisions: a backoff ending, and a disconnected instance's tasks becoming
  // lost. The host looks again at the earlier one (an empty plan still carries it, so no write is
  // needed for a steady service). Only the backoff's end is stored, so its event is said once a window.
  const lostAts = [...classified.active, ...classified.stopping]
    .map((task) => {
      const view = instanceOf(task);
      return view ? lostAtOf(service, view) : undefined;
    })
    .filter((time): time is number => time !== undefined && time > now.getTime());
  const backoffEnds = backingOff ? backoff.until : undefined;
  const wakeAts = backoffEnds === undefined ? lostAts : [backoffEnds, ...lostAts];
  if (wakeAts.length > 0) plan.recheckAt = new Date(Math.min(...wakeAts)).toISOString();
  const retryAfter = backoffEnds === undefined ? undefined : new Date(backoffEnds).toISOString();
  if (retryAfter !== undefined && service.retryAfter !== retryAfter) {
    plan.events.push(
      `(service ${service.name}) is unable to consistently start tasks successfully. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.`,
    );
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
    // Lost tasks were replaced and asked to stop: an instance that never comes back must not keep
    // a deployment from settling.
    const lost = new Set(classified.lost.map((task) => task.id));
    const others = input.tasks.filter(
      (task) =>
        task.deploymentId !== primary.id &&
        task.lastStatus !== 'STOPPED' &&
        !stopped.has(task.id) &&
        !lost.has(task.id),
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
      // A failed deployment launches nothing more, rollback or not.
      plan.start = [];
      // ECS rolls back to the last deployment that completed, never to another unfinished or failed
      // one (two broken definitions would otherwise roll back to each other forever).
      const previous = deployments
        .filter(
          (deployment) =>
            deployment.id !== current.id &&
            deployment.status !== 'INACTIVE' &&
            deployment.rolloutState === 'COMPLETED',
        )
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
      plan.events.push(`(service ${service.name}) has reached a steady state.`);
    }
    const serviceChanges: NonNullable<ServicePlan['service']> = {};
    if (JSON.stringify(deployments) !== JSON.stringify(service.deployments))
      serviceChanges.deployments = deployments;
    if (steady && !service.steadySince) serviceChanges.steadySince = at;
    if (!steady && service.steadySince) serviceChanges.steadySince = undefined;
    if (retryAfter !== service.retryAfter && (retryAfter || service.retryAfter)) {
      serviceChanges.retryAfter = retryAfter;
    }
    if (Object.keys(serviceChanges).length > 0) plan.service = serviceChanges;
  }

  // A deleted service disappears once nothing of it is live any more (lost tasks are asked to stop
  // and their instance may never return; should it, its agent still finds them desired STOPPED).
  if (service.status === 'DRAINING') {
    const settled = new Set([...classified.gone, ...classified.lost].map((task) => task.id));
    const live = input.tasks.filter((task) => task.lastStatus !== 'STOPPED' && !settled.has(task.id));
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
