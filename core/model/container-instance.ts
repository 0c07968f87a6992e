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
  agentVersion: string;
  /** Registered capacity, and what is left after the tasks placed on it. */
  registered: Resources;
  remaining: Resources;
  attributes: Record<string, string | null>;
  tags: TagMap;
  /** Bumped with every change of the instance's assigned tasks; agents sync from it. */
  assignmentVersion: number;
  runningTasksCount: number;
  pendingTasksCount: number;
  activationId: string;
  /** sha256 of the agent token, so deregistration can revoke it. Never sent anywhere. */
  tokenHash: string;
  registeredAt: string;
  lastSeenAt: string;
  updatedAt: string;
  version: number;
};
