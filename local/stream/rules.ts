import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import type { StreamSettings } from '../../core/reconcile/run/stream-settings.ts';

/**
 * The event source mapping's rules, as Lambda applies them: what a handler's answer means, which
 * records are done, retried, split or given up on, which are too old, and which shards may be read.
 */

// --- failure handling: pure, so the rules read in one place -------------------------------------

/** What the handler's call came to. */
export type InvocationOutcome =
  | { kind: 'ok' }
  /** Index in the batch of the record with the lowest failed sequence number. */
  | { kind: 'partial'; firstFailed: number }
  | { kind: 'error'; error: unknown };

/** Records still to hand to the handler, and how often exactly these were tried already. */
export type PendingBatch = { records: DynamoDBRecord[]; attempts: number };

/**
 * Reads a handler's answer as Lambda does: nothing, `{}` or an empty `batchItemFailures` is success;
 * an itemIdentifier that is empty or not a sequence number of the batch fails the whole batch.
 */
export const readBatchResponse = (
  response: unknown,
  records: readonly DynamoDBRecord[],
  settings: StreamSettings,
): InvocationOutcome => {
  if (!settings.functionResponseTypes.includes('ReportBatchItemFailures')) return { kind: 'ok' };
  const failures = (response as Partial<DynamoDBBatchResponse> | null | undefined)?.batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'ok' };
  if (!Array.isArray(failures)) {
    return { kind: 'error', error: new Error('batchItemFailures is not a list') };
  }
  if (failures.length === 0) return { kind: 'ok' };
  let firstFailed = records.length;
  for (const failure of failures) {
    const id: unknown = failure?.itemIdentifier;
    const index =
      typeof id === 'string' && id !== '' ? records.findIndex((r) => r.dynamodb?.SequenceNumber === id) : -1;
    if (index < 0) {
      return {
        kind: 'error',
        error: new Error(`batchItemFailures names ${JSON.stringify(id)}, not a sequence number of the batch`),
      };
    }
    firstFailed = Math.min(firstFailed, index);
  }
  return { kind: 'partial', firstFailed };
};

/**
 * Lambda's rules after an invocation: records before the lowest failure are done; with bisect on,
 * a batch that failed from its first record is split in halves (a split is not a retry); otherwise
 * the failed rest is retried until maximumRetryAttempts, then given up on as a whole.
 */
export const afterInvocation = (
  batch: PendingBatch,
  outcome: InvocationOutcome,
  settings: StreamSettings,
): { succeeded: DynamoDBRecord[]; retry: PendingBatch[]; discarded: DynamoDBRecord[] } => {
  if (outcome.kind === 'ok') return { succeeded: batch.records, retry: [], discarded: [] };
  const failedFrom = outcome.kind === 'partial' ? outcome.firstFailed : 0;
  const succeeded = batch.records.slice(0, failedFrom);
  const failed = batch.records.slice(failedFrom);
  if (settings.bisectBatchOnFunctionError && failedFrom === 0 && failed.length > 1) {
    const half = Math.ceil(failed.length / 2);
    return {
      succeeded,
      retry: [
        { records: failed.slice(0, half), attempts: 0 },
        { records: failed.slice(half), attempts: 0 },
      ],
      discarded: [],
    };
  }
  const attempts = batch.attempts + 1;
  if (settings.maximumRetryAttempts >= 0 && attempts > settings.maximumRetryAttempts) {
    return { succeeded, retry: [], discarded: failed };
  }
  return { succeeded, retry: [{ records: failed, attempts }], discarded: [] };
};

/** How many records at the head of the batch are past maximumRecordAgeInSeconds. */
export const countTooOld = (
  records: readonly DynamoDBRecord[],
  settings: StreamSettings,
  nowMs: number,
): number => {
  if (settings.maximumRecordAgeInSeconds < 0) return 0;
  const oldest = nowMs / 1000 - settings.maximumRecordAgeInSeconds;
  // Only a leading run: the checkpoint moves past what is dropped, so a fresh record in front of a
  // stale one (clock skew) must not be skipped with it.
  let count = 0;
  while (
    count < records.length &&
    (records[count]?.dynamodb?.ApproximateCreationDateTime ?? oldest) < oldest
  ) {
    count += 1;
  }
  return count;
};

/**
 * Shard lineage: a shard is read only once its parent has been read to its end (or has left the
 * stream), so that the changes to one item are handed over in the order they were made.
 */
export const shardsReadyToRead = (
  shards: readonly { shardId: string; parentShardId?: string }[],
  finished: ReadonlySet<string>,
  started: ReadonlySet<string>,
): string[] => {
  const listed = new Set(shards.map((shard) => shard.shardId));
  return shards
    .filter((shard) => !finished.has(shard.shardId) && !started.has(shard.shardId))
    .filter(
      (shard) =>
        shard.parentShardId === undefined ||
        !listed.has(shard.parentShardId) ||
        finished.has(shard.parentShardId),
    )
    .map((shard) => shard.shardId);
};
