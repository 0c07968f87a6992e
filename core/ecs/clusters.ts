import { z } from 'zod';
import {
  getCluster,
  listClusters,
  putCluster,
  requireActiveCluster,
  setClusterStatus,
  updateClusterFields,
} from '../db/clusters.ts';
import { allContainerInstances } from '../db/container-instances.ts';
import { pageLimit } from '../db/query.ts';
import { serviceNamesOf } from '../db/services.ts';
import { tasksOfCluster } from '../db/tasks.ts';
import { clusterNotFound, conflict, invalidParameter, isBerthError } from '../errors.ts';
import { clusterNameOf, namePattern } from '../model/arn.ts';
import type { ClusterCounts, ClusterRecord } from '../model/cluster.ts';
import { checkTags, TagList, tagListOf } from '../model/tags.ts';
import { defineAction } from './action.ts';
import type { ActionContext } from './context.ts';

const Setting = z.object({
  name: z.enum(['containerInsights']),
  value: z.enum(['enabled', 'disabled', 'enhanced']),
});

const defaultSettings = [{ name: 'containerInsights', value: 'disabled' }];

/** The counts DescribeClusters shows, counted from the items they describe. */
const countsOf = async (context: ActionContext, cluster: ClusterRecord): Promise<ClusterCounts> => {
  if (cluster.status !== 'ACTIVE') {
    return {
      registeredContainerInstancesCount: 0,
      runningTasksCount: 0,
      pendingTasksCount: 0,
      activeServicesCount: 0,
    };
  }
  const [instances, tasks, services] = await Promise.all([
    allContainerInstances(context.db, cluster.name),
    tasksOfCluster(context.db, cluster.name),
    serviceNamesOf(context.db, cluster.name),
  ]);
  const live = tasks.filter((task) => task.lastStatus !== 'STOPPED');
  const running = live.filter((task) => task.lastStatus === 'RUNNING').length;
  return {
    registeredContainerInstancesCount: instances.filter((instance) => instance.status !== 'INACTIVE').length,
    runningTasksCount: running,
    pendingTasksCount: live.length - running,
    activeServicesCount: services.length,
  };
};

/** The ECS `Cluster` shape. */
export const clusterOutput = (
  context: ActionContext,
  cluster: ClusterRecord,
  counts: ClusterCounts,
  include: readonly string[] = [],
) => ({
  clusterArn: context.arns.cluster(cluster.name),
  clusterName: cluster.name,
  status: cluster.status,
  ...counts,
  statistics: [],
  tags: include.includes('TAGS') ? tagListOf(cluster.tags) : [],
  ...(include.includes('SETTINGS') ? { settings: cluster.settings } : {}),
  ...(cluster.configuration && include.includes('CONFIGURATIONS')
    ? { configuration: cluster.configuration }
    : {}),
  ...(cluster.serviceConnectDefaults ? { serviceConnectDefaults: cluster.serviceConnectDefaults } : {}),
  capacityProviders: [],
  defaultCapacityProviderStrategy: [],
  attachments: [],
});

export const createCluster = defineAction(
  z.looseObject({
    clusterName: z.string().optional(),
    tags: TagList.optional(),
    settings: z.array(Setting).optional(),
    configuration: z.record(z.string(), z.unknown()).optional(),
    serviceConnectDefaults: z.object({ namespace: z.string() }).optional(),
    capacityProviders: z.array(z.string()).max(0, 'capacity providers are not supported by Berth').optional(),
    defaultCapacityProviderStrategy: z
      .array(z.unknown())
      .max(0, 'capacity providers are not supported by Berth')
      .optional(),
  }),
  async (context, input) => {
    const name = input.clusterName ?? 'default';
    if (!namePattern.test(name)) {
      throw invalidParameter(
        'Cluster name can have up to 255 characters: letters (uppercase and lowercase), numbers, hyphens and underscores.',
      );
    }
    const at = context.now().toISOString();
    const stored = await putCluster(context.db, {
      type: 'cluster',
      name,
      status: 'ACTIVE',
      settings: input.settings ?? defaultSettings,
      configuration: input.configuration,
      serviceConnectDefaults: input.serviceConnectDefaults,
      tags: checkTags(input.tags ?? []),
      createdAt: at,
      updatedAt: at,
    });
    return {
      cluster: clusterOutput(context, stored, await countsOf(context, stored), [
        'TAGS',
        'SETTINGS',
        'CONFIGURATIONS',
      ]),
    };
  },
);

export const describeClusters = defineAction(
  z.object({
    clusters: z.array(z.string()).max(100).optional(),
    include: z.array(z.enum(['ATTACHMENTS', 'CONFIGURATIONS', 'SETTINGS', 'STATISTICS', 'TAGS'])).optional(),
  }),
  async (context, input) => {
    const names = (input.clusters?.length ? input.clusters : ['default']).map((cluster) =>
      clusterNameOf(cluster),
    );
    const clusters: unknown[] = [];
    const failures: { arn: string; reason: string; detail?: string }[] = [];
    for (const name of names) {
      const cluster = await getCluster(context.db, name).catch((error: unknown) => {
        if (isBerthError(error) && error.code === 'ItemUnreadable') return 'unreadable' as const;
        throw error;
      });
      if (cluster === 'unreadable') {
        // One stored item the database cannot read must not fail the description of the others.
        failures.push({
          arn: context.arns.cluster(name),
          reason: 'UNREADABLE',
          detail: 'The cluster is stored but cannot be read.',
        });
        continue;
      }
      if (!cluster) {
        failures.push({ arn: context.arns.cluster(name), reason: 'MISSING' });
        continue;
      }
      clusters.push(clusterOutput(context, cluster, await countsOf(context, cluster), input.include));
    }
    return { clusters, failures };
  },
);

export const listClustersAction = defineAction(
  z.object({ maxResults: z.number().int().optional(), nextToken: z.string().optional() }),
  async (context, input) => {
    const page = await listClusters(context.db, pageLimit(input.maxResults), input.nextToken);
    return {
      clusterArns: page.items.map((item) => context.arns.cluster(String(item.name))),
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
    };
  },
);

export const updateClusterSettings = defineAction(
  z.object({ cluster: z.string(), settings: z.array(Setting) }),
  async (context, input) => {
    const name = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, name);
    await updateClusterFields(context.db, name, { settings: input.settings }, context.now().toISOString());
    const cluster = await requireActiveCluster(context.db, name);
    return { cluster: clusterOutput(context, cluster, await countsOf(context, cluster)) };
  },
);

export const updateCluster = defineAction(
  z.looseObject({
    cluster: z.string(),
    settings: z.array(Setting).optional(),
    configuration: z.record(z.string(), z.unknown()).optional(),
    serviceConnectDefaults: z.object({ namespace: z.string() }).optional(),
  }),
  async (context, input) => {
    const name = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, name);
    await updateClusterFields(
      context.db,
      name,
      {
        settings: input.settings,
        configuration: input.configuration,
        serviceConnectDefaults: input.serviceConnectDefaults,
      },
      context.now().toISOString(),
    );
    const cluster = await requireActiveCluster(context.db, name);
    return { cluster: clusterOutput(context, cluster, await countsOf(context, cluster), ['CONFIGURATIONS']) };
  },
);

/** Refused while the cluster still has instances (or, later, services and tasks), as ECS does. */
export const deleteCluster = defineAction(z.object({ cluster: z.string() }), async (context, input) => {
  const name = clusterNameOf(input.cluster);
  const cluster = await getCluster(context.db, name);
  if (!cluster || cluster.status === 'INACTIVE') throw clusterNotFound(name);
  const counts = await countsOf(context, cluster);
  if (counts.registeredContainerInstancesCount > 0) {
    throw conflict(
      'ClusterContainsContainerInstancesException',
      'The Cluster cannot be deleted while Container Instances are active or draining.',
    );
  }
  if (counts.activeServicesCount > 0) {
    throw conflict(
      'ClusterContainsServicesException',
      'The Cluster cannot be deleted while Services are active.',
    );
  }
  await setClusterStatus(context.db, name, 'INACTIVE', context.now().toISOString());
  return { cluster: clusterOutput(context, { ...cluster, status: 'INACTIVE' }, counts) };
});
