import { sweeper } from './functions.ts';

/** The sweeper, every minute, on EventBridge Scheduler. A missed run is simply the next one. */
export const sweeperSchedule = new sst.aws.CronV2('SweeperSchedule', {
  schedule: 'rate(1 minute)',
  function: sweeper,
  retries: 0,
});
