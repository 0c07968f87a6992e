import { type RegisterTaskDefinitionInput, refuse } from './schema.ts';

/**
 * Fargate's rules: the task sizes it offers, the features it lacks, and what RegisterTaskDefinition
 * refuses when a definition requires FARGATE. Pure: no I/O, no clock.
 */

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

/** An image in a private ECR repository (needs an execution role on Fargate, `ecr-auth` anywhere). */
export const ecrImage = /^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\//;

/** Features Fargate has no room for; each entry names the first field that uses one. */
export const fargateUnsupported = (input: RegisterTaskDefinitionInput): string | undefined => {
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

/** Throws what ECS refuses a definition that requires FARGATE with (see validateTaskDefinition). */
export const checkFargate = (
  input: RegisterTaskDefinitionInput,
  units: { cpu?: number; memory?: number },
): void => {
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
