import type { ContainerDefinitionInput } from '../core/model/task-definition/schema.ts';
import type { AssignedContainer } from '../core/protocol/agent.ts';

/**
 * An assigned container read as the ECS container definition it is. The server validated it
 * (task-definition model) and applied defaults and overrides, so the agent only narrows the type.
 */
export type ContainerSpec = ContainerDefinitionInput & { essential: boolean };

/** Narrows an assigned container to its ECS definition type (no copy, no check). */
export const specOf = (container: AssignedContainer): ContainerSpec => container as unknown as ContainerSpec;
