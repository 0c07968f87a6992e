import { PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TaskRecord } from '../model/task.ts';
import type { ReportChanges } from '../model/task-report.ts';
import type { Db } from './client.ts';
import {
  cancellationCodes,
  isConditionFailed,
  isTransactionCanceled,
  retryOnConflict,
} from './conditions.ts';
import { keys, taskRef } from './keys.ts';
import { taskKey } from './tasks.ts';

/** Times a release may find its group counter moved by concurrent placements and releases. */
const maxGroupFlips = 10;

/**
 * Applies one agent report to its task, once: the write is conditioned on the report's seq being
 * newer than the last applied, so a replayed or reordered report changes nothing. A report that
 * stops the task gives its reservation back to the instance in the same transaction, and removes
 * the task's group counter from the instance when it was the group's last task there.
 */
export const applyReport = async (
  db: Db,
  task: TaskRecord,
  seq: number,
  changes: ReportChanges,
  at: string,
  release: boolean,
  /** The task's group counter on its instance as the caller read it (a hint: conditions decide). */
  knownGroupCount?: number,
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
    // The task's group counter goes with its last task: a counter left at 0 would stay in the item
    // for good (one per distinct RunTask group). An update cannot remove conditionally, so each
    // attempt takes one side — decrement while above 1, remove at 1 (or when missing) — under that
    // condition, starting from the count the caller read; a refused side means the other holds now.
    let removeGroup = (knownGroupCount ?? 2) <= 1;
    for (let flips = 0; ; flips++) {
      const groupPart = removeGroup ? '' : ', #groups.#g = #groups.#g - :one';
      const instanceUpdate = {
        TableName: db.table,
        Key: keys.containerInstance(task.cluster, task.instanceId),
        UpdateExpression: `SET #remaining.cpu = #remaining.cpu + :cpu, #remaining.memory = #remaining.memory + :memory, liveTasksCount = liveTasksCount - :one${groupPart}, updatedAt = :at${removeGroup ? ' REMOVE #groups.#g' : ''} DELETE ${deletes.join(', ')}`,
        ConditionExpression: removeGroup
          ? 'attribute_not_exists(#groups.#g) OR #groups.#g <= :one'
          : '#groups.#g > :one',
        ExpressionAttributeNames: instanceNames,
        ExpressionAttributeValues: instanceValues,
      };
      try {
        await retryOnConflict(() =>
          db.doc.send(
            new TransactWriteCommand({
              TransactItems: [{ Update: taskUpdate }, { Update: instanceUpdate }],
            }),
          ),
        );
        break;
      } catch (error) {
        const codes = isTransactionCanceled(error) ? cancellationCodes(error) : [];
        const groupMoved = codes[0] !== 'ConditionalCheckFailed' && codes[1] === 'ConditionalCheckFailed';
        if (!groupMoved || flips >= maxGroupFlips) throw error;
        removeGroup = !removeGroup;
      }
    }
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
