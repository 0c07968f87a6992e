import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { TagMap } from '../model/tags.ts';
import type { Db } from './client.ts';

/** An item without its key attributes: the record as the domain sees it. */
export const stripKeys = <T>(item: Record<string, unknown>): T => {
  const { pk, sk, gsi1pk, gsi1sk, gsi2pk, gsi2sk, ...rest } = item;
  return rest as T;
};

/**
 * A stream record's image (DynamoDB's attribute-value JSON, as Lambda delivers it) as a plain item;
 * undefined when there is none. Throws on an image that is not attribute-value JSON.
 */
export const itemOfStreamImage = (image: unknown): Record<string, unknown> | undefined =>
  image ? unmarshall(image as Parameters<typeof unmarshall>[0]) : undefined;

/** Counts items of a partition whose sort key starts with `prefix` and that match a filter. */
export const countInPartition = async (
  db: Db,
  pk: string,
  prefix: string,
  filter?: { expression: string; names: Record<string, string>; values: Record<string, unknown> },
): Promise<number> => {
  let count = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const output = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        FilterExpression: filter?.expression,
        ExpressionAttributeNames: filter?.names,
        ExpressionAttributeValues: { ':pk': pk, ':prefix': prefix, ...filter?.values },
        Select: 'COUNT',
        ExclusiveStartKey: startKey,
      }),
    );
    count += output.Count ?? 0;
    startKey = output.LastEvaluatedKey;
  } while (startKey);
  return count;
};

/** Adds or replaces tags on any item (the key locates it; the item must exist). */
export const mergeTags = async (db: Db, key: { pk: string; sk: string }, tags: TagMap) => {
  const entries = Object.entries(tags);
  if (entries.length === 0) return;
  await db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: key,
      ConditionExpression: 'attribute_exists(pk)',
      UpdateExpression: `SET ${entries.map((_, i) => `tags.#k${i} = :v${i}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(entries.map(([k], i) => [`#k${i}`, k])),
      ExpressionAttributeValues: Object.fromEntries(entries.map(([, v], i) => [`:v${i}`, v])),
    }),
  );
};

export const removeTags = async (db: Db, key: { pk: string; sk: string }, tagKeys: readonly string[]) => {
  if (tagKeys.length === 0) return;
  await db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: key,
      ConditionExpression: 'attribute_exists(pk)',
      UpdateExpression: `REMOVE ${tagKeys.map((_, i) => `tags.#k${i}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(tagKeys.map((k, i) => [`#k${i}`, k])),
    }),
  );
};

/** The tags and status of any item, read consistently; undefined when there is no such item. */
export const getTagsOf = async (
  db: Db,
  key: { pk: string; sk: string },
): Promise<{ tags: TagMap; status?: string } | undefined> => {
  const output = await db.doc.send(
    new GetCommand({
      TableName: db.table,
      Key: key,
      ConsistentRead: true,
      ProjectionExpression: 'tags, #status',
      ExpressionAttributeNames: { '#status': 'status' },
    }),
  );
  if (!output.Item) return undefined;
  return {
    tags: (output.Item.tags as TagMap | undefined) ?? {},
    status: output.Item.status as string | undefined,
  };
};
