import { invalidParameter } from '../../errors.ts';
import { namePattern } from '../arn.ts';
import { checkFargate } from './fargate.ts';
import { hostPortOf } from './ports.ts';
import {
  type ContainerDefinitionInput,
  type ContainerRestartPolicy,
  DescribeOnlyFields,
  effectiveNetworkMode,
  type HealthCheck,
  type NetworkMode,
  type RegisterTaskDefinitionInput,
  refuse,
  requires,
  taskUnits,
} from './schema.ts';

/**
 * The rules ECS refuses a RegisterTaskDefinition request by, after it passed the schema.
 * Pure: no I/O, no clock.
 */

const maxContainers = 10;
const maxPlacementConstraints = 10;
/** Docker 20.10+ refuses a memory limit under 6 MiB; the ECS docs say not to go below it. */
const minContainerMemoryMiB = 6;
/** ECS: task-level cpu for EC2/EXTERNAL is 128 (0.125 vCPU) to 196608 (192 vCPU) units. */
const minTaskCpu = 128;
const maxTaskCpu = 196_608;
const maxPort = 65_535;
const maxIgnoredExitCodes = 50;

const isEssential = (container: ContainerDefinitionInput): boolean => container.essential ?? true;

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
    const hostPort = hostPortOf(mapping, mode);
    // Bridge mode with hostPort 0 or absent is a dynamic port: it can never collide.
    if (hostPort === undefined) continue;
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
