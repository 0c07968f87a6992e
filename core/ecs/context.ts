import type { BerthConfig } from '../config.ts';
import type { Db } from '../db/client.ts';
import { arns } from '../model/arn.ts';

/**
 * Each instance's doorbell where it needs provisioning (one SQS queue per instance on AWS): created
 * at registration, deleted at deregistration. `berth up`'s in-process doorbell needs neither.
 */
export type DoorbellQueues = {
  create: (instanceId: string) => Promise<void>;
  delete: (instanceId: string) => Promise<void>;
};

/** What every ECS/SSM action runs with. The clock is passed in so tests can move it. */
export type ActionContext = {
  db: Db;
  config: BerthConfig;
  arns: ReturnType<typeof arns>;
  now: () => Date;
  /** The access key that signed the request (`registeredBy`-style fields name it). */
  caller: { accessKeyId: string };
  /** Rings an instance's agent after its assignments changed. */
  doorbell?: { ring: (instanceId: string) => Promise<void> };
  doorbellQueues?: DoorbellQueues;
};

export const createContext = (
  db: Db,
  config: BerthConfig,
  caller: { accessKeyId: string },
  now: () => Date = () => new Date(),
  doorbell?: ActionContext['doorbell'],
): ActionContext => ({ db, config, arns: arns(config), now, caller, ...(doorbell ? { doorbell } : {}) });
