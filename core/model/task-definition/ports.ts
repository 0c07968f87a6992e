import type { NetworkMode } from './schema.ts';

/**
 * The host port a port mapping binds, the one rule for registration's collision check, the
 * placement reservation and the agent's Docker port bindings: under host and awsvpc it can only be
 * the container port (a hostPort of 0 or none means that too); under bridge (or no networkMode) a
 * hostPort of 0 or none is a dynamic port the instance picks, undefined here: nothing to reserve,
 * nothing to collide with, Docker chooses. Zod-free, so the agent bundle can import it.
 */
export const hostPortOf = (
  mapping: { hostPort?: number; containerPort?: number },
  networkMode: NetworkMode | undefined,
): number | undefined => {
  const fixed = networkMode === 'host' || networkMode === 'awsvpc';
  return (fixed ? mapping.hostPort || mapping.containerPort : mapping.hostPort) || undefined;
};
