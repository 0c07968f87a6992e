import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { staticKeys } from '../core/auth/access-keys.ts';
import type { SecretLookup } from '../core/auth/sigv4.ts';
import { type BerthConfig, configFromEnv } from '../core/config.ts';
import { createDb, type Db } from '../core/db/client.ts';
import type { Doorbell } from '../core/doorbell/port.ts';
import { createSqsDoorbells } from '../core/doorbell/sqs.ts';
import { metricNames, metricNamespace, stageDimension } from '../core/metrics.ts';

/** What the handlers need, built once per Lambda container from its environment. */
export type HandlerDeps = {
  db: Db;
  config: BerthConfig;
  lookupSecret: SecretLookup;
  logger: Logger;
  /** The SQS doorbells (BERTH_DOORBELL_QUEUE_PREFIX set): one queue per instance (core/doorbell/sqs.ts). */
  doorbell?: Doorbell;
};

export const logger = new Logger({ serviceName: 'berth' });

export const metrics = new Metrics({
  namespace: metricNamespace,
  serviceName: 'berth',
  defaultDimensions: { [stageDimension]: process.env.BERTH_STAGE ?? 'local' },
});

/** Writes the invocation's metrics (one EMF log line), and nothing at all when there are none. */
export const flushMetrics = (): void => {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
};

const doorbellFromEnv = (env: NodeJS.ProcessEnv, config: BerthConfig): Doorbell | undefined =>
  env.BERTH_DOORBELL_QUEUE_PREFIX
    ? createSqsDoorbells({
        region: config.region,
        accountId: config.accountId,
        prefix: env.BERTH_DOORBELL_QUEUE_PREFIX,
        endpoint: env.BERTH_SQS_ENDPOINT,
        onError: (error, context) => {
          logger.error('doorbell failed', { error: error as Error, ...context });
          if (context.action === 'ring')
            metrics.addMetric(metricNames.doorbellRingFailures, MetricUnit.Count, 1);
        },
      })
    : undefined;

/**
 * The environment infra/ gives every handler: BERTH_TABLE, BERTH_REGION, BERTH_ACCOUNT_ID,
 * BERTH_STAGE, BERTH_DOORBELL_QUEUE_PREFIX. The admin keys come from SSM (functions/admin-keys.ts);
 * BERTH_ADMIN_ACCESS_KEY_ID/SECRET_ACCESS_KEY remain for hosts without SSM.
 */
export const depsFromEnv = (env: NodeJS.ProcessEnv = process.env): HandlerDeps => {
  const config = configFromEnv(env);
  const keys =
    env.BERTH_ADMIN_ACCESS_KEY_ID && env.BERTH_ADMIN_SECRET_ACCESS_KEY
      ? [{ accessKeyId: env.BERTH_ADMIN_ACCESS_KEY_ID, secretAccessKey: env.BERTH_ADMIN_SECRET_ACCESS_KEY }]
      : [];
  const doorbell = doorbellFromEnv(env, config);
  return {
    db: createDb({ table: config.tableName, region: config.region, endpoint: env.BERTH_DYNAMODB_ENDPOINT }),
    config,
    lookupSecret: staticKeys(keys),
    logger,
    ...(doorbell ? { doorbell } : {}),
  };
};

/** Builds a handler's dependencies on first use, so importing a handler module has no side effects. */
export const lazily = <T>(build: () => T): (() => T) => {
  let built: T | undefined;
  return () => {
    built ??= build();
    return built;
  };
};
