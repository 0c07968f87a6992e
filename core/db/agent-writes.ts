import { PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TaskRecord } from '../model/task.ts';
import type { Db } from './client.ts';
import {
  cancellationCodes,
  isConditionFailed,
  isTransactionCanceled,
  retryOnConflict,
} from './conditions.ts';
import { keys, taskRef } from './keys.ts';
import { taskKey } from './tasks.ts';

/** The task fields an agent report may change. */
export type ReportChanges = Partial<
  Pick<
    TaskRecord,
    | 'lastStatus'
    | 'desiredStatus'
    | 'healthStatus'
    | 'stopCode'
    | 'stoppedReason'
    | 'containers'
    | 'pullStartedAt'
    | 'pullStoppedAt'
    | 'startedAt'
    | 'healthyAt'
    | 'stoppedAt'
    | 'executionStoppedAt'
  >
> & { ttl?: number };

/**
 * Applies one agent report to its task, once: the write is conditioned on the report's seq being
 * newer than the last applied, so a replayed or reordered report changes nothing. A report that
 * stops the task gives its reservation back to the instance in the same transaction.
 */
export const applyReport = async (
  db: Db,
  task: TaskRecord,
  seq: number,
  changes: ReportChanges,
  at: string,
  release: boolean,
): Promise<'applied' | 'stale'> => {
  const entries = Object.entries(changes).filter(([, value]) => value !== undefined);
  const names: Record<string, string> = { '#version': 'version' };
  const values: Record<string, unknown> = { ':seq': seq, ':at': at, ':one': 1 };
  const sets = ['reportSeq = :seq', 'updatedAt = :at', '#version = #version + :one'];
  entries.forEach(([field, value], i) => {
    const name = `#c${i}`;
    names[name] = field;
    values[`:c${i}`] = value;
    sets.push(`${name} = :c${i}`);
  });
  const taskUpdate = {
    TableName: db.table,
    Key: taskKey(task),
    UpdateExpression: `SET ${sets.join(', ')}${release ? ', released = :true' : ''}`,
    ConditionExpression: release ? 'reportSeq < :seq AND released = :false' : 'reportSeq < :seq',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: release ? { ...values, ':true': true, ':false': false } : values,
  };
  try {
    if (!release) {
      await db.doc.send(new UpdateCommand(taskUpdate));
      return 'applied';
    }
    const { reservation } = task;
    const instanceNames: Record<string, string> = {
      '#remaining': 'remaining',
      '#groups': 'groups',
      '#g': task.group,
    };
    const instanceValues: Record<string, unknown> = {
      ':cpu': reservation.cpu,
      ':memory': reservation.memory,
      ':one': 1,
      ':at': at,
    };
    const deletes: string[] = ['liveTaskRefs :ref'];
    instanceValues[':ref'] = new Set([taskRef(task.cluster, task.id, task.serviceName)]);
    if (reservation.ports.length) {
      instanceValues[':ports'] = new Set(reservation.ports);
      deletes.push('usedPorts :ports');
    }
    if (reservation.portsUdp.length) {
      instanceValues[':portsUdp'] = new Set(reservation.portsUdp);
      deletes.push('usedPortsUdp :portsUdp');
    }
    await retryOnConflict(() =>
      db.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Update: taskUpdate },
            {
              Update: {
                TableName: db.table,
                Key: keys.containerInstance(task.cluster, task.instanceId),
                UpdateExpression: `SET #remaining.cpu = #remaining.cpu + :cpu, #remaining.memory = #remaining.memory + :memory, liveTasksCount = liveTasksCount - :one, #groups.#g = #groups.#g - :one, updatedAt = :at DELETE ${deletes.join(', ')}`,
                ExpressionAttributeNames: instanceNames,
                ExpressionAttributeValues: instanceValues,
              },
            },
          ],
        }),
      ),
    );
    return 'applied';
  } catch (error) {
    if (isConditionFailed(error)) return 'stale';
    if (isTransactionCanceled(error) && cancellationCodes(error)[0] === 'ConditionalCheckFailed')
      return 'stale';
    throw error;
  }
};

/** Records the agent's sync: a tiny item, so the heartbeat costs one write unit. */
export const recordHeartbeat = async (
  db: Db,
  cluster: string,
  instanceId: string,
  at: string,
): Promise<void> => {
  await db.doc.send(
    new PutCommand({
      TableName: db.table,
      Item: { ...keys.heartbeat(cluster, instanceId), type: 'heartbeat', instanceId, lastSeenAt: at },
    }),
  );
};

/** Connected again (or disconnected): a change the reconciler acts on through the stream. */
export const setAgentConnected = async (
  db: Db,
  cluster: string,
  instanceId: string,
  connected: boolean,
  at: string,
): Promise<boolean> => {
  try {
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: keys.containerInstance(cluster, instanceId),
        UpdateExpression: connected
          ? 'SET agentConnected = :connected, updatedAt = :at REMOVE disconnectedAt'
          : 'SET agentConnected = :connected, updatedAt = :at, disconnectedAt = :at',
        ConditionExpression: 'attribute_exists(pk) AND agentConnected <> :connected',
        ExpressionAttributeValues: { ':connected': connected, ':at': at },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
};
