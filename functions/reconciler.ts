import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { metricNames } from '../core/metrics.ts';
import type { ReconcileDeps } from '../core/reconcile/run/apply.ts';
import { onlyClaimsCapacity, unitOfStreamKeys } from '../core/reconcile/run/stream-records.ts';
import { batchReconciler, type ReconcileUnit } from '../core/reconcile/run/units.ts';
import { depsFromEnv, lazily, metrics } from './deps.ts';
import { lambdaHandler } from './handler.ts';

/**
 * The stream consumer: each record's keys name a unit; each unit is reconciled once per batch;
 * a unit that fails fails only its own records (ReportBatchItemFailures). An instance change that
 * only took capacity (the reconciler's own placements) is skipped: it cannot make a task placeable.
 */
export const createReconcilerHandler =
  (deps: ReconcileDeps, onRecheck?: (unit: ReconcileUnit, at: string) => void) =>
  async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const reconcile = batchReconciler(deps, onRecheck);
    const processor = new BatchProcessor(EventType.DynamoDBStreams);
    return processPartialResponse(
      event,
      async (record: DynamoDBRecord) => {
        if (onlyClaimsCapacity(record)) return;
        await reconcile(unitOfStreamKeys(record.dynamodb?.Keys as Parameters<typeof unitOfStreamKeys>[0]));
      },
      processor,
    );
  };

const reconciler = lazily(() => {
  const { db, config, doorbell } = depsFromEnv();
  return createReconcilerHandler({
    db,
    config,
    doorbell,
    onMetric: (name, value) => metrics.addMetric(name, MetricUnit.Count, value),
  });
});

export const handler = lambdaHandler(async (event: DynamoDBStreamEvent) => {
  const response = await reconciler()(event);
  // From the oldest change in the batch to its reconcile being written (stream times are seconds).
  const oldest = Math.min(...event.Records.map((r) => r.dynamodb?.ApproximateCreationDateTime ?? Infinity));
  if (Number.isFinite(oldest)) {
    metrics.addMetric(metricNames.reconcileLatency, MetricUnit.Milliseconds, Date.now() - oldest * 1000);
  }
  return response;
});
