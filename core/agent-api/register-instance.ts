import {
  hashSecret,
  isActivationId,
  newAgentToken,
  newId,
  newManagedInstanceId,
  sameHash,
} from '../auth/secrets.ts';
import { getActivation, registerContainerInstance } from '../db/activations.ts';
import { retryOnConflict } from '../db/conditions.ts';
import { admitRegistrationAttempt, type RegistrationSubject } from '../db/registration-failures.ts';
import type { ActionContext } from '../ecs/context.ts';
import { BerthError, clusterNotFound } from '../errors.ts';
import { clusterNameOf } from '../model/arn.ts';
import { type ContainerInstanceRecord, defaultReservedPorts } from '../model/container-instance.ts';
import type { RegisterRequest, RegisterResponse } from '../protocol/agent.ts';

const invalidActivation = () =>
  new BerthError(
    'InvalidActivation',
    'auth',
    'The activation is not valid: check the activation id and code.',
  );

/**
 * Repeated wrong activation codes are slowed down: after this many failures within one fixed window,
 * per activation and per source address, every registration attempt for it is answered 429 until
 * the window ends (a correct code too, or guessing would go on). Codes carry ~119 bits, so this is
 * defence in depth; its cost is that a guesser can hold one activation back for a window.
 */
export const registrationThrottle = { windowSeconds: 300, perActivation: 5, perSourceIp: 20 } as const;

const tooManyFailures = (retryAfterSeconds: number) =>
  new BerthError(
    'TooManyRegistrationFailures',
    'unavailable',
    `Too many failed registrations; try again in ${retryAfterSeconds} seconds.`,
    { retryAfterSeconds },
  );

/**
 * Whom a failure counts against: a well-formed activation id, then an address as the HTTP layer saw
 * it (the narrower limit first: see admitRegistrationAttempt).
 */
const subjectsOf = (activationId: string, sourceIp: string | undefined): RegistrationSubject[] => [
  ...(isActivationId(activationId)
    ? [{ scope: 'activation' as const, subject: activationId, limit: registrationThrottle.perActivation }]
    : []),
  ...(sourceIp && /^[0-9A-Fa-f:.]{1,64}$/.test(sourceIp)
    ? [{ scope: 'ip' as const, subject: sourceIp, limit: registrationThrottle.perSourceIp }]
    : []),
];

/** Attributes every Berth instance carries, as ECS gives external instances. */
const builtInAttributes = (request: RegisterRequest): Record<string, string | null> => {
  const given = Object.fromEntries((request.attributes ?? []).map((a) => [a.name, a.value ?? null]));
  return {
    ...given,
    'ecs.os-type': given['ecs.os-type'] ?? 'linux',
    'ecs.cpu-architecture': given['ecs.cpu-architecture'] ?? 'x86_64',
    'ecs.capability.external': null,
  };
};

/**
 * Registers an edge machine with an activation: checks the code, consumes one registration and
 * creates the container instance and its token in one transaction (see registerContainerInstance).
 */
export const registerInstance = async (
  context: ActionContext,
  request: RegisterRequest,
  sourceIp?: string,
): Promise<RegisterResponse> => {
  const cluster = clusterNameOf(request.cluster);
  const now = context.now();
  const { windowSeconds } = registrationThrottle;
  const windowStart = Math.floor(now.getTime() / 1000 / windowSeconds) * windowSeconds;
  const activation = isActivationId(request.activationId)
    ? await getActivation(context.db, request.activationId)
    : undefined;
  const codeHash = hashSecret(request.activationCode);
  const rightCode = activation !== undefined && sameHash(activation.codeHash, codeHash);
  // The code is compared first but its outcome is told only once the throttle has admitted the
  // attempt, in one conditional write per subject: a wrong code takes one of the limit's places (so
  // parallel guesses cannot all be judged, as they were when the count was read, checked and then
  // incremented), a right code takes none and only checks, the same way, that the limit is not
  // reached (so a fleet registering at once does not throttle itself). A throttled attempt is
  // answered 429 whatever its code.
  const admitted = await admitRegistrationAttempt(
    context.db,
    subjectsOf(request.activationId, sourceIp),
    windowStart,
    windowSeconds,
    { id: newId(), rightCode },
  );
  if (!admitted) {
    throw tooManyFailures(Math.max(1, Math.ceil(windowStart + windowSeconds - now.getTime() / 1000)));
  }
  // Same answer for an unknown id and a wrong code: the caller learns nothing about which it was.
  if (!activation || !rightCode) throw invalidActivation();
  if (Date.parse(activation.expiresAt) <= now.getTime()) {
    throw new BerthError('ActivationExpired', 'auth', 'The activation has expired.');
  }
  const token = newAgentToken();
  const at = now.toISOString();
  const reserved = [...new Set(request.reservedPorts ?? defaultReservedPorts)].sort((a, b) => a - b);
  const { cpu, memory } = request.resources;
  const instance: ContainerInstanceRecord = {
    type: 'containerInstance',
    id: newId(),
    cluster,
    ec2InstanceId: newManagedInstanceId(),
    hostname: request.hostname,
    status: 'ACTIVE',
    agentConnected: true,
    agentVersion: request.agentVersion,
    registered: { cpu, memory, ports: reserved, portsUdp: [] },
    remaining: { cpu, memory },
    ...(reserved.length ? { usedPorts: new Set(reserved) } : {}),
    groups: {},
    liveTasksCount: 0,
    tracksLiveTasks: true,
    attributes: builtInAttributes(request),
    tags: {},
    assignmentVersion: 0,
    activationId: activation.id,
    tokenHash: hashSecret(token),
    registeredAt: at,
    lastSeenAt: at,
    updatedAt: at,
    version: 1,
  };
  // The doorbell first: once the transaction commits the agent may be rung at any moment. A refused
  // registration deletes it again; an error of unknown outcome leaves it (an empty queue costs nothing).
  await context.doorbell?.create(instance.id);
  const outcome = await retryOnConflict(() =>
    registerContainerInstance(context.db, { activationId: activation.id, codeHash, now, instance }),
  );
  if (outcome !== 'registered') await context.doorbell?.delete(instance.id);
  if (outcome === 'cluster_gone') throw clusterNotFound(cluster);
  if (outcome === 'refused') {
    const current = await getActivation(context.db, activation.id);
    if (current && Date.parse(current.expiresAt) <= now.getTime()) {
      throw new BerthError('ActivationExpired', 'auth', 'The activation has expired.');
    }
    if (current && current.registrationsCount >= current.registrationLimit) {
      throw new BerthError(
        'ActivationLimitExceeded',
        'conflict',
        `The activation has been used for all of its ${current.registrationLimit} registrations.`,
      );
    }
    throw invalidActivation();
  }
  return { containerInstanceArn: context.arns.containerInstance(cluster, instance.id), cluster, token };
};
