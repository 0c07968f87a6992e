import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../../core/db/client.ts';
import type { ContainerInstanceRecord } from '../../core/model/container-instance.ts';
import type { ServiceRecord } from '../../core/model/service.ts';
import type { TaskRecord } from '../../core/model/task.ts';
import { deterministicId } from '../../core/reconcile/ids.ts';

/**
 * DESIGN.md's invariants, checked over the whole table. Tests may Scan (the request path never
 * does): what is stored is the truth these checks judge.
 */
export type TableItem = Record<string, unknown> & { pk: string; sk: string };

/** Every item, read consistently, in key order. */
export const scanTable = async (db: Db): Promise<TableItem[]> => {
  const items: TableItem[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.doc.send(
      new ScanCommand({ TableName: db.table, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    items.push(...((page.Items ?? []) as TableItem[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items.sort((a, b) => a.pk.localeCompare(b.pk) || a.sk.localeCompare(b.sk));
};

/** JSON with sets as sorted arrays and object keys sorted: two equal tables give equal text. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Set) return [...v].sort();
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
      );
    }
    return v;
  });

const ofType = <T>(items: readonly TableItem[], type: string) =>
  items.filter((item) => item.type === type) as unknown as (T & TableItem)[];

export const tasksIn = (items: readonly TableItem[]) => ofType<TaskRecord>(items, 'task');
export const servicesIn = (items: readonly TableItem[]) => ofType<ServiceRecord>(items, 'service');
export const instancesIn = (items: readonly TableItem[]) =>
  ofType<ContainerInstanceRecord>(items, 'containerInstance');

const live = (task: TaskRecord) => task.lastStatus !== 'STOPPED';

/** The ceiling of a service: how many of its tasks may occupy instances at once. */
export const ceilingOf = (service: ServiceRecord): number => {
  const desired = service.status === 'DRAINING' ? 0 : service.desiredCount;
  return Math.max(
    desired > 0 ? 1 : 0,
    Math.floor((desired * service.deploymentConfiguration.maximumPercent) / 100),
  );
};

/**
 * Safety: what must hold at every moment, whatever runs concurrently.
 * - a service never has more than its ceiling of tasks live on connected, registered instances
 *   (tasks on a disconnected instance past berth:replace-after-disconnect are replaced and do not
 *   count; the ceiling also moves down with desiredCount, so `ceilings` may give the highest
 *   ceiling the service had while the caller was changing it);
 * - an instance is never over-committed: the reservations of its unreleased tasks add up to at most
 *   what it registered, and remaining = registered − that sum (CPU, memory, ports, groups, count),
 *   and no group counter is kept at 0 (unless `zeroGroupsAllowed`: an item an older Berth left);
 * - a task is stored once, on one instance, in the partition its keys say;
 * - a service's tasks all carry ids of its own placement sequence (no task from nowhere, none twice).
 */
export const safetyViolations = (
  items: readonly TableItem[],
  options: { ceilings?: Map<string, number>; zeroGroupsAllowed?: boolean } = {},
): string[] => {
  const violations: string[] = [];
  const tasks = tasksIn(items);
  const instances = new Map(instancesIn(items).map((instance) => [instance.id, instance]));

  const seen = new Map<string, TableItem>();
  for (const task of tasks) {
    const other = seen.get(task.id);
    if (other) violations.push(`task ${task.id} stored twice: ${other.pk} and ${task.pk}`);
    seen.set(task.id, task);
    const partition = task.serviceName
      ? `SERVICE#${task.cluster}#${task.serviceName}`
      : `TASK#${task.cluster}#${task.id}`;
    if (task.pk !== partition) violations.push(`task ${task.id} in partition ${task.pk}, not ${partition}`);
    if (task.gsi2pk !== `INSTANCE#${task.instanceId}`) {
      violations.push(
        `task ${task.id} indexed under ${String(task.gsi2pk)}, not its instance ${task.instanceId}`,
      );
    }
    if (
      !task.released &&
      task.lastStatus === 'STOPPED' &&
      instances.get(task.instanceId)?.status !== 'INACTIVE'
    ) {
      violations.push(`task ${task.id} is STOPPED but still holds its reservation`);
    }
  }

  for (const instance of instances.values()) {
    if (instance.status === 'INACTIVE') continue;
    const holding = tasks.filter((task) => task.instanceId === instance.id && !task.released);
    const cpu = holding.reduce((sum, task) => sum + task.reservation.cpu, 0);
    const memory = holding.reduce((sum, task) => sum + task.reservation.memory, 0);
    const name = `instance ${instance.id}`;
    if (cpu > instance.registered.cpu)
      violations.push(`${name}: ${cpu} CPU committed of ${instance.registered.cpu}`);
    if (memory > instance.registered.memory) {
      violations.push(`${name}: ${memory} MiB committed of ${instance.registered.memory}`);
    }
    if (instance.remaining.cpu !== instance.registered.cpu - cpu) {
      violations.push(
        `${name}: remaining CPU ${instance.remaining.cpu}, registered − committed = ${instance.registered.cpu - cpu}`,
      );
    }
    if (instance.remaining.memory !== instance.registered.memory - memory) {
      violations.push(
        `${name}: remaining memory ${instance.remaining.memory}, registered − committed = ${instance.registered.memory - memory}`,
      );
    }
    if (instance.liveTasksCount !== holding.length) {
      violations.push(`${name}: liveTasksCount ${instance.liveTasksCount}, ${holding.length} tasks hold it`);
    }
    const ports = holding.flatMap((task) => task.reservation.ports);
    if (new Set(ports).size !== ports.length) violations.push(`${name}: a host port is taken twice`);
    const expectedPorts = [...new Set([...instance.registered.ports, ...ports])].sort((a, b) => a - b);
    const usedPorts = [...(instance.usedPorts ?? [])].sort((a, b) => a - b);
    if (canonicalJson(usedPorts) !== canonicalJson(expectedPorts)) {
      violations.push(`${name}: usedPorts ${usedPorts.join(',')}, expected ${expectedPorts.join(',')}`);
    }
    const groups = new Map<string, number>();
    for (const task of holding) groups.set(task.group, (groups.get(task.group) ?? 0) + 1);
    for (const [group, count] of Object.entries(instance.groups ?? {})) {
      // A group's counter goes with its last task: one kept at 0 would grow the item for good.
      if (count === 0 && !options.zeroGroupsAllowed) violations.push(`${name}: group ${group} kept at 0`);
      if (count !== (groups.get(group) ?? 0))
        violations.push(`${name}: group ${group} counted ${count}, ${groups.get(group) ?? 0} hold it`);
    }
    for (const [group, count] of groups) {
      if (instance.groups?.[group] === undefined)
        violations.push(`${name}: group ${group} (${count} tasks) not counted`);
    }
  }

  for (const service of servicesIn(items)) {
    if (service.status === 'INACTIVE') continue;
    const own = tasks.filter((task) => task.cluster === service.cluster && task.serviceName === service.name);
    const occupying = own.filter((task) => {
      const instance = instances.get(task.instanceId);
      return live(task) && instance?.agentConnected === true && instance.status !== 'INACTIVE';
    });
    const key = `${service.cluster}/${service.name}`;
    const ceiling = Math.max(ceilingOf(service), options.ceilings?.get(key) ?? 0);
    if (occupying.length > ceiling) {
      violations.push(`service ${key}: ${occupying.length} tasks occupy instances, ceiling ${ceiling}`);
    }
    const sequence = new Set(
      Array.from({ length: service.taskSequence }, (_, i) =>
        deterministicId(service.cluster, service.name, service.createdAt, i + 1),
      ),
    );
    for (const task of own) {
      if (!sequence.has(task.id))
        violations.push(`service ${key}: task ${task.id} is not of its placement sequence`);
    }
  }
  return violations;
};

/**
 * Convergence (checked once the fleet has settled): every ACTIVE service runs exactly its desired
 * count on connected instances, all of its primary deployment and RUNNING, and nothing else of it
 * is live there; every DRAINING one has gone INACTIVE.
 */
export const convergenceViolations = (items: readonly TableItem[]): string[] => {
  const violations: string[] = [];
  const tasks = tasksIn(items);
  const instances = new Map(instancesIn(items).map((instance) => [instance.id, instance]));
  for (const service of servicesIn(items)) {
    const key = `${service.cluster}/${service.name}`;
    if (service.status === 'DRAINING') violations.push(`service ${key} is still DRAINING`);
    if (service.status !== 'ACTIVE') continue;
    const primary = service.deployments.find((deployment) => deployment.status === 'PRIMARY');
    const here = tasks.filter(
      (task) =>
        task.cluster === service.cluster &&
        task.serviceName === service.name &&
        live(task) &&
        instances.get(task.instanceId)?.agentConnected === true,
    );
    const running = here.filter(
      (task) =>
        task.desiredStatus === 'RUNNING' &&
        task.lastStatus === 'RUNNING' &&
        task.deploymentId === primary?.id,
    );
    if (running.length !== service.desiredCount || here.length !== service.desiredCount) {
      violations.push(
        `service ${key}: ${running.length} primary tasks RUNNING and ${here.length} live, desired ${service.desiredCount}`,
      );
    }
  }
  return violations;
};
