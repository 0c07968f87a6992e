import { done, optimistic, retry } from './optimistic.ts';

/** Recognises DynamoDB's condition and transaction failures without leaking SDK types. */
type AwsError = {
  name?: string;
  CancellationReasons?: { Code?: string; Message?: string; Item?: Record<string, unknown> }[];
};

export const isConditionFailed = (error: unknown): boolean =>
  (error as AwsError)?.name === 'ConditionalCheckFailedException';

export const isTransactionCanceled = (error: unknown): boolean =>
  (error as AwsError)?.name === 'TransactionCanceledException';

/** The per-item reason codes of a cancelled transaction, in the order of its items. */
export const cancellationCodes = (error: unknown): string[] =>
  ((error as AwsError)?.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');

/**
 * The items of a cancelled transaction that DynamoDB refused because the write would take them past
 * its 400 KB item size (reason code ValidationError; its message is the only thing telling this
 * refusal from the other validation errors, which are Berth's bugs and stay errors).
 */
export const itemTooLargeIndexes = (error: unknown): number[] =>
  isTransactionCanceled(error)
    ? ((error as AwsError).CancellationReasons ?? []).flatMap((reason, index) =>
        reason.Code === 'ValidationError' && /item size/i.test(reason.Message ?? '') ? [index] : [],
      )
    : [];

/** A cancelled transaction that lost a race with another one (worth retrying as it is). */
export const isTransactionConflict = (error: unknown): boolean =>
  isTransactionCanceled(error) &&
  cancellationCodes(error).some((code) => code === 'TransactionConflict') &&
  !cancellationCodes(error).includes('ConditionalCheckFailed');

/**
 * Attempts of a transaction that loses races as it is (no re-read): such a race lasts as long as
 * the other transaction, and trying again costs one write, so more attempts than an action's
 * re-read-and-decide loop (actionAttempts) are cheap.
 */
const conflictAttempts = 25;

/**
 * Runs `attempt` again while it loses transaction races, with jittered backoff (optimistic.ts);
 * after `maxAttempts` the race is optimistic's one error (ServerException, unavailable). Anything
 * else (including a failed condition) is the caller's to interpret.
 */
export const retryOnConflict = <T>(attempt: () => Promise<T>, maxAttempts = conflictAttempts): Promise<T> =>
  optimistic(
    { maxAttempts, exhausted: 'The table is busy with conflicting writes; try again.' },
    async () => {
      try {
        return done(await attempt());
      } catch (error) {
        if (isTransactionConflict(error)) return retry(error);
        throw error;
      }
    },
  );
