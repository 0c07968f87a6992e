import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keys, unitOfKey } from '../../core/db/keys.ts';
import {
  matchesPattern,
  matchesStreamFilters,
  maxFilterPatterns,
  reconcilerStreamFilters,
} from '../../core/reconcile/run/stream-filters.ts';
import { streamSettings } from '../../core/reconcile/run/stream-settings.ts';

/** A stream record as Lambda filters it (only the `dynamodb` key is filterable). */
const recordOf = (pk: string, sk: string) => ({
  eventName: 'MODIFY',
  dynamodb: { Keys: { pk: { S: pk }, sk: { S: sk } }, NewImage: { pk: { S: pk }, sk: { S: sk } } },
});

/** DynamoDB streams keep records for 24 hours. */
const streamRetentionSeconds = 24 * 3600;

describe('reconciler event source mapping settings', () => {
  it('are values Lambda accepts for a DynamoDB stream', () => {
    // Ranges from Lambda's CreateEventSourceMapping for DynamoDB Streams.
    expect(streamSettings.batchSize).toBeGreaterThanOrEqual(1);
    expect(streamSettings.batchSize).toBeLessThanOrEqual(10_000);
    expect(streamSettings.maximumBatchingWindowInSeconds).toBeGreaterThanOrEqual(0);
    expect(streamSettings.maximumBatchingWindowInSeconds).toBeLessThanOrEqual(300);
    expect(streamSettings.maximumRetryAttempts).toBeGreaterThanOrEqual(0);
    expect(streamSettings.maximumRetryAttempts).toBeLessThanOrEqual(10_000);
    expect(streamSettings.maximumRecordAgeInSeconds).toBeGreaterThanOrEqual(60);
    expect(streamSettings.maximumRecordAgeInSeconds).toBeLessThanOrEqual(604_800);
    expect(streamSettings.parallelizationFactor).toBeGreaterThanOrEqual(1);
    expect(streamSettings.parallelizationFactor).toBeLessThanOrEqual(10);
  });

  it('bound retries, so a poison batch cannot block its shard until the records expire', () => {
    expect(streamSettings.maximumRetryAttempts).not.toBe(-1);
    expect(streamSettings.maximumRecordAgeInSeconds).not.toBe(-1);
    expect(streamSettings.maximumRecordAgeInSeconds).toBeLessThanOrEqual(streamRetentionSeconds);
  });

  it('report failures per record and bisect a failing batch', () => {
    expect(streamSettings.functionResponseTypes).toContain('ReportBatchItemFailures');
    expect(streamSettings.bisectBatchOnFunctionError).toBe(true);
  });

  it('start from the oldest record, so changes made before the mapping existed are not lost', () => {
    expect(streamSettings.startingPosition).toBe('TRIM_HORIZON');
  });

  it('keep one batch per shard in flight, which is all the local poller can do', () => {
    expect(streamSettings.parallelizationFactor).toBe(1);
  });
});

describe('reconciler stream filters', () => {
  it('fit within the patterns Lambda allows, each under its 4 KB pattern limit', () => {
    expect(reconcilerStreamFilters.length).toBeLessThanOrEqual(maxFilterPatterns);
    for (const pattern of reconcilerStreamFilters) expect(JSON.stringify(pattern).length).toBeLessThan(4096);
  });

  it('let through exactly the records whose keys name a reconcile unit, for every item the table holds', () => {
    // Prepare: every key builder, with arguments shaped like the real ones.
    const built: { name: string; pk: string; sk: string }[] = [];
    for (const [name, build] of Object.entries(keys)) {
      for (const args of [
        ['edge', 'b5b0c3a1d2e44f6a9c8b7a6d5e4f3a2b', 'f00dfeedf00dfeedf00dfeedf00dfeed', 'web'],
        ['edge', 'b5b0c3a1d2e44f6a9c8b7a6d5e4f3a2b', 'f00dfeedf00dfeedf00dfeedf00dfeed'],
        ['web', 3],
        ['edge', 'web', '2026-11-25T10:00:00.000Z', 'e1'],
      ]) {
        const key = (build as (...a: unknown[]) => unknown)(...args);
        if (key && typeof key === 'object' && 'pk' in key && 'sk' in key) {
          built.push({ name, pk: String(key.pk), sk: String(key.sk) });
        }
      }
    }
    expect(new Set(built.map((key) => key.name))).toEqual(
      new Set([
        'cluster',
        'containerInstance',
        'agentToken',
        'taskDefinitionFamily',
        'taskDefinition',
        'activation',
        'accessKey',
        'heartbeat',
        'service',
        'serviceEvent',
        'task',
        'runTaskToken',
        'registrationFailures',
        'commitBarrier',
        'parameter',
        'parameterVersion',
      ]),
    );
    for (const { name, pk, sk } of built) {
      // Act
      const passes = matchesStreamFilters(recordOf(pk, sk));
      // Assess
      expect({ name, pk, sk, passes }).toEqual({ name, pk, sk, passes: unitOfKey(pk, sk).kind !== 'none' });
    }
  });

  it('keep heartbeats and service events away from the reconciler', () => {
    expect(matchesStreamFilters(recordOf('CLUSTER#edge', 'HEARTBEAT#abc'))).toBe(false);
    expect(matchesStreamFilters(recordOf('SERVICE#edge#web', 'EVENT#2026-11-25T10:00:00.000Z#e1'))).toBe(
      false,
    );
    expect(matchesStreamFilters(recordOf('SERVICE#edge#web', 'SERVICE'))).toBe(true);
    expect(matchesStreamFilters(recordOf('CLUSTER#edge', 'INSTANCE#abc'))).toBe(true);
  });

  it('never invoke the reconciler for a key that names no unit', () => {
    const part = fc.constantFrom(
      'CLUSTER#',
      'SERVICE#',
      'TASK#',
      'INSTANCE#',
      'HEARTBEAT#',
      'EVENT#',
      'RUNTASK#',
      'SERVICE',
      'CLUSTER',
      'TOKEN',
      '',
    );
    const tail = fc.stringMatching(/^[A-Za-z0-9#_-]{0,12}$/);
    fc.assert(
      fc.property(part, tail, part, tail, (pkPrefix, pkTail, skPrefix, skTail) => {
        const pk = pkPrefix + pkTail;
        const sk = skPrefix + skTail;
        if (matchesStreamFilters(recordOf(pk, sk))) expect(unitOfKey(pk, sk).kind).not.toBe('none');
      }),
    );
  });

  it('evaluate a pattern as Lambda does: every named field, any of its rules', () => {
    const pattern = { a: { b: ['x', { prefix: 'y' }] }, c: ['z'] };
    expect(matchesPattern(pattern, { a: { b: 'yes' }, c: 'z' })).toBe(true);
    expect(matchesPattern(pattern, { a: { b: 'x' }, c: 'z', extra: 1 })).toBe(true);
    expect(matchesPattern(pattern, { a: { b: 'no' }, c: 'z' })).toBe(false);
    expect(matchesPattern(pattern, { a: { b: 'x' } })).toBe(false);
    expect(matchesPattern(pattern, { c: 'z' })).toBe(false);
  });

  it('refuses a rule it cannot evaluate rather than guessing', () => {
    expect(() => matchesPattern({ a: [{ suffix: 'x' } as never] }, { a: 'x' })).toThrow(
      /Unsupported filter rule/,
    );
  });
});
