import type { TagMap } from './tags.ts';

export const ContainerInstanceStatuses = [
  'REGISTERING',
  'REGISTRATION_FAILED',
  'ACTIVE',
  'DRAINING',
  'DEREGISTERING',
  'INACTIVE',
] as const;
export type ContainerInstanceStatus = (typeof ContainerInstanceStatuses)[number];

/** CPU in CPU units (cores × 1024), memory in MiB, ports as numbers. */
export type Resources = {
  cpu: number;
  memory: number;
  ports: number[];
  portsUdp: number[];
};

/** ECS reserves these host ports on every instance unless told otherwise. */
export const defaultReservedPorts = [22, 2375, 2376, 51678, 51679] as const;

/**
 * What Berth places on one instance at most, so that its item stays well below DynamoDB's 400 KB
 * whatever the names: each live task adds a ref (up to 552 bytes with 255-character cluster and
 * service names) and perhaps a group counter (up to 266 bytes), each static host port a number.
 * Placement refuses an instance at a limit, and the placement write holds it as a condition.
 * core/db/README.md states the bound these give.
 */
export const instanceLimits = {
  /** Live (not yet STOPPED) tasks. */
  tasks: 250,
  /** Host ports taken per protocol (TCP, UDP), the registered reserved ones included. */
  hostPorts: 2048,
} as const;

export type ContainerInstanceRecord = {
  type: 'containerInstance';
  id: string;
  cluster: string;
  /** The managed-instance id ECS Anywhere gives external instances (`mi-…`). */
  ec2InstanceId: string;
  hostname: string;
  status: ContainerInstanceStatus;
  statusReason?: string;
  agentConnected: boolean;
  /** When the sweeper found the agent silent (cleared when it syncs again). */
  disconnectedAt?: string;
  agentVersion: string;
  /** Registered capacity (ports: the reserved ones). */
  registered: Resources;
  /** CPU and memory left after the tasks placed on it; conditional updates keep it >= 0. */
  remaining: { cpu: number; memory: number };
  /** Host ports taken: the reserved ones plus the static ports of live tasks (absent when none). */
  usedPorts?: Set<number>;
  usedPortsUdp?: Set<number>;
  /**
   * Live tasks on the instance by task group, for distinctInstance, task:group and spread; a group
   * whose last task is released is removed, so it holds at most liveTasksCount groups.
   */
  groups: Record<string, number>;
  /** Tasks placed here and not yet STOPPED. */
  liveTasksCount: number;
  /**
   * Where those tasks are (taskRef), so the agent's sync reads them consistently by key rather
   * than from the eventually consistent index (absent when none: DynamoDB sets are never empty).
   */
  liveTaskRefs?: Set<string>;
  /** Set at registration since liveTaskRefs exists; older instances are read through the index. */
  tracksLiveTasks?: boolean;
  attributes: Record<string, string | null>;
  tags: TagMap;
  /** Bumped with every change of the instance's assigned tasks; agents sync from it. */
  assignmentVersion: number;
  activationId: string;
  /** sha256 of the agent token, so deregistration can revoke it. Never sent anywhere. */
  tokenHash: string;
  registeredAt: string;
  lastSeenAt: string;
  updatedAt: string;
  version: number;
};
