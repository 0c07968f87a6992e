/** Recognises DynamoDB's condition and transaction failures without leaking SDK types. */
type AwsError = { name?: string; CancellationReasons?: { Code?: string; Item?: Record<string, unknown> }[] };

export const isConditionFailed = (error: unknown): boolean =>
  (error as AwsError)?.name === 'ConditionalCheckFailedException';

export const isTransactionCanceled = (error: unknown): boolean =>
  (error as AwsError)?.name === 'TransactionCanceledException';

/** The per-item reason codes of a cancelled transaction, in the order of its items. */
export const cancellationCodes = (error: unknown): string[] =>
  ((error as AwsError)?.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');

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
