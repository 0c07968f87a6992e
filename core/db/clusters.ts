import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { clusterNotFound } from '../errors.ts';
import type { ClusterRecord } from '../model/cluster.ts';
import type { Db } from './client.ts';
import { isConditionFailed } from './conditions.ts';
import { stripKeys } from './items.ts';
import { keys } from './keys.ts';
import { asReadError, type Page, queryPage } from './query.ts';

export const getCluster = async (db: Db, name: string): Promise<ClusterRecord | undefined> => {
  const key = { pk: keys.cluster(name).pk, sk: keys.cluster(name).sk };
  const output = await db.doc
    .send(new GetCommand({ TableName: db.table, Key: key, ConsistentRead: true }))
    .catch((error: unknown) => {
      throw asReadError(error, key);
    });
  return output.Item ? stripKeys<ClusterRecord>(output.Item) : undefined;
};

/** The cluster if it exists and is ACTIVE; otherwise ClusterNotFoundException, as ECS answers. */
export const requireActiveCluster = async (db: Db, name: string): Promise<ClusterRecord> => {
  const cluster = await getCluster(db, name);
  if (cluster?.status !== 'ACTIVE') throw clusterNotFound(name);
  return cluster;
};

/**
 * Creates the cluster, or brings an INACTIVE one back. ECS's CreateCluster is idempotent: an
 * ACTIVE cluster of that name is returned as it is.
 */
export const putCluster = async (db: Db, cluster: ClusterRecord): Promise<ClusterRecord> => {
  try {
    await db.doc.send(
      new PutCommand({
        TableName: db.table,
        Item: { ...keys.cluster(cluster.name), ...cluster },
        ConditionExpression: 'attribute_not_exists(pk) OR #status = :inactive',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':inactive': 'INACTIVE' },
      }),
    );
    return cluster;
  } catch (error) {
    if (!isConditionFailed(error)) throw error;
    return (await getCluster(db, cluster.name)) ?? cluster;
  }
};

export const setClusterStatus = async (db: Db, name: string, status: ClusterRecord['status'], at: string) => {
  const key = keys.cluster(name);
  await db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: { pk: key.pk, sk: key.sk },
      UpdateExpression: 'SET #status = :status, updatedAt = :at',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':status': status, ':at': at },
    }),
  );
};

export const updateClusterFields = async (
  db: Db,
  name: string,
  fields: Partial<Pick<ClusterRecord, 'settings' | 'configuration' | 'serviceConnectDefaults'>>,
  at: string,
) => {
  const key = keys.cluster(name);
  const entries = Object.entries(fields).filter(([, value]) => value !== undefined);
  const sets = entries.map(([field]) => `#${field} = :${field}`);
  await db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: { pk: key.pk, sk: key.sk },
      UpdateExpression: `SET ${[...sets, 'updatedAt = :at'].join(', ')}`,
      ConditionExpression: '#status = :active',
      ExpressionAttributeNames: {
        '#status': 'status',
        ...Object.fromEntries(entries.map(([f]) => [`#${f}`, f])),
      },
      ExpressionAttributeValues: {
        ':active': 'ACTIVE',
        ':at': at,
        ...Object.fromEntries(entries.map(([f, v]) => [`:${f}`, v])),
      },
    }),
  );
};

export const listClusters = async (db: Db, limit: number, nextToken?: string): Promise<Page> =>
  queryPage(db, {
    index: 'gsi1',
    partition: keys.cluster('').gsi1pk,
    limit,
    nextToken,
    filter: {
      expression: '#status = :active',
      names: { '#status': 'status' },
      values: { ':active': 'ACTIVE' },
    },
  });
