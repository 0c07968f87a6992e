import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { ReconcileDeps } from '../core/reconcile/apply.ts';
import { batchReconciler, type ReconcileUnit, unitOfStreamKeys } from '../core/reconcile/units.ts';
import { depsFromEnv, lazily, logger } from './deps.ts';

/**
 * The stream consumer: each record's keys name a unit; each unit is reconciled once per batch;
 * a unit that fails fails only its own records (ReportBatchItemFailures).
 */
export const createReconcilerHandler =
  (deps: ReconcileDeps, onRecheck?: (unit: ReconcileUnit, at: string) => void) =>
  async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const reconcile = batchReconciler(deps, onRecheck);
    const processor = new BatchProcessor(EventType.DynamoDBStreams);
    return processPartialResponse(
      event,
      async (record: DynamoDBRecord) => {
        await reconcile(unitOfStreamKeys(record.dynamodb?.Keys as Parameters<typeof unitOfStreamKeys>[0]));
      },
      processor,
    );
  };

const reconciler = lazily(() => {
  const { db, config } = depsFromEnv();
  return createReconcilerHandler({
    db,
    config,
    onMetric: (name, value) => logger.debug('metric', { name, value }),
  });
});
export const handler = middy((event: DynamoDBStreamEvent) => reconciler()(event));
