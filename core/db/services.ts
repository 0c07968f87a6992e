import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { ServiceEvent, ServiceRecord } from '../model/service.ts';
import type { TaskRecord } from '../model/task.ts';
import type { Db } from './client.ts';
import { isConditionFailed } from './conditions.ts';
import { stripKeys } from './items.ts';
import { keys } from './keys.ts';
import { type Page, queryAllItems, queryPage } from './query.ts';

export const getService = async (
  db: Db,
  cluster: string,
  name: string,
): Promise<ServiceRecord | undefined> => {
  const { pk, sk } = keys.service(cluster, name);
  const output = await db.doc.send(
    new GetCommand({ TableName: db.table, Key: { pk, sk }, ConsistentRead: true }),
  );
  return output.Item ? stripKeys<ServiceRecord>(output.Item) : undefined;
};

/** What a service's counts are made of. */
export type TaskCountFields = Pick<TaskRecord, 'lastStatus' | 'desiredStatus' | 'deploymentId'>;

/**
 * A service's tasks reduced to what its running/pending counts need (a projection: a service of
 * hundreds of tasks reads a few bytes each).
 */
export const taskCountFieldsOf = async (db: Db, cluster: string, name: string): Promise<TaskCountFields[]> =>
  (await queryAllItems(db, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :task)',
    ProjectionExpression: 'lastStatus, desiredStatus, deploymentId',
    ExpressionAttributeValues: { ':pk': keys.serviceUnit(cluster, name).pk, ':task': 'TASK#' },
    ConsistentRead: true,
  })) as TaskCountFields[];

/** A reconcile unit: the service and all its tasks, in one consistent Query of one partition. */
export const readServiceUnit = async (
  db: Db,
  cluster: string,
  name: string,
): Promise<{ service?: ServiceRecord; tasks: TaskRecord[] }> => {
  const items = await queryAllItems(db, {
    // EVENT# sorts before SERVICE and TASK#: starting at SERVICE skips the events.
    KeyConditionExpression: 'pk = :pk AND sk >= :from',
    ExpressionAttributeValues: { ':pk': keys.serviceUnit(cluster, name).pk, ':from': 'SERVICE' },
    ConsistentRead: true,
  });
  let service: ServiceRecord | undefined;
  const tasks: TaskRecord[] = [];
  for (const item of items) {
    if (item.sk === 'SERVICE') service = stripKeys<ServiceRecord>(item);
    else if (String(item.sk).startsWith('TASK#')) tasks.push(stripKeys<TaskRecord>(item));
  }
  return { service, tasks };
};

/** Creates a service; an INACTIVE one of the same name is replaced, an ACTIVE or DRAINING one is not. */
export const createServiceItem = async (db: Db, service: ServiceRecord): Promise<boolean> => {
  try {
    await db.doc.send(
      new PutCommand({
        TableName: db.table,
        Item: { ...keys.service(service.cluster, service.name), ...service },
        ConditionExpression: 'attribute_not_exists(pk) OR #status = :inactive',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':inactive': 'INACTIVE' },
      }),
    );
    return true;
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
    // The SDK retries a put whose answer was lost, and the retry then fails on the item the first
    // attempt wrote: finding our own service (same creation time, creator and token) is success.
    const stored = await getService(db, service.cluster, service.name);
    return (
      stored?.status === 'ACTIVE' &&
      stored.createdAt === service.createdAt &&
      stored.createdBy === service.createdBy &&
      stored.clientToken === service.clientToken
    );
  }
};

export const listServicesPage = async (
  db: Db,
  cluster: string,
  limit: number,
  nextToken?: string,
): Promise<Page> =>
  queryPage(db, {
    index: 'gsi1',
    partition: keys.service(cluster, '').gsi1pk,
    limit,
    nextToken,
    filter: {
      expression: '#status <> :inactive',
      names: { '#status': 'status' },
      values: { ':inactive': 'INACTIVE' },
    },
  });

/** Every non-INACTIVE service of a cluster (names only, from the index). */
export const serviceNamesOf = async (db: Db, cluster: string): Promise<string[]> =>
  (await activeServiceItems(db, cluster)).map((item) => String(item.name));

/** The newest `limit` events of a service, newest first. */
export const serviceEvents = async (
  db: Db,
  cluster: string,
  name: string,
  limit = 100,
): Promise<ServiceEvent[]> => {
  const output = await db.doc.send(
    new QueryCommand({
      TableName: db.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': keys.serviceUnit(cluster, name).pk, ':prefix': 'EVENT#' },
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  return (output.Items ?? []).map((item) => ({
    id: String(item.id),
    createdAt: String(item.createdAt),
    message: String(item.message),
  }));
};

/** Every non-INACTIVE service of a cluster, from the index (eventually consistent: for routing only). */
export const servicesOf = async (db: Db, cluster: string): Promise<ServiceRecord[]> =>
  (await activeServiceItems(db, cluster)).map((item) => stripKeys<ServiceRecord>(item));

/** The index's non-INACTIVE services of a cluster; one it cannot read is left out (routing only). */
const activeServiceItems = (db: Db, cluster: string) =>
  queryAllItems(
    db,
    {
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      FilterExpression: '#status <> :inactive',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':pk': keys.service(cluster, '').gsi1pk, ':inactive': 'INACTIVE' },
    },
    { skipUnreadable: true },
  );
