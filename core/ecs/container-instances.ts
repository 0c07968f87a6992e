import { z } from 'zod';
import { requireActiveCluster } from '../db/clusters.ts';
import {
  allContainerInstances,
  deregisterContainerInstance,
  getContainerInstance,
  setContainerInstanceStatus,
} from '../db/container-instances.ts';
import { decodeToken, encodeToken, pageLimit } from '../db/query.ts';
import { tasksOfInstance } from '../db/tasks.ts';
import { clientError, invalidParameter } from '../errors.ts';
import { clusterNameOf, scopedIdOf } from '../model/arn.ts';
import {
  type ContainerInstanceRecord,
  ContainerInstanceStatuses,
  type Resources,
} from '../model/container-instance.ts';
import { tagListOf } from '../model/tags.ts';
import { epochSeconds } from '../model/time.ts';
import { matchesQuery, parseQuery, type QuerySubject } from '../placement/query-language.ts';
import { defineAction } from './action.ts';
import type { ActionContext } from './context.ts';

/** ECS's `Resource` list: CPU, MEMORY, PORTS, PORTS_UDP. */
export const resourcesOutput = (resources: Resources) => [
  { name: 'CPU', type: 'INTEGER', doubleValue: 0, longValue: 0, integerValue: resources.cpu },
  { name: 'MEMORY', type: 'INTEGER', doubleValue: 0, longValue: 0, integerValue: resources.memory },
  {
    name: 'PORTS',
    type: 'STRINGSET',
    doubleValue: 0,
    longValue: 0,
    integerValue: 0,
    stringSetValue: resources.ports.map(String),
  },
  {
    name: 'PORTS_UDP',
    type: 'STRINGSET',
    doubleValue: 0,
    longValue: 0,
    integerValue: 0,
    stringSetValue: resources.portsUdp.map(String),
  },
];

export const attributeListOf = (attributes: Record<string, string | null>) =>
  Object.entries(attributes).map(([name, value]) => (value === null ? { name } : { name, value }));

export type TaskCounts = { running: number; pending: number };

/** Running and pending tasks of an instance, counted from the tasks assigned to it. */
export const taskCountsOf = async (context: ActionContext, instanceId: string): Promise<TaskCounts> => {
  const tasks = (await tasksOfInstance(context.db, instanceId)).filter(
    (task) => task.lastStatus !== 'STOPPED',
  );
  const running = tasks.filter((task) => task.lastStatus === 'RUNNING').length;
  return { running, pending: tasks.length - running };
};

const sortedPorts = (ports: Set<number> | undefined) => [...(ports ?? [])].sort((a, b) => a - b);

/** The ECS `ContainerInstance` shape. */
export const containerInstanceOutput = (
  context: ActionContext,
  instance: ContainerInstanceRecord,
  counts: TaskCounts,
  include: readonly string[] = [],
) => ({
  containerInstanceArn: context.arns.containerInstance(instance.cluster, instance.id),
  ec2InstanceId: instance.ec2InstanceId,
  version: instance.version,
  versionInfo: {
    agentVersion: instance.agentVersion,
    agentHash: 'berth',
    dockerVersion: 'DockerVersion: unknown',
  },
  remainingResources: resourcesOutput({
    ...instance.remaining,
    ports: sortedPorts(instance.usedPorts),
    portsUdp: sortedPorts(instance.usedPortsUdp),
  }),
  registeredResources: resourcesOutput(instance.registered),
  status: instance.status,
  ...(instance.statusReason ? { statusReason: instance.statusReason } : {}),
  agentConnected: instance.agentConnected,
  runningTasksCount: counts.running,
  pendingTasksCount: counts.pending,
  attributes: attributeListOf(instance.attributes),
  registeredAt: epochSeconds(instance.registeredAt),
  attachments: [],
  tags: include.includes('TAGS') ? tagListOf(instance.tags) : [],
});

/** What the cluster query language can ask about an instance. */
export const querySubjectOf = (
  instance: ContainerInstanceRecord,
  taskGroups: readonly string[] = [],
): QuerySubject => ({
  agentConnected: instance.agentConnected,
  agentVersion: instance.agentVersion,
  ec2InstanceId: instance.ec2InstanceId,
  registeredAt: new Date(instance.registeredAt),
  // Live (running or pending) tasks: close to ECS's running count, and free to read.
  runningTasksCount: instance.liveTasksCount,
  attributes: Object.fromEntries(Object.entries(instance.attributes).map(([k, v]) => [k, v ?? undefined])),
  taskGroups,
});

/** Resolves a container instance given as an id or ARN within a cluster. */
export const findContainerInstance = async (
  context: ActionContext,
  cluster: string,
  reference: string,
): Promise<ContainerInstanceRecord | undefined> => {
  const { cluster: arnCluster, id } = scopedIdOf(reference, 'container-instance');
  if (arnCluster !== undefined && arnCluster !== cluster) return undefined;
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) return undefined;
  return getContainerInstance(context.db, cluster, id);
};

const offsetToken = (offset: number) => encodeToken({ pk: 'OFFSET', sk: String(offset) });
const offsetOf = (token: string | undefined): number => {
  if (!token) return 0;
  const offset = Number(decodeToken(token, { partition: 'OFFSET' }).sk);
  if (!Number.isInteger(offset) || offset < 0) throw invalidParameter('Invalid nextToken.');
  return offset;
};

/** Pages an in-memory list with an opaque offset token (for lists filtered after reading). */
export const pageOf = <T>(
  items: readonly T[],
  maxResults: number | undefined,
  nextToken: string | undefined,
) => {
  const limit = pageLimit(maxResults);
  const offset = offsetOf(nextToken);
  const page = items.slice(offset, offset + limit);
  return { page, nextToken: offset + limit < items.length ? offsetToken(offset + limit) : undefined };
};

export const listContainerInstances = defineAction(
  z.object({
    cluster: z.string().optional(),
    filter: z.string().optional(),
    status: z.enum(ContainerInstanceStatuses).optional(),
    maxResults: z.number().int().optional(),
    nextToken: z.string().optional(),
  }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    const query = input.filter ? parseQuery(input.filter) : undefined;
    const instances = (await allContainerInstances(context.db, cluster))
      .filter((instance) =>
        input.status ? instance.status === input.status : instance.status !== 'INACTIVE',
      )
      .filter((instance) => !query || matchesQuery(query, querySubjectOf(instance)))
      .sort((a, b) => a.registeredAt.localeCompare(b.registeredAt) || a.id.localeCompare(b.id));
    const { page, nextToken } = pageOf(instances, input.maxResults, input.nextToken);
    return {
      containerInstanceArns: page.map((instance) => context.arns.containerInstance(cluster, instance.id)),
      ...(nextToken ? { nextToken } : {}),
    };
  },
);

export const describeContainerInstances = defineAction(
  z.object({
    cluster: z.string().optional(),
    containerInstances: z.array(z.string()).min(1).max(100),
    include: z.array(z.enum(['TAGS', 'CONTAINER_INSTANCE_HEALTH'])).optional(),
  }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    const containerInstances: unknown[] = [];
    const failures: { arn: string; reason: string }[] = [];
    for (const reference of input.containerInstances) {
      const instance = await findContainerInstance(context, cluster, reference);
      if (instance) {
        const counts = await taskCountsOf(context, instance.id);
        containerInstances.push(containerInstanceOutput(context, instance, counts, input.include));
      } else failures.push({ arn: reference, reason: 'MISSING' });
    }
    return { containerInstances, failures };
  },
);

export const updateContainerInstancesState = defineAction(
  z.object({
    cluster: z.string().optional(),
    containerInstances: z.array(z.string()).min(1).max(10),
    status: z.enum(['ACTIVE', 'DRAINING']),
  }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    const containerInstances: unknown[] = [];
    const failures: { arn: string; reason: string; detail?: string }[] = [];
    for (const reference of input.containerInstances) {
      const instance = await findContainerInstance(context, cluster, reference);
      if (!instance) {
        failures.push({ arn: reference, reason: 'MISSING' });
        continue;
      }
      const changed = await setContainerInstanceStatus(
        context.db,
        instance,
        input.status,
        context.now().toISOString(),
      );
      if (!changed) {
        failures.push({
          arn: context.arns.containerInstance(cluster, instance.id),
          reason: 'INVALID_STATE',
          detail: `Container instance is ${instance.status}.`,
        });
        continue;
      }
      const updated = await getContainerInstance(context.db, cluster, instance.id);
      if (updated)
        containerInstances.push(
          containerInstanceOutput(context, updated, await taskCountsOf(context, updated.id)),
        );
    }
    return { containerInstances, failures };
  },
);

export const deregisterContainerInstanceAction = defineAction(
  z.object({ cluster: z.string().optional(), containerInstance: z.string(), force: z.boolean().optional() }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    const instance = await findContainerInstance(context, cluster, input.containerInstance);
    if (!instance || instance.status === 'INACTIVE') {
      throw invalidParameter('The referenced container instance was not found.');
    }
    const counts = await taskCountsOf(context, instance.id);
    if (!input.force && counts.running + counts.pending > 0) {
      throw clientError(
        'The container instance has tasks running or pending. Stop them first, or deregister with force.',
      );
    }
    const at = context.now();
    await deregisterContainerInstance(context.db, instance, at);
    // After the commit: with the token gone and the queue deleted, a doorbell authorization the
    // API still has cached for the agent leads nowhere.
    await context.doorbell?.delete(instance.id);
    const updated = await getContainerInstance(context.db, cluster, instance.id);
    return { containerInstance: containerInstanceOutput(context, updated ?? instance, counts) };
  },
);
