import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ContainerInstanceRecord, ContainerInstanceStatus } from '../model/container-instance.ts';
import type { Db } from './client.ts';
import { isConditionFailed } from './conditions.ts';
import { stripKeys } from './items.ts';
import { keys } from './keys.ts';
import { type Page, queryAllItems, queryPage } from './query.ts';

export const getContainerInstance = async (
  db: Db,
  cluster: string,
  id: string,
): Promise<ContainerInstanceRecord | undefined> => {
  const output = await db.doc.send(
    new GetCommand({ TableName: db.table, Key: keys.containerInstance(cluster, id), ConsistentRead: true }),
  );
  return output.Item ? stripKeys<ContainerInstanceRecord>(output.Item) : undefined;
};

export const listContainerInstancesPage = async (
  db: Db,
  cluster: string,
  limit: number,
  nextToken?: string,
): Promise<Page> => {
  const { pk, skPrefix } = keys.containerInstancesOf(cluster);
  return queryPage(db, { partition: pk, skPrefix, limit, nextToken, consistent: true });
};

/** Every instance of a cluster (clusters hold thousands at most; callers filter in memory). */
export const allContainerInstances = async (db: Db, cluster: string): Promise<ContainerInstanceRecord[]> => {
  const { pk, skPrefix } = keys.containerInstancesOf(cluster);
  const items = await queryAllItems(
    db,
    {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': pk, ':prefix': skPrefix },
      ConsistentRead: true,
    },
    { skipUnreadable: true },
  );
  return items.map((item) => stripKeys<ContainerInstanceRecord>(item));
};

/** Moves an instance between ACTIVE and DRAINING; false when it is not in a state that allows it. */
export const setContainerInstanceStatus = async (
  db: Db,
  instance: ContainerInstanceRecord,
  status: Extract<ContainerInstanceStatus, 'ACTIVE' | 'DRAINING'>,
  at: string,
): Promise<boolean> => {
  try {
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: keys.containerInstance(instance.cluster, instance.id),
        UpdateExpression: 'SET #status = :status, updatedAt = :at, version = version + :one',
        ConditionExpression: '#status IN (:active, :draining)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':status': status,
          ':at': at,
          ':one': 1,
          ':active': 'ACTIVE',
          ':draining': 'DRAINING',
        },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
};

/**
 * Marks the instance INACTIVE and deletes its token in one transaction, so its agent is refused
 * from the moment the instance is gone. The record stays (ECS keeps deregistered instances
 * describable) and expires through TTL after `retainSeconds`.
 */
export const deregisterContainerInstance = async (
  db: Db,
  instance: ContainerInstanceRecord & { tokenHash?: string },
  at: Date,
  retainSeconds = 3600,
): Promise<void> => {
  await db.doc.send(
    new TransactWriteCommand({
      TransactItems: [
        {
          Update: {
            TableName: db.table,
            Key: keys.containerInstance(instance.cluster, instance.id),
            UpdateExpression:
              'SET #status = :inactive, agentConnected = :false, updatedAt = :at, version = version + :one, #ttl = :ttl',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: { '#status': 'status', '#ttl': 'ttl' },
            ExpressionAttributeValues: {
              ':inactive': 'INACTIVE',
              ':false': false,
              ':at': at.toISOString(),
              ':one': 1,
              ':ttl': Math.floor(at.getTime() / 1000) + retainSeconds,
            },
          },
        },
        ...(instance.tokenHash
          ? [{ Delete: { TableName: db.table, Key: keys.agentToken(instance.tokenHash) } }]
          : []),
      ],
    }),
  );
};

/** Sets (value string or null) or removes (undefined) custom attributes of one instance. */
export const writeAttributes = async (
  db: Db,
  instance: ContainerInstanceRecord,
  changes: { name: string; value: string | null | undefined }[],
  at: string,
): Promise<void> => {
  const names = {
    '#attributes': 'attributes',
    ...Object.fromEntries(changes.map((change, i) => [`#a${i}`, change.name])),
  };
  const values: Record<string, unknown> = { ':at': at };
  const setParts = ['updatedAt = :at'];
  changes.forEach((change, i) => {
    if (change.value === undefined) return;
    values[`:v${i}`] = change.value;
    setParts.push(`#attributes.#a${i} = :v${i}`);
  });
  const removeParts = changes.flatMap((change, i) =>
    change.value === undefined ? [`#attributes.#a${i}`] : [],
  );
  await db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: keys.containerInstance(instance.cluster, instance.id),
      ConditionExpression: 'attribute_exists(pk)',
      UpdateExpression: `SET ${setParts.join(', ')}${removeParts.length ? ` REMOVE ${removeParts.join(', ')}` : ''}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    }),
  );
};

/** A cluster's instances and their agents' last syncs, in one Query of the cluster partition. */
export const clusterPartition = async (
  db: Db,
  cluster: string,
): Promise<{ instances: ContainerInstanceRecord[]; heartbeats: Map<string, string> }> => {
  const instances: ContainerInstanceRecord[] = [];
  const heartbeats = new Map<string, string>();
  const items = await queryAllItems(
    db,
    {
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.containerInstancesOf(cluster).pk },
      ConsistentRead: true,
    },
    { skipUnreadable: true },
  );
  for (const item of items) {
    const sk = String(item.sk);
    if (sk.startsWith('INSTANCE#')) instances.push(stripKeys<ContainerInstanceRecord>(item));
    else if (sk.startsWith('HEARTBEAT#')) heartbeats.set(String(item.instanceId), String(item.lastSeenAt));
  }
  return { instances, heartbeats };
};
