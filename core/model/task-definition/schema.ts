import { z } from 'zod';
import { type BerthError, clientError, isBerthError } from '../../errors.ts';
import { TagList } from '../tags.ts';
import { parseCpuUnits, parseMemoryMiB } from '../units.ts';

/**
 * The RegisterTaskDefinition request as ECS accepts it: the zod schemas (each with its type under
 * the same name), the value lists ECS allows, and what a parsed request means where ECS leaves it
 * implicit (default network mode, task units). Pure: no I/O, no clock.
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

// --- Reading a parsed request ------------------------------------------------------------------

/** A ClientException whose message starts with the offending field's path, as every rule refuses. */
export const refuse = (path: string, message: string): BerthError => clientError(`${path}: ${message}`);

/** Absent networkMode means bridge on Linux, as ECS documents. */
export const effectiveNetworkMode = (input: RegisterTaskDefinitionInput): NetworkMode =>
  input.networkMode ?? 'bridge';

/** True when the request lists `compatibility` in requiresCompatibilities. */
export const requires = (input: RegisterTaskDefinitionInput, compatibility: Compatibility): boolean =>
  (input.requiresCompatibilities ?? []).includes(compatibility);

/** Task-level units; unparsable values are ECS's "Invalid 'cpu' setting for task." (ClientException). */
export const taskUnits = (input: RegisterTaskDefinitionInput): { cpu?: number; memory?: number } => {
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
