import { QueryCommand, type QueryCommandInput, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { BerthError, invalidParameter } from '../errors.ts';
import type { Db } from './client.ts';
import { type IndexName, tableDefinition } from './table.ts';

export type Item = Record<string, unknown>;

export type PageRequest = {
  index?: IndexName;
  partition: string;
  skPrefix?: string;
  /** A FilterExpression over non-key attributes, with its names and values. */
  filter?: { expression: string; names?: Record<string, string>; values?: Record<string, unknown> };
  limit: number;
  nextToken?: string;
  descending?: boolean;
  consistent?: boolean;
};

export type Page = { items: Item[]; nextToken?: string };

const keyNamesOf = (index?: IndexName): { pk: string; sk: string } =>
  index
    ? {
        pk: tableDefinition.globalIndexes[index].partitionKey,
        sk: tableDefinition.globalIndexes[index].sortKey,
      }
    : { pk: tableDefinition.partitionKey, sk: tableDefinition.sortKey };

/** The attributes DynamoDB needs to resume after `item` on this index. */
const startKeyOf = (item: Item, index?: IndexName): Item => {
  const names = new Set<string>([tableDefinition.partitionKey, tableDefinition.sortKey]);
  if (index) {
    names.add(tableDefinition.globalIndexes[index].partitionKey);
    names.add(tableDefinition.globalIndexes[index].sortKey);
  }
  return Object.fromEntries([...names].map((name) => [name, item[name]]));
};

/**
 * DynamoDB Local's answer to any read or write that touches an item it stored but cannot read back
 * (a member name holding a lone surrogate, written before requests were checked for it): every
 * Get, Query, BatchGet, stream read and write of it fails with InternalFailure, for good. Real
 * DynamoDB never stores such an item (it refuses the request), and its 500s are InternalServerError.
 */
const isUnreadable = (error: unknown): boolean => {
  // The client raises the store's 5xx as ServiceUnavailableException (core/db/client.ts), keeping
  // DynamoDB's own error as the cause in its details.
  const { name, details } = (error ?? {}) as { name?: unknown; details?: { cause?: { name?: unknown } } };
  return name === 'InternalFailure' || details?.cause?.name === 'InternalFailure';
};

/**
 * A read's error as the domain sees it: an item DynamoDB Local cannot read becomes ItemUnreadable
 * (still an internal error, answered 500), so that a Describe can name it among its failures.
 */
export const asReadError = (error: unknown, key: { pk: string; sk: string }): unknown =>
  isUnreadable(error)
    ? new BerthError('ItemUnreadable', 'internal', `The item ${key.pk} ${key.sk} cannot be read.`, {
        key,
        cause: error,
      })
    : error;

type QueryInput = Omit<QueryCommandInput, 'TableName'>;

/**
 * Reads the query's items one way, `limit` at a time, halving the limit whenever a read fails as
 * unreadable: it ends at the end of the range (`complete`) or just before the first item that
 * cannot be read even alone (`lastKey`: where it stopped).
 */
const walk = async (
  db: Db,
  input: QueryInput,
  forward: boolean,
  startKey: Item | undefined,
): Promise<{ items: Item[]; complete: boolean; lastKey?: Item }> => {
  const items: Item[] = [];
  let limit = 64;
  for (;;) {
    let output: QueryCommandOutput;
    try {
      output = await db.doc.send(
        new QueryCommand({
          ...input,
          TableName: db.table,
          ExclusiveStartKey: startKey,
          ScanIndexForward: forward,
          Limit: limit,
        }),
      );
    } catch (error) {
      if (!isUnreadable(error)) throw error;
      if (limit === 1) return { items, complete: false, lastKey: startKey };
      limit = Math.ceil(limit / 2);
      continue;
    }
    items.push(...(output.Items ?? []));
    if (!output.LastEvaluatedKey) return { items, complete: true };
    startKey = output.LastEvaluatedKey;
  }
};

/**
 * A Query that a stored item cannot spoil: when DynamoDB Local fails it as unreadable, the range is
 * read again in smaller and smaller reads from its start up to the first item that cannot be read,
 * and from its end back down to the last one, and what lies between is skipped (and reported once):
 * all of it when that is one bad item or a run of them. The answer then holds every item read, in
 * the query's order, and no LastEvaluatedKey (the range was read to its end).
 */
export const sendQuery = async (
  db: Db,
  input: QueryInput,
): Promise<Pick<QueryCommandOutput, 'Items' | 'LastEvaluatedKey'>> => {
  try {
    return await db.doc.send(new QueryCommand({ ...input, TableName: db.table }));
  } catch (error) {
    if (!isUnreadable(error) || input.Select === 'COUNT') throw error;
    const forward = input.ScanIndexForward !== false;
    const head = await walk(db, input, forward, input.ExclusiveStartKey);
    if (head.complete) return { Items: head.items };
    // From the far end (where the original query would have ended) back down to the bad items.
    const tail = await walk(db, input, !forward, undefined);
    // It read all the way back: nothing is unreadable any more (the failure passed), so the
    // query itself now answers.
    if (tail.complete) return await db.doc.send(new QueryCommand({ ...input, TableName: db.table }));
    db.onUnreadable?.({
      index: input.IndexName,
      partition: input.ExpressionAttributeValues?.[':pk'],
      after: head.lastKey,
      before: tail.lastKey,
    });
    return { Items: [...head.items, ...tail.items.reverse()] };
  }
};

export const encodeToken = (key: Item): string => Buffer.from(JSON.stringify(key)).toString('base64url');

/** DynamoDB's own limits on key attribute values: a partition key ≤ 2048 bytes, a sort key ≤ 1024. */
const maxKeyBytes = { partition: 2048, sort: 1024 } as const;

/** Longer than any token this module encodes (four key attributes at their limits, base64url). */
const maxTokenLength = 8 * 1024;

const isKeyString = (value: unknown, maxBytes: number): value is string =>
  typeof value === 'string' && value !== '' && value.isWellFormed() && Buffer.byteLength(value) <= maxBytes;

/**
 * Decodes a nextToken and checks it is one this query could have answered: exactly the key
 * attributes of its index, each a string DynamoDB accepts as a key, in the same partition (so a
 * forged token cannot read another partition) and within the sort-key prefix. Anything else is
 * refused here as the caller's error: DynamoDB would refuse the start key with a ValidationException,
 * which is not the caller's to see.
 */
export const decodeToken = (
  token: string,
  request: Pick<PageRequest, 'index' | 'partition' | 'skPrefix'>,
): Item => {
  const invalid = () => invalidParameter('Invalid nextToken.');
  if (token.length > maxTokenLength || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalid();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) throw invalid();
  const record = key as Item;
  const table = { pk: tableDefinition.partitionKey, sk: tableDefinition.sortKey };
  const index = request.index ? keyNamesOf(request.index) : undefined;
  const expected = new Map<string, number>([
    [table.pk, maxKeyBytes.partition],
    [table.sk, maxKeyBytes.sort],
    ...(index
      ? ([
          [index.pk, maxKeyBytes.partition],
          [index.sk, maxKeyBytes.sort],
        ] as const)
      : []),
  ]);
  const names = Object.keys(record);
  if (names.length !== expected.size) throw invalid();
  for (const name of names) {
    const limit = expected.get(name);
    if (limit === undefined || !isKeyString(record[name], limit)) throw invalid();
  }
  const queried = index ?? table;
  if (record[queried.pk] !== request.partition) throw invalid();
  if (request.skPrefix && !(record[queried.sk] as string).startsWith(request.skPrefix)) throw invalid();
  return record;
};

/**
 * One page of a Query, filled up to `limit` matching items even when a filter drops some (ECS
 * pages never come back short unless they are the last).
 */
export const queryPage = async (db: Db, request: PageRequest): Promise<Page> => {
  const keyNames = keyNamesOf(request.index);
  const fromToken = request.nextToken ? decodeToken(request.nextToken, request) : undefined;
  let startKey = fromToken;
  const items: Item[] = [];
  for (;;) {
    const input: QueryInput = {
      IndexName: request.index,
      KeyConditionExpression: request.skPrefix ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
      ExpressionAttributeNames: {
        '#pk': keyNames.pk,
        ...(request.skPrefix ? { '#sk': keyNames.sk } : {}),
        ...request.filter?.names,
      },
      ExpressionAttributeValues: {
        ':pk': request.partition,
        ...(request.skPrefix ? { ':prefix': request.skPrefix } : {}),
        ...request.filter?.values,
      },
      FilterExpression: request.filter?.expression,
      ExclusiveStartKey: startKey,
      ScanIndexForward: !request.descending,
      ConsistentRead: request.index ? undefined : request.consistent,
      Limit: request.filter ? Math.max(request.limit * 2, 25) : request.limit - items.length + 1,
    };
    const output = await sendQuery(db, input).catch((error: unknown) => {
      // A start key that passed decodeToken and still is not one DynamoDB can resume from is the
      // token's fault, not the server's.
      if (
        fromToken &&
        startKey === fromToken &&
        (error as { name?: string }).name === 'ValidationException'
      ) {
        throw invalidParameter('Invalid nextToken.');
      }
      throw error;
    });
    for (const item of output.Items ?? []) {
      if (items.length === request.limit) {
        // One more item exists past the page: resume after the last one returned.
        return { items, nextToken: encodeToken(startKeyOf(items[items.length - 1] as Item, request.index)) };
      }
      items.push(item);
    }
    if (!output.LastEvaluatedKey) return { items };
    startKey = output.LastEvaluatedKey;
  }
};

/**
 * Every item a query finds, page after page (for small, bounded sets: a unit's tasks, a cluster's
 * instances). An item DynamoDB Local cannot read fails the query, unless `skipUnreadable`: only
 * where a missing item cannot lead to a wrong decision (placement candidates, routing, the
 * sweeper's instances). A service unit read without one of its tasks would start extra tasks, and
 * an instance's assignment without one would make its agent stop it.
 */
export const queryAllItems = async (
  db: Db,
  input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  options: { skipUnreadable?: boolean } = {},
): Promise<Item[]> => {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = { ...input, ExclusiveStartKey: startKey };
    const output = options.skipUnreadable
      ? await sendQuery(db, page)
      : await db.doc.send(new QueryCommand({ ...page, TableName: db.table }));
    items.push(...(output.Items ?? []));
    startKey = output.LastEvaluatedKey;
  } while (startKey);
  return items;
};

/** ECS's maxResults: 1–100, default 100. */
export const pageLimit = (maxResults: number | undefined, max = 100): number => {
  if (maxResults === undefined) return max;
  if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > max) {
    throw invalidParameter(`maxResults must be between 1 and ${max}.`);
  }
  return maxResults;
};
