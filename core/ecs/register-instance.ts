import { hashSecret, newAgentToken, newId, newManagedInstanceId, sameHash } from '../auth/secrets.ts';
import { getActivation, registerContainerInstance } from '../db/activations.ts';
import { retryOnConflict } from '../db/conditions.ts';
import { BerthError, clusterNotFound } from '../errors.ts';
import { clusterNameOf } from '../model/arn.ts';
import { type ContainerInstanceRecord, defaultReservedPorts } from '../model/container-instance.ts';
import type { RegisterRequest, RegisterResponse } from '../protocol/agent.ts';
import type { ActionContext } from './context.ts';

const invalidActivation = () =>
  new BerthError(
    'InvalidActivation',
    'auth',
    'The activation is not valid: check the activation id and code.',
  );

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
): Promise<RegisterResponse> => {
  const cluster = clusterNameOf(request.cluster);
  const now = context.now();
  const activation = /^[0-9a-f-]{36}$/.test(request.activationId)
    ? await getActivation(context.db, request.activationId)
    : undefined;
  const codeHash = hashSecret(request.activationCode);
  // Same answer for an unknown id and a wrong code: the caller learns nothing about which it was.
  if (!activation || !sameHash(activation.codeHash, codeHash)) throw invalidActivation();
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
  await context.doorbellQueues?.create(instance.id);
  const outcome = await retryOnConflict(() =>
    registerContainerInstance(context.db, { activationId: activation.id, codeHash, now, instance }),
  );
  if (outcome !== 'registered') await context.doorbellQueues?.delete(instance.id);
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
