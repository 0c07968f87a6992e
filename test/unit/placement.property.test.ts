import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PlacementConstraint, PlacementStrategy } from '../../core/model/service.ts';
import { type PlacementInstance, type PlacementRequest, placeTasks } from '../../core/placement/place.ts';

const GROUPS = ['service:web', 'service:db', 'family:batch'] as const;
const PORTS = [80, 443, 8080, 9000] as const;

/**
 * memberOf expressions paired with what they mean, written out independently of the query
 * language, so "could any instance take the task" has an oracle that is not the engine itself.
 */
const MEMBER_OF: readonly { expression: string; holds: (instance: PlacementInstance) => boolean }[] = [
  { expression: 'attribute:zone == a', holds: (i) => i.attributes.zone === 'a' },
  { expression: 'attribute:zone exists', holds: (i) => Object.hasOwn(i.attributes, 'zone') },
  { expression: 'task:group != service:db', holds: (i) => !i.tasks.some((t) => t.group === 'service:db') },
  { expression: 'task:group == service:web', holds: (i) => i.tasks.some((t) => t.group === 'service:web') },
  { expression: 'runningTasksCount < 3', holds: (i) => i.tasks.length < 3 },
];

const instanceArb = (id: string): fc.Arbitrary<PlacementInstance> =>
  fc.record({
    id: fc.constant(id),
    status: fc.oneof(
      { weight: 4, arbitrary: fc.constant('ACTIVE' as const) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('DRAINING' as const, 'REGISTERING' as const, 'INACTIVE' as const),
      },
    ),
    agentConnected: fc.oneof(
      { weight: 4, arbitrary: fc.constant(true) },
      { weight: 1, arbitrary: fc.constant(false) },
    ),
    registeredAt: fc.constant('2024-01-01T00:00:00Z'),
    remaining: fc.record({
      cpu: fc.integer({ min: 0, max: 4096 }),
      memory: fc.integer({ min: 0, max: 4096 }),
    }),
    usedPorts: fc.subarray([...PORTS]),
    usedPortsUdp: fc.subarray([...PORTS]),
    attributes: fc.record(
      { zone: fc.constantFrom('a', 'b', 'c'), arch: fc.constantFrom('x86_64', 'arm64') },
      { requiredKeys: [] },
    ),
    tasks: fc.array(
      fc.constantFrom(...GROUPS).map((group) => ({ group, family: group.slice(group.indexOf(':') + 1) })),
      { maxLength: 4 },
    ),
  });

const instancesArb: fc.Arbitrary<PlacementInstance[]> = fc
  .integer({ min: 0, max: 6 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, k) => instanceArb(`i-${k}`))));

const strategyArb: fc.Arbitrary<PlacementStrategy> = fc.constantFrom<PlacementStrategy>(
  { type: 'binpack', field: 'cpu' },
  { type: 'binpack', field: 'memory' },
  { type: 'spread', field: 'instanceId' },
  { type: 'spread', field: 'host' },
  { type: 'spread', field: 'attribute:zone' },
  { type: 'random' },
);

const constraintArb: fc.Arbitrary<PlacementConstraint> = fc.oneof(
  fc.constant<PlacementConstraint>({ type: 'distinctInstance' }),
  fc
    .constantFrom(...MEMBER_OF)
    .map((m): PlacementConstraint => ({ type: 'memberOf', expression: m.expression })),
);

const requestArb: fc.Arbitrary<PlacementRequest> = fc.record({
  reservation: fc.record({
    cpu: fc.integer({ min: 0, max: 2048 }),
    memory: fc.integer({ min: 0, max: 2048 }),
    ports: fc.subarray([...PORTS], { maxLength: 2 }),
    portsUdp: fc.subarray([...PORTS], { maxLength: 1 }),
  }),
  group: fc.constantFrom(...GROUPS),
  constraints: fc.array(constraintArb, { maxLength: 3 }),
  strategies: fc.array(strategyArb, { maxLength: 5 }),
  requiredAttributes: fc.option(fc.constant([{ name: 'arch', value: 'arm64' }]), { nil: undefined }),
  seed: fc.integer(),
});

const countArb = fc.integer({ min: 0, max: 10 });

/** Could this instance, as given, take one task of the request? Written from the rules, not the engine. */
const canTake = (request: PlacementRequest, instance: PlacementInstance): boolean =>
  instance.status === 'ACTIVE' &&
  instance.agentConnected &&
  instance.remaining.cpu >= request.reservation.cpu &&
  instance.remaining.memory >= request.reservation.memory &&
  request.reservation.ports.every((port) => !instance.usedPorts.includes(port)) &&
  request.reservation.portsUdp.every((port) => !instance.usedPortsUdp.includes(port)) &&
  (request.requiredAttributes ?? []).every(({ name, value }) => instance.attributes[name] === value) &&
  request.constraints.every((constraint) =>
    constraint.type === 'distinctInstance'
      ? !instance.tasks.some((task) => task.group === request.group)
      : MEMBER_OF.find((m) => m.expression === constraint.expression)!.holds(instance),
  );

describe('placeTasks: properties', () => {
  it('never commits more CPU or memory than an instance has left, nor a static port twice', () => {
    fc.assert(
      fc.property(requestArb, instancesArb, countArb, (request, instances, count) => {
        const { placements } = placeTasks(request, instances, count);

        const perInstance = new Map<string, number>();
        for (const id of placements) perInstance.set(id, (perInstance.get(id) ?? 0) + 1);
        for (const [id, placed] of perInstance) {
          const instance = instances.find((candidate) => candidate.id === id)!;
          expect(instance.status).toBe('ACTIVE');
          expect(instance.agentConnected).toBe(true);
          expect(placed * request.reservation.cpu).toBeLessThanOrEqual(instance.remaining.cpu);
          expect(placed * request.reservation.memory).toBeLessThanOrEqual(instance.remaining.memory);
          for (const port of request.reservation.ports) expect(instance.usedPorts).not.toContain(port);
          for (const port of request.reservation.portsUdp) expect(instance.usedPortsUdp).not.toContain(port);
          if (request.reservation.ports.length + request.reservation.portsUdp.length > 0) {
            expect(placed).toBe(1);
          }
        }
      }),
    );
  });

  it('with distinctInstance, puts no two tasks on one instance and none beside the group', () => {
    fc.assert(
      fc.property(requestArb, instancesArb, countArb, (base, instances, count) => {
        const request = {
          ...base,
          constraints: [...base.constraints, { type: 'distinctInstance' as const }],
        };

        const { placements } = placeTasks(request, instances, count);

        expect(new Set(placements).size).toBe(placements.length);
        for (const id of placements) {
          const instance = instances.find((candidate) => candidate.id === id)!;
          expect(instance.tasks.map((task) => task.group)).not.toContain(request.group);
        }
      }),
    );
  });

  it('is a pure function of its inputs, whatever order the instances come in', () => {
    fc.assert(
      fc.property(
        requestArb,
        instancesArb,
        countArb,
        fc.array(fc.integer(), { minLength: 6, maxLength: 6 }),
        (request, instances, count, sortKeys) => {
          const shuffled = instances
            .map((instance, k) => ({ instance, key: sortKeys[k]! }))
            .sort((a, b) => a.key - b.key)
            .map(({ instance }) => instance);

          const first = placeTasks(request, instances, count);

          expect(placeTasks(structuredClone(request), structuredClone(instances), count)).toEqual(first);
          expect(placeTasks(request, shuffled, count)).toEqual(first);
        },
      ),
    );
  });

  it('places a smaller batch as the start of a larger one', () => {
    fc.assert(
      fc.property(requestArb, instancesArb, countArb, countArb, (request, instances, a, b) => {
        const [small, large] = a <= b ? [a, b] : [b, a];

        const smaller = placeTasks(request, instances, small).placements;
        const larger = placeTasks(request, instances, large).placements;

        expect(larger.slice(0, smaller.length)).toEqual(smaller);
      }),
    );
  });

  it('places at least one task whenever some instance can take it (no false failure)', () => {
    fc.assert(
      fc.property(requestArb, instancesArb, fc.integer({ min: 1, max: 10 }), (request, instances, count) => {
        fc.pre(instances.some((instance) => canTake(request, instance)));

        expect(placeTasks(request, instances, count).placements.length).toBeGreaterThan(0);
      }),
    );
  });

  it('explains exactly when it places fewer tasks than asked, naming an ACTIVE instance if any', () => {
    fc.assert(
      fc.property(requestArb, instancesArb, countArb, (request, instances, count) => {
        const { placements, failure } = placeTasks(request, instances, count);

        expect(failure === undefined).toBe(placements.length === count);
        if (failure?.closestInstanceId !== undefined) {
          const named = instances.find((instance) => instance.id === failure.closestInstanceId);
          expect(named?.status).toBe('ACTIVE');
        }
        if (failure && !instances.some((instance) => instance.status === 'ACTIVE')) {
          expect(failure.reason).toBe('AGENT');
        }
      }),
    );
  });
});
