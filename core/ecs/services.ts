import { z } from 'zod';
import { requireActiveCluster } from '../db/clusters.ts';
import { actionAttempts, done, optimistic, retry } from '../db/optimistic.ts';
import { pageLimit } from '../db/query.ts';
import {
  createServiceItem,
  getService,
  listServicesPage,
  readServiceUnit,
  serviceEvents,
  type TaskCountFields,
  taskCountFieldsOf,
} from '../db/services.ts';
import { emptyWrite, writeUnit } from '../db/unit-writes.ts';
import { BerthError, clientError, invalidParameter } from '../errors.ts';
import { clusterNameOf, namePattern, scopedIdOf } from '../model/arn.ts';
import type {
  Deployment,
  DeploymentConfiguration,
  PlacementConstraint,
  PlacementStrategy,
  ServiceEvent,
  ServiceRecord,
} from '../model/service.ts';
import { checkTags, TagList, tagListOf } from '../model/tags.ts';
import { supportsExternal } from '../model/task-definition/describe.ts';
import { epochSeconds } from '../model/time.ts';
import { validatePlacement } from '../placement/place.ts';
import { deploymentIdOf } from '../reconcile/ids.ts';
import { defineAction } from './action.ts';
import type { ActionContext } from './context.ts';
import { resolveTaskDefinition, taskDefinitionOutput } from './task-definitions.ts';

const serviceNotFound = () => new BerthError('ServiceNotFoundException', 'not_found', 'Service not found.');
const serviceChangingTooFast = 'The service is changing too fast; try again.';
const serviceNotActive = () =>
  new BerthError('ServiceNotActiveException', 'input', 'Service was not ACTIVE.');

export const PlacementConstraintInput = z.object({
  type: z.enum(['distinctInstance', 'memberOf']),
  expression: z.string().optional(),
});
export const PlacementStrategyInput = z.object({
  type: z.enum(['binpack', 'spread', 'random']),
  field: z.string().optional(),
});

const DeploymentConfigurationInput = z.looseObject({
  maximumPercent: z.number().int().min(0).max(10_000).optional(),
  minimumHealthyPercent: z.number().int().min(0).max(100).optional(),
  deploymentCircuitBreaker: z.object({ enable: z.boolean(), rollback: z.boolean() }).optional(),
});

/** ECS's defaults: 100 % healthy, 200 % maximum, no circuit breaker. */
const deploymentConfigurationOf = (
  input: z.infer<typeof DeploymentConfigurationInput> | undefined,
  base?: DeploymentConfiguration,
): DeploymentConfiguration => {
  const config: DeploymentConfiguration = {
    maximumPercent: input?.maximumPercent ?? base?.maximumPercent ?? 200,
    minimumHealthyPercent: input?.minimumHealthyPercent ?? base?.minimumHealthyPercent ?? 100,
    deploymentCircuitBreaker: input?.deploymentCircuitBreaker ??
      base?.deploymentCircuitBreaker ?? { enable: false, rollback: false },
  };
  // Equal limits leave a rolling deployment no room to move (neither start nor stop is allowed).
  if (config.maximumPercent <= config.minimumHealthyPercent) {
    throw invalidParameter(
      'deploymentConfiguration: maximumPercent must be greater than minimumHealthyPercent, or a deployment cannot proceed.',
    );
  }
  return config;
};

/** The task definition a service or task names, which must be ACTIVE and runnable on EXTERNAL. */
export const runnableDefinition = async (context: ActionContext, reference: string) => {
  const record = await resolveTaskDefinition(context, reference);
  if (!record) throw clientError('TaskDefinition not found.');
  if (record.status !== 'ACTIVE') throw clientError(`TaskDefinition is inactive: ${reference}`);
  const definition = taskDefinitionOutput(context, record);
  if (!supportsExternal(definition))
    throw clientError('Task definition does not support launch_type EXTERNAL.');
  return { record, definition };
};

const checkLaunchType = (launchType: string | undefined) => {
  if (launchType !== undefined && launchType !== 'EXTERNAL') {
    throw invalidParameter(
      `launchType ${launchType} is not supported: Berth runs tasks on EXTERNAL instances only.`,
    );
  }
};

const countsOf = (tasks: readonly TaskCountFields[], deploymentId?: string) => {
  const live = tasks.filter(
    (task) =>
      task.lastStatus !== 'STOPPED' &&
      task.desiredStatus === 'RUNNING' &&
      (deploymentId === undefined || task.deploymentId === deploymentId),
  );
  const running = live.filter((task) => task.lastStatus === 'RUNNING').length;
  return { runningCount: running, pendingCount: live.length - running };
};

/** The ECS `Service` shape. */
export const serviceOutput = async (
  context: ActionContext,
  service: ServiceRecord,
  tasks: readonly TaskCountFields[],
  include: readonly string[] = [],
  /** Already read by the caller (after the service item); read here otherwise. */
  events?: ServiceEvent[],
) => {
  const shown = events ?? (await serviceEvents(context.db, service.cluster, service.name));
  const deploymentOutput = (deployment: Deployment) => ({
    id: deployment.id,
    status: deployment.status,
    taskDefinition: context.arns.taskDefinition(deployment.family, deployment.revision),
    desiredCount: deployment.status === 'PRIMARY' ? service.desiredCount : 0,
    ...countsOf(tasks, deployment.id),
    failedTasks: deployment.failedTasks,
    createdAt: epochSeconds(deployment.createdAt),
    updatedAt: epochSeconds(deployment.updatedAt),
    launchType: 'EXTERNAL',
    rolloutState: deployment.rolloutState,
    rolloutStateReason: deployment.rolloutStateReason,
  });
  return {
    serviceArn: context.arns.service(service.cluster, service.name),
    serviceName: service.name,
    clusterArn: context.arns.cluster(service.cluster),
    loadBalancers: [],
    serviceRegistries: [],
    status: service.status,
    desiredCount: service.desiredCount,
    ...countsOf(tasks),
    launchType: 'EXTERNAL',
    taskDefinition: context.arns.taskDefinition(service.family, service.revision),
    deploymentConfiguration: service.deploymentConfiguration,
    deployments: service.deployments.filter((d) => d.status !== 'INACTIVE').map(deploymentOutput),
    events: shown.map((event) => ({
      id: event.id,
      createdAt: epochSeconds(event.createdAt),
      message: event.message,
    })),
    createdAt: epochSeconds(service.createdAt),
    placementConstraints: service.placementConstraints,
    placementStrategy: service.placementStrategy,
    schedulingStrategy: 'REPLICA',
    ...(service.createdBy ? { createdBy: service.createdBy } : {}),
    enableECSManagedTags: false,
    propagateTags: 'NONE',
    enableExecuteCommand: false,
    tags: include.includes('TAGS') ? tagListOf(service.tags) : [],
  };
};

const serviceNameOf = (reference: string, cluster: string): string => {
  const { cluster: arnCluster, id } = scopedIdOf(reference, 'service');
  if (arnCluster !== undefined && arnCluster !== cluster) throw serviceNotFound();
  if (!namePattern.test(id)) throw serviceNotFound();
  return id;
};

const newDeployment = (
  service: Pick<ServiceRecord, 'cluster' | 'name'>,
  family: string,
  revision: number,
  desiredCount: number,
  at: string,
  salt: string | number,
): Deployment => ({
  id: deploymentIdOf(service.cluster, service.name, family, revision, at, salt),
  status: 'PRIMARY',
  family,
  revision,
  desiredCount,
  rolloutState: 'IN_PROGRESS',
  rolloutStateReason: 'ECS deployment in progress.',
  failedTasks: 0,
  createdAt: at,
  updatedAt: at,
});

export const createService = defineAction(
  z.looseObject({
    cluster: z.string().optional(),
    serviceName: z.string(),
    taskDefinition: z.string(),
    desiredCount: z.number().int().min(0).max(100_000).optional(),
    launchType: z.string().optional(),
    deploymentConfiguration: DeploymentConfigurationInput.optional(),
    placementConstraints: z.array(PlacementConstraintInput).optional(),
    placementStrategy: z.array(PlacementStrategyInput).optional(),
    schedulingStrategy: z.enum(['REPLICA', 'DAEMON']).optional(),
    clientToken: z.string().max(36).optional(),
    tags: TagList.optional(),
    loadBalancers: z.array(z.unknown()).max(0, 'load balancers are not supported by Berth').optional(),
    networkConfiguration: z.unknown().optional(),
    capacityProviderStrategy: z
      .array(z.unknown())
      .max(0, 'capacity providers are not supported by Berth')
      .optional(),
  }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    if (!namePattern.test(input.serviceName)) {
      throw invalidParameter(
        'serviceName can have up to 255 letters (uppercase and lowercase), numbers, hyphens and underscores.',
      );
    }
    checkLaunchType(input.launchType);
    if (input.schedulingStrategy === 'DAEMON')
      throw invalidParameter('schedulingStrategy DAEMON is not supported yet.');
    if (input.networkConfiguration !== undefined) {
      throw invalidParameter('networkConfiguration (awsvpc) is not supported for EXTERNAL instances.');
    }
    if (input.desiredCount === undefined) {
      throw invalidParameter('desiredCount is required for services using the REPLICA scheduling strategy.');
    }
    const constraints = (input.placementConstraints ?? []) as PlacementConstraint[];
    const strategies = (input.placementStrategy ?? []) as PlacementStrategy[];
    validatePlacement(constraints, strategies);
    const deploymentConfiguration = deploymentConfigurationOf(input.deploymentConfiguration);
    await requireActiveCluster(context.db, cluster);
    const { record } = await runnableDefinition(context, input.taskDefinition);
    const existing = await getService(context.db, cluster, input.serviceName);
    if (existing && existing.status !== 'INACTIVE') {
      if (input.clientToken && existing.clientToken === input.clientToken) {
        const unit = await readServiceUnit(context.db, cluster, existing.name);
        return { service: await serviceOutput(context, existing, unit.tasks, ['TAGS']) };
      }
      throw invalidParameter('Creation of service was not idempotent.');
    }
    const at = context.now().toISOString();
    const service: ServiceRecord = {
      type: 'service',
      name: input.serviceName,
      cluster,
      status: 'ACTIVE',
      desiredCount: input.desiredCount,
      family: record.family,
      revision: record.revision,
      deploymentConfiguration,
      placementConstraints: constraints,
      placementStrategy: strategies,
      deployments: [
        newDeployment(
          { cluster, name: input.serviceName },
          record.family,
          record.revision,
          input.desiredCount,
          at,
          0,
        ),
      ],
      taskSequence: 0,
      ...(input.clientToken ? { clientToken: input.clientToken } : {}),
      tags: checkTags(input.tags ?? []),
      createdAt: at,
      createdBy: `arn:aws:iam::${context.config.accountId}:user/${context.caller.accessKeyId}`,
      updatedAt: at,
      version: 1,
    };
    if (!(await createServiceItem(context.db, service)))
      throw invalidParameter('Creation of service was not idempotent.');
    return { service: await serviceOutput(context, service, [], ['TAGS']) };
  },
);

export const updateService = defineAction(
  z.looseObject({
    cluster: z.string().optional(),
    service: z.string(),
    desiredCount: z.number().int().min(0).max(100_000).optional(),
    taskDefinition: z.string().optional(),
    deploymentConfiguration: DeploymentConfigurationInput.optional(),
    placementConstraints: z.array(PlacementConstraintInput).optional(),
    placementStrategy: z.array(PlacementStrategyInput).optional(),
    forceNewDeployment: z.boolean().optional(),
  }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    const name = serviceNameOf(input.service, cluster);
    if (input.placementConstraints || input.placementStrategy) {
      validatePlacement(
        (input.placementConstraints ?? []) as PlacementConstraint[],
        (input.placementStrategy ?? []) as PlacementStrategy[],
      );
    }
    const target = input.taskDefinition
      ? (await runnableDefinition(context, input.taskDefinition)).record
      : undefined;
    return optimistic({ maxAttempts: actionAttempts, exhausted: serviceChangingTooFast }, async () => {
      const service = await getService(context.db, cluster, name);
      if (!service) throw serviceNotFound();
      if (service.status !== 'ACTIVE') throw serviceNotActive();
      const at = context.now().toISOString();
      const desiredCount = input.desiredCount ?? service.desiredCount;
      const family = target?.family ?? service.family;
      const revision = target?.revision ?? service.revision;
      const changesDefinition = family !== service.family || revision !== service.revision;
      const set: Record<string, unknown> = {
        desiredCount,
        family,
        revision,
        deploymentConfiguration: deploymentConfigurationOf(
          input.deploymentConfiguration,
          service.deploymentConfiguration,
        ),
        steadySince: undefined,
      };
      if (input.placementConstraints) set.placementConstraints = input.placementConstraints;
      if (input.placementStrategy) set.placementStrategy = input.placementStrategy;
      if (changesDefinition || input.forceNewDeployment) {
        // The new deployment becomes PRIMARY; the ones before it are drained by the reconciler.
        set.deployments = [
          newDeployment(service, family, revision, desiredCount, at, service.version),
          ...service.deployments
            .filter((deployment) => deployment.status !== 'INACTIVE')
            .map((deployment) => ({ ...deployment, status: 'ACTIVE' as const, updatedAt: at })),
        ];
      } else if (desiredCount !== service.desiredCount) {
        set.deployments = service.deployments.map((deployment) =>
          deployment.status === 'PRIMARY' ? { ...deployment, desiredCount, updatedAt: at } : deployment,
        );
      }
      const write = emptyWrite(at);
      write.service = { cluster, name, version: service.version, set };
      if (!(await writeUnit(context.db, write)).ok) return retry();
      const unit = await readServiceUnit(context.db, cluster, name);
      if (!unit.service) throw serviceNotFound();
      return done({ service: await serviceOutput(context, unit.service, unit.tasks) });
    });
  },
);

export const deleteService = defineAction(
  z.object({ cluster: z.string().optional(), service: z.string(), force: z.boolean().optional() }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    const name = serviceNameOf(input.service, cluster);
    return optimistic({ maxAttempts: actionAttempts, exhausted: serviceChangingTooFast }, async () => {
      const service = await getService(context.db, cluster, name);
      if (!service || service.status === 'INACTIVE') throw serviceNotFound();
      if (service.status === 'DRAINING') {
        const unit = await readServiceUnit(context.db, cluster, name);
        return done({ service: await serviceOutput(context, service, unit.tasks) });
      }
      if (service.desiredCount > 0 && !input.force) {
        throw invalidParameter('The service cannot be stopped while it is scaled above 0.');
      }
      const write = emptyWrite(context.now().toISOString());
      write.service = {
        cluster,
        name,
        version: service.version,
        set: { status: 'DRAINING', desiredCount: 0, steadySince: undefined },
      };
      if (!(await writeUnit(context.db, write)).ok) return retry();
      const unit = await readServiceUnit(context.db, cluster, name);
      return done({ service: await serviceOutput(context, unit.service ?? service, unit.tasks) });
    });
  },
);

export const describeServices = defineAction(
  z.object({
    cluster: z.string().optional(),
    services: z.array(z.string()).min(1).max(10),
    include: z.array(z.literal('TAGS')).optional(),
  }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    // Up to 10 services at once, each one's item first, then its task counts and events together;
    // answered in the order asked.
    const answers = await Promise.all(
      input.services.map(async (reference) => {
        let name: string | undefined;
        try {
          name = serviceNameOf(reference, cluster);
        } catch {
          name = undefined;
        }
        if (!name) return { failure: { arn: reference, reason: 'MISSING' } };
        const service = await getService(context.db, cluster, name);
        if (!service) {
          return { failure: { arn: context.arns.service(cluster, name), reason: 'MISSING' } };
        }
        // The tasks and the events are read after the service, never before it: an answer whose
        // deployment says COMPLETED or FAILED carries the counts and the event that go with it
        // (berth watch stops at the state it sees).
        const [tasks, events] = await Promise.all([
          taskCountFieldsOf(context.db, cluster, name),
          serviceEvents(context.db, cluster, name),
        ]);
        return { service: await serviceOutput(context, service, tasks, input.include, events) };
      }),
    );
    const services = answers.flatMap((answer) => ('service' in answer ? [answer.service] : []));
    const failures = answers.flatMap((answer) => ('failure' in answer ? [answer.failure] : []));
    return { services, failures };
  },
);

export const listServices = defineAction(
  z.object({
    cluster: z.string().optional(),
    launchType: z.string().optional(),
    schedulingStrategy: z.enum(['REPLICA', 'DAEMON']).optional(),
    maxResults: z.number().int().optional(),
    nextToken: z.string().optional(),
  }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    // Berth's services are all REPLICA services on EXTERNAL instances.
    if ((input.launchType && input.launchType !== 'EXTERNAL') || input.schedulingStrategy === 'DAEMON') {
      return { serviceArns: [] };
    }
    const page = await listServicesPage(
      context.db,
      cluster,
      pageLimit(input.maxResults ?? 10),
      input.nextToken,
    );
    return {
      serviceArns: page.items.map((item) => context.arns.service(cluster, String(item.name))),
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
    };
  },
);
