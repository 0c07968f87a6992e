import { BatchWriteCommand, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { ParameterRecord } from '../model/parameter.ts';
import { maxParameterVersions } from '../model/parameter.ts';
import type { Db } from './client.ts';
import { isTransactionCanceled } from './conditions.ts';
import { stripKeys } from './items.ts';
import { keys } from './keys.ts';
import { type Page, type PageRequest, queryPage, sendQuery } from './query.ts';

/** The newest version of a parameter. */
export const getParameter = async (db: Db, name: string): Promise<ParameterRecord | undefined> => {
  const { pk, sk } = keys.parameter(name);
  const output = await db.doc.send(
    new GetCommand({ TableName: db.table, Key: { pk, sk }, ConsistentRead: true }),
  );
  return output.Item ? stripKeys<ParameterRecord>(output.Item) : undefined;
};

/** One version of a parameter, the newest included, while SSM would still keep it. */
export const getParameterVersion = async (
  db: Db,
  name: string,
  version: number,
): Promise<ParameterRecord | undefined> => {
  const output = await db.doc.send(
    new GetCommand({ TableName: db.table, Key: keys.parameterVersion(name, version), ConsistentRead: true }),
  );
  return output.Item ? stripKeys<ParameterRecord>(output.Item) : undefined;
};

/**
 * Writes a new version: the head (if it is still at `record.version - 1`, or absent for version 1)
 * and the version item in one transaction, dropping the version that falls out of the last 100.
 * False when another write got there first (read again and decide again).
 */
export const putParameterVersion = async (db: Db, record: ParameterRecord): Promise<boolean> => {
  const head = keys.parameter(record.name);
  const dropped = record.version - maxParameterVersions;
  try {
    await db.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: db.table,
              Item: { ...head, ...record },
              ...(record.version === 1
                ? { ConditionExpression: 'attribute_not_exists(pk)' }
                : {
                    ConditionExpression: 'version = :previous',
                    ExpressionAttributeValues: { ':previous': record.version - 1 },
                  }),
            },
          },
          {
            Put: {
              TableName: db.table,
              Item: { ...keys.parameterVersion(record.name, record.version), ...record },
            },
          },
          ...(dropped >= 1
            ? [{ Delete: { TableName: db.table, Key: keys.parameterVersion(record.name, dropped) } }]
            : []),
        ],
      }),
    );
    return true;
  } catch (error) {
    if (isTransactionCanceled(error)) return false;
    throw error;
  }
};

/** Deletes a parameter and its history. */
export const deleteParameterItems = async (db: Db, name: string): Promise<void> => {
  const { pk, skPrefix } = keys.parameterVersionsOf(name);
  const output = await sendQuery(db, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': pk, ':prefix': skPrefix },
    ProjectionExpression: 'pk, sk',
    ConsistentRead: true,
  });
  // The head first: once it is gone the parameter is, whatever happens to the history after.
  const targets = [
    keys.parameter(name),
    ...(output.Items ?? []).map((item) => ({ pk: item.pk, sk: item.sk })),
  ];
  for (let at = 0; at < targets.length; at += 25) {
    let pending = targets
      .slice(at, at + 25)
      .map(({ pk: itemPk, sk }) => ({ DeleteRequest: { Key: { pk: itemPk, sk } } }));
    for (let tries = 0; pending.length > 0; tries++) {
      const answer = await db.doc.send(new BatchWriteCommand({ RequestItems: { [db.table]: pending } }));
      pending = (answer.UnprocessedItems?.[db.table] ?? []) as typeof pending;
      if (pending.length > 0 && tries >= 10) throw new Error(`could not delete the history of ${name}`);
    }
  }
};

/** A page of parameter heads in name order, from `prefix` on (gsi1), filtered. */
export const listParametersPage = (
  db: Db,
  request: Pick<PageRequest, 'filter' | 'limit' | 'nextToken'> & { prefix?: string },
): Promise<Page> =>
  queryPage(db, {
    index: 'gsi1',
    partition: keys.parameter('').gsi1pk,
    ...(request.prefix ? { skPrefix: request.prefix } : {}),
    ...(request.filter ? { filter: request.filter } : {}),
    limit: request.limit,
    ...(request.nextToken ? { nextToken: request.nextToken } : {}),
  });
