import { DeleteCommand, GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { ActivationRecord } from '../model/activation.ts';
import type { ContainerInstanceRecord } from '../model/container-instance.ts';
import type { Db } from './client.ts';
import { cancellationCodes, isConditionFailed, isTransactionCanceled } from './conditions.ts';
import { stripKeys } from './items.ts';
import { keys } from './keys.ts';
import { type Page, queryPage } from './query.ts';

export const putActivation = async (db: Db, activation: ActivationRecord): Promise<void> => {
  try {
    await db.doc.send(
      new PutCommand({
        TableName: db.table,
        Item: { ...keys.activation(activation.id), ...activation },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    // The id is new and random: an item already there is our own first attempt, whose answer was
    // lost before the SDK retried.
    if (
      !isConditionFailed(error) ||
      (await getActivation(db, activation.id))?.codeHash !== activation.codeHash
    ) {
      throw error;
    }
  }
};

export const getActivation = async (db: Db, id: string): Promise<ActivationRecord | undefined> => {
  const output = await db.doc.send(
    new GetCommand({
      TableName: db.table,
      Key: { pk: keys.activation(id).pk, sk: keys.activation(id).sk },
      ConsistentRead: true,
    }),
  );
  return output.Item ? stripKeys<ActivationRecord>(output.Item) : undefined;
};

/**
 * Deletes the activation; false when there was none. Read first, then deleted without a condition:
 * a conditional delete retried by the SDK after a lost answer would report "there was none" for
 * the activation it had just deleted.
 */
export const deleteActivation = async (db: Db, id: string): Promise<boolean> => {
  if (!(await getActivation(db, id))) return false;
  await db.doc.send(
    new DeleteCommand({
      TableName: db.table,
      Key: { pk: keys.activation(id).pk, sk: keys.activation(id).sk },
    }),
  );
  return true;
};

export const listActivationsPage = async (db: Db, limit: number, nextToken?: string): Promise<Page> =>
  queryPage(db, { index: 'gsi1', partition: keys.activation('').gsi1pk, limit, nextToken });

export type RegistrationOutcome = 'registered' | 'refused' | 'cluster_gone';

/**
 * Consumes one registration of the activation and creates the instance and its token, all in one
 * transaction. The activation's limit, expiry and code are conditions of that transaction, so
 * concurrent registrations can never exceed the limit or outlive the expiry.
 */
export const registerContainerInstance = async (
  db: Db,
  input: { activationId: string; codeHash: string; now: Date; instance: ContainerInstanceRecord },
): Promise<RegistrationOutcome> => {
  const { instance } = input;
  const activationKey = keys.activation(input.activationId);
  const clusterKey = keys.cluster(instance.cluster);
  try {
    await db.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: db.table,
              Key: { pk: activationKey.pk, sk: activationKey.sk },
              UpdateExpression: 'SET registrationsCount = registrationsCount + :one',
              ConditionExpression:
                'registrationsCount < registrationLimit AND expiresAt > :now AND codeHash = :codeHash',
              ExpressionAttributeValues: {
                ':one': 1,
                ':now': input.now.toISOString(),
                ':codeHash': input.codeHash,
              },
            },
          },
          {
            ConditionCheck: {
              TableName: db.table,
              Key: { pk: clusterKey.pk, sk: clusterKey.sk },
              ConditionExpression: '#status = :active',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':active': 'ACTIVE' },
            },
          },
          {
            Put: {
              TableName: db.table,
              Item: { ...keys.containerInstance(instance.cluster, instance.id), ...instance },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Put: {
              TableName: db.table,
              Item: {
                ...keys.agentToken(instance.tokenHash),
                type: 'agentToken',
                cluster: instance.cluster,
                instanceId: instance.id,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
    return 'registered';
  } catch (error) {
    if (!isTransactionCanceled(error)) throw error;
    const codes = cancellationCodes(error);
    if (codes[0] === 'ConditionalCheckFailed') return 'refused';
    if (codes[1] === 'ConditionalCheckFailed') return 'cluster_gone';
    throw error;
  }
};

/** The instance an agent token answers for, if the token is live. */
export const instanceOfToken = async (
  db: Db,
  tokenHash: string,
): Promise<{ cluster: string; instanceId: string } | undefined> => {
  const output = await db.doc.send(
    new GetCommand({ TableName: db.table, Key: keys.agentToken(tokenHash), ConsistentRead: true }),
  );
  if (!output.Item) return undefined;
  return { cluster: String(output.Item.cluster), instanceId: String(output.Item.instanceId) };
};
