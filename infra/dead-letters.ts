/**
 * The reconciler's failure destination: stream records it gave up on (retries exhausted or too
 * old). Each message names the batch's shard and sequence-number range, not the records, so they
 * can be read back from the stream within its 24 hours. The alarm in infra/alarms.ts fires on the
 * first one: a dead-lettered change may never be reconciled (the reconciler is level-triggered on
 * writes).
 */
export const deadLetters = new sst.aws.Queue('ReconcilerDeadLetters', {
  transform: { queue: { messageRetentionSeconds: 14 * 24 * 3600 } },
});
