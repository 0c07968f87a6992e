import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from './client.ts';
import { keys } from './keys.ts';

/** Who failed to register: the activation tried, and where the request came from. */
export type RegistrationSubject = { scope: 'activation' | 'ip'; subject: string };

/** Failed registrations of each subject in the window starting at `windowStart` (epoch seconds). */
export const registrationFailures = async (
  db: Db,
  subjects: readonly RegistrationSubject[],
  windowStart: number,
): Promise<number[]> =>
  Promise.all(
    subjects.map(async ({ scope, subject }) => {
      const output = await db.doc.send(
        new GetCommand({
          TableName: db.table,
          Key: keys.registrationFailures(scope, subject, windowStart),
          ConsistentRead: true,
          ProjectionExpression: 'failures',
        }),
      );
      return Number(output.Item?.failures ?? 0);
    }),
  );

/**
 * Counts one failed registration against each subject: an atomic ADD on a tiny item per window,
 * which TTL removes a minute after the window ends.
 */
export const countRegistrationFailure = async (
  db: Db,
  subjects: readonly RegistrationSubject[],
  windowStart: number,
  windowSeconds: number,
): Promise<void> => {
  await Promise.all(
    subjects.map(({ scope, subject }) =>
      db.doc.send(
        new UpdateCommand({
          TableName: db.table,
          Key: keys.registrationFailures(scope, subject, windowStart),
          UpdateExpression: 'ADD failures :one SET #type = :type, #ttl = :ttl',
          ExpressionAttributeNames: { '#type': 'type', '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ':one': 1,
            ':type': 'registrationFailures',
            ':ttl': windowStart + windowSeconds + 60,
          },
        }),
      ),
    ),
  );
};
