import middy from '@middy/core';
import { sweep } from '../core/reconcile/sweep.ts';
import { depsFromEnv, lazily, logger } from './deps.ts';

const deps = lazily(depsFromEnv);

/** Runs every minute (EventBridge schedule): disconnects, stuck tasks, timers. */
export const handler = middy(async () => {
  const { db, config } = deps();
  const report = await sweep({ db, config });
  logger.info('sweep', { ...report });
  return report;
});
