import { arch, cpus, totalmem } from 'node:os';

/** What the host offers: CPU units (cores × 1024, as ECS counts) and MiB of memory minus the reserve. */
export const hostResources = (reservedMemoryMiB: number): { cpu: number; memory: number } => ({
  cpu: Math.max(1, cpus().length) * 1024,
  memory: Math.max(1, Math.floor(totalmem() / (1024 * 1024)) - reservedMemoryMiB),
});

/** ECS's built-in attributes for this host (the custom ones come from --attribute). */
export const hostAttributes = (): { name: string; value: string }[] => [
  { name: 'ecs.os-type', value: 'linux' },
  { name: 'ecs.cpu-architecture', value: arch() === 'arm64' ? 'arm64' : 'x86_64' },
];
