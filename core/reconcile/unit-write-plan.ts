/**
 * From a service's plan to the one guarded write that carries it out: new tasks placed on
 * instances (capacity as a condition), stops, finalizations, service fields and events. Pure: the
 * task definitions the plan starts are read before (`definitionKeysOf` names them), the time and the
 * instances DynamoDB refused to grow come in.
 */
import { emptyWrite, maxTransactionItems, type UnitWrite, zeroGroupsOf } from '../db/unit-writes.ts';
import type { ContainerInstanceRecord } from '../model/container-instance.ts';
import type { ServiceRecord } from '../model/service.ts';
import type { TaskRecord } from '../model/task.ts';
import type { TaskDefinition } from '../model/task-definition/describe.ts';
import { newTaskRecord } from '../model/task-factory.ts';
import { placeTasks } from '../placement/place.ts';
import { fullInstanceMessage, placementRequestOf, placementViewOf } from '../placement/request.ts';
import { deterministicId } from './ids.ts';
import type { ServicePlan } from './service.ts';

/**
 * Starts per pass: placing takes capacity under a condition on each instance, so a smaller batch
 * loses fewer races with concurrent placements and releases.
 */
export const maxStartsPerPass = 40;

/** The key of a task definition revision in the map `planUnitWrite` is given. */
export const definitionKey = (family: string, revision: number) => `${family}:${revision}`;

/** The revisions a plan starts tasks of, each once: what to read before planning its write. */
export const definitionKeysOf = (
  plan: Pick<ServicePlan, 'start'>,
): { family: string; revision: number }[] => {
  const seen = new Map<string, { family: string; revision: number }>();
  for (const { family, revision } of plan.start)
    seen.set(definitionKey(family, revision), { family, revision });
  return [...seen.values()];
};

export type UnitWritePlanInput = {
  service: ServiceRecord;
  tasks: readonly TaskRecord[];
  instances: readonly ContainerInstanceRecord[];
  plan: ServicePlan;
  /** The revisions of `definitionKeysOf(plan)` by `definitionKey`; a missing one fails its start. */
  definitions: ReadonlyMap<string, TaskDefinition>;
  /** ISO date-time of the write. */
  at: string;
  /** Instances whose items DynamoDB refused to grow in this reconcile: they take nothing now. */
  full: ReadonlySet<string>;
};

export type UnitWritePlan = {
  write: UnitWrite;
  /** Why the service could not place a task, if it could not (the service keeps it). */
  placementMessage?: string;
  /** Part of the plan did not fit one transaction: the next pass plans the rest. */
  truncated: boolean;
};

const placementFailureEvent = (service: ServiceRecord, message: string) =>
  `(service ${service.name}) was unable to place a task because ${message}`;

export const planUnitWrite = ({
  service,
  tasks,
  instances,
  plan,
  definitions,
  at,
  full,
}: UnitWritePlanInput): UnitWritePlan => {
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
  const group = `service:${service.name}`;
  for (const start of plan.start) {
    const definition = definitions.get(definitionKey(start.family, start.revision));
    if (!definition) {
      placementMessage = `its task definition ${start.family}:${start.revision} is missing.`;
      continue;
    }
    // Each start needs at least its task's item, at most that and its instance's.
    const room = Math.max(0, Math.min(maxStartsPerPass - write.newTasks.length, maxTransactionItems - items));
    const count = Math.min(start.count, room);
    if (count < start.count) truncated = true;
    if (count === 0) break;
    const request = placementRequestOf(definition, {
      group,
      constraints: service.placementConstraints,
      strategies: service.placementStrategy,
      seed: service.version * 7919 + sequence,
    });
    const result = placeTasks(request, views, count);
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
          group,
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
  const zeroGroups = new Map(instances.map((instance) => [instance.id, zeroGroupsOf(instance.groups)]));
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

/** A planned write that changes nothing (the plan's starts all failed to place, say): not written. */
export const isEmptyWrite = (write: UnitWrite): boolean =>
  write.newTasks.length === 0 &&
  write.stops.length === 0 &&
  write.finalizes.length === 0 &&
  write.events.length === 0 &&
  Object.keys(write.service?.set ?? {}).length === 0;
