import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { instanceLimits } from '../model/container-instance.ts';
import type { ServiceEvent } from '../model/service.ts';
import { type Reservation, type StopCode, stoppedTaskTtl, type TaskRecord } from '../model/task.ts';
import type { Db } from './client.ts';
import {
  cancellationCodes,
  isTransactionCanceled,
  isTransactionConflict,
  itemTooLargeIndexes,
} from './conditions.ts';
import { keys, taskRef } from './keys.ts';
import { taskKey } from './tasks.ts';

type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

/** DynamoDB's limit on items in one transaction. */
export const maxTransactionItems = 100;
/** Zero counters one claim removes at most (each adds a name and a condition; expressions are ≤ 4 KB). */
export const maxZeroGroupsPerWrite = 40;

/** The group counters of an instance that are at 0 (or below): what a claim may remove. */
export const zeroGroupsOf = (groups: Readonly<Record<string, number>> | undefined): string[] =>
  Object.entries(groups ?? {})
    .filter(([, count]) => count <= 0)
    .map(([group]) => group)
    .slice(0, maxZeroGroupsPerWrite);

export type InstanceDelta = {
  cluster: string;
  instanceId: string;
  /** Resources taken (positive) by new tasks on the instance. */
  claim: Reservation & { groups: Record<string, number>; count: number };
};

export type UnitWrite = {
  /** Optimistic lock on the service: the write applies only if nobody changed it since it was read. */
  service?: { cluster: string; name: string; version: number; set: Record<string, unknown>; ttl?: number };
  newTasks: TaskRecord[];
  /** Set desiredStatus STOPPED on tasks that are still desired RUNNING. */
  stops: { task: TaskRecord; reason: string; stopCode: StopCode }[];
  /** Tasks whose instance is gone for good: STOPPED without waiting for an agent. */
  finalizes: { task: TaskRecord; reason: string }[];
  events: { cluster: string; service: string; event: ServiceEvent }[];
  /**
   * Group counters at 0 seen on instances this write places on (left by releases before zero
   * counters were removed), removed with the claim while still 0: such an item shrinks as it is used.
   */
  zeroGroups?: Record<string, string[]>;
  /** An item that must not exist yet (RunTask's clientToken record), written with the rest. */
  guardItem?: Record<string, unknown> & { pk: string; sk: string };
  at: string;
};

export const emptyWrite = (at: string): UnitWrite => ({
  newTasks: [],
  stops: [],
  finalizes: [],
  events: [],
  at,
});

export const writeSize = (write: UnitWrite): number => {
  const instances = new Set([...write.newTasks, ...write.stops.map((s) => s.task)].map((t) => t.instanceId));
  return (
    (write.service ? 1 : 0) +
    write.newTasks.length +
    write.stops.length +
    write.finalizes.length +
    write.events.length +
    instances.size
  );
};

const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);

/** Claims (new tasks) and assignment bumps (stops), merged so each instance is one item. */
const instanceUpdates = (write: UnitWrite, db: Db): TransactItem[] => {
  const byInstance = new Map<string, { cluster: string; tasks: TaskRecord[]; bump: boolean }>();
  for (const task of write.newTasks) {
    const entry = byInstance.get(task.instanceId) ?? { cluster: task.cluster, tasks: [], bump: true };
    entry.tasks.push(task);
    byInstance.set(task.instanceId, entry);
  }
  for (const { task } of write.stops) {
    const entry = byInstance.get(task.instanceId) ?? { cluster: task.cluster, tasks: [], bump: true };
    byInstance.set(task.instanceId, entry);
  }
  return [...byInstance.entries()].map(([instanceId, { cluster, tasks }]) => {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':one': 1, ':at': write.at };
    const sets = ['assignmentVersion = assignmentVersion + :one', 'updatedAt = :at'];
    const adds: string[] = [];
    const removes: string[] = [];
    const conditions = ['attribute_exists(pk)'];
    if (tasks.length > 0) {
      Object.assign(names, { '#status': 'status', '#remaining': 'remaining', '#groups': 'groups' });
      const ports = tasks.flatMap((t) => t.reservation.ports);
      const portsUdp = tasks.flatMap((t) => t.reservation.portsUdp);
      Object.assign(values, {
        ':cpu': sum(tasks.map((t) => t.reservation.cpu)),
        ':memory': sum(tasks.map((t) => t.reservation.memory)),
        ':count': tasks.length,
        ':active': 'ACTIVE',
        ':true': true,
        ':zero': 0,
      });
      sets.push(
        '#remaining.cpu = #remaining.cpu - :cpu',
        '#remaining.memory = #remaining.memory - :memory',
        'liveTasksCount = liveTasksCount + :count',
      );
      // Capacity is a condition of the write itself: whatever runs concurrently, it never goes negative,
      // and the instance never holds more than instanceLimits (its item's size is bounded by them).
      values[':taskRoom'] = instanceLimits.tasks - tasks.length;
      conditions.push(
        '#remaining.cpu >= :cpu',
        '#remaining.memory >= :memory',
        '#status = :active',
        'agentConnected = :true',
        'liveTasksCount <= :taskRoom',
      );
      values[':refs'] = new Set(tasks.map((t) => taskRef(t.cluster, t.id, t.serviceName)));
      adds.push('liveTaskRefs :refs');
      const groups = new Map<string, number>();
      for (const task of tasks) groups.set(task.group, (groups.get(task.group) ?? 0) + 1);
      [...groups.entries()].forEach(([group, count], i) => {
        names[`#g${i}`] = group;
        values[`:g${i}`] = count;
        sets.push(`#groups.#g${i} = if_not_exists(#groups.#g${i}, :zero) + :g${i}`);
      });
      const zeros = (write.zeroGroups?.[instanceId] ?? [])
        .filter((group) => !groups.has(group))
        .slice(0, maxZeroGroupsPerWrite);
      zeros.forEach((group, i) => {
        names[`#z${i}`] = group;
        removes.push(`#groups.#z${i}`);
        conditions.push(`#groups.#z${i} <= :zero`);
      });
      if (ports.length) {
        values[':ports'] = new Set(ports);
        values[':portRoom'] = instanceLimits.hostPorts - ports.length;
        conditions.push('(attribute_not_exists(usedPorts) OR size(usedPorts) <= :portRoom)');
        adds.push('usedPorts :ports');
        ports.forEach((port, i) => {
          values[`:p${i}`] = port;
          conditions.push(`NOT contains(usedPorts, :p${i})`);
        });
      }
      if (portsUdp.length) {
        values[':portsUdp'] = new Set(portsUdp);
        values[':portUdpRoom'] = instanceLimits.hostPorts - portsUdp.length;
        conditions.push('(attribute_not_exists(usedPortsUdp) OR size(usedPortsUdp) <= :portUdpRoom)');
        adds.push('usedPortsUdp :portsUdp');
        portsUdp.forEach((port, i) => {
          values[`:u${i}`] = port;
          conditions.push(`NOT contains(usedPortsUdp, :u${i})`);
        });
      }
    }
    return {
      Update: {
        TableName: db.table,
        Key: keys.containerInstance(cluster, instanceId),
        UpdateExpression: `SET ${sets.join(', ')}${adds.length ? ` ADD ${adds.join(', ')}` : ''}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
        ExpressionAttributeValues: values,
      },
    } satisfies TransactItem;
  });
};

/** The transaction items of a unit write, in a fixed order (service first, then tasks, instances, events). */
export const unitWriteItems = (db: Db, write: UnitWrite): TransactItem[] => {
  const items: TransactItem[] = [];
  if (write.service) {
    const { cluster, name, version, set } = write.service;
    const entries = Object.entries(set);
    const names = Object.fromEntries(entries.map(([field], i) => [`#f${i}`, field]));
    const values = Object.fromEntries(
      entries.flatMap(([, value], i) => (value === undefined ? [] : [[`:f${i}`, value]])),
    );
    const sets = entries.flatMap(([, value], i) => (value === undefined ? [] : [`#f${i} = :f${i}`]));
    // A field set to undefined is removed from the item.
    const removes = entries.flatMap(([, value], i) => (value === undefined ? [`#f${i}`] : []));
    const { pk, sk } = keys.service(cluster, name);
    items.push({
      Update: {
        TableName: db.table,
        Key: { pk, sk },
        UpdateExpression: `SET ${[...sets, '#version = :next', 'updatedAt = :at'].join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
        ConditionExpression: '#version = :version',
        ExpressionAttributeNames: { ...names, '#version': 'version' },
        ExpressionAttributeValues: { ...values, ':version': version, ':next': version + 1, ':at': write.at },
      },
    });
  }
  for (const task of write.newTasks) {
    items.push({
      Put: {
        TableName: db.table,
        Item: { ...keys.task(task.cluster, task.id, task.instanceId, task.serviceName), ...task },
        // Task ids are deterministic: a second reconciler making the same decision collides here.
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
  }
  for (const { task, reason, stopCode } of write.stops) {
    items.push({
      Update: {
        TableName: db.table,
        Key: taskKey(task),
        UpdateExpression:
          'SET desiredStatus = :stopped, stopCode = if_not_exists(stopCode, :code), stoppedReason = if_not_exists(stoppedReason, :reason), stoppingAt = :at, updatedAt = :at, #version = #version + :one',
        ConditionExpression: 'desiredStatus = :running',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: {
          ':stopped': 'STOPPED',
          ':running': 'RUNNING',
          ':code': stopCode,
          ':reason': reason,
          ':at': write.at,
          ':one': 1,
        },
      },
    });
  }
  for (const { task, reason } of write.finalizes) {
    items.push({
      Update: {
        TableName: db.table,
        Key: taskKey(task),
        UpdateExpression:
          'SET desiredStatus = :stopped, lastStatus = :stopped, stoppedReason = if_not_exists(stoppedReason, :reason), stopCode = if_not_exists(stopCode, :code), stoppedAt = :at, executionStoppedAt = :at, released = :true, updatedAt = :at, #ttl = :ttl, #version = #version + :one',
        ConditionExpression: 'lastStatus <> :stopped',
        ExpressionAttributeNames: { '#version': 'version', '#ttl': 'ttl' },
        ExpressionAttributeValues: {
          ':stopped': 'STOPPED',
          ':reason': reason,
          ':code': 'TaskFailedToStart',
          ':at': write.at,
          ':true': true,
          ':one': 1,
          ':ttl': stoppedTaskTtl(write.at),
        },
      },
    });
  }
  items.push(...instanceUpdates(write, db));
  if (write.guardItem) {
    items.push({
      Put: { TableName: db.table, Item: write.guardItem, ConditionExpression: 'attribute_not_exists(pk)' },
    });
  }
  for (const { cluster, service, event } of write.events) {
    items.push({
      Put: {
        TableName: db.table,
        Item: {
          ...keys.serviceEvent(cluster, service, event.createdAt, event.id),
          type: 'serviceEvent',
          ...event,
          ttl: Math.floor(Date.parse(event.createdAt) / 1000) + eventRetentionSeconds,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
  }
  return items;
};

/** Events older than a week are dropped (ECS keeps the newest 100; DescribeServices reads those). */
const eventRetentionSeconds = 7 * 24 * 3600;

export type WriteOutcome =
  | { ok: true }
  | { ok: false; reason: 'conflict' }
  /** Instances whose items DynamoDB refused to grow past its item size: they can take no task now. */
  | { ok: false; reason: 'instance-full'; instanceIds: string[] };

/**
 * Writes a unit's decisions in one transaction. `conflict` means a condition no longer held
 * (the service changed, an instance filled up, a task moved on): re-read and decide again.
 * `instance-full`: an instance's item would pass DynamoDB's item size (only an item from before
 * instanceLimits can be that big): place elsewhere, or report the placement as failed.
 */
export const writeUnit = async (db: Db, write: UnitWrite): Promise<WriteOutcome> => {
  const items = unitWriteItems(db, write);
  if (items.length === 0) return { ok: true };
  try {
    await db.doc.send(new TransactWriteCommand({ TransactItems: items, ReturnConsumedCapacity: 'TOTAL' }));
    return { ok: true };
  } catch (error) {
    if (isTransactionConflict(error)) return { ok: false, reason: 'conflict' };
    if (isTransactionCanceled(error) && cancellationCodes(error).includes('ConditionalCheckFailed')) {
      return { ok: false, reason: 'conflict' };
    }
    const tooLarge = itemTooLargeIndexes(error).map((index) => items[index]?.Update?.Key?.sk);
    const instanceIds = tooLarge.flatMap((sk) =>
      typeof sk === 'string' && sk.startsWith('INSTANCE#') ? [sk.slice('INSTANCE#'.length)] : [],
    );
    if (instanceIds.length > 0 && instanceIds.length === tooLarge.length) {
      return { ok: false, reason: 'instance-full', instanceIds };
    }
    throw error;
  }
};
