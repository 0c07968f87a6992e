import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { metricNames } from '../core/metrics.ts';
import { sweep } from '../core/reconcile/run/sweep.ts';
import { depsFromEnv, lazily, logger, metrics } from './deps.ts';
import { lambdaHandler } from './handler.ts';

const deps = lazily(depsFromEnv);

/** Runs every minute (EventBridge schedule): disconnects, stuck tasks, timers. */
export const handler = lambdaHandler(async () => {
  const { db, config, doorbell } = deps();
  const report = await sweep({ db, config, doorbell });
  metrics.addMetric(metricNames.agentsDisconnected, MetricUnit.Count, report.disconnected);
  logger.info('sweep', { ...report });
  return report;
});
