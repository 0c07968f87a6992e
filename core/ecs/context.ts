import type { Sealer } from '../auth/seal.ts';
import type { BerthConfig } from '../config.ts';
import type { Db } from '../db/client.ts';
import type { Doorbell } from '../doorbell/port.ts';
import { arns } from '../model/arn.ts';

/** What every ECS/SSM action runs with. The clock is passed in so tests can move it. */
export type ActionContext = {
  db: Db;
  config: BerthConfig;
  arns: ReturnType<typeof arns>;
  now: () => Date;
  /** The access key that signed the request (`registeredBy`-style fields name it). */
  caller: { accessKeyId: string };
  /** Rung after an instance's assignments changed; created at registration, deleted at deregistration. */
  doorbell?: Doorbell;
  /** Seals values kept encrypted at rest: given where the local AWS services are served (`berth up`). */
  sealer?: Sealer;
};

export const createContext = (
  db: Db,
  config: BerthConfig,
  caller: { accessKeyId: string },
  now: () => Date = () => new Date(),
  doorbell?: Doorbell,
): ActionContext => ({ db, config, arns: arns(config), now, caller, ...(doorbell ? { doorbell } : {}) });
