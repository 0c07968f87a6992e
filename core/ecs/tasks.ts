import { createHash } from 'node:crypto';
import { z } from 'zod';
import { hashSecret, newId } from '../auth/secrets.ts';
import { requireActiveCluster } from '../db/clusters.ts';
import { allContainerInstances } from '../db/container-instances.ts';
import { actionAttempts, done, optimistic, retry } from '../db/optimistic.ts';
import { getRunTaskToken, runTaskTokenItem } from '../db/run-task-tokens.ts';
import { getTask, taskSummaries } from '../db/tasks.ts';
import { emptyWrite, writeUnit, zeroGroupsOf } from '../db/unit-writes.ts';
import { clientError, invalidParameter, isBerthError } from '../errors.ts';
import { clusterNameOf, scopedIdOf } from '../model/arn.ts';
import type { PlacementConstraint, PlacementStrategy } from '../model/service.ts';
import { checkTags, TagList, tagListOf } from '../model/tags.ts';
import type { TaskRecord } from '../model/task.ts';
import type { TaskDefinition } from '../model/task-definition/describe.ts';
import { newTaskRecord, type TaskOverrides } from '../model/task-factory.ts';
import { epochSeconds } from '../model/time.ts';
import { type PlacementFailure, placeTasks } from '../placement/place.ts';
import { fullInstanceMessage, placementRequestOf, placementViewOf } from '../placement/request.ts';
import { defineAction } from './action.ts';
import { findContainerInstance, pageOf } from './container-instances.ts';
import type { ActionContext } from './context.ts';
import { PlacementConstraintInput, PlacementStrategyInput, runnableDefinition } from './services.ts';

const OverridesInput = z.looseObject({
  containerOverrides: z
    .array(
      z.looseObject({
        name: z.string().optional(),
        command: z.array(z.string()).optional(),
        environment: z
          .array(z.object({ name: z.string().optional(), value: z.string().optional() }))
          .optional(),
        cpu: z.number().int().min(0).optional(),
        memory: z.number().int().min(0).optional(),
        memoryReservation: z.number().int().min(0).optional(),
      }),
    )
    .optional(),
  cpu: z.string().optional(),
  memory: z.string().optional(),
});

/** ECS's ids: 32 hex characters. */
const taskIdPattern = /^[a-f0-9]{32}$/;

/** The ECS `Task` shape. */
export const taskOutput = (context: ActionContext, task: TaskRecord, include: readonly string[] = []) => {
  const taskArn = context.arns.task(task.cluster, task.id);
  const prefix = `arn:aws:ecs:${context.config.region}:${context.config.accountId}:container/${task.cluster}/${task.id}`;
  const times = [
    'createdAt',
    'pullStartedAt',
    'pullStoppedAt',
    'startedAt',
    'stoppingAt',
    'stoppedAt',
    'executionStoppedAt',
  ] as const;
  return {
    taskArn,
    clusterArn: context.arns.cluster(task.cluster),
    taskDefinitionArn: context.arns.taskDefinition(task.family, task.revision),
    containerInstanceArn: context.arns.containerInstance(task.cluster, task.instanceId),
    overrides: { containerOverrides: [], inferenceAcceleratorOverrides: [], ...task.overrides },
    lastStatus: task.lastStatus,
    desiredStatus: task.desiredStatus,
    cpu: String(task.reservation.cpu),
    memory: String(task.reservation.memory),
    containers: task.containers.map((container) => ({
      containerArn: `${prefix}/${createHash('sha256').update(container.name).digest('hex').slice(0, 32)}`,
      taskArn,
      name: container.name,
      image: container.image,
      ...(container.runtimeId ? { runtimeId: container.runtimeId } : {}),
      lastStatus: container.lastStatus,
      ...(container.exitCode !== undefined ? { exitCode: container.exitCode } : {}),
      ...(container.reason ? { reason: container.reason } : {}),
      networkBindings: container.networkBindings ?? [],
      networkInterfaces: [],
      healthStatus: container.healthStatus ?? 'UNKNOWN',
    })),
    ...(task.startedBy ? { startedBy: task.startedBy } : {}),
    version: task.version,
    ...(task.stopCode ? { stopCode: task.stopCode } : {}),
    ...(task.stoppedReason ? { stoppedReason: task.stoppedReason } : {}),
    connectivity: 'CONNECTED',
    ...Object.fromEntries(
      times.flatMap((field) => (task[field] ? [[field, epochSeconds(task[field])]] : [])),
    ),
    group: task.group,
    launchType: 'EXTERNAL',
    attachments: [],
    healthStatus: task.healthStatus,
    enableExecuteCommand: false,
    tags: include.includes('TAGS') ? tagListOf(task.tags) : [],
  };
};

const failureOutput = (context: ActionContext, cluster: string, failure: PlacementFailure) => ({
  ...(failure.closestInstanceId
    ? { arn: context.arns.containerInstance(cluster, failure.closestInstanceId) }
    : {}),
  reason: failure.reason,
  detail: failure.message,
});

/** Places `count` tasks of a definition on a cluster and writes them; retried while capacity races. */
const launch = async (
  context: ActionContext,
  cluster: string,
  definition: TaskDefinition,
  options: {
    count: number;
    group: string;
    startedBy?: string;
    overrides?: TaskOverrides;
    constraints: PlacementConstraint[];
    strategies: PlacementStrategy[];
    tags: Record<string, string>;
    onlyInstances?: string[];
    clientToken?: { hash: string; paramsHash: string };
  },
) => {
  // Instances whose items DynamoDB refused to grow: placed elsewhere, or the placement fails.
  const full = new Set<string>();
  return optimistic(
    {
      maxAttempts: actionAttempts,
      exhausted: 'Capacity is changing too fast to place the tasks; try again.',
    },
    async () => {
      const at = context.now();
      const instances = (await allContainerInstances(context.db, cluster)).filter(
        (instance) =>
          (!options.onlyInstances || options.onlyInstances.includes(instance.id)) && !full.has(instance.id),
      );
      const request = placementRequestOf(definition, {
        group: options.group,
        constraints: options.constraints,
        strategies: options.strategies,
        overrides: options.overrides,
        seed: at.getTime() % 2_147_483_647,
      });
      const result = placeTasks(request, instances.map(placementViewOf), options.count);
      const write = emptyWrite(at.toISOString());
      write.newTasks = result.placements.map((instanceId) =>
        newTaskRecord({
          cluster,
          id: newId(),
          definition,
          instanceId,
          group: options.group,
          startedBy: options.startedBy,
          overrides: options.overrides,
          clientToken: options.clientToken?.hash,
          tags: options.tags,
          at: at.toISOString(),
        }),
      );
      const [fullId] = full;
      const failure: PlacementFailure | undefined =
        result.failure && fullId
          ? { reason: 'RESOURCE:TASKS', closestInstanceId: fullId, message: fullInstanceMessage(fullId) }
          : result.failure;
      const failures = failure ? [failureOutput(context, cluster, failure)] : [];
      for (const instance of instances) {
        const zeros = zeroGroupsOf(instance.groups);
        if (zeros.length > 0 && write.newTasks.some((task) => task.instanceId === instance.id)) {
          write.zeroGroups = { ...write.zeroGroups, [instance.id]: zeros };
        }
      }
      if (options.clientToken) {
        write.guardItem = runTaskTokenItem(
          cluster,
          options.clientToken.hash,
          { paramsHash: options.clientToken.paramsHash, taskIds: write.newTasks.map((t) => t.id), failures },
          at,
        );
      }
      const outcome = await writeUnit(context.db, write);
      if (outcome.ok) {
        await Promise.all(write.newTasks.map((task) => context.doorbell?.ring(task.instanceId)));
        return done({ tasks: write.newTasks.map((task) => taskOutput(context, task, ['TAGS'])), failures });
      }
      if (outcome.reason === 'instance-full') {
        for (const id of outcome.instanceIds) full.add(id);
        return retry();
      }
      if (options.clientToken) {
        const seen = await getRunTaskToken(context.db, cluster, options.clientToken.hash, at);
        if (seen) return done(await replay(context, cluster, seen, options.clientToken.paramsHash));
      }
      return retry();
    },
  );
};

/** The same clientToken with the same parameters answers what the first call answered. */
const replay = async (
  context: ActionContext,
  cluster: string,
  seen: { paramsHash: string; taskIds: string[]; failures: unknown[] },
  paramsHash: string,
) => {
  if (seen.paramsHash !== paramsHash) {
    throw clientError('The clientToken was already used with different parameters.');
  }
  const tasks = await Promise.all(seen.taskIds.map((id) => getTask(context.db, cluster, id)));
  return {
    tasks: tasks.filter((t): t is TaskRecord => t !== undefined).map((t) => taskOutput(context, t, ['TAGS'])),
    failures: seen.failures,
  };
};

export const runTask = defineAction(
  z.looseObject({
    cluster: z.string().optional(),
    taskDefinition: z.string(),
    count: z.number().int().optional(),
    group: z.string().max(255).optional(),
    startedBy: z.string().max(128).optional(),
    overrides: OverridesInput.optional(),
    placementConstraints: z.array(PlacementConstraintInput).optional(),
    placementStrategy: z.array(PlacementStrategyInput).optional(),
    launchType: z.string().optional(),
    tags: TagList.optional(),
    clientToken: z.string().optional(),
    networkConfiguration: z.unknown().optional(),
    capacityProviderStrategy: z
      .array(z.unknown())
      .max(0, 'capacity providers are not supported by Berth')
      .optional(),
  }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    const count = input.count ?? 1;
    if (count < 1 || count > 10) throw invalidParameter('count must be between 1 and 10.');
    if (input.launchType !== undefined && input.launchType !== 'EXTERNAL') {
      throw invalidParameter(
        `launchType ${input.launchType} is not supported: Berth runs tasks on EXTERNAL instances only.`,
      );
    }
    if (input.networkConfiguration !== undefined) {
      throw invalidParameter('networkConfiguration (awsvpc) is not supported for EXTERNAL instances.');
    }
    if (input.clientToken !== undefined && !/^[\x20-\x7e]{1,64}$/.test(input.clientToken)) {
      throw invalidParameter('clientToken must be 1 to 64 printable ASCII characters.');
    }
    const constraints = (input.placementConstraints ?? []) as PlacementConstraint[];
    const strategies = (input.placementStrategy ?? []) as PlacementStrategy[];
    const tags = checkTags(input.tags ?? []);
    await requireActiveCluster(context.db, cluster);
    const clientToken = input.clientToken
      ? {
          hash: hashSecret(input.clientToken),
          paramsHash: hashSecret(JSON.stringify({ ...input, clientToken: undefined, cluster })),
        }
      : undefined;
    if (clientToken) {
      const seen = await getRunTaskToken(context.db, cluster, clientToken.hash, context.now());
      if (seen) return replay(context, cluster, seen, clientToken.paramsHash);
    }
    const { definition } = await runnableDefinition(context, input.taskDefinition);
    return launch(context, cluster, definition, {
      count,
      group: input.group ?? `family:${definition.family}`,
      startedBy: input.startedBy,
      overrides: input.overrides as TaskOverrides | undefined,
      constraints,
      strategies,
      tags,
      clientToken,
    });
  },
);

export const startTask = defineAction(
  z.looseObject({
    cluster: z.string().optional(),
    taskDefinition: z.string(),
    containerInstances: z.array(z.string()).min(1).max(10),
    group: z.string().max(255).optional(),
    startedBy: z.string().max(128).optional(),
    overrides: OverridesInput.optional(),
    tags: TagList.optional(),
    networkConfiguration: z.unknown().optional(),
  }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    if (input.networkConfiguration !== undefined) {
      throw invalidParameter('networkConfiguration (awsvpc) is not supported for EXTERNAL instances.');
    }
    const tags = checkTags(input.tags ?? []);
    await requireActiveCluster(context.db, cluster);
    const { definition } = await runnableDefinition(context, input.taskDefinition);
    const tasks: unknown[] = [];
    const failures: unknown[] = [];
    // One task per named instance, as ECS's StartTask does: no constraints, no strategies.
    for (const reference of input.containerInstances) {
      const instance = await findContainerInstance(context, cluster, reference);
      if (!instance) {
        failures.push({ arn: reference, reason: 'MISSING' });
        continue;
      }
      const result = await launch(context, cluster, definition, {
        count: 1,
        group: input.group ?? `family:${definition.family}`,
        startedBy: input.startedBy,
        overrides: input.overrides as TaskOverrides | undefined,
        constraints: [],
        strategies: [],
        tags,
        onlyInstances: [instance.id],
      });
      tasks.push(...result.tasks);
      failures.push(...result.failures);
    }
    return { tasks, failures };
  },
);

const findTask = async (context: ActionContext, cluster: string, reference: string) => {
  const { cluster: arnCluster, id } = scopedIdOf(reference, 'task');
  if ((arnCluster !== undefined && arnCluster !== cluster) || !taskIdPattern.test(id)) return undefined;
  return getTask(context.db, cluster, id);
};

export const stopTask = defineAction(
  z.object({ cluster: z.string().optional(), task: z.string(), reason: z.string().max(255).optional() }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    return optimistic(
      { maxAttempts: actionAttempts, exhausted: 'The task is changing too fast; try again.' },
      async () => {
        const task = await findTask(context, cluster, input.task);
        if (!task) throw invalidParameter('The referenced task was not found.');
        if (task.desiredStatus === 'STOPPED') return done({ task: taskOutput(context, task) });
        const write = emptyWrite(context.now().toISOString());
        write.stops = [{ task, reason: input.reason ?? 'Task stopped by user', stopCode: 'UserInitiated' }];
        if (!(await writeUnit(context.db, write)).ok) return retry();
        await context.doorbell?.ring(task.instanceId);
        const stopped = await getTask(context.db, cluster, task.id);
        return done({ task: taskOutput(context, stopped ?? task) });
      },
    );
  },
);

export const listTasks = defineAction(
  z.object({
    cluster: z.string().optional(),
    containerInstance: z.string().optional(),
    family: z.string().optional(),
    serviceName: z.string().optional(),
    desiredStatus: z.enum(['RUNNING', 'PENDING', 'STOPPED']).optional(),
    startedBy: z.string().optional(),
    launchType: z.string().optional(),
    maxResults: z.number().int().optional(),
    nextToken: z.string().optional(),
  }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    if (input.launchType && input.launchType !== 'EXTERNAL') return { taskArns: [] };
    let instanceId: string | undefined;
    if (input.containerInstance) {
      const instance = await findContainerInstance(context, cluster, input.containerInstance);
      if (!instance) throw invalidParameter('The referenced container instance was not found.');
      instanceId = instance.id;
    }
    // ECS lists desired-RUNNING tasks unless asked for others; PENDING is listed as RUNNING wants.
    const desired = input.desiredStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING';
    const serviceName = input.serviceName ? scopedIdOf(input.serviceName, 'service').id : undefined;
    const tasks = await taskSummaries(context.db, {
      cluster,
      ...(instanceId ? { instanceId } : serviceName ? { serviceName } : {}),
    });
    const matching = tasks
      .filter((task) => task.desiredStatus === desired)
      .filter((task) => !input.family || task.family === input.family)
      .filter((task) => !serviceName || task.serviceName === serviceName)
      .filter((task) => !input.startedBy || task.startedBy === input.startedBy)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    const { page, nextToken } = pageOf(matching, input.maxResults, input.nextToken);
    return {
      taskArns: page.map((task) => context.arns.task(cluster, task.id)),
      ...(nextToken ? { nextToken } : {}),
    };
  },
);

export const describeTasks = defineAction(
  z.object({
    cluster: z.string().optional(),
    tasks: z.array(z.string()).min(1).max(100),
    include: z.array(z.literal('TAGS')).optional(),
  }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    // Up to 100 independent reads: in parallel, answered in the order asked.
    const found = await Promise.all(
      // A reference that is not a task ARN or id is MISSING; a failed read is an error, not MISSING.
      input.tasks.map((reference) =>
        findTask(context, cluster, reference).catch((error: unknown) => {
          if (isBerthError(error)) return undefined;
          throw error;
        }),
      ),
    );
    const tasks: unknown[] = [];
    const failures: { arn: string; reason: string }[] = [];
    found.forEach((task, index) => {
      if (task) tasks.push(taskOutput(context, task, input.include));
      else failures.push({ arn: input.tasks[index] ?? '', reason: 'MISSING' });
    });
    return { tasks, failures };
  },
);
