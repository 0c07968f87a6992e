import type { AssignedTask } from '../protocol/assigned-task.ts';
import type { ContainerState, Reservation, TaskRecord } from './task.ts';
import type { ContainerDefinition, TaskDefinition } from './task-definition/describe.ts';
import { hostPortOf } from './task-definition/ports.ts';

/** RunTask's `overrides` as ECS takes them (the parts Berth applies). */
export type TaskOverrides = {
  containerOverrides?: {
    name?: string;
    command?: string[];
    environment?: { name?: string; value?: string }[];
    cpu?: number;
    memory?: number;
    memoryReservation?: number;
  }[];
  cpu?: string;
  memory?: string;
  [key: string]: unknown;
};

const overrideOf = (overrides: TaskOverrides | undefined, name: string) =>
  overrides?.containerOverrides?.find((override) => override.name === name);

/** Containers with their overrides applied (environment merged by name, as ECS does). */
export const effectiveContainers = (
  definition: TaskDefinition,
  overrides: TaskOverrides | undefined,
): ContainerDefinition[] =>
  definition.containerDefinitions.map((container) => {
    const override = overrideOf(overrides, container.name);
    if (!override) return container;
    const environment = new Map(container.environment.map((pair) => [pair.name, pair]));
    for (const pair of override.environment ?? []) environment.set(pair.name, pair);
    return {
      ...container,
      ...(override.command ? { command: override.command } : {}),
      ...(override.cpu !== undefined ? { cpu: override.cpu } : {}),
      ...(override.memory !== undefined ? { memory: override.memory } : {}),
      ...(override.memoryReservation !== undefined ? { memoryReservation: override.memoryReservation } : {}),
      environment: [...environment.values()],
    };
  });

/**
 * What a task takes from its instance: task-level cpu/memory when set, else the containers' sum
 * (memory: the soft reservation where given, as ECS places by it); static host ports.
 */
export const reservationOf = (definition: TaskDefinition, overrides?: TaskOverrides): Reservation => {
  const containers = effectiveContainers(definition, overrides);
  const taskCpu = overrides?.cpu ?? definition.cpu;
  const taskMemory = overrides?.memory ?? definition.memory;
  const cpu = taskCpu !== undefined ? Number(taskCpu) : containers.reduce((sum, c) => sum + (c.cpu ?? 0), 0);
  const memory =
    taskMemory !== undefined
      ? Number(taskMemory)
      : containers.reduce((sum, c) => sum + (c.memoryReservation ?? c.memory ?? 0), 0);
  const ports: number[] = [];
  const portsUdp: number[] = [];
  for (const container of containers) {
    for (const mapping of container.portMappings) {
      // Bridge mode with hostPort 0/absent is a dynamic port the instance picks: nothing to reserve.
      const hostPort = hostPortOf(mapping, definition.networkMode);
      if (hostPort === undefined) continue;
      (mapping.protocol === 'udp' ? portsUdp : ports).push(hostPort);
    }
  }
  return { cpu, memory, ports, portsUdp };
};

/** Attributes an instance must carry for the definition's runtimePlatform. */
export const requiredAttributesOf = (definition: TaskDefinition): { name: string; value?: string }[] => {
  const platform = definition.runtimePlatform;
  const required: { name: string; value?: string }[] = [];
  if (platform?.cpuArchitecture) {
    required.push({
      name: 'ecs.cpu-architecture',
      value: platform.cpuArchitecture === 'ARM64' ? 'arm64' : 'x86_64',
    });
  }
  if (platform?.operatingSystemFamily) {
    required.push({
      name: 'ecs.os-type',
      value: platform.operatingSystemFamily === 'LINUX' ? 'linux' : 'windows',
    });
  }
  return required;
};

export const hasHealthCheck = (definition: TaskDefinition): boolean =>
  definition.containerDefinitions.some(
    (container) => container.essential && container.healthCheck !== undefined,
  );

export type NewTask = {
  cluster: string;
  id: string;
  definition: TaskDefinition;
  instanceId: string;
  group: string;
  startedBy?: string;
  serviceName?: string;
  deploymentId?: string;
  overrides?: TaskOverrides;
  clientToken?: string;
  tags?: Record<string, string>;
  at: string;
};

/** A new task record, PROVISIONING on its instance, holding its reservation. */
export const newTaskRecord = (input: NewTask): TaskRecord => {
  const containers: ContainerState[] = effectiveContainers(input.definition, input.overrides).map(
    (container) => ({
      name: container.name,
      image: container.image,
      lastStatus: 'PENDING',
      essential: container.essential,
    }),
  );
  return {
    type: 'task',
    id: input.id,
    cluster: input.cluster,
    family: input.definition.family,
    revision: input.definition.revision,
    ...(input.serviceName ? { serviceName: input.serviceName } : {}),
    ...(input.deploymentId ? { deploymentId: input.deploymentId } : {}),
    group: input.group,
    ...(input.startedBy ? { startedBy: input.startedBy } : {}),
    instanceId: input.instanceId,
    desiredStatus: 'RUNNING',
    lastStatus: 'PROVISIONING',
    healthStatus: 'UNKNOWN',
    containers,
    ...(input.overrides ? { overrides: input.overrides } : {}),
    reservation: reservationOf(input.definition, input.overrides),
    hasHealthCheck: hasHealthCheck(input.definition),
    released: false,
    reportSeq: 0,
    ...(input.clientToken ? { clientToken: input.clientToken } : {}),
    tags: input.tags ?? {},
    createdAt: input.at,
    updatedAt: input.at,
    version: 1,
  };
};

/** The task as its agent receives it: everything needed to run it, overrides applied. */
export const assignedTaskOf = (
  task: TaskRecord,
  definition: TaskDefinition,
  taskArn: string,
): AssignedTask => ({
  taskArn,
  desiredStatus: task.desiredStatus,
  family: task.family,
  revision: task.revision,
  networkMode:
    definition.networkMode === 'host' || definition.networkMode === 'none'
      ? definition.networkMode
      : 'bridge',
  containers: effectiveContainers(definition, task.overrides as TaskOverrides | undefined),
  volumes: definition.volumes,
  ...(definition.cpu ? { cpu: definition.cpu } : {}),
  ...(definition.memory ? { memory: definition.memory } : {}),
  ...(task.serviceName ? { serviceName: task.serviceName } : {}),
  restartOnFailure: task.serviceName !== undefined,
  createdAt: task.createdAt,
});
