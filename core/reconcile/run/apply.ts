import type { BerthConfig } from '../../config.ts';
import type { Db } from '../../db/client.ts';
import { allContainerInstances, getContainerInstance } from '../../db/container-instances.ts';
import { definitionOf } from '../../db/definition-cache.ts';
import { type Attempt, done, optimistic, retry } from '../../db/optimistic.ts';
import { readServiceUnit, servicesOf } from '../../db/services.ts';
import { tasksOfInstance } from '../../db/tasks.ts';
import { emptyWrite, maxTransactionItems, type UnitWrite, writeUnit } from '../../db/unit-writes.ts';
import type { Doorbell } from '../../doorbell/port.ts';
import { BerthError } from '../../errors.ts';
import { arns } from '../../model/arn.ts';
import type { ContainerInstanceRecord } from '../../model/container-instance.ts';
import type { TaskRecord } from '../../model/task.ts';
import type { TaskDefinition } from '../../model/task-definition/describe.ts';
import type { InstanceView } from '../classify.ts';
import { isEmptyPlan, reconcileService, type ServicePlan } from '../service.ts';
import { definitionKey, definitionKeysOf, isEmptyWrite, planUnitWrite } from '../unit-write-plan.ts';

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
 * Conflicts in a row one reconcile takes before it gives up: each attempt re-reads the service, its
 * tasks and the cluster's instances, and a reconcile that gives up is run again by its stream
 * record, so fewer than an API action's (actionAttempts).
 */
const maxAttempts = 8;
/**
 * Transactions one reconcile of a service may write before it leaves the rest to the stream record
 * its own last write caused: a big deployment lands in a few passes without one call running long.
 */
const maxWritesPerCall = 10;

const instanceViewOf = (instance: ContainerInstanceRecord & { disconnectedAt?: string }): InstanceView => ({
  id: instance.id,
  status: instance.status,
  agentConnected: instance.agentConnected,
  ...(instance.disconnectedAt ? { disconnectedAt: instance.disconnectedAt } : {}),
});

/** The task definitions a plan starts tasks of, read (from memory when this process has them). */
const readDefinitions = async (deps: ReconcileDeps, plan: ServicePlan) => {
  const definitions = new Map<string, TaskDefinition>();
  await Promise.all(
    definitionKeysOf(plan).map(async ({ family, revision }) => {
      const definition = await definitionOf(deps.db, deps.config, family, revision);
      if (definition) definitions.set(definitionKey(family, revision), definition);
    }),
  );
  return definitions;
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
  const definitions = await readDefinitions(deps, plan);
  const { write, placementMessage, truncated } = planUnitWrite({
    service,
    tasks,
    instances,
    plan,
    definitions,
    at: at.toISOString(),
    full,
  });
  if (isEmptyWrite(write)) return { kind: 'settled', recheckAt: plan.recheckAt };
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
  const full = new Set<string>();
  // One attempt: passes until one is written, settled or lost a race. A pass refused for a full
  // instance is not a race: placed elsewhere or reported as a placement failure in the next pass;
  // an instance refused again (its item full without a placement on it) is an error, not a loop.
  const attempt = async (): Promise<Attempt<Exclude<Pass, { kind: 'conflict' | 'full' }>>> => {
    for (;;) {
      const pass = await reconcilePass(deps, cluster, name, now(), full);
      if (pass.kind === 'conflict') return retry();
      if (pass.kind !== 'full') return done(pass);
      const known = pass.instanceIds.filter((id) => full.has(id));
      if (known.length > 0) {
        throw new BerthError(
          'ServerException',
          'internal',
          `container instance ${known[0]} of ${cluster} is at DynamoDB's item size limit`,
        );
      }
      for (const id of pass.instanceIds) full.add(id);
    }
  };
  for (let writes = 0; ; ) {
    const pass = await optimistic(
      {
        maxAttempts,
        exhausted: `reconcile of service ${cluster}/${name} kept conflicting after ${maxAttempts} attempts`,
        onRetry: () => deps.onMetric?.('ReconcileConflicts', 1),
      },
      attempt,
    );
    if (pass.kind === 'settled') return { wrote: writes > 0, recheckAt: pass.recheckAt };
    writes += 1;
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
