import type { TagMap } from './tags.ts';

export const ServiceStatuses = ['ACTIVE', 'DRAINING', 'INACTIVE'] as const;
export type ServiceStatus = (typeof ServiceStatuses)[number];

export const RolloutStates = ['IN_PROGRESS', 'COMPLETED', 'FAILED'] as const;
export type RolloutState = (typeof RolloutStates)[number];

export type PlacementConstraint = { type: 'distinctInstance' | 'memberOf'; expression?: string };
export type PlacementStrategy = { type: 'binpack' | 'spread' | 'random'; field?: string };

export type DeploymentConfiguration = {
  minimumHealthyPercent: number;
  maximumPercent: number;
  deploymentCircuitBreaker: { enable: boolean; rollback: boolean };
};

export type Deployment = {
  id: string;
  /** PRIMARY is the newest; ACTIVE ones are being replaced; INACTIVE ones are finished with. */
  status: 'PRIMARY' | 'ACTIVE' | 'INACTIVE';
  family: string;
  revision: number;
  desiredCount: number;
  rolloutState: RolloutState;
  rolloutStateReason: string;
  /** Tasks of this deployment that stopped before they became healthy. */
  failedTasks: number;
  createdAt: string;
  updatedAt: string;
};

export type ServiceRecord = {
  type: 'service';
  name: string;
  cluster: string;
  status: ServiceStatus;
  desiredCount: number;
  family: string;
  revision: number;
  deploymentConfiguration: DeploymentConfiguration;
  placementConstraints: PlacementConstraint[];
  placementStrategy: PlacementStrategy[];
  deployments: Deployment[];
  /** Next task sequence number: task ids derive from it, so a repeated placement is a no-op. */
  taskSequence: number;
  /** While backing off after repeated start failures: when placing may be tried again. */
  retryAfter?: string;
  /** The last placement failure reported as an event, so it is not repeated every pass. */
  placementMessage?: string;
  /** Set when the service last reached a steady state; cleared by any change that unsettles it. */
  steadySince?: string;
  clientToken?: string;
  tags: TagMap;
  createdAt: string;
  createdBy?: string;
  updatedAt: string;
  version: number;
};

export type ServiceEvent = { id: string; createdAt: string; message: string };

/** The service tag that sets Berth's disconnect policy (seconds; absent: never replace, as ECS). */
export const replaceAfterDisconnectTag = 'berth:replace-after-disconnect';

/** Seconds an instance may be gone before the service's tasks on it are replaced; undefined: never. */
export const replaceAfterDisconnectOf = (service: Pick<ServiceRecord, 'tags'>): number | undefined => {
  const value = service.tags[replaceAfterDisconnectTag];
  if (value === undefined || !/^\d{1,9}$/.test(value)) return undefined;
  return Number(value);
};
