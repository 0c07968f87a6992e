import type { BerthConfig } from '../config.ts';
import type { Db } from '../db/client.ts';
import { allContainerInstances, getContainerInstance } from '../db/container-instances.ts';
import { readServiceUnit, servicesOf } from '../db/services.ts';
import { tasksOfInstance } from '../db/tasks.ts';
import {
  emptyWrite,
  maxTransactionItems,
  type UnitWrite,
  writeUnit,
  zeroGroupsOf,
} from '../db/unit-writes.ts';
import type { Doorbell } from '../doorbell/port.ts';
import { definitionOf } from '../ecs/definition-cache.ts';
import { BerthError } from '../errors.ts';
import { arns } from '../model/arn.ts';
import type { ContainerInstanceRecord } from '../model/container-instance.ts';
import type { ServiceRecord } from '../model/service.ts';
import type { TaskRecord } from '../model/task.ts';
import { newTaskRecord, requiredAttributesOf, reservationOf } from '../model/task-factory.ts';
import { type PlacementInstance, placeTasks } from '../placement/place.ts';
import type { InstanceView } from './classify.ts';
import { deterministicId } from './ids.ts';
import { isEmptyPlan, reconcileService, type ServicePlan } from './service.ts';

export type ReconcileDeps = {
  db: Db;
  config: BerthConfig;
  doorbell?: Doorbell;
  now?: () => Date;
  /** Figures for metrics: tasks placed and stopped, placement failures. */
  onMetric?: (
    name: 'TasksPlaced' | 'TasksStopped' | 'PlacementFailures' | 'ReconcileConflicts',
    value: number,
  ) => void;
};

export type ReconcileOutcome = { wrote: boolean; recheckAt?: string };

/**
 * Starts per pass: placing takes capacity under a condition on each instance, so a smaller batch
 * loses fewer races with concurrent placements and releases.
 */
const maxStartsPerPass = 40;
const maxAttempts = 8;
/**
 * Transactions one reconcile of a service may write before it leaves the rest to the stream record
 * its own last write caused: a big deployment lands in a few passes without one call running long.
 */
const maxWritesPerCall = 10;

/** The placement engine's view of an instance record. */
export const placementViewOf = (instance: ContainerInstanceRecord): PlacementInstance => ({
  id: instance.id,
  status: instance.status,
  agentConnected: instance.agentConnected,
  agentVersion: instance.agentVersion,
  ec2InstanceId: instance.ec2InstanceId,
  registeredAt: instance.registeredAt,
  remaining: instance.remaining,
  usedPorts: [...(instance.usedPorts ?? [])],
  usedPortsUdp: [...(instance.usedPortsUdp ?? [])],
  attributes: instance.attributes,
  tasks: Object.entries(instance.groups ?? {}).flatMap(([group, count]) =>
    Array.from({ length: Math.max(0, count) }, () => ({ group, family: '' })),
  ),
});

const instanceViewOf = (instance: ContainerInstanceRecord & { disconnectedAt?: string }): InstanceView => ({
  id: instance.id,
  status: instance.status,
  agentConnected: instance.agentConnected,
  ...(instance.disconnectedAt ? { disconnectedAt: instance.disconnectedAt } : {}),
});

/** ECS's placement-failure wording for an instance whose item DynamoDB refused to grow. */
export const fullInstanceMessage = (instanceId: string) =>
  `no container instance met all of its requirements. The closest matching container-instance ${instanceId} cannot record more tasks: its item is at DynamoDB's item size limit.`;

const placementFailureEvent = (service: ServiceRecord, message: string) =>
  `(service ${service.name}) was unable to place a task because ${message}`;

/**
 * Turns a plan into one guarded write: new tasks placed on instances (capacity as a condition),
 * stops, finalizations, service fields and events. Returns the instances to ring.
 */
const buildWrite = async (
  deps: ReconcileDeps,
  service: ServiceRecord,
  tasks: readonly TaskRecord[],
  instances: ContainerInstanceRecord[],
  plan: ServicePlan,
  at: string,
  /** Instances whose items DynamoDB refused to grow in this reconcile: they take nothing now. */
  full: ReadonlySet<string>,
): Promise<{ write: UnitWrite; placementMessage?: string; truncated: boolean }> => {
  const write = emptyWrite(at);
  const byId = new Map(tasks.map((task) => [task.id, task]));
  // One transaction holds maxTransactionItems items: the service item, the plan's events and a
  // possible placement-failure event first; then each finalize (its task), each stop (its task, and
  // its instance's assignment bump once per instance) and each start (its task, its instance's claim
  // once). What does not fit waits for the next pass, which re-plans from what this one wrote: every
  // prefix of the plan is a valid write on its own (a stop asked for is one less to ask for).
  let items = 2 + plan.events.length;
  const instancesTouched = new Set<string>();
  const take = (instanceId?: string): boolean => {
    const cost = 1 + (instanceId !== undefined && !instancesTouched.has(instanceId) ? 1 : 0);
    if (items + cost > maxTransactionItems) return false;
    items += cost;
    if (instanceId !== undefined) instancesTouched.add(instanceId);
    return true;
  };
  let truncated = false;
  for (const finalize of plan.finalize) {
    const task = byId.get(finalize.taskId);
    if (!task) continue;
    if (!take()) {
      truncated = true;
      break;
    }
    write.finalizes.push({ task, reason: finalize.reason });
  }
  for (const stop of plan.stop) {
    const task = byId.get(stop.taskId);
    if (!task) continue;
    if (!take(task.instanceId)) {
      truncated = true;
      break;
    }
    write.stops.push({ task, reason: stop.reason, stopCode: stop.stopCode });
  }
  let sequence = service.taskSequence;
  let placementMessage: string | undefined;
  const views = instances.filter((instance) => !full.has(instance.id)).map(placementViewOf);
  const zeroGroups = new Map(instances.map((instance) => [instance.id, zeroGroupsOf(instance.groups)]));
  for (const start of plan.start) {
    const definition = await definitionOf(deps.db, deps.config, start.family, start.revision);
    if (!definition) {
      placementMessage = `its task definition ${start.family}:${start.revision} is missing.`;
      continue;
    }
    // Each start needs at least its task's item, at most that and its instance's.
    const room = Math.max(0, Math.min(maxStartsPerPass - write.newTasks.length, maxTransactionItems - items));
    const count = Math.min(start.count, room);
    if (count < start.count) truncated = true;
    if (count === 0) break;
    const result = placeTasks(
      {
        reservation: reservationOf(definition),
        group: `service:${service.name}`,
        constraints: [
          ...service.placementConstraints,
          ...definition.placementConstraints.map((c) => ({
            type: 'memberOf' as const,
            expression: c.expression,
          })),
        ],
        strategies: service.placementStrategy,
        requiredAttributes: requiredAttributesOf(definition),
        seed: service.version * 7919 + sequence,
      },
      views,
      count,
    );
    let cut = false;
    for (const instanceId of result.placements) {
      // A prefix of a placement is the placement of fewer tasks: the rest go in the next pass.
      if (!take(instanceId)) {
        cut = true;
        truncated = true;
        break;
      }
      sequence += 1;
      write.newTasks.push(
        newTaskRecord({
          cluster: service.cluster,
          // Deterministic: two reconcilers deciding the same start write the same task id.
          id: deterministicId(service.cluster, service.name, service.createdAt, sequence),
          definition,
          instanceId,
          group: `service:${service.name}`,
          startedBy: start.deploymentId,
          serviceName: service.name,
          deploymentId: start.deploymentId,
          at,
        }),
      );
    }
    // Why the task after the placed ones could not be placed: not known when the write was cut first.
    if (result.failure && !cut) {
      const [fullId] = full;
      placementMessage = fullId ? fullInstanceMessage(fullId) : result.failure.message;
    }
  }
  for (const task of write.newTasks) {
    const zeros = zeroGroups.get(task.instanceId) ?? [];
    if (zeros.length > 0) write.zeroGroups = { ...write.zeroGroups, [task.instanceId]: zeros };
  }
  const events = [...plan.events];
  const serviceSet: Record<string, unknown> = { ...plan.service };
  // ECS: the service's task definition is its primary deployment's (a rollback restores the old one).
  const primary = plan.service?.deployments?.find((deployment) => deployment.status === 'PRIMARY');
  if (primary && (primary.family !== service.family || primary.revision !== service.revision)) {
    serviceSet.family = primary.family;
    serviceSet.revision = primary.revision;
  }
  if (placementMessage && placementMessage !== service.placementMessage) {
    events.push(placementFailureEvent(service, placementMessage));
  }
  if (placementMessage !== service.placementMessage) serviceSet.placementMessage = placementMessage;
  if (sequence !== service.taskSequence) serviceSet.taskSequence = sequence;
  // The service's version guards every write of the unit, even one that changes no field of it.
  write.service = { cluster: service.cluster, name: service.name, version: service.version, set: serviceSet };
  write.events = events.map((message, index) => ({
    cluster: service.cluster,
    service: service.name,
    event: {
      id: deterministicId(service.cluster, service.name, service.version, index, message),
      // Events of one pass are a millisecond apart so that newest-first keeps their order.
      createdAt: new Date(Date.parse(at) + index).toISOString(),
      message,
    },
  }));
  return { write, placementMessage, truncated };
};

const ringAll = async (deps: ReconcileDeps, write: UnitWrite) => {
  const instances = new Set(
    [...write.newTasks, ...write.stops.map((stop) => stop.task)].map((task) => task.instanceId),
  );
  await Promise.all([...instances].map((instanceId) => deps.doorbell?.ring(instanceId)));
};

/** One read-decide-write pass over a service: settled (nothing to write), a write, or a conflict. */
type Pass =
  | { kind: 'settled'; recheckAt?: string }
  | { kind: 'wrote'; truncated: boolean; recheckAt?: string }
  | { kind: 'conflict' }
  | { kind: 'full'; instanceIds: string[] };

const reconcilePass = async (
  deps: ReconcileDeps,
  cluster: string,
  name: string,
  at: Date,
  full: ReadonlySet<string>,
): Promise<Pass> => {
  const { service, tasks } = await readServiceUnit(deps.db, cluster, name);
  if (!service || service.status === 'INACTIVE') return { kind: 'settled' };
  const instances = await allContainerInstances(deps.db, cluster);
  const views = new Map(instances.map((instance) => [instance.id, instanceViewOf(instance)]));
  const plan = reconcileService({ service, tasks, instances: views, now: at });
  if (isEmptyPlan(plan)) return { kind: 'settled', recheckAt: plan.recheckAt };
  const { write, placementMessage, truncated } = await buildWrite(
    deps,
    service,
    tasks,
    instances,
    plan,
    at.toISOString(),
    full,
  );
  const nothingToWrite =
    write.newTasks.length === 0 &&
    write.stops.length === 0 &&
    write.finalizes.length === 0 &&
    write.events.length === 0 &&
    Object.keys(write.service?.set ?? {}).length === 0;
  if (nothingToWrite) return { kind: 'settled', recheckAt: plan.recheckAt };
  const outcome = await writeUnit(deps.db, write);
  if (!outcome.ok) {
    return outcome.reason === 'instance-full'
      ? { kind: 'full', instanceIds: outcome.instanceIds }
      : { kind: 'conflict' };
  }
  deps.onMetric?.('TasksPlaced', write.newTasks.length);
  deps.onMetric?.('TasksStopped', write.stops.length + write.finalizes.length);
  if (placementMessage) deps.onMetric?.('PlacementFailures', 1);
  await ringAll(deps, write);
  return { kind: 'wrote', truncated, recheckAt: plan.recheckAt };
};

/**
 * Reconciles one service: re-reads it and its tasks consistently, decides with the pure
 * reconcileService, writes the decision guarded by the service version, and on a conflict
 * (someone else wrote first) reads again and decides again — up to maxAttempts conflicts in a row.
 * A plan with more starts, stops or finalizes than one transaction holds is written in passes, up
 * to maxWritesPerCall; the stream record of the last one carries the rest into the next call.
 */
export const reconcileServiceUnit = async (
  deps: ReconcileDeps,
  cluster: string,
  name: string,
): Promise<ReconcileOutcome> => {
  const now = deps.now ?? (() => new Date());
  let writes = 0;
  let conflicts = 0;
  const full = new Set<string>();
  for (;;) {
    const pass = await reconcilePass(deps, cluster, name, now(), full);
    if (pass.kind === 'settled') return { wrote: writes > 0, recheckAt: pass.recheckAt };
    if (pass.kind === 'full') {
      // Placed elsewhere or reported as a placement failure in the next pass; an instance refused
      // again (its item full without a placement on it) is an error, not a loop.
      const known = pass.instanceIds.filter((id) => full.has(id));
      if (known.length > 0) {
        throw new BerthError(
          'ServerException',
          'internal',
          `container instance ${known[0]} of ${cluster} is at DynamoDB's item size limit`,
        );
      }
      for (const id of pass.instanceIds) full.add(id);
      continue;
    }
    if (pass.kind === 'conflict') {
      deps.onMetric?.('ReconcileConflicts', 1);
      conflicts += 1;
      if (conflicts >= maxAttempts) {
        throw new Error(
          `reconcile of service ${cluster}/${name} kept conflicting after ${maxAttempts} attempts`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * conflicts));
      continue;
    }
    writes += 1;
    conflicts = 0;
    if (!pass.truncated || writes >= maxWritesPerCall) return { wrote: true, recheckAt: pass.recheckAt };
  }
};

/**
 * An instance changed (registered, drained, disconnected, capacity freed, deregistered): finalizes
 * the standalone tasks of a deregistered instance and answers the services that may care — those
 * not at steady state and those with tasks on the instance — for the caller to reconcile.
 */
export const settleInstance = async (
  deps: ReconcileDeps,
  cluster: string,
  instanceId: string,
): Promise<{ wrote: boolean; services: string[] }> => {
  const now = (deps.now ?? (() => new Date()))();
  const [instance, assigned, services] = await Promise.all([
    getContainerInstance(deps.db, cluster, instanceId),
    tasksOfInstance(deps.db, instanceId),
    servicesOf(deps.db, cluster),
  ]);
  let wrote = false;
  if (!instance || instance.status === 'INACTIVE') {
    const standalone = assigned.filter((task) => !task.serviceName && task.lastStatus !== 'STOPPED');
    // Each task's finalize stands alone (no service guards it): as many transactions as it takes.
    for (let from = 0; from < standalone.length; from += maxTransactionItems) {
      const write = emptyWrite(now.toISOString());
      write.finalizes = standalone
        .slice(from, from + maxTransactionItems)
        .map((task) => ({ task, reason: 'Container instance was deregistered.' }));
      if ((await writeUnit(deps.db, write)).ok) wrote = true;
    }
  }
  const withTasksHere = new Set(assigned.filter((t) => t.lastStatus !== 'STOPPED').map((t) => t.serviceName));
  const targets = services.filter((service) => !service.steadySince || withTasksHere.has(service.name));
  return { wrote, services: targets.map((service) => service.name) };
};

/** Folds the outcomes of several reconciles into one: wrote if any did, the earliest recheck. */
export const combineOutcomes = (outcomes: readonly ReconcileOutcome[], wrote = false): ReconcileOutcome => {
  let recheckAt: string | undefined;
  for (const outcome of outcomes) {
    wrote = wrote || outcome.wrote;
    if (outcome.recheckAt && (!recheckAt || outcome.recheckAt < recheckAt)) recheckAt = outcome.recheckAt;
  }
  return recheckAt ? { wrote, recheckAt } : { wrote };
};

export const taskArnOf = (config: BerthConfig, task: Pick<TaskRecord, 'cluster' | 'id'>) =>
  arns(config).task(task.cluster, task.id);
