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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` again while it loses transaction races, with jittered backoff. Anything else
 * (including a failed condition) is the caller's to interpret.
 */
export const retryOnConflict = async <T>(attempt: () => Promise<T>, maxAttempts = 25): Promise<T> => {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isTransactionConflict(error) || tries >= maxAttempts) throw error;
      await sleep(Math.random() * Math.min(200, 10 * 2 ** tries));
    }
  }
};
