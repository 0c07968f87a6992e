import type { TagMap } from './tags.ts';

export const ClusterStatuses = ['ACTIVE', 'PROVISIONING', 'DEPROVISIONING', 'FAILED', 'INACTIVE'] as const;
export type ClusterStatus = (typeof ClusterStatuses)[number];

/** A cluster as stored. Counts are not stored: they are counted from the items they describe. */
export type ClusterRecord = {
  type: 'cluster';
  name: string;
  status: ClusterStatus;
  settings: { name: string; value: string }[];
  configuration?: Record<string, unknown>;
  serviceConnectDefaults?: Record<string, unknown>;
  tags: TagMap;
  createdAt: string;
  updatedAt: string;
};

export type ClusterCounts = {
  registeredContainerInstancesCount: number;
  runningTasksCount: number;
  pendingTasksCount: number;
  activeServicesCount: number;
};
