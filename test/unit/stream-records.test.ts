import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { keys } from '../../core/db/keys.ts';
import { onlyClaimsCapacity } from '../../core/reconcile/run/stream-records.ts';

const instance = {
  ...keys.containerInstance('c1', 'i1'),
  type: 'containerInstance',
  id: 'i1',
  cluster: 'c1',
  status: 'ACTIVE',
  agentConnected: true,
  remaining: { cpu: 1024, memory: 2048 },
  usedPorts: new Set([22, 2375]),
  groups: {},
  tags: {},
  liveTasksCount: 0,
  attributes: { 'ecs.os-type': 'linux' },
  assignmentVersion: 3,
  updatedAt: '2026-11-25T10:00:00.000Z',
  version: 2,
};

type Item = Record<string, unknown>;

const record = (before: Item | undefined, after: Item | undefined, eventName = 'MODIFY'): DynamoDBRecord =>
  ({
    eventName,
    dynamodb: {
      Keys: marshall({ pk: (after ?? before)?.pk, sk: (after ?? before)?.sk }),
      ...(before ? { OldImage: marshall(before, { convertClassInstanceToMap: true }) } : {}),
      ...(after ? { NewImage: marshall(after, { convertClassInstanceToMap: true }) } : {}),
    },
  }) as unknown as DynamoDBRecord;

/** What the reconciler's placement transaction does to an instance. */
const claimed: Item = {
  ...instance,
  remaining: { cpu: 1016, memory: 2032 },
  usedPorts: new Set([22, 2375, 8080]),
  groups: { 'service:web': 1 },
  liveTasksCount: 1,
  assignmentVersion: 4,
  updatedAt: '2026-11-25T10:00:01.000Z',
};

describe('onlyClaimsCapacity', () => {
  it('recognises a placement: capacity and ports taken, a group grown, the assignment version bumped', () => {
    expect(onlyClaimsCapacity(record(instance, claimed))).toBe(true);
  });

  it('recognises a stop request: only the assignment version moved', () => {
    expect(onlyClaimsCapacity(record(instance, { ...instance, assignmentVersion: 4 }))).toBe(true);
  });

  it('takes capacity given back as a change that matters', () => {
    expect(onlyClaimsCapacity(record(claimed, instance))).toBe(false);
    expect(onlyClaimsCapacity(record(claimed, { ...claimed, remaining: { cpu: 1024, memory: 2032 } }))).toBe(
      false,
    );
    expect(onlyClaimsCapacity(record(claimed, { ...claimed, usedPorts: new Set([22, 2375]) }))).toBe(false);
    expect(onlyClaimsCapacity(record(claimed, { ...claimed, groups: { 'service:web': 0 } }))).toBe(false);
  });

  it('takes status, connection and attribute changes as changes that matter', () => {
    expect(onlyClaimsCapacity(record(instance, { ...instance, status: 'DRAINING' }))).toBe(false);
    expect(onlyClaimsCapacity(record(instance, { ...instance, agentConnected: false }))).toBe(false);
    expect(onlyClaimsCapacity(record(instance, { ...instance, attributes: { zone: 'a' } }))).toBe(false);
    expect(onlyClaimsCapacity(record(instance, { ...instance, version: 3 }))).toBe(false);
  });

  it('takes inserts, removals and records of other items as changes that matter', () => {
    expect(onlyClaimsCapacity(record(undefined, instance, 'INSERT'))).toBe(false);
    expect(onlyClaimsCapacity(record(instance, undefined, 'REMOVE'))).toBe(false);
    const service = { ...keys.service('c1', 'web'), version: 1 };
    expect(onlyClaimsCapacity(record(service, { ...service, version: 2 }))).toBe(false);
  });

  it('takes an image it cannot read as a change that matters', () => {
    const broken = record(instance, claimed);
    (broken.dynamodb as { NewImage: unknown }).NewImage = { groups: {} };
    expect(onlyClaimsCapacity(broken)).toBe(false);
  });
});
