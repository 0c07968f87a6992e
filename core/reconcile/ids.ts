import { createHash } from 'node:crypto';

/** A deterministic id from its parts: the same decision made twice yields the same id. */
export const deterministicId = (...parts: (string | number)[]): string =>
  createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);

/** ECS names deployments `ecs-svc/` + 19 digits. */
export const deploymentIdOf = (...parts: (string | number)[]): string => {
  const digits = BigInt(`0x${deterministicId(...parts).slice(0, 15)}`)
    .toString()
    .padStart(19, '0')
    .slice(-19);
  return `ecs-svc/${digits}`;
};
