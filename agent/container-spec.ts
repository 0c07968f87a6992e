import type { AssignedContainer } from '../core/protocol/assigned-task.ts';

/**
 * An assigned container read as the ECS container definition it is: the contract's type
 * (core/protocol/assigned-task.ts), ECS's defaults filled in by the server.
 */
export type ContainerSpec = AssignedContainer;

/** An assigned container's definition (the contract already types it: no copy, no check). */
export const specOf = (container: AssignedContainer): ContainerSpec => container;
