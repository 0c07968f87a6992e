/**
 * What the callers of the placement engine hand it, built in one place for the reconciler (a
 * service's starts) and RunTask/StartTask: the request for one task definition, and the engine's
 * view of a container instance record. Pure.
 */
import type { ContainerInstanceRecord } from '../model/container-instance.ts';
import type { PlacementConstraint, PlacementStrategy } from '../model/service.ts';
import type { TaskDefinition } from '../model/task-definition/describe.ts';
import { requiredAttributesOf, reservationOf, type TaskOverrides } from '../model/task-factory.ts';
import type { PlacementInstance, PlacementRequest } from './types.ts';

/**
 * The request to place tasks of `definition`: its reservation (with the overrides), the caller's
 * constraints followed by the definition's own memberOf constraints, the caller's strategies, the
 * attributes its runtime platform requires, and the seed for `random`.
 */
export const placementRequestOf = (
  definition: TaskDefinition,
  options: {
    group: string;
    constraints: readonly PlacementConstraint[];
    strategies: readonly PlacementStrategy[];
    seed: number;
    overrides?: TaskOverrides;
  },
): PlacementRequest => ({
  reservation: reservationOf(definition, options.overrides),
  group: options.group,
  constraints: [
    ...options.constraints,
    ...definition.placementConstraints.map((c) => ({ type: 'memberOf' as const, expression: c.expression })),
  ],
  strategies: [...options.strategies],
  requiredAttributes: requiredAttributesOf(definition),
  seed: options.seed,
});

/** The placement engine's view of an instance record. */
export const placementViewOf = (instance: ContainerInstanceRecord): PlacementInstance => ({
  id: instance.id,
  status: instance.status,
  agentConnected: instance.agentConnected,
  agentVersion: instance.agentVersion,
  ec2InstanceId: instance.ec2InstanceId,
  registeredAt: instance.registeredAt,
  remaining: instance.remaining,
  usedPorts: [...(instance.usedPorts ?? [])],
  usedPortsUdp: [...(instance.usedPortsUdp ?? [])],
  attributes: instance.attributes,
  tasks: Object.entries(instance.groups ?? {}).flatMap(([group, count]) =>
    Array.from({ length: Math.max(0, count) }, () => ({ group, family: '' })),
  ),
});

/** ECS's placement-failure wording for an instance whose item DynamoDB refused to grow. */
export const fullInstanceMessage = (instanceId: string) =>
  `no container instance met all of its requirements. The closest matching container-instance ${instanceId} cannot record more tasks: its item is at DynamoDB's item size limit.`;
