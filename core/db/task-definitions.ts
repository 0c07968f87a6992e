import { GetCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { TagMap } from '../model/tags.ts';
import type { Db } from './client.ts';
import { cancellationCodes, isTransactionCanceled, retryOnConflict } from './conditions.ts';
import { stripKeys } from './items.ts';
import { keys } from './keys.ts';
import { type Page, queryPage } from './query.ts';

export type TaskDefinitionStatus = 'ACTIVE' | 'INACTIVE';

/** A registered revision: the registration input as given, and what ECS adds around it. */
export type TaskDefinitionRecord = {
  type: 'taskDefinition';
  family: string;
  revision: number;
  status: TaskDefinitionStatus;
  /** The RegisterTaskDefinition body without `tags`, exactly as it was accepted. */
  registration: Record<string, unknown>;
  tags: TagMap;
  registeredAt: string;
  registeredBy?: string;
  deregisteredAt?: string;
};

export type TaskDefinitionFamilyRecord = {
  type: 'taskDefinitionFamily';
  family: string;
  latestRevision: number;
  activeRevisions: number;
};

const getFamily = async (db: Db, family: string): Promise<TaskDefinitionFamilyRecord | undefined> => {
  const key = keys.taskDefinitionFamily(family);
  const output = await db.doc.send(
    new GetCommand({ TableName: db.table, Key: { pk: key.pk, sk: key.sk }, ConsistentRead: true }),
  );
  return output.Item ? stripKeys<TaskDefinitionFamilyRecord>(output.Item) : undefined;
};

/**
 * Registers the next revision of a family: the revision item and the family's counter are written
 * in one transaction conditioned on the counter still being what was read, so concurrent
 * registrations get consecutive revisions with no gap and no duplicate.
 */
export const putNextRevision = async (
  db: Db,
  record: Omit<TaskDefinitionRecord, 'revision'>,
): Promise<TaskDefinitionRecord> =>
  retryOnConflict(async () => {
    for (;;) {
      const family = await getFamily(db, record.family);
      const previous = family?.latestRevision ?? 0;
      const revision = previous + 1;
      const familyKey = keys.taskDefinitionFamily(record.family);
      const stored: TaskDefinitionRecord = { ...record, revision };
      try {
        await db.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: db.table,
                  Key: { pk: familyKey.pk, sk: familyKey.sk },
                  UpdateExpression:
                    'SET latestRevision = :revision, activeRevisions = if_not_exists(activeRevisions, :zero) + :one, gsi1pk = :gsi1pk, gsi1sk = :gsi1sk, #type = :type, #family = :family',
                  ConditionExpression: family ? 'latestRevision = :previous' : 'attribute_not_exists(pk)',
                  ExpressionAttributeNames: { '#type': 'type', '#family': 'family' },
                  ExpressionAttributeValues: {
                    ':revision': revision,
                    ':zero': 0,
                    ':one': 1,
                    ':gsi1pk': familyKey.gsi1pk,
                    ':gsi1sk': familyKey.gsi1sk,
                    ':type': 'taskDefinitionFamily',
                    ':family': record.family,
                    ...(family ? { ':previous': previous } : {}),
                  },
                },
              },
              {
                Put: {
                  TableName: db.table,
                  Item: { ...keys.taskDefinition(record.family, revision), ...stored },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
            ],
          }),
        );
        return stored;
      } catch (error) {
        // Another registration took this revision first: read the counter again.
        if (isTransactionCanceled(error) && cancellationCodes(error).includes('ConditionalCheckFailed'))
          continue;
        throw error;
      }
    }
  });

export const getRevision = async (
  db: Db,
  family: string,
  revision: number,
): Promise<TaskDefinitionRecord | undefined> => {
  const key = keys.taskDefinition(family, revision);
  const output = await db.doc.send(
    new GetCommand({ TableName: db.table, Key: { pk: key.pk, sk: key.sk }, ConsistentRead: true }),
  );
  return output.Item ? stripKeys<TaskDefinitionRecord>(output.Item) : undefined;
};

/** The newest ACTIVE revision of a family (what `family` alone means to ECS). */
export const latestActiveRevision = async (
  db: Db,
  family: string,
): Promise<TaskDefinitionRecord | undefined> => {
  const { pk, skPrefix } = keys.taskDefinitionsOf(family);
  let startKey: Record<string, unknown> | undefined;
  do {
    const output = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        FilterExpression: '#status = :active',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':pk': pk, ':prefix': skPrefix, ':active': 'ACTIVE' },
        ScanIndexForward: false,
        ConsistentRead: true,
        Limit: 25,
        ExclusiveStartKey: startKey,
      }),
    );
    const item = output.Items?.[0];
    if (item) return stripKeys<TaskDefinitionRecord>(item);
    startKey = output.LastEvaluatedKey;
  } while (startKey);
  return undefined;
};

/** ACTIVE -> INACTIVE, once; the family's active count follows in the same transaction. */
export const deregisterRevision = async (
  db: Db,
  family: string,
  revision: number,
  at: string,
): Promise<boolean> => {
  const key = keys.taskDefinition(family, revision);
  const familyKey = keys.taskDefinitionFamily(family);
  try {
    await retryOnConflict(() =>
      db.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: db.table,
                Key: { pk: key.pk, sk: key.sk },
                UpdateExpression: 'SET #status = :inactive, deregisteredAt = :at',
                ConditionExpression: '#status = :active',
                ExpressionAttributeNames: { '#status': 'status' },
                ExpressionAttributeValues: { ':inactive': 'INACTIVE', ':active': 'ACTIVE', ':at': at },
              },
            },
            {
              Update: {
                TableName: db.table,
                Key: { pk: familyKey.pk, sk: familyKey.sk },
                UpdateExpression: 'SET activeRevisions = activeRevisions - :one',
                ExpressionAttributeValues: { ':one': 1 },
              },
            },
          ],
        }),
      ),
    );
    return true;
  } catch (error) {
    if (isTransactionCanceled(error) && cancellationCodes(error)[0] === 'ConditionalCheckFailed')
      return false;
    throw error;
  }
};

export const listRevisionsPage = async (
  db: Db,
  options: {
    family?: string;
    status?: TaskDefinitionStatus;
    descending: boolean;
    limit: number;
    nextToken?: string;
  },
): Promise<Page> => {
  const filter = options.status
    ? {
        expression: '#status = :status',
        names: { '#status': 'status' },
        values: { ':status': options.status },
      }
    : undefined;
  if (options.family) {
    const { pk, skPrefix } = keys.taskDefinitionsOf(options.family);
    return queryPage(db, { partition: pk, skPrefix, filter, ...options });
  }
  return queryPage(db, { index: 'gsi1', partition: keys.taskDefinition('', 0).gsi1pk, filter, ...options });
};

export const listFamiliesPage = async (
  db: Db,
  options: { prefix?: string; status: 'ACTIVE' | 'INACTIVE' | 'ALL'; limit: number; nextToken?: string },
): Promise<Page> => {
  const filter =
    options.status === 'ALL'
      ? undefined
      : options.status === 'ACTIVE'
        ? { expression: 'activeRevisions > :zero', values: { ':zero': 0 } }
        : { expression: 'activeRevisions = :zero', values: { ':zero': 0 } };
  return queryPage(db, {
    index: 'gsi1',
    partition: keys.taskDefinitionFamily('').gsi1pk,
    skPrefix: options.prefix || undefined,
    filter,
    limit: options.limit,
    nextToken: options.nextToken,
  });
};
