import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import { metricNames } from '../core/metrics.ts';
import { sweep } from '../core/reconcile/sweep.ts';
import { depsFromEnv, flushMetrics, lazily, logger, metrics } from './deps.ts';

const deps = lazily(depsFromEnv);

/** Runs every minute (EventBridge schedule): disconnects, stuck tasks, timers. */
export const handler = middy(async () => {
  const { db, config, doorbells } = deps();
  const report = await sweep({ db, config, doorbell: doorbells });
  metrics.addMetric(metricNames.agentsDisconnected, MetricUnit.Count, report.disconnected);
  logger.info('sweep', { ...report });
  return report;
})
  .use(injectLambdaContext(logger))
  .use({ after: flushMetrics, onError: flushMetrics });
