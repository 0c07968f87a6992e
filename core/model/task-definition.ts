import { z } from 'zod';
import { type BerthError, clientError, invalidParameter, isBerthError } from '../errors.ts';
import { namePattern } from './arn.ts';
import { TagList } from './tags.ts';
import { parseCpuUnits, parseMemoryMiB } from './units.ts';

/**
 * The task-definition model: the RegisterTaskDefinition request as ECS accepts it, the rules ECS
 * refuses it by, and the describe shape ECS answers with. Pure: no I/O, no clock.
 */

export const NetworkModes = ['bridge', 'host', 'awsvpc', 'none'] as const;
export type NetworkMode = (typeof NetworkModes)[number];

export const Compatibilities = ['EC2', 'FARGATE', 'EXTERNAL', 'MANAGED_INSTANCES'] as const;
export type Compatibility = (typeof Compatibilities)[number];

export const DependencyConditions = ['START', 'COMPLETE', 'SUCCESS', 'HEALTHY'] as const;
export type DependencyCondition = (typeof DependencyConditions)[number];

export const TransportProtocols = ['tcp', 'udp'] as const;
export type TransportProtocol = (typeof TransportProtocols)[number];

export const TaskDefinitionStatuses = ['ACTIVE', 'INACTIVE', 'DELETE_IN_PROGRESS'] as const;
export type TaskDefinitionStatus = (typeof TaskDefinitionStatuses)[number];

/**
 * Fields only DescribeTaskDefinition answers with. The AWS CLI refuses them client-side ("Unknown
 * parameter in input"); a raw SDK call would reach ECS, whose JSON protocol has no such members, so
 * Berth refuses them by name with InvalidParameterException rather than silently storing a
 * `revision` or `status` the caller might believe it set.
 */
export const DescribeOnlyFields = [
  'taskDefinitionArn',
  'revision',
  'status',
  'compatibilities',
  'requiresAttributes',
  'registeredAt',
  'registeredBy',
  'deregisteredAt',
] as const;

const maxContainers = 10;
const maxPlacementConstraints = 10;
/** Docker 20.10+ refuses a memory limit under 6 MiB; the ECS docs say not to go below it. */
const minContainerMemoryMiB = 6;
/** ECS: task-level cpu for EC2/EXTERNAL is 128 (0.125 vCPU) to 196608 (192 vCPU) units. */
const minTaskCpu = 128;
const maxTaskCpu = 196_608;
const maxPort = 65_535;
const maxIgnoredExitCodes = 50;

// --- The request schema ------------------------------------------------------------------------

/**
 * Exported describe files carry `null` for every unset member, and AWS's JSON protocol treats a
 * null member as absent. So nulls on object members are dropped before parsing: `"memory": null`
 * registers as if `memory` were not given, and describe never answers a field the user did not set.
 * Nulls inside arrays are kept, so `["CMD", null]` is still refused as a malformed list. (Members
 * set to `undefined`, which only callers in code can produce, are dropped the same way.)
 */
const withoutNullMembers = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(withoutNullMembers);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, member]) => member !== null && member !== undefined)
        .map(([key, member]) => [key, withoutNullMembers(member)]),
    );
  }
  return value;
};

const int = z.number().int();
const stringList = z.array(z.string());
const stringMap = z.record(z.string(), z.string());

// Every object is loose: fields Berth does not know (new ECS members included) are kept as given.
export const KeyValuePair = z.looseObject({ name: z.string().optional(), value: z.string().optional() });
export type KeyValuePair = z.infer<typeof KeyValuePair>;

export const PortMapping = z.looseObject({
  containerPort: int.optional(),
  hostPort: int.optional(),
  protocol: z.enum(TransportProtocols).optional(),
  name: z.string().optional(),
  appProtocol: z.enum(['http', 'http2', 'grpc']).optional(),
  containerPortRange: z.string().optional(),
});
export type PortMapping = z.infer<typeof PortMapping>;

export const MountPoint = z.looseObject({
  sourceVolume: z.string().optional(),
  containerPath: z.string().optional(),
  readOnly: z.boolean().optional(),
});
export type MountPoint = z.infer<typeof MountPoint>;

export const VolumeFrom = z.looseObject({
  sourceContainer: z.string().optional(),
  readOnly: z.boolean().optional(),
});
export type VolumeFrom = z.infer<typeof VolumeFrom>;

export const ContainerDependency = z.looseObject({
  containerName: z.string(),
  condition: z.enum(DependencyConditions),
});
export type ContainerDependency = z.infer<typeof ContainerDependency>;

export const HealthCheck = z.looseObject({
  command: stringList,
  interval: int.optional(),
  timeout: int.optional(),
  retries: int.optional(),
  startPeriod: int.optional(),
});
export type HealthCheck = z.infer<typeof HealthCheck>;

export const Secret = z.looseObject({ name: z.string(), valueFrom: z.string() });
export type Secret = z.infer<typeof Secret>;

export const LogConfiguration = z.looseObject({
  logDriver: z.string(),
  options: stringMap.optional(),
  secretOptions: z.array(Secret).optional(),
});
export type LogConfiguration = z.infer<typeof LogConfiguration>;

export const ContainerRestartPolicy = z.looseObject({
  enabled: z.boolean(),
  ignoredExitCodes: z.array(int).optional(),
  restartAttemptPeriod: int.optional(),
});
export type ContainerRestartPolicy = z.infer<typeof ContainerRestartPolicy>;

export const Ulimit = z.looseObject({ name: z.string(), softLimit: int, hardLimit: int });
export type Ulimit = z.infer<typeof Ulimit>;

const LinuxParameters = z.looseObject({
  capabilities: z.looseObject({ add: stringList.optional(), drop: stringList.optional() }).optional(),
  devices: z
    .array(
      z.looseObject({
        hostPath: z.string(),
        containerPath: z.string().optional(),
        permissions: z.array(z.enum(['read', 'write', 'mknod'])).optional(),
      }),
    )
    .optional(),
  initProcessEnabled: z.boolean().optional(),
  sharedMemorySize: int.optional(),
  tmpfs: z
    .array(z.looseObject({ containerPath: z.string(), size: int, mountOptions: stringList.optional() }))
    .optional(),
  maxSwap: int.optional(),
  swappiness: int.optional(),
});

/** One container as RegisterTaskDefinition takes it. `name` and `image` are required by ECS. */
export const ContainerDefinitionInput = z.looseObject({
  name: z.string(),
  image: z.string(),
  repositoryCredentials: z.looseObject({ credentialsParameter: z.string() }).optional(),
  cpu: int.optional(),
  memory: int.optional(),
  memoryReservation: int.optional(),
  links: stringList.optional(),
  portMappings: z.array(PortMapping).optional(),
  essential: z.boolean().optional(),
  restartPolicy: ContainerRestartPolicy.optional(),
  entryPoint: stringList.optional(),
  command: stringList.optional(),
  environment: z.array(KeyValuePair).optional(),
  environmentFiles: z.array(z.looseObject({ value: z.string(), type: z.enum(['s3']) })).optional(),
  mountPoints: z.array(MountPoint).optional(),
  volumesFrom: z.array(VolumeFrom).optional(),
  linuxParameters: LinuxParameters.optional(),
  secrets: z.array(Secret).optional(),
  dependsOn: z.array(ContainerDependency).optional(),
  startTimeout: int.optional(),
  stopTimeout: int.optional(),
  versionConsistency: z.enum(['enabled', 'disabled']).optional(),
  hostname: z.string().optional(),
  user: z.string().optional(),
  workingDirectory: z.string().optional(),
  disableNetworking: z.boolean().optional(),
  privileged: z.boolean().optional(),
  readonlyRootFilesystem: z.boolean().optional(),
  dnsServers: stringList.optional(),
  dnsSearchDomains: stringList.optional(),
  extraHosts: z.array(z.looseObject({ hostname: z.string(), ipAddress: z.string() })).optional(),
  dockerSecurityOptions: stringList.optional(),
  interactive: z.boolean().optional(),
  pseudoTerminal: z.boolean().optional(),
  dockerLabels: stringMap.optional(),
  ulimits: z.array(Ulimit).optional(),
  logConfiguration: LogConfiguration.optional(),
  healthCheck: HealthCheck.optional(),
  systemControls: z
    .array(z.looseObject({ namespace: z.string().optional(), value: z.string().optional() }))
    .optional(),
  resourceRequirements: z
    .array(z.looseObject({ value: z.string(), type: z.enum(['GPU', 'InferenceAccelerator']) }))
    .optional(),
  firelensConfiguration: z
    .looseObject({ type: z.enum(['fluentd', 'fluentbit']), options: stringMap.optional() })
    .optional(),
  credentialSpecs: stringList.optional(),
});
export type ContainerDefinitionInput = z.infer<typeof ContainerDefinitionInput>;

export const Volume = z.looseObject({
  name: z.string(),
  host: z.looseObject({ sourcePath: z.string().optional() }).optional(),
  dockerVolumeConfiguration: z
    .looseObject({
      scope: z.enum(['task', 'shared']).optional(),
      autoprovision: z.boolean().optional(),
      driver: z.string().optional(),
      driverOpts: stringMap.optional(),
      labels: stringMap.optional(),
    })
    .optional(),
  efsVolumeConfiguration: z
    .looseObject({
      fileSystemId: z.string(),
      rootDirectory: z.string().optional(),
      transitEncryption: z.enum(['ENABLED', 'DISABLED']).optional(),
      transitEncryptionPort: int.optional(),
    })
    .optional(),
  fsxWindowsFileServerVolumeConfiguration: z.looseObject({ fileSystemId: z.string() }).optional(),
  configuredAtLaunch: z.boolean().optional(),
});
export type Volume = z.infer<typeof Volume>;

export const TaskDefinitionPlacementConstraint = z.looseObject({
  type: z.enum(['memberOf']),
  expression: z.string().optional(),
});
export type TaskDefinitionPlacementConstraint = z.infer<typeof TaskDefinitionPlacementConstraint>;

export const RuntimePlatform = z.looseObject({
  cpuArchitecture: z.enum(['X86_64', 'ARM64']).optional(),
  operatingSystemFamily: z.string().optional(),
});
export type RuntimePlatform = z.infer<typeof RuntimePlatform>;

const RegisterTaskDefinitionObject = z.looseObject({
  family: z.string(),
  taskRoleArn: z.string().optional(),
  executionRoleArn: z.string().optional(),
  networkMode: z.enum(NetworkModes).optional(),
  containerDefinitions: z.array(ContainerDefinitionInput),
  volumes: z.array(Volume).optional(),
  placementConstraints: z.array(TaskDefinitionPlacementConstraint).optional(),
  requiresCompatibilities: z.array(z.enum(Compatibilities)).optional(),
  // ECS's model says string; "1 vCPU"/"2 GB" forms and bare numbers (what JSON authors write) both occur.
  cpu: z.union([z.string(), z.number()]).optional(),
  memory: z.union([z.string(), z.number()]).optional(),
  tags: TagList.optional(),
  pidMode: z.enum(['host', 'task']).optional(),
  ipcMode: z.enum(['host', 'task', 'none']).optional(),
  proxyConfiguration: z
    .looseObject({
      type: z.enum(['APPMESH']).optional(),
      containerName: z.string(),
      properties: z.array(KeyValuePair).optional(),
    })
    .optional(),
  inferenceAccelerators: z
    .array(z.looseObject({ deviceName: z.string(), deviceType: z.string() }))
    .optional(),
  ephemeralStorage: z.looseObject({ sizeInGiB: int }).optional(),
  runtimePlatform: RuntimePlatform.optional(),
  enableFaultInjection: z.boolean().optional(),
});

/**
 * The RegisterTaskDefinition request body. Null members are treated as absent (see
 * `withoutNullMembers`); every member ECS accepts is kept, known ones are type-checked.
 */
export const RegisterTaskDefinitionInput = z.preprocess(withoutNullMembers, RegisterTaskDefinitionObject);
export type RegisterTaskDefinitionInput = z.infer<typeof RegisterTaskDefinitionInput>;

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

// --- Validation --------------------------------------------------------------------------------

const refuse = (path: string, message: string): BerthError => clientError(`${path}: ${message}`);

/** Absent networkMode means bridge on Linux, as ECS documents. */
const effectiveNetworkMode = (input: RegisterTaskDefinitionInput): NetworkMode =>
  input.networkMode ?? 'bridge';

const isEssential = (container: ContainerDefinitionInput): boolean => container.essential ?? true;

const requires = (input: RegisterTaskDefinitionInput, compatibility: Compatibility): boolean =>
  (input.requiresCompatibilities ?? []).includes(compatibility);

/** Task-level units; unparsable values are ECS's "Invalid 'cpu' setting for task." (ClientException). */
const taskUnits = (input: RegisterTaskDefinitionInput): { cpu?: number; memory?: number } => {
  const parse = (field: 'cpu' | 'memory', parser: (value: string | number) => number): number | undefined => {
    const value = input[field];
    if (value === undefined) return undefined;
    try {
      return parser(value);
    } catch (error) {
      if (!isBerthError(error)) throw error;
      throw refuse(field, `Invalid '${field}' setting for task. ${error.message}`);
    }
  };
  return { cpu: parse('cpu', parseCpuUnits), memory: parse('memory', parseMemoryMiB) };
};

/** Fargate's task sizes: CPU units to the MiB values allowed with them. */
const fargateSizes: readonly { cpu: number; from: number; to: number; step: number; also?: number[] }[] = [
  { cpu: 256, from: 512, to: 512, step: 1, also: [1024, 2048] },
  { cpu: 512, from: 1024, to: 4096, step: 1024 },
  { cpu: 1024, from: 2048, to: 8192, step: 1024 },
  { cpu: 2048, from: 4096, to: 16_384, step: 1024 },
  { cpu: 4096, from: 8192, to: 30_720, step: 1024 },
  { cpu: 8192, from: 16_384, to: 61_440, step: 4096 },
  { cpu: 16_384, from: 32_768, to: 122_880, step: 8192 },
];

/** True when `cpu` units with `memory` MiB is one of Fargate's task sizes. */
export const isFargateSize = (cpu: number, memory: number): boolean =>
  fargateSizes.some(
    (size) =>
      size.cpu === cpu &&
      ((memory >= size.from && memory <= size.to && (memory - size.from) % size.step === 0) ||
        (size.also ?? []).includes(memory)),
  );

const ecrImage = /^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\//;

/** Features Fargate has no room for; each entry names the first field that uses one. */
const fargateUnsupported = (input: RegisterTaskDefinitionInput): string | undefined => {
  for (const [index, volume] of (input.volumes ?? []).entries()) {
    if (volume.host?.sourcePath !== undefined) return `volumes[${index}].host.sourcePath`;
    if (volume.dockerVolumeConfiguration !== undefined) return `volumes[${index}].dockerVolumeConfiguration`;
    if (volume.fsxWindowsFileServerVolumeConfiguration !== undefined) {
      return `volumes[${index}].fsxWindowsFileServerVolumeConfiguration`;
    }
  }
  for (const [index, container] of input.containerDefinitions.entries()) {
    if (container.privileged === true) return `containerDefinitions[${index}].privileged`;
  }
  if ((input.placementConstraints ?? []).length > 0) return 'placementConstraints';
  if ((input.inferenceAccelerators ?? []).length > 0) return 'inferenceAccelerators';
  if (input.ipcMode !== undefined) return 'ipcMode';
  if (input.pidMode === 'host') return 'pidMode';
  return undefined;
};

const checkFargate = (input: RegisterTaskDefinitionInput, units: { cpu?: number; memory?: number }): void => {
  if (input.networkMode !== 'awsvpc') {
    throw refuse('networkMode', "Fargate only supports network mode 'awsvpc'.");
  }
  if (units.cpu === undefined) {
    throw refuse('cpu', "Fargate requires that 'cpu' be defined at the task level.");
  }
  if (units.memory === undefined) {
    throw refuse('memory', "Fargate requires that 'memory' be defined at the task level.");
  }
  if (!isFargateSize(units.cpu, units.memory)) {
    throw refuse(
      'memory',
      `No Fargate configuration exists for given values: ${units.cpu} CPU, ${units.memory} memory. See the Amazon ECS documentation for the valid values.`,
    );
  }
  const unsupported = fargateUnsupported(input);
  if (unsupported !== undefined) throw refuse(unsupported, 'This setting is not supported on Fargate.');
  if (input.executionRoleArn === undefined) {
    for (const [index, container] of input.containerDefinitions.entries()) {
      if (container.logConfiguration?.logDriver === 'awslogs') {
        throw refuse(
          `containerDefinitions[${index}].logConfiguration`,
          'Fargate requires task definition to have execution role ARN to support log driver awslogs.',
        );
      }
      if (ecrImage.test(container.image)) {
        throw refuse(
          `containerDefinitions[${index}].image`,
          'Fargate requires task definition to have execution role ARN to support ECR images.',
        );
      }
    }
  }
};

const inRange = (value: number | undefined, min: number, max: number): boolean =>
  value === undefined || (value >= min && value <= max);

const checkHealthCheck = (path: string, name: string, check: HealthCheck): void => {
  const [kind] = check.command;
  if (kind !== 'CMD' && kind !== 'CMD-SHELL') {
    throw refuse(
      `${path}.command`,
      `Invalid 'healthCheck' setting for container '${name}'. The command must start with CMD or CMD-SHELL.`,
    );
  }
  const bounds = [
    ['interval', check.interval, 5, 300],
    ['timeout', check.timeout, 2, 60],
    ['retries', check.retries, 1, 10],
    ['startPeriod', check.startPeriod, 0, 300],
  ] as const;
  for (const [field, value, min, max] of bounds) {
    if (!inRange(value, min, max)) {
      throw refuse(
        `${path}.${field}`,
        `Invalid 'healthCheck' setting for container '${name}'. '${field}' must be between ${min} and ${max}.`,
      );
    }
  }
};

const checkRestartPolicy = (path: string, name: string, policy: ContainerRestartPolicy): void => {
  if ((policy.ignoredExitCodes ?? []).length > maxIgnoredExitCodes) {
    throw refuse(
      `${path}.ignoredExitCodes`,
      `Invalid 'restartPolicy' setting for container '${name}'. At most ${maxIgnoredExitCodes} exit codes can be ignored.`,
    );
  }
  if (!inRange(policy.restartAttemptPeriod, 60, 1800)) {
    throw refuse(
      `${path}.restartAttemptPeriod`,
      `Invalid 'restartPolicy' setting for container '${name}'. 'restartAttemptPeriod' must be between 60 and 1800 seconds.`,
    );
  }
};

const checkPortMappings = (
  path: string,
  container: ContainerDefinitionInput,
  mode: NetworkMode,
  taken: Map<string, string>,
): void => {
  const mappings = container.portMappings ?? [];
  if (mode === 'none' && mappings.length > 0) {
    throw refuse(`${path}.portMappings`, 'Port mappings are not supported when networkMode=none.');
  }
  for (const [index, mapping] of mappings.entries()) {
    const at = `${path}.portMappings[${index}]`;
    if (mapping.containerPort === undefined && mapping.containerPortRange === undefined) {
      throw refuse(
        `${at}.containerPort`,
        `Invalid 'containerPort' setting for container '${container.name}'.`,
      );
    }
    if (!inRange(mapping.containerPort, 0, maxPort)) {
      throw refuse(
        `${at}.containerPort`,
        `Invalid 'containerPort' setting for container '${container.name}'.`,
      );
    }
    if (!inRange(mapping.hostPort, 0, maxPort)) {
      throw refuse(`${at}.hostPort`, `Invalid 'hostPort' setting for container '${container.name}'.`);
    }
    // host and awsvpc share one network namespace per task: a port is the same port on both sides.
    // A hostPort of 0 there reads as "not given", which ECS also accepts.
    const fixed = mode === 'host' || mode === 'awsvpc';
    if (
      fixed &&
      mapping.hostPort !== undefined &&
      mapping.hostPort !== 0 &&
      mapping.hostPort !== mapping.containerPort
    ) {
      throw refuse(
        `${at}.hostPort`,
        `When networkMode=${mode}, the host ports and container ports in port mappings must match.`,
      );
    }
    const hostPort = fixed ? mapping.hostPort || mapping.containerPort : mapping.hostPort;
    // Bridge mode with hostPort 0 or absent is a dynamic port: it can never collide.
    if (hostPort === undefined || hostPort === 0) continue;
    const key = `${hostPort}/${mapping.protocol ?? 'tcp'}`;
    const first = taken.get(key);
    if (first !== undefined) {
      throw refuse(
        `${at}.hostPort`,
        `Host port ${key} is already used by ${first}; a task can bind each host port once.`,
      );
    }
    taken.set(key, at);
  }
};

type ContainerContext = {
  mode: NetworkMode;
  taskMemory: number | undefined;
  names: Set<string>;
  essentialByName: Map<string, boolean>;
  volumeNames: Set<string>;
  takenHostPorts: Map<string, string>;
};

const checkContainer = (
  index: number,
  container: ContainerDefinitionInput,
  context: ContainerContext,
): void => {
  const path = `containerDefinitions[${index}]`;
  const { name } = container;
  if (container.cpu !== undefined && container.cpu < 0) {
    throw refuse(`${path}.cpu`, `Invalid 'cpu' setting for container '${name}'.`);
  }
  if (container.memory !== undefined && container.memory < minContainerMemoryMiB) {
    throw refuse(
      `${path}.memory`,
      `The 'memory' setting for container '${name}' is too low. Minimum is ${minContainerMemoryMiB} megabytes.`,
    );
  }
  if (container.memoryReservation !== undefined && container.memoryReservation < 1) {
    throw refuse(
      `${path}.memoryReservation`,
      `Invalid 'memoryReservation' setting for container '${name}'. It must be a positive number of MiB.`,
    );
  }
  if (
    context.taskMemory === undefined &&
    container.memory === undefined &&
    container.memoryReservation === undefined
  ) {
    throw refuse(
      `${path}.memory`,
      `Invalid setting for container '${name}'. At least one of 'memory' or 'memoryReservation' must be specified.`,
    );
  }
  if (
    container.memory !== undefined &&
    container.memoryReservation !== undefined &&
    container.memory < container.memoryReservation
  ) {
    throw refuse(
      `${path}.memoryReservation`,
      `Invalid setting for container '${name}'. 'memoryReservation' must be less than or equal to 'memory'.`,
    );
  }
  if (
    context.taskMemory !== undefined &&
    container.memory !== undefined &&
    container.memory > context.taskMemory
  ) {
    throw refuse(
      `${path}.memory`,
      `The 'memory' setting for container '${name}' is greater than for the task.`,
    );
  }
  if ((container.links ?? []).length > 0 && context.mode !== 'bridge') {
    throw refuse(`${path}.links`, `Links are not supported when networkMode=${context.mode}.`);
  }
  checkPortMappings(path, container, context.mode, context.takenHostPorts);
  if (container.healthCheck !== undefined) {
    checkHealthCheck(`${path}.healthCheck`, name, container.healthCheck);
  }
  if (container.restartPolicy !== undefined) {
    checkRestartPolicy(`${path}.restartPolicy`, name, container.restartPolicy);
  }
  for (const [at, mountPoint] of (container.mountPoints ?? []).entries()) {
    if (mountPoint.sourceVolume === undefined || !context.volumeNames.has(mountPoint.sourceVolume)) {
      throw refuse(
        `${path}.mountPoints[${at}].sourceVolume`,
        `Invalid 'mountPoints' setting for container '${name}'. Volume '${mountPoint.sourceVolume ?? ''}' is not declared in 'volumes'.`,
      );
    }
  }
  for (const [at, from] of (container.volumesFrom ?? []).entries()) {
    const source = from.sourceContainer;
    if (source === undefined || source === name || !context.names.has(source)) {
      throw refuse(
        `${path}.volumesFrom[${at}].sourceContainer`,
        `Invalid 'volumesFrom' setting for container '${name}'. '${source ?? ''}' is not another container of this task definition.`,
      );
    }
  }
  for (const [at, dependency] of (container.dependsOn ?? []).entries()) {
    const target = dependency.containerName;
    const targetEssential = context.essentialByName.get(target);
    if (targetEssential === undefined || target === name) {
      throw refuse(
        `${path}.dependsOn[${at}].containerName`,
        `Cannot depend on container '${target}' because it does not exist.`,
      );
    }
    // The rule binds the container waited for: one that must exit (COMPLETE/SUCCESS) cannot be essential,
    // since its exit would stop the task. The waiting container may be essential (ECS agent's own tests do this).
    if ((dependency.condition === 'COMPLETE' || dependency.condition === 'SUCCESS') && targetEssential) {
      throw refuse(
        `${path}.dependsOn[${at}].condition`,
        'A dependency container with SUCCESS or COMPLETE condition cannot be an essential container.',
      );
    }
  }
};

/**
 * Throws BerthError for anything ECS refuses at RegisterTaskDefinition: ClientException with a
 * message that starts with the offending field's path (`containerDefinitions[1].memory: …`), and
 * InvalidParameterException for describe-only fields. Assumes the input passed the zod schema.
 * A definition that only ECS's other launch types could run (FARGATE, EC2) is still accepted: Berth
 * refuses to *run* definitions without EXTERNAL, not to store them.
 */
export const validateTaskDefinition = (input: RegisterTaskDefinitionInput): void => {
  for (const field of DescribeOnlyFields) {
    if (field in input) {
      throw invalidParameter(
        `Unknown parameter in input: "${field}". It is returned by DescribeTaskDefinition and cannot be registered.`,
      );
    }
  }
  if (!namePattern.test(input.family)) {
    throw refuse(
      'family',
      'Family name can have up to 255 characters: letters (uppercase and lowercase), numbers, hyphens and underscores.',
    );
  }
  const containers = input.containerDefinitions;
  if (containers.length === 0) throw refuse('containerDefinitions', 'Container list cannot be empty.');
  if (containers.length > maxContainers) {
    throw refuse(
      'containerDefinitions',
      `Too many containers. A task definition can have at most ${maxContainers}.`,
    );
  }
  const units = taskUnits(input);
  if (units.cpu !== undefined && !inRange(units.cpu, minTaskCpu, maxTaskCpu)) {
    throw refuse(
      'cpu',
      `Invalid 'cpu' setting for task. Supported values are between ${minTaskCpu} and ${maxTaskCpu} CPU units.`,
    );
  }
  if (units.memory !== undefined && units.memory < 1) {
    throw refuse('memory', "Invalid 'memory' setting for task. It must be a positive number of MiB.");
  }
  const mode = effectiveNetworkMode(input);
  if (requires(input, 'EXTERNAL') && mode === 'awsvpc') {
    throw refuse(
      'networkMode',
      "Task definitions that require EXTERNAL cannot use network mode 'awsvpc'. External instances support bridge, host and none.",
    );
  }
  if ((input.placementConstraints ?? []).length > maxPlacementConstraints) {
    throw refuse(
      'placementConstraints',
      `At most ${maxPlacementConstraints} placement constraints are allowed.`,
    );
  }

  const volumeNames = new Set<string>();
  for (const [index, volume] of (input.volumes ?? []).entries()) {
    if (!namePattern.test(volume.name)) {
      throw refuse(
        `volumes[${index}].name`,
        'Volume name can have up to 255 characters: letters (uppercase and lowercase), numbers, hyphens and underscores.',
      );
    }
    if (volumeNames.has(volume.name)) {
      throw refuse(`volumes[${index}].name`, `Duplicate volume name '${volume.name}'.`);
    }
    volumeNames.add(volume.name);
  }

  const essentialByName = new Map<string, boolean>();
  for (const [index, container] of containers.entries()) {
    if (!namePattern.test(container.name)) {
      throw refuse(
        `containerDefinitions[${index}].name`,
        'Container name can have up to 255 characters: letters (uppercase and lowercase), numbers, hyphens and underscores.',
      );
    }
    if (essentialByName.has(container.name)) {
      throw refuse(
        `containerDefinitions[${index}].name`,
        `Duplicate container name '${container.name}'. Container names must be unique within a task definition.`,
      );
    }
    essentialByName.set(container.name, isEssential(container));
  }
  if (![...essentialByName.values()].some(Boolean)) {
    throw refuse('containerDefinitions', 'A task definition must have at least one essential container.');
  }

  const context: ContainerContext = {
    mode,
    taskMemory: units.memory,
    names: new Set(essentialByName.keys()),
    essentialByName,
    volumeNames,
    takenHostPorts: new Map(),
  };
  for (const [index, container] of containers.entries()) checkContainer(index, container, context);

  if (units.memory !== undefined) {
    // What placement reserves per container: the soft limit when given, else the hard one.
    const reserved = containers.reduce(
      (sum, container) => sum + (container.memoryReservation ?? container.memory ?? 0),
      0,
    );
    if (reserved > units.memory) {
      throw refuse(
        'containerDefinitions',
        "The sum of all container 'memoryReservation' values cannot be greater than the value of the task 'memory'.",
      );
    }
  }
  if (units.cpu !== undefined) {
    const cpu = containers.reduce((sum, container) => sum + (container.cpu ?? 0), 0);
    if (cpu > units.cpu) {
      throw refuse(
        'containerDefinitions',
        "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'.",
      );
    }
  }
  if (requires(input, 'FARGATE')) checkFargate(input, units);
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
