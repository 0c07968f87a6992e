import type { TagMap } from './tags.ts';

/** ECS's task lifecycle, in order: a task's lastStatus only ever moves forward along it. */
export const TaskStatuses = [
  'PROVISIONING',
  'PENDING',
  'ACTIVATING',
  'RUNNING',
  'DEACTIVATING',
  'STOPPING',
  'DEPROVISIONING',
  'STOPPED',
] as const;
export type TaskStatus = (typeof TaskStatuses)[number];

export const statusRank = (status: TaskStatus): number => TaskStatuses.indexOf(status);

export const DesiredStatuses = ['RUNNING', 'STOPPED'] as const;
export type DesiredStatus = (typeof DesiredStatuses)[number];

export const StopCodes = [
  'TaskFailedToStart',
  'EssentialContainerExited',
  'UserInitiated',
  'ServiceSchedulerInitiated',
  'SpotInterruption',
  'TerminationNotice',
] as const;
export type StopCode = (typeof StopCodes)[number];

export const HealthStatuses = ['HEALTHY', 'UNHEALTHY', 'UNKNOWN'] as const;
export type HealthStatus = (typeof HealthStatuses)[number];

export type NetworkBinding = {
  containerPort: number;
  hostPort: number;
  protocol: 'tcp' | 'udp';
  bindIP?: string;
};

/** A container of a task as the agent last reported it. */
export type ContainerState = {
  name: string;
  image: string;
  lastStatus: 'PENDING' | 'RUNNING' | 'STOPPED';
  exitCode?: number;
  reason?: string;
  healthStatus?: HealthStatus;
  runtimeId?: string;
  networkBindings?: NetworkBinding[];
  essential: boolean;
};

/** What a task holds of its instance while it is desired RUNNING or still running there. */
export type Reservation = {
  cpu: number;
  memory: number;
  /** Static host ports (dynamic ones are chosen by the instance and only reported). */
  ports: number[];
  portsUdp: number[];
};

export type TaskRecord = {
  type: 'task';
  id: string;
  cluster: string;
  family: string;
  revision: number;
  /** Service tasks: the service and the deployment that started them. */
  serviceName?: string;
  deploymentId?: string;
  group: string;
  startedBy?: string;
  instanceId: string;
  desiredStatus: DesiredStatus;
  lastStatus: TaskStatus;
  healthStatus: HealthStatus;
  stopCode?: StopCode;
  stoppedReason?: string;
  containers: ContainerState[];
  overrides?: Record<string, unknown>;
  reservation: Reservation;
  /** Whether any essential container has a health check (else RUNNING counts as healthy). */
  hasHealthCheck: boolean;
  /** Whether the instance's capacity has been given back (once, when the task is done with it). */
  released: boolean;
  /** The last agent report applied (reports carry an increasing seq per task). */
  reportSeq: number;
  clientToken?: string;
  tags: TagMap;
  createdAt: string;
  pullStartedAt?: string;
  pullStoppedAt?: string;
  startedAt?: string;
  /** When the task first counted as healthy (RUNNING, and HEALTHY if it has a health check). */
  healthyAt?: string;
  stoppingAt?: string;
  stoppedAt?: string;
  executionStoppedAt?: string;
  updatedAt: string;
  version: number;
};

/** A task still holds or may still hold its instance's resources. */
export const isLive = (task: Pick<TaskRecord, 'lastStatus'>): boolean => task.lastStatus !== 'STOPPED';

/** ECS shows stopped tasks for about an hour. */
export const stoppedTaskRetentionSeconds = 3600;
export const stoppedTaskTtl = (at: string) => Math.floor(Date.parse(at) / 1000) + stoppedTaskRetentionSeconds;
