import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from './client.ts';
import { isConditionFailed } from './conditions.ts';
import { keys } from './keys.ts';

/** Who failed to register: the activation tried, or where the request came from, with its limit per window. */
export type RegistrationSubject = { scope: 'activation' | 'ip'; subject: string; limit: number };

/** One registration attempt: its own id (so its writes can be retried), and whether its code was right. */
export type RegistrationAttempt = { id: string; rightCode: boolean };

/** The window of failed attempts a subject's counter item covers, and when TTL may remove it. */
type Window = { start: number; seconds: number };

const counterKey = ({ scope, subject }: RegistrationSubject, window: Window) =>
  keys.registrationFailures(scope, subject, window.start);

/** Runs a conditional write; false when its condition failed. */
const conditionally = async (write: () => Promise<unknown>): Promise<boolean> => {
  try {
    await write();
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
};

/**
 * Counts a failed attempt against the subject if it is still under its limit, in one conditional
 * write: the attempt's id joins the window's set of failed attempts only while the set holds fewer
 * than `limit` ids, so however many guesses arrive at once, at most `limit` are counted (and judged).
 * The id makes the write idempotent: a retry after a lost answer finds its own id and succeeds.
 */
const countFailedAttempt = (db: Db, subject: RegistrationSubject, window: Window, attemptId: string) =>
  conditionally(() =>
    db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: counterKey(subject, window),
        UpdateExpression: 'ADD failedAttempts :attempt SET #type = :type, #ttl = :ttl',
        ConditionExpression:
          'attribute_not_exists(failedAttempts) OR size(failedAttempts) < :limit OR contains(failedAttempts, :id)',
        ExpressionAttributeNames: { '#type': 'type', '#ttl': 'ttl' },
        ExpressionAttributeValues: {
          ':attempt': new Set([attemptId]),
          ':id': attemptId,
          ':limit': subject.limit,
          ':type': 'registrationFailures',
          ':ttl': window.start + window.seconds + 60,
        },
      }),
    ),
  );

/**
 * Whether the subject has reached its limit, asked with a conditional write on the same item, so
 * it is ordered among the failed attempts being counted and costs what counting one costs (a right
 * code and a wrong one take the same path to the table). The write succeeds only on a subject at its
 * limit, where it sets the TTL it already has; on any other its condition fails and nothing is written.
 */
const isAtLimit = (db: Db, subject: RegistrationSubject, window: Window) =>
  conditionally(() =>
    db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: counterKey(subject, window),
        UpdateExpression: 'SET #ttl = :ttl',
        ConditionExpression: 'size(failedAttempts) >= :limit',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':limit': subject.limit, ':ttl': window.start + window.seconds + 60 },
      }),
    ),
  );

/** Takes a counted attempt back (idempotent: removing an id twice, or one never added, changes nothing more). */
const uncountFailedAttempt = (db: Db, subject: RegistrationSubject, window: Window, attemptId: string) =>
  conditionally(() =>
    db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: counterKey(subject, window),
        UpdateExpression: 'DELETE failedAttempts :attempt',
        // Never creates an item: the counter may only be gone because TTL removed its window.
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':attempt': new Set([attemptId]) },
      }),
    ),
  );

/**
 * Admits a registration attempt past the throttle, or refuses it because a subject reached its limit
 * of failed attempts in the window starting at `windowStart` (epoch seconds). A wrong code is counted
 * against every subject as it is admitted; a right code is only checked against them, so any number
 * of machines may register at once. Subjects are asked in turn, the activation first, so a guess
 * its activation refuses never takes one of the address's places; an attempt a later subject refuses
 * is taken back from those that counted it, since it is answered 429, not as a wrong code. Counters
 * are tiny items per window, which TTL removes a minute after the window ends.
 */
export const admitRegistrationAttempt = async (
  db: Db,
  subjects: readonly RegistrationSubject[],
  windowStart: number,
  windowSeconds: number,
  attempt: RegistrationAttempt,
): Promise<boolean> => {
  const window = { start: windowStart, seconds: windowSeconds };
  const passed: RegistrationSubject[] = [];
  for (const subject of subjects) {
    const admitted = attempt.rightCode
      ? !(await isAtLimit(db, subject, window))
      : await countFailedAttempt(db, subject, window, attempt.id);
    if (!admitted) {
      // For a right code too, whose id is in no set: the same requests either way, so the time a
      // throttled answer takes does not tell a right code from a wrong one.
      await Promise.all(passed.map((done) => uncountFailedAttempt(db, done, window, attempt.id)));
      return false;
    }
    passed.push(subject);
  }
  return true;
};
