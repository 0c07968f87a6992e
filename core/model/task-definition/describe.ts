import { ecrImage, fargateUnsupported, isFargateSize } from './fargate.ts';
import {
  type Compatibility,
  type ContainerDefinitionInput,
  DescribeOnlyFields,
  effectiveNetworkMode,
  type KeyValuePair,
  type MountPoint,
  type NetworkMode,
  type PortMapping,
  type RegisterTaskDefinitionInput,
  type RuntimePlatform,
  requires,
  type TaskDefinitionPlacementConstraint,
  type TaskDefinitionStatus,
  type TransportProtocol,
  taskUnits,
  type Volume,
  type VolumeFrom,
} from './schema.ts';

/**
 * The DescribeTaskDefinition shape ECS answers with, and how a registered request becomes it:
 * ECS's defaults, the launch types it satisfies, the attributes it requires. Pure: no I/O, no clock.
 */

// --- The describe shape ------------------------------------------------------------------------

export type DescribedPortMapping = PortMapping & { protocol: TransportProtocol };

/** A container as DescribeTaskDefinition answers it: as registered, plus ECS's defaults. */
export type ContainerDefinition = ContainerDefinitionInput & {
  cpu: number;
  essential: boolean;
  portMappings: DescribedPortMapping[];
  environment: KeyValuePair[];
  mountPoints: MountPoint[];
  volumesFrom: VolumeFrom[];
};

export type RequiredAttribute = { name: string; value?: string; targetType?: string; targetId?: string };

export type TaskDefinition = Record<string, unknown> & {
  taskDefinitionArn: string;
  family: string;
  revision: number;
  status: TaskDefinitionStatus;
  containerDefinitions: ContainerDefinition[];
  compatibilities: Compatibility[];
  requiresAttributes: RequiredAttribute[];
  volumes: Volume[];
  placementConstraints: TaskDefinitionPlacementConstraint[];
  requiresCompatibilities?: Compatibility[];
  networkMode?: NetworkMode;
  /** CPU units as a string of digits ("1 vCPU" registers as "1024"). */
  cpu?: string;
  /** MiB as a string of digits ("2 GB" registers as "2048"). */
  memory?: string;
  taskRoleArn?: string;
  executionRoleArn?: string;
  runtimePlatform?: RuntimePlatform;
  /** A Date here; the wire layer sends epoch seconds. */
  registeredAt: Date;
  registeredBy?: string;
  deregisteredAt?: Date;
};

export type TaskDefinitionMeta = {
  taskDefinitionArn: string;
  revision: number;
  status: TaskDefinitionStatus;
  registeredAt: Date;
  registeredBy?: string;
  deregisteredAt?: Date;
};

// --- Describe ----------------------------------------------------------------------------------

/**
 * The launch types a definition satisfies. Bridge/host/none (or no networkMode) satisfy EXTERNAL and
 * EC2 whatever they require. ECS drops EXTERNAL when `runtimePlatform` is set; Berth keeps it and
 * treats runtimePlatform as a placement constraint instead. awsvpc satisfies EC2, plus FARGATE when
 * the task size is a Fargate size and nothing Fargate lacks is used. MANAGED_INSTANCES is listed
 * only when required: ECS started adding it to awsvpc definitions in 2025, older answers omit it.
 */
export const computeCompatibilities = (input: RegisterTaskDefinitionInput): Compatibility[] => {
  const result: Compatibility[] = [];
  if (effectiveNetworkMode(input) === 'awsvpc') {
    result.push('EC2');
    const { cpu, memory } = taskUnits(input);
    if (
      cpu !== undefined &&
      memory !== undefined &&
      isFargateSize(cpu, memory) &&
      !fargateUnsupported(input)
    ) {
      result.push('FARGATE');
    }
  } else {
    result.push('EXTERNAL', 'EC2');
  }
  if (requires(input, 'MANAGED_INSTANCES')) result.push('MANAGED_INSTANCES');
  return result;
};

const capability = (suffix: string) => `com.amazonaws.ecs.capability.${suffix}`;
const dockerApi = (version: string) => capability(`docker-remote-api.${version}`);

/**
 * The container-instance attributes a definition needs, as ECS computes them. The triggers were
 * read off real describe outputs (conformance files 04, 09, 10, 11, 20 and others): e.g. `ulimits`
 * or `dockerLabels` present (even empty) → docker-remote-api 1.18, `memoryReservation` → 1.21,
 * `links` → 1.17, awslogs `awslogs-create-group` → 1.29, log `mode`/`max-buffer-size` → 1.28.
 * Informational: the order follows ECS's answers; placement should match on what Berth's agents
 * advertise, not on this list alone.
 */
export const computeRequiresAttributes = (input: RegisterTaskDefinitionInput): RequiredAttribute[] => {
  const names = new Set<string>();
  const containers = input.containerDefinitions;
  const logDrivers = containers.flatMap((c) => (c.logConfiguration ? [c.logConfiguration] : []));
  const hasExecutionRole = input.executionRoleArn !== undefined;
  for (const log of logDrivers) names.add(capability(`logging-driver.${log.logDriver}`));
  if (logDrivers.some((log) => log.logDriver === 'awslogs') && hasExecutionRole) {
    names.add('ecs.capability.execution-role-awslogs');
  }
  const usesEcr = containers.some((c) => ecrImage.test(c.image));
  if (usesEcr) names.add(capability('ecr-auth'));
  if (logDrivers.some((log) => log.logDriver === 'awslogs')) names.add(dockerApi('1.19'));
  if (logDrivers.some((log) => log.logDriver !== 'awslogs')) names.add(dockerApi('1.18'));
  if (containers.some((c) => c.links !== undefined)) names.add(dockerApi('1.17'));
  const logOptions = logDrivers.map((log) => log.options ?? {});
  if (logOptions.some((options) => 'mode' in options || 'max-buffer-size' in options)) {
    names.add(dockerApi('1.28'));
  }
  if (containers.some((c) => c.memoryReservation !== undefined)) names.add(dockerApi('1.21'));
  const volumes = input.volumes ?? [];
  for (const volume of volumes) {
    const driver = volume.dockerVolumeConfiguration?.driver;
    if (volume.dockerVolumeConfiguration !== undefined) {
      names.add(`ecs.capability.docker-plugin.${driver ?? 'local'}`);
    }
  }
  if (volumes.some((v) => v.efsVolumeConfiguration !== undefined)) names.add('ecs.capability.efs');
  if (input.taskRoleArn !== undefined) {
    names.add(capability('task-iam-role'));
    if (input.networkMode === 'host') names.add(capability('task-iam-role-network-host'));
  }
  if (containers.some((c) => (c.dependsOn ?? []).length > 0)) names.add('ecs.capability.container-ordering');
  if (containers.some((c) => c.healthCheck !== undefined)) names.add('ecs.capability.container-health-check');
  if (
    volumes.some((v) => v.dockerVolumeConfiguration !== undefined || v.efsVolumeConfiguration !== undefined)
  ) {
    names.add(dockerApi('1.25'));
  }
  if (usesEcr && hasExecutionRole) names.add('ecs.capability.execution-role-ecr-pull');
  const secretSources = [
    ...containers.flatMap((c) =>
      (c.secrets ?? []).map((s) => ['environment-variables', s.valueFrom] as const),
    ),
    ...logDrivers.flatMap((log) =>
      (log.secretOptions ?? []).map((s) => ['bootstrap.log-driver', s.valueFrom] as const),
    ),
  ];
  for (const [use, valueFrom] of secretSources) {
    const store = valueFrom.includes(':secretsmanager:') ? 'asm' : 'ssm';
    names.add(`ecs.capability.secrets.${store}.${use}`);
  }
  if (containers.some((c) => (c.environmentFiles ?? []).length > 0)) names.add('ecs.capability.env-files.s3');
  if (containers.some((c) => c.repositoryCredentials !== undefined)) {
    names.add(capability('private-registry-authentication.secretsmanager'));
  }
  if (containers.some((c) => c.privileged === true)) names.add(capability('privileged-container'));
  if (input.pidMode !== undefined || input.ipcMode !== undefined) {
    names.add('ecs.capability.pid-ipc-namespace-sharing');
  }
  for (const c of containers) {
    if (c.firelensConfiguration !== undefined) {
      names.add(`ecs.capability.firelens.${c.firelensConfiguration.type}`);
    }
  }
  if (input.proxyConfiguration !== undefined) names.add('ecs.capability.aws-appmesh');
  if (containers.some((c) => c.ulimits !== undefined || c.dockerLabels !== undefined)) {
    names.add(dockerApi('1.18'));
  }
  if (input.networkMode === 'awsvpc') names.add('ecs.capability.task-eni');
  if (logOptions.some((options) => 'awslogs-create-group' in options)) names.add(dockerApi('1.29'));
  return [...names].map((name) => ({ name }));
};

const describeContainer = (container: ContainerDefinitionInput, mode: NetworkMode): ContainerDefinition => ({
  ...container,
  essential: container.essential ?? true,
  cpu: container.cpu ?? 0,
  environment: container.environment ?? [],
  mountPoints: container.mountPoints ?? [],
  volumesFrom: container.volumesFrom ?? [],
  portMappings: (container.portMappings ?? []).map((mapping) => ({
    ...mapping,
    protocol: mapping.protocol ?? 'tcp',
    // ECS fills hostPort in where it can only equal containerPort.
    ...((mode === 'host' || mode === 'awsvpc') &&
    mapping.hostPort === undefined &&
    mapping.containerPort !== undefined
      ? { hostPort: mapping.containerPort }
      : {}),
  })),
});

/**
 * The DescribeTaskDefinition shape: every registered field unchanged, plus ECS's defaults
 * (container `essential: true`, `cpu: 0`, empty `environment`/`mountPoints`/`volumesFrom`/
 * `portMappings`, `protocol: "tcp"`, `hostPort` = `containerPort` under host/awsvpc; task
 * `volumes: []`, `placementConstraints: []`), task `cpu`/`memory` as strings of units, and the
 * describe-only fields. `networkMode` stays absent when not given, as ECS answers. `tags` are left
 * out: they are stored and answered separately.
 */
export const describeTaskDefinition = (
  input: RegisterTaskDefinitionInput,
  meta: TaskDefinitionMeta,
): TaskDefinition => {
  // cpu/memory come back normalised below; tags are answered by ListTagsForResource/include=TAGS.
  const { cpu: _cpu, memory: _memory, tags: _tags, ...registered } = structuredClone(input);
  for (const field of DescribeOnlyFields) delete registered[field];
  const mode = effectiveNetworkMode(input);
  const units = taskUnits(input);
  return {
    ...registered,
    taskDefinitionArn: meta.taskDefinitionArn,
    family: input.family,
    revision: meta.revision,
    status: meta.status,
    containerDefinitions: registered.containerDefinitions.map((container) =>
      describeContainer(container, mode),
    ),
    volumes: registered.volumes ?? [],
    placementConstraints: registered.placementConstraints ?? [],
    ...(units.cpu !== undefined ? { cpu: String(units.cpu) } : {}),
    ...(units.memory !== undefined ? { memory: String(units.memory) } : {}),
    compatibilities: computeCompatibilities(input),
    requiresAttributes: computeRequiresAttributes(input),
    registeredAt: meta.registeredAt,
    ...(meta.registeredBy !== undefined ? { registeredBy: meta.registeredBy } : {}),
    ...(meta.deregisteredAt !== undefined ? { deregisteredAt: meta.deregisteredAt } : {}),
  };
};

/** True when the registered definition can run on Berth: its compatibilities include EXTERNAL. */
export const supportsExternal = (td: TaskDefinition): boolean => td.compatibilities.includes('EXTERNAL');
