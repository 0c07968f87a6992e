/**
 * The placement engine's inputs and outputs. The engine is pure: instances and the request are
 * plain data the caller reads from the store; randomness comes in as `seed`.
 */
import type { PlacementConstraint, PlacementStrategy } from '../model/service.ts';

/** One container instance as the scheduler sees it when placing. */
export type PlacementInstance = {
  id: string;
  status: 'REGISTERING' | 'REGISTRATION_FAILED' | 'ACTIVE' | 'DRAINING' | 'DEREGISTERING' | 'INACTIVE';
  agentConnected: boolean;
  agentVersion?: string;
  ec2InstanceId?: string;
  /** ISO date-time. */
  registeredAt: string;
  remaining: { cpu: number; memory: number };
  /** host ports already taken (reserved + static ports of live tasks) */
  usedPorts: number[];
  usedPortsUdp: number[];
  attributes: Record<string, string | null>;
  /** the live tasks on the instance (desired RUNNING or not yet STOPPED) */
  tasks: { group: string; family: string; serviceName?: string }[];
};

/** What to place: one task's needs, the rules to place it by, and the seed for `random`. */
export type PlacementRequest = {
  reservation: { cpu: number; memory: number; ports: number[]; portsUdp: number[] };
  /** The task's group: 'service:web' or 'family:nginx'. */
  group: string;
  /** distinctInstance | memberOf(expression); binding. */
  constraints: PlacementConstraint[];
  /** Applied in order, each one choosing among the best of the previous; best effort. */
  strategies: PlacementStrategy[];
  /** attributes the task requires, e.g. from runtimePlatform: { name: 'ecs.cpu-architecture', value: 'arm64' } */
  requiredAttributes?: { name: string; value?: string }[];
  seed: number;
};

/** ECS's `failures[].reason` values that placement can produce, and Berth's RESOURCE:TASKS. */
export const PlacementFailureReasons = [
  'RESOURCE:CPU',
  'RESOURCE:MEMORY',
  'RESOURCE:PORTS',
  /** Berth's own: the instance holds as many tasks as Berth places on one (instanceLimits). */
  'RESOURCE:TASKS',
  'AGENT',
  'ATTRIBUTE',
  'MISSING',
] as const;
export type PlacementFailureReason = (typeof PlacementFailureReasons)[number];

/**
 * Why a task could not be placed. `message` completes ECS's service event
 * "service NAME was unable to place a task because <message>".
 */
export type PlacementFailure = {
  reason: PlacementFailureReason;
  closestInstanceId?: string;
  message: string;
};

/** What placeTasks decided: one instance id per placed task, and why the rest were not placed. */
export type PlacementResult = { placements: string[]; failure?: PlacementFailure };
