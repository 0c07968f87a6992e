/**
 * How the table's stream drives the reconciler: the tunables of a Lambda event source mapping for
 * DynamoDB Streams, as plain data. infra/ passes them to the event source mapping and local/ to the
 * stream poller, so `sst deploy` and `berth up` batch, retry and give up in the same way.
 */
export type StreamSettings = {
  /** Most records handed to one invocation. */
  readonly batchSize: number;
  /** How long to gather records before an invocation when fewer than batchSize are waiting. */
  readonly maximumBatchingWindowInSeconds: number;
  /** Retries of the same records before they go to the failure destination; -1 = until they expire. */
  readonly maximumRetryAttempts: number;
  /** On a function error, retry the two halves of the batch separately (splits are not retries). */
  readonly bisectBatchOnFunctionError: boolean;
  /** Records older than this go to the failure destination unprocessed; -1 = until they expire. */
  readonly maximumRecordAgeInSeconds: number;
  /** With 'ReportBatchItemFailures' the handler may answer `{ batchItemFailures }`. */
  readonly functionResponseTypes: readonly 'ReportBatchItemFailures'[];
  /** Where a mapping without a checkpoint starts reading. */
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** Concurrent batches per shard. */
  readonly parallelizationFactor: number;
};

/** The event source mapping of the reconciler, shared by infra/ and the local stream poller. */
export const streamSettings = {
  // Lambda's default. One batch touches a handful of services: the reconciler reduces the records to
  // the keys of the services/clusters they belong to and re-reads each one once, so a bigger batch
  // mostly saves invocations, while a smaller one keeps a slow batch (and a bisection) short.
  batchSize: 100,
  // No waiting: every stream hop is on the path from RunTask to a running container (write ->
  // reconciler -> placement -> doorbell), so a window would add its full length to each hop. Busy
  // periods batch themselves anyway: while one invocation runs, the next records pile up behind it.
  maximumBatchingWindowInSeconds: 0,
  // A failing batch blocks its shard (records are processed in order), so retries must end; but a
  // record given up on is a change the reconciler may never look at again (it is level-triggered
  // on writes; the sweeper only re-checks heartbeats, deadlines and timers), so give transient
  // trouble (a throttled minute, a deploy in progress) room before dead-lettering.
  maximumRetryAttempts: 10,
  // Isolates a poison record in log2(batchSize) invocations instead of dead-lettering its whole
  // batch; splits do not count as retries.
  bisectBatchOnFunctionError: true,
  // One day, the stream's own retention: a late record is still worth processing, because the
  // reconciler re-reads the current state and never trusts the image, so age alone is no reason to
  // drop a trigger. The limit only backs up maximumRetryAttempts. (Lambda accepts 60..604800.)
  maximumRecordAgeInSeconds: 86_400,
  // The reconciler reports the records whose services it could not reconcile, so the rest of the
  // batch is not redone.
  functionResponseTypes: ['ReportBatchItemFailures'],
  // TRIM_HORIZON, not Lambda's usual LATEST: a new mapping (first deploy, or a mapping recreated by
  // a rename) becomes active minutes after the table starts taking writes, and LATEST would lose
  // those changes for good. Replaying up to a day of records costs little, because reconciling is
  // idempotent and quiet when nothing changed.
  startingPosition: 'TRIM_HORIZON',
  // One batch per shard at a time: concurrent reconcilers of the same service would only race
  // each other's conditional writes. (The local poller supports only 1.)
  parallelizationFactor: 1,
} as const satisfies StreamSettings;
