import { BatchGetCommand, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { TaskRecord } from '../model/task.ts';
import type { Db } from './client.ts';
import { stripKeys } from './items.ts';
import { keyOfTaskRef, keys } from './keys.ts';
import { queryAllItems } from './query.ts';

/** Any task of a cluster by id (gsi1), re-read from the table so the answer is consistent. */
export const getTask = async (db: Db, cluster: string, id: string): Promise<TaskRecord | undefined> => {
  const output = await db.doc.send(
    new QueryCommand({
      TableName: db.table,
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk AND gsi1sk = :id',
      ExpressionAttributeValues: { ':pk': keys.tasksOfCluster(cluster).gsi1pk, ':id': id },
    }),
  );
  const found = output.Items?.[0];
  if (!found) return undefined;
  const fresh = await db.doc.send(
    new GetCommand({ TableName: db.table, Key: { pk: found.pk, sk: found.sk }, ConsistentRead: true }),
  );
  return fresh.Item ? stripKeys<TaskRecord>(fresh.Item) : undefined;
};

/** Every task of a cluster still kept (stopped tasks expire an hour after they stop). */
export const tasksOfCluster = async (db: Db, cluster: string): Promise<TaskRecord[]> =>
  (
    await queryAllItems(db, {
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.tasksOfCluster(cluster).gsi1pk },
    })
  ).map((item) => stripKeys<TaskRecord>(item));

/** The tasks assigned to an instance (gsi2): what its agent must run or has run. */
export const tasksOfInstance = async (db: Db, instanceId: string): Promise<TaskRecord[]> =>
  (
    await queryAllItems(db, {
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.tasksOfInstance(instanceId).gsi2pk },
    })
  ).map((item) => stripKeys<TaskRecord>(item));

/** BatchGetItem's limit on keys per call. */
const maxBatchGetKeys = 100;
const maxBatchGetRounds = 8;

/**
 * Tasks by their refs (taskRef), read consistently: what an instance says it holds, as it is
 * now, with no index in between that may not have caught up yet.
 */
export const tasksByRefs = async (db: Db, refs: Iterable<string>): Promise<TaskRecord[]> => {
  const all = [...refs].map((ref) => keyOfTaskRef(ref));
  const tasks: TaskRecord[] = [];
  for (let start = 0; start < all.length; start += maxBatchGetKeys) {
    let pending: Record<string, unknown>[] = all.slice(start, start + maxBatchGetKeys);
    for (let round = 1; pending.length > 0; round++) {
      if (round > maxBatchGetRounds) throw new Error(`BatchGetItem left ${pending.length} task(s) unread`);
      const output = await db.doc.send(
        new BatchGetCommand({ RequestItems: { [db.table]: { Keys: pending, ConsistentRead: true } } }),
      );
      tasks.push(...(output.Responses?.[db.table] ?? []).map((item) => stripKeys<TaskRecord>(item)));
      pending = output.UnprocessedKeys?.[db.table]?.Keys ?? [];
      // Unprocessed keys mean the table is busy: back off before asking again.
      if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** round));
    }
  }
  return tasks;
};

/** What ListTasks filters and sorts on. */
export type TaskSummary = Pick<
  TaskRecord,
  'id' | 'desiredStatus' | 'family' | 'serviceName' | 'startedBy' | 'createdAt'
>;

const summaryFields = ['id', 'desiredStatus', 'family', 'serviceName', 'startedBy', 'createdAt'] as const;
/** Only the summary's fields leave the table: a list of thousands of tasks reads little. */
const summaryProjection = {
  ProjectionExpression: summaryFields.map((_, i) => `#s${i}`).join(', '),
  ExpressionAttributeNames: Object.fromEntries(summaryFields.map((field, i) => [`#s${i}`, field])),
};

/**
 * The summaries of the tasks in a scope: a service's (its own partition), an instance's (gsi2) or a
 * whole cluster's (gsi1).
 */
export const taskSummaries = async (
  db: Db,
  scope: { cluster: string; serviceName?: string; instanceId?: string },
): Promise<TaskSummary[]> => {
  const query = scope.instanceId
    ? {
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.tasksOfInstance(scope.instanceId).gsi2pk },
      }
    : scope.serviceName
      ? {
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :task)',
          ExpressionAttributeValues: {
            ':pk': keys.serviceUnit(scope.cluster, scope.serviceName).pk,
            ':task': 'TASK#',
          },
        }
      : {
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.tasksOfCluster(scope.cluster).gsi1pk },
        };
  return (await queryAllItems(db, { ...query, ...summaryProjection })) as TaskSummary[];
};

/** The full key of a task item, for writes. */
export const taskKey = (task: Pick<TaskRecord, 'cluster' | 'id' | 'serviceName' | 'instanceId'>) => {
  const { pk, sk } = keys.task(task.cluster, task.id, task.instanceId, task.serviceName);
  return { pk, sk };
};
