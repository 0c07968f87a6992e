import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** `npm run chaos` runs these longer. */
const scale = Math.max(1, Number(process.env.BERTH_CHAOS_SCALE ?? 1) || 1);

import { keys, unitOfKey } from '../../core/db/keys.ts';
import { parseTaskDefinitionReference } from '../../core/ecs/task-definitions.ts';
import { clusterNameOf, namePattern, parseArn, scopedIdOf } from '../../core/model/arn.ts';

/**
 * Names reach keys: whatever a caller sends, no two entities may ever share a key (one would read
 * or overwrite the other), and no name a validator lets through can carry the `#` separator.
 * test/unit/keys.test.ts checks pairs of one kind; this checks every kind against every other,
 * with names chosen to look like the key words themselves.
 */

// Names as validation lets them through, often spelled like the words keys are made of.
const keyWords = [
  'CLUSTER',
  'SERVICE',
  'TASK',
  'INSTANCE',
  'HEARTBEAT',
  'EVENT',
  'REV',
  'TOKEN',
  'WINDOW',
  'IP',
];
const name = fc.oneof(
  fc.constantFrom(...keyWords, ...keyWords.map((w) => `${w}_`), 'a', 'a-b', '0'),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/),
);
const hex32 = fc.stringMatching(/^[a-f0-9]{32}$/);
const hex64 = fc.stringMatching(/^[a-f0-9]{64}$/);
const uuid = fc.uuid();
const ip = fc.oneof(fc.ipV4(), fc.ipV6());

/** Every item kind of the table, with the parts its key builder takes. */
const entity = fc.oneof(
  fc.record({ kind: fc.constant('cluster'), name }),
  fc.record({ kind: fc.constant('containerInstance'), cluster: name, id: hex32 }),
  fc.record({ kind: fc.constant('agentToken'), hash: hex64 }),
  fc.record({ kind: fc.constant('taskDefinitionFamily'), family: name }),
  fc.record({
    kind: fc.constant('taskDefinition'),
    family: name,
    revision: fc.integer({ min: 1, max: 9_999_999_999 }),
  }),
  fc.record({ kind: fc.constant('activation'), id: uuid }),
  fc.record({ kind: fc.constant('accessKey'), id: fc.stringMatching(/^AKIA[A-Z0-9]{16}$/) }),
  fc.record({ kind: fc.constant('heartbeat'), cluster: name, instanceId: hex32 }),
  fc.record({ kind: fc.constant('service'), cluster: name, name }),
  fc.record({
    kind: fc.constant('serviceEvent'),
    cluster: name,
    name,
    createdAt: fc
      .date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true })
      .map((d) => d.toISOString()),
    id: hex32,
  }),
  fc.record({
    kind: fc.constant('task'),
    cluster: name,
    id: hex32,
    instanceId: hex32,
    service: fc.option(name, { nil: undefined }),
  }),
  fc.record({ kind: fc.constant('runTaskToken'), cluster: name, hash: hex64 }),
  fc.record({
    kind: fc.constant('registrationFailures'),
    scope: fc.constantFrom('activation' as const, 'ip' as const),
    subject: fc.oneof(uuid, ip),
    windowStart: fc.integer({ min: 0, max: 2 ** 40 }).map((n) => n * 300),
  }),
);
type Entity = typeof entity extends fc.Arbitrary<infer T> ? T : never;

/** The entity's identity: a task is one task whatever partition it sits in. */
const identity = (e: Entity): string => {
  const { service: _service, ...rest } = e as Entity & { service?: string };
  return JSON.stringify(Object.entries(e.kind === 'task' ? rest : e).sort(([a], [b]) => a.localeCompare(b)));
};

const keysOf = (e: Entity): Record<string, unknown> => {
  switch (e.kind) {
    case 'cluster':
      return keys.cluster(e.name);
    case 'containerInstance':
      return keys.containerInstance(e.cluster, e.id);
    case 'agentToken':
      return keys.agentToken(e.hash);
    case 'taskDefinitionFamily':
      return keys.taskDefinitionFamily(e.family);
    case 'taskDefinition':
      return keys.taskDefinition(e.family, e.revision);
    case 'activation':
      return keys.activation(e.id);
    case 'accessKey':
      return keys.accessKey(e.id);
    case 'heartbeat':
      return keys.heartbeat(e.cluster, e.instanceId);
    case 'service':
      return keys.service(e.cluster, e.name);
    case 'serviceEvent':
      return keys.serviceEvent(e.cluster, e.name, e.createdAt, e.id);
    case 'task':
      return keys.task(e.cluster, e.id, e.instanceId, e.service);
    case 'runTaskToken':
      return keys.runTaskToken(e.cluster, e.hash);
    case 'registrationFailures':
      return keys.registrationFailures(e.scope, e.subject, e.windowStart);
  }
};

describe('table keys', () => {
  it('never give two different entities of any kinds the same item key or index key', () => {
    fc.assert(
      fc.property(entity, entity, (a, b) => {
        fc.pre(identity(a) !== identity(b));
        const ka = keysOf(a);
        const kb = keysOf(b);
        expect(`${ka.pk}|${ka.sk}`).not.toBe(`${kb.pk}|${kb.sk}`);
        if (ka.gsi1pk !== undefined && kb.gsi1pk !== undefined) {
          expect(`${ka.gsi1pk}|${ka.gsi1sk}`).not.toBe(`${kb.gsi1pk}|${kb.gsi1sk}`);
        }
        if (ka.gsi2pk !== undefined && kb.gsi2pk !== undefined) {
          expect(`${ka.gsi2pk}|${ka.gsi2sk}`).not.toBe(`${kb.gsi2pk}|${kb.gsi2sk}`);
        }
      }),
      { numRuns: 20_000 * scale },
    );
  });

  it('map back to the reconcile unit they belong to, and only services, their tasks and instances do', () => {
    fc.assert(
      fc.property(entity, (e) => {
        const { pk, sk } = keysOf(e) as { pk: string; sk: string };
        const unit = unitOfKey(pk, sk);
        if (e.kind === 'service')
          expect(unit).toEqual({ kind: 'service', cluster: e.cluster, service: e.name });
        else if (e.kind === 'task' && e.service) {
          expect(unit).toEqual({ kind: 'service', cluster: e.cluster, service: e.service });
        } else if (e.kind === 'containerInstance') {
          expect(unit).toEqual({ kind: 'instance', cluster: e.cluster, instanceId: e.id });
        } else expect(unit).toEqual({ kind: 'none' });
      }),
      { numRuns: 5_000 * scale },
    );
  });
});

describe('names on their way to a key', () => {
  // Anything a caller may send: separators, quotes, unicode, ARN look-alikes.
  const hostile = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.stringMatching(/^[A-Za-z0-9_#:/"'\\ -]{0,30}$/),
    fc.tuple(name, fc.constantFrom('#', '%23', '\u0000', '/', ':', '"'), name).map((parts) => parts.join('')),
    fc
      .tuple(
        fc.constantFrom('cluster', 'service', 'task', 'container-instance', 'task-definition'),
        fc.string(),
      )
      .map(([type, rest]) => `arn:aws:ecs:us-east-1:000000000000:${type}/${rest}`),
  );

  it('are refused with an input error when they carry a separator, and kept whole otherwise', () => {
    fc.assert(
      fc.property(hostile, (value) => {
        const outcomes = [
          () => clusterNameOf(value),
          () => parseTaskDefinitionReference(value).family,
          () => (namePattern.test(value) ? value : undefined),
        ];
        for (const outcome of outcomes) {
          let accepted: string | undefined;
          try {
            accepted = outcome();
          } catch (error) {
            expect((error as { kind?: string }).kind).toBe('input');
            continue;
          }
          if (accepted !== undefined) {
            expect(accepted).not.toMatch(/[#\s/:"'\\]/);
            expect(accepted).toMatch(namePattern);
          }
        }
      }),
      { numRuns: 5_000 * scale },
    );
  });

  it('split ARNs into parts without ever throwing anything but an input error', () => {
    fc.assert(
      fc.property(hostile, (value) => {
        expect(() => parseArn(value)).not.toThrow();
        for (const type of ['container-instance', 'task', 'service'] as const) {
          try {
            scopedIdOf(value, type);
          } catch (error) {
            expect((error as { kind?: string }).kind).toBe('input');
          }
        }
      }),
      { numRuns: 5_000 * scale },
    );
  });
});
