import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyOfTaskRef, keys, padRevision, taskRef } from '../../core/db/keys.ts';
import { decodeToken, encodeToken } from '../../core/db/query.ts';
import { namePattern } from '../../core/model/arn.ts';

const name = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);

describe('keys', () => {
  it('puts a container instance in its cluster partition', () => {
    expect(keys.containerInstance('edge', 'abc')).toEqual({ pk: 'CLUSTER#edge', sk: 'INSTANCE#abc' });
    expect(keys.containerInstancesOf('edge')).toEqual({ pk: 'CLUSTER#edge', skPrefix: 'INSTANCE#' });
  });

  it("names a task's table key by its ref, for service tasks and standalone ones alike", () => {
    fc.assert(
      fc.property(name, name, fc.option(name, { nil: undefined }), (cluster, id, service) => {
        const { pk, sk } = keys.task(cluster, id, 'i-1', service);
        expect(keyOfTaskRef(taskRef(cluster, id, service))).toEqual({ pk, sk });
      }),
    );
  });

  it('orders revisions numerically through zero padding', () => {
    const sortKeys = [2, 10, 1, 100].map((revision) => keys.taskDefinition('web', revision).sk).sort();
    expect(sortKeys).toEqual(['REV#0000000001', 'REV#0000000002', 'REV#0000000010', 'REV#0000000100']);
    expect(padRevision(7)).toBe('0000000007');
  });

  it('never gives two different entities the same key', () => {
    fc.assert(
      fc.property(name, name, name, name, (clusterA, idA, clusterB, idB) => {
        const a = keys.containerInstance(clusterA, idA);
        const b = keys.containerInstance(clusterB, idB);
        const same = a.pk === b.pk && a.sk === b.sk;
        expect(same).toBe(clusterA === clusterB && idA === idB);
        // A cluster's own item can never collide with an instance in it.
        expect(keys.cluster(clusterA).sk).not.toBe(a.sk);
      }),
    );
  });

  it('keeps families with a shared prefix apart', () => {
    fc.assert(
      fc.property(name, name, fc.integer({ min: 1, max: 1e6 }), (familyA, familyB, revision) => {
        fc.pre(familyA !== familyB);
        expect(keys.taskDefinition(familyA, revision).pk).not.toBe(keys.taskDefinition(familyB, revision).pk);
        expect(keys.taskDefinition(familyA, revision).gsi1sk).not.toBe(
          keys.taskDefinition(familyB, revision).gsi1sk,
        );
      }),
    );
  });

  it('builds keys only from names that cannot contain the separator', () => {
    expect(namePattern.test('a#b')).toBe(false);
    expect(namePattern.test('web_1-prod')).toBe(true);
  });
});

describe('page tokens', () => {
  it('round-trip the key they encode', () => {
    const key = { pk: 'CLUSTER#edge', sk: 'INSTANCE#1' };
    expect(decodeToken(encodeToken(key), { partition: 'CLUSTER#edge' })).toEqual(key);
  });

  it('refuse a token that resumes another partition', () => {
    const token = encodeToken({ pk: 'CLUSTER#other', sk: 'INSTANCE#1' });
    expect(() => decodeToken(token, { partition: 'CLUSTER#edge' })).toThrow(/Invalid nextToken/);
  });

  it('refuse a token with other attributes than the index keys, or keys DynamoDB would not take', () => {
    const forged = [
      { pk: 'CLUSTER#edge' },
      { pk: 'CLUSTER#edge', sk: '' },
      { pk: 'CLUSTER#edge', sk: 'INSTANCE#1', extra: 'x' },
      { pk: 'CLUSTER#edge', sk: 'x'.repeat(1025) },
      { pk: 'CLUSTER#edge', sk: 'INSTANCE#\ud800' },
      { pk: 'CLUSTER#edge', sk: 7 },
    ];
    for (const key of forged) {
      expect(() => decodeToken(encodeToken(key), { partition: 'CLUSTER#edge' })).toThrow(/Invalid nextToken/);
    }
    const onIndex = { pk: 'TASKDEF#web', sk: 'REV#1', gsi1pk: 'TASKDEFS', gsi1sk: 'web#1' };
    expect(decodeToken(encodeToken(onIndex), { index: 'gsi1', partition: 'TASKDEFS' })).toEqual(onIndex);
    expect(() => decodeToken(encodeToken(onIndex), { partition: 'TASKDEF#web' })).toThrow(
      /Invalid nextToken/,
    );
  });

  it('refuse a token outside the sort-key prefix of the query', () => {
    const token = encodeToken({ pk: 'TASKDEF#web', sk: 'FAMILY' });
    expect(() => decodeToken(token, { partition: 'TASKDEF#web', skPrefix: 'REV#' })).toThrow(
      /Invalid nextToken/,
    );
    expect(
      decodeToken(encodeToken({ pk: 'TASKDEF#web', sk: 'REV#3' }), {
        partition: 'TASKDEF#web',
        skPrefix: 'REV#',
      }),
    ).toEqual({
      pk: 'TASKDEF#web',
      sk: 'REV#3',
    });
  });

  it('refuse garbage with InvalidParameterException', () => {
    fc.assert(
      fc.property(fc.string(), (garbage) => {
        try {
          decodeToken(garbage, { partition: 'CLUSTERS' });
          return false;
        } catch (error) {
          return (error as { code?: string }).code === 'InvalidParameterException';
        }
      }),
    );
  });
});
