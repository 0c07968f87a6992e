import { describe, expect, it } from 'vitest';
import { type BerthError, isBerthError } from '../../core/errors.ts';
import { instanceLimits } from '../../core/model/container-instance.ts';
import type { PlacementConstraint, PlacementStrategy } from '../../core/model/service.ts';
import {
  type PlacementInstance,
  type PlacementRequest,
  placeTasks,
  validatePlacement,
} from '../../core/placement/place.ts';

const instance = (id: string, overrides: Partial<PlacementInstance> = {}): PlacementInstance => ({
  id,
  status: 'ACTIVE',
  agentConnected: true,
  agentVersion: '1.80.0',
  ec2InstanceId: `mi-${id}`,
  registeredAt: '2024-01-01T00:00:00Z',
  remaining: { cpu: 4096, memory: 8192 },
  usedPorts: [22, 2375, 2376, 51678, 51679],
  usedPortsUdp: [],
  attributes: { 'ecs.os-type': 'linux', 'ecs.cpu-architecture': 'x86_64' },
  tasks: [],
  ...overrides,
});

const request = (overrides: Partial<PlacementRequest> = {}): PlacementRequest => ({
  reservation: { cpu: 256, memory: 512, ports: [], portsUdp: [] },
  group: 'service:web',
  constraints: [],
  strategies: [],
  seed: 1,
  ...overrides,
});

const task = (group: string) => ({ group, family: group.replace(/^(service|family):/, '') });
const tasksOf = (group: string, count: number) => Array.from({ length: count }, () => task(group));

const countBy = (ids: readonly string[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const id of ids) counts[id] = (counts[id] ?? 0) + 1;
  return counts;
};

const refusal = (act: () => void): BerthError => {
  try {
    act();
  } catch (error) {
    if (isBerthError(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
};

const closest = (id: string, tail: string) =>
  `no container instance met all of its requirements. The closest matching container-instance ${id} ${tail}`;

describe('placeTasks: which instances are candidates', () => {
  it('reports AGENT without a closest instance when the cluster has no container instances', () => {
    const result = placeTasks(request(), [], 1);

    expect(result.placements).toEqual([]);
    expect(result.failure).toEqual({
      reason: 'AGENT',
      message:
        'no container instance met all of its requirements. Reason: No Container Instances were found in your cluster.',
    });
  });

  it('places nothing on DRAINING, REGISTERING, DEREGISTERING or INACTIVE instances', () => {
    const instances = (['DRAINING', 'REGISTERING', 'DEREGISTERING', 'INACTIVE'] as const).map((status) =>
      instance(`i-${status}`, { status }),
    );

    const result = placeTasks(request(), [...instances, instance('i-active')], 3);

    expect(result.placements).toEqual(['i-active', 'i-active', 'i-active']);
  });

  it('reports AGENT without a closest instance when every instance is DRAINING', () => {
    const result = placeTasks(request(), [instance('i-1', { status: 'DRAINING' })], 1);

    expect(result.failure?.reason).toBe('AGENT');
    expect(result.failure?.closestInstanceId).toBeUndefined();
  });

  it('skips an instance whose agent is disconnected', () => {
    const result = placeTasks(request(), [instance('i-a', { agentConnected: false }), instance('i-b')], 2);

    expect(result.placements).toEqual(['i-b', 'i-b']);
  });

  it('names a disconnected instance with error AGENT when it is the only ACTIVE one', () => {
    const result = placeTasks(request(), [instance('i-a', { agentConnected: false })], 1);

    expect(result.failure).toEqual({
      reason: 'AGENT',
      closestInstanceId: 'i-a',
      message: closest('i-a', 'encountered error "AGENT".'),
    });
  });

  it('places nothing and reports nothing when asked for no task', () => {
    expect(placeTasks(request(), [instance('i-a')], 0)).toEqual({ placements: [] });
  });

  it('leaves its inputs untouched', () => {
    const instances = [instance('i-a')];
    const before = structuredClone(instances);

    placeTasks(request({ reservation: { cpu: 1, memory: 1, ports: [80], portsUdp: [53] } }), instances, 1);

    expect(instances).toEqual(before);
  });
});

describe('placeTasks: resources', () => {
  it('reports RESOURCE:CPU in ECS words when no instance has the CPU units', () => {
    const result = placeTasks(
      request({ reservation: { cpu: 2048, memory: 512, ports: [], portsUdp: [] } }),
      [instance('i-a', { remaining: { cpu: 1024, memory: 8192 } })],
      1,
    );

    expect(result).toEqual({
      placements: [],
      failure: {
        reason: 'RESOURCE:CPU',
        closestInstanceId: 'i-a',
        message: closest('i-a', 'has insufficient CPU units available.'),
      },
    });
  });

  it('reports RESOURCE:MEMORY when the CPU fits but the memory does not', () => {
    const result = placeTasks(
      request({ reservation: { cpu: 256, memory: 4096, ports: [], portsUdp: [] } }),
      [instance('i-a', { remaining: { cpu: 4096, memory: 1024 } })],
      1,
    );

    expect(result.failure).toEqual({
      reason: 'RESOURCE:MEMORY',
      closestInstanceId: 'i-a',
      message: closest('i-a', 'has insufficient memory available.'),
    });
  });

  it('names as closest the instance that got furthest through the checks', () => {
    const result = placeTasks(
      request({ reservation: { cpu: 2048, memory: 4096, ports: [], portsUdp: [] } }),
      [
        instance('i-a', { remaining: { cpu: 1024, memory: 8192 } }), // fails on CPU
        instance('i-b', { remaining: { cpu: 4096, memory: 1024 } }), // passes CPU, fails on memory
        instance('i-c', { agentConnected: false }), // fails before resources
      ],
      1,
    );

    expect(result.failure?.reason).toBe('RESOURCE:MEMORY');
    expect(result.failure?.closestInstanceId).toBe('i-b');
  });

  it('takes a task whose reservation exactly equals what remains', () => {
    const result = placeTasks(
      request({ reservation: { cpu: 1024, memory: 2048, ports: [], portsUdp: [] } }),
      [instance('i-a', { remaining: { cpu: 1024, memory: 2048 } })],
      2,
    );

    expect(result.placements).toEqual(['i-a']);
    expect(result.failure?.reason).toBe('RESOURCE:CPU');
  });

  it('charges each placement before the next, so a batch stops when the instance is full', () => {
    const result = placeTasks(
      request({ reservation: { cpu: 1000, memory: 100, ports: [], portsUdp: [] } }),
      [instance('i-a', { remaining: { cpu: 2500, memory: 8192 } })],
      5,
    );

    expect(result.placements).toEqual(['i-a', 'i-a']);
    expect(result.failure?.reason).toBe('RESOURCE:CPU');
  });

  it('reports RESOURCE:PORTS when the static host port is taken', () => {
    const result = placeTasks(
      request({ reservation: { cpu: 0, memory: 0, ports: [80], portsUdp: [] } }),
      [instance('i-a', { usedPorts: [22, 80] })],
      1,
    );

    expect(result.failure).toEqual({
      reason: 'RESOURCE:PORTS',
      closestInstanceId: 'i-a',
      message: closest('i-a', 'is already using a port required by your task.'),
    });
  });

  it("stops at an instance's limit of tasks and reports RESOURCE:TASKS", () => {
    const nearlyFull = instance('i-a', {
      remaining: { cpu: 1_000_000, memory: 1_000_000 },
      tasks: tasksOf('family:other', instanceLimits.tasks - 2),
    });

    const result = placeTasks(request(), [nearlyFull], 5);

    expect(result.placements).toEqual(['i-a', 'i-a']);
    expect(result.failure).toEqual({
      reason: 'RESOURCE:TASKS',
      closestInstanceId: 'i-a',
      message: closest(
        'i-a',
        `already runs ${instanceLimits.tasks} tasks, as many as Berth places on one container instance.`,
      ),
    });
  });

  it("keeps an instance's host ports within its limit per protocol", () => {
    const ports = Array.from({ length: instanceLimits.hostPorts - 1 }, (_, i) => 10_000 + i);
    const crowded = instance('i-a', { usedPorts: ports, usedPortsUdp: ports });

    const one = placeTasks(
      request({ reservation: { cpu: 0, memory: 0, ports: [80], portsUdp: [] } }),
      [crowded],
      1,
    );
    const two = placeTasks(
      request({ reservation: { cpu: 0, memory: 0, ports: [], portsUdp: [80, 81] } }),
      [crowded],
      1,
    );

    expect(one.placements).toEqual(['i-a']);
    expect(two.failure?.reason).toBe('RESOURCE:PORTS');
    expect(two.failure?.message).toContain(`at most ${instanceLimits.hostPorts} per protocol`);
  });

  it('puts one task per instance when each task needs the same static port', () => {
    const result = placeTasks(
      request({ reservation: { cpu: 0, memory: 0, ports: [8080], portsUdp: [] } }),
      [instance('i-a'), instance('i-b')],
      3,
    );

    expect(result.placements.sort()).toEqual(['i-a', 'i-b']);
    expect(result.failure?.reason).toBe('RESOURCE:PORTS');
  });

  it('keeps TCP and UDP ports apart', () => {
    const udpTaken = instance('i-a', { usedPorts: [], usedPortsUdp: [53] });

    const tcp = placeTasks(
      request({ reservation: { cpu: 0, memory: 0, ports: [53], portsUdp: [] } }),
      [udpTaken],
      1,
    );
    const udp = placeTasks(
      request({ reservation: { cpu: 0, memory: 0, ports: [], portsUdp: [53] } }),
      [udpTaken],
      1,
    );

    expect(tcp.placements).toEqual(['i-a']);
    expect(udp.failure?.reason).toBe('RESOURCE:PORTS');
  });

  it('never needs a free port for dynamic host ports, which are not in the reservation', () => {
    const result = placeTasks(request(), [instance('i-a', { usedPorts: [80, 8080] })], 4);

    expect(result.placements).toHaveLength(4);
  });
});

describe('placeTasks: constraints and required attributes', () => {
  const distinct: PlacementConstraint[] = [{ type: 'distinctInstance' }];

  it('puts each task of a batch on a different instance with distinctInstance', () => {
    const result = placeTasks(
      request({ constraints: distinct }),
      [instance('i-a'), instance('i-b'), instance('i-c')],
      4,
    );

    expect(result.placements.sort()).toEqual(['i-a', 'i-b', 'i-c']);
    expect(result.failure).toMatchObject({ reason: 'ATTRIBUTE', closestInstanceId: 'i-a' });
    expect(result.failure?.message).toBe(
      closest(
        'i-a',
        'is already running a task of service:web, which the distinctInstance placement constraint forbids.',
      ),
    );
  });

  it('avoids with distinctInstance an instance already running a task of the group', () => {
    const result = placeTasks(
      request({ constraints: distinct }),
      [instance('i-a', { tasks: [task('service:web')] }), instance('i-b')],
      1,
    );

    expect(result.placements).toEqual(['i-b']);
  });

  it('lets distinctInstance share an instance with tasks of other groups', () => {
    const result = placeTasks(
      request({ constraints: distinct }),
      [instance('i-a', { tasks: [task('service:db'), task('family:batch')] })],
      1,
    );

    expect(result.placements).toEqual(['i-a']);
  });

  it('keeps to the instances a memberOf attribute expression selects', () => {
    const result = placeTasks(
      request({ constraints: [{ type: 'memberOf', expression: 'attribute:stack == prod' }] }),
      [
        instance('i-a', { attributes: { stack: 'dev' } }),
        instance('i-b', { attributes: { stack: 'prod' } }),
        instance('i-c', { attributes: {} }),
      ],
      3,
    );

    expect(result.placements).toEqual(['i-b', 'i-b', 'i-b']);
  });

  it('places next to another group with task:group affinity', () => {
    const result = placeTasks(
      request({ constraints: [{ type: 'memberOf', expression: 'task:group == service:db' }] }),
      [instance('i-a'), instance('i-b', { tasks: [task('service:db')] }), instance('i-c')],
      2,
    );

    expect(result.placements).toEqual(['i-b', 'i-b']);
  });

  it('keeps away from a group with task:group anti-affinity, counting the batch itself', () => {
    const result = placeTasks(
      request({ constraints: [{ type: 'memberOf', expression: 'not(task:group == service:web)' }] }),
      [instance('i-a', { tasks: [task('service:web')] }), instance('i-b'), instance('i-c')],
      3,
    );

    expect(result.placements.sort()).toEqual(['i-b', 'i-c']);
    expect(result.failure?.reason).toBe('ATTRIBUTE');
    expect(result.failure?.message).toContain(
      'does not satisfy the memberOf placement constraint "not(task:group == service:web)".',
    );
  });

  it('sees earlier placements of the batch in runningTasksCount', () => {
    const result = placeTasks(
      request({ constraints: [{ type: 'memberOf', expression: 'runningTasksCount < 2' }] }),
      [instance('i-a', { tasks: [task('service:other')] })],
      3,
    );

    expect(result.placements).toEqual(['i-a']);
  });

  it('needs every memberOf constraint to hold', () => {
    const result = placeTasks(
      request({
        constraints: [
          { type: 'memberOf', expression: 'attribute:stack == prod' },
          { type: 'memberOf', expression: 'agentVersion >= 1.70.0' },
        ],
      }),
      [
        instance('i-a', { attributes: { stack: 'prod' }, agentVersion: '1.60.0' }),
        instance('i-b', { attributes: { stack: 'prod' }, agentVersion: '1.75.0' }),
      ],
      1,
    );

    expect(result.placements).toEqual(['i-b']);
  });

  it('places only on instances with the attributes the task requires', () => {
    const arm = request({ requiredAttributes: [{ name: 'ecs.cpu-architecture', value: 'arm64' }] });

    const result = placeTasks(
      arm,
      [instance('i-x86'), instance('i-arm', { attributes: { 'ecs.cpu-architecture': 'arm64' } })],
      1,
    );

    expect(result.placements).toEqual(['i-arm']);
  });

  it('accepts a required attribute without value when the instance has it at all', () => {
    const result = placeTasks(
      request({ requiredAttributes: [{ name: 'com.amazonaws.ecs.capability.docker-remote-api.1.19' }] }),
      [instance('i-a', { attributes: { 'com.amazonaws.ecs.capability.docker-remote-api.1.19': null } })],
      1,
    );

    expect(result.placements).toEqual(['i-a']);
  });

  it('reports ATTRIBUTE in ECS words when no instance has a required attribute', () => {
    const result = placeTasks(
      request({ requiredAttributes: [{ name: 'ecs.cpu-architecture', value: 'arm64' }] }),
      [instance('i-a')],
      1,
    );

    expect(result.failure).toEqual({
      reason: 'ATTRIBUTE',
      closestInstanceId: 'i-a',
      message: closest('i-a', 'is missing an attribute required by your task.'),
    });
  });

  it('checks resources before constraints, as ECS does', () => {
    const result = placeTasks(
      request({
        reservation: { cpu: 8192, memory: 512, ports: [], portsUdp: [] },
        constraints: [{ type: 'memberOf', expression: 'attribute:stack == prod' }],
      }),
      [instance('i-a', { attributes: { stack: 'dev' } })],
      1,
    );

    expect(result.failure?.reason).toBe('RESOURCE:CPU');
  });
});

describe('placeTasks: strategies', () => {
  const binpack = (field: 'cpu' | 'memory'): PlacementStrategy => ({ type: 'binpack', field });

  it('binpacks on memory: picks the instance with the least memory left that still fits', () => {
    const result = placeTasks(
      request({ strategies: [binpack('memory')] }),
      [
        instance('i-roomy', { remaining: { cpu: 4096, memory: 8192 } }),
        instance('i-tight', { remaining: { cpu: 4096, memory: 1024 } }),
        instance('i-too-small', { remaining: { cpu: 4096, memory: 256 } }),
      ],
      1,
    );

    expect(result.placements).toEqual(['i-tight']);
  });

  it('binpacks on CPU', () => {
    const result = placeTasks(
      request({ strategies: [binpack('cpu')] }),
      [
        instance('i-a', { remaining: { cpu: 512, memory: 8192 } }),
        instance('i-b', { remaining: { cpu: 3000, memory: 1024 } }),
      ],
      1,
    );

    expect(result.placements).toEqual(['i-a']);
  });

  it('binpacking fills the fullest instance before opening another', () => {
    const result = placeTasks(
      request({
        reservation: { cpu: 0, memory: 512, ports: [], portsUdp: [] },
        strategies: [binpack('memory')],
      }),
      [
        instance('i-a', { remaining: { cpu: 4096, memory: 4096 } }),
        instance('i-b', { remaining: { cpu: 4096, memory: 1024 } }),
      ],
      4,
    );

    expect(result.placements).toEqual(['i-b', 'i-b', 'i-a', 'i-a']);
  });

  it('spreads over instances: the least loaded with the group first, until balanced', () => {
    const result = placeTasks(
      request({ strategies: [{ type: 'spread', field: 'instanceId' }] }),
      [instance('i-a', { tasks: tasksOf('service:web', 2) }), instance('i-b'), instance('i-c')],
      4,
    );

    expect(countBy(result.placements)).toEqual({ 'i-b': 2, 'i-c': 2 });
  });

  it('treats spread on host like spread on instanceId', () => {
    const result = placeTasks(
      request({ strategies: [{ type: 'spread', field: 'host' }] }),
      [instance('i-a', { tasks: [task('service:web')] }), instance('i-b')],
      3,
    );

    expect(countBy(result.placements)).toEqual({ 'i-a': 1, 'i-b': 2 });
  });

  it('spreads on the group only: tasks of other groups do not count', () => {
    const result = placeTasks(
      request({ strategies: [{ type: 'spread', field: 'instanceId' }] }),
      [
        instance('i-a', { tasks: tasksOf('service:other', 5) }),
        instance('i-b', { tasks: [task('service:web')] }),
      ],
      1,
    );

    expect(result.placements).toEqual(['i-a']);
  });

  it('spreads over an attribute: balances the values, not the instances', () => {
    const zone = (name: string) => ({ 'ecs.availability-zone': name });
    const result = placeTasks(
      request({ strategies: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }] }),
      [
        instance('i-a1', { attributes: zone('a') }),
        instance('i-a2', { attributes: zone('a') }),
        instance('i-b1', { attributes: zone('b') }),
      ],
      4,
    );

    const counts = countBy(result.placements);
    expect((counts['i-a1'] ?? 0) + (counts['i-a2'] ?? 0)).toBe(2);
    expect(counts['i-b1']).toBe(2);
  });

  it('counts tasks of the group on instances that cannot take more when spreading over an attribute', () => {
    const zone = (name: string) => ({ rack: name });
    const result = placeTasks(
      request({ strategies: [{ type: 'spread', field: 'attribute:rack' }] }),
      [
        instance('i-a-full', {
          attributes: zone('a'),
          remaining: { cpu: 0, memory: 0 },
          tasks: tasksOf('service:web', 3),
        }),
        instance('i-a-free', { attributes: zone('a') }),
        instance('i-b', { attributes: zone('b'), tasks: [task('service:web')] }),
      ],
      2,
    );

    expect(result.placements).toEqual(['i-b', 'i-b']);
  });

  it('puts instances lacking the spread attribute in a bucket of their own', () => {
    const result = placeTasks(
      request({ strategies: [{ type: 'spread', field: 'attribute:rack' }] }),
      [
        instance('i-r1', { attributes: { rack: 'r1' }, tasks: [task('service:web')] }),
        instance('i-none-1', { attributes: {} }),
        instance('i-none-2', { attributes: {} }),
      ],
      3,
    );

    const counts = countBy(result.placements);
    expect(counts['i-r1']).toBe(1);
    expect((counts['i-none-1'] ?? 0) + (counts['i-none-2'] ?? 0)).toBe(2);
  });

  it('applies strategies in order: spread over zones, then binpack within the zone', () => {
    const result = placeTasks(
      request({
        strategies: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }, binpack('memory')],
      }),
      [
        instance('i-a', { attributes: { 'ecs.availability-zone': 'a' }, tasks: [task('service:web')] }),
        instance('i-b-roomy', {
          attributes: { 'ecs.availability-zone': 'b' },
          remaining: { cpu: 4096, memory: 8192 },
        }),
        instance('i-b-tight', {
          attributes: { 'ecs.availability-zone': 'b' },
          remaining: { cpu: 4096, memory: 2048 },
        }),
      ],
      1,
    );

    expect(result.placements).toEqual(['i-b-tight']);
  });

  it('places randomly but reproducibly for a seed', () => {
    const instances = ['i-a', 'i-b', 'i-c', 'i-d', 'i-e'].map((id) => instance(id));
    const random = (seed: number) =>
      placeTasks(request({ strategies: [{ type: 'random' }], seed }), instances, 6);

    expect(random(42)).toEqual(random(42));
    expect(random(7)).toEqual(random(7));
  });

  it('places differently for different seeds', () => {
    const instances = ['i-a', 'i-b', 'i-c', 'i-d', 'i-e'].map((id) => instance(id));
    const firstChoices = new Set(
      Array.from(
        { length: 20 },
        (_, seed) =>
          placeTasks(request({ strategies: [{ type: 'random' }], seed }), instances, 1).placements[0],
      ),
    );

    expect(firstChoices.size).toBeGreaterThan(1);
  });

  it('draws again for every task of a batch rather than repeating the first choice', () => {
    const instances = ['i-a', 'i-b', 'i-c', 'i-d', 'i-e'].map((id) => instance(id));

    const result = placeTasks(request({ strategies: [{ type: 'random' }], seed: 3 }), instances, 10);

    expect(new Set(result.placements).size).toBeGreaterThan(1);
  });

  it('picks at random only among instances that can take the task', () => {
    const instances = [instance('i-ok'), instance('i-full', { remaining: { cpu: 0, memory: 0 } })];

    for (let seed = 0; seed < 20; seed++) {
      expect(
        placeTasks(request({ strategies: [{ type: 'random' }], seed }), instances, 1).placements,
      ).toEqual(['i-ok']);
    }
  });

  it('spreads over instances when no strategy is given', () => {
    const result = placeTasks(
      request(),
      [instance('i-a', { tasks: [task('service:web')] }), instance('i-b')],
      3,
    );

    expect(countBy(result.placements)).toEqual({ 'i-a': 1, 'i-b': 2 });
  });

  it('breaks ties by the lowest instance id, whatever order the instances come in', () => {
    const instances = [instance('i-c'), instance('i-a'), instance('i-b')];
    const strategies: PlacementStrategy[] = [binpack('memory')];

    expect(placeTasks(request({ strategies }), instances, 1).placements).toEqual(['i-a']);
    expect(placeTasks(request({ strategies }), [...instances].reverse(), 1).placements).toEqual(['i-a']);
  });
});

describe('validatePlacement', () => {
  it('accepts the shapes ECS documents', () => {
    expect(() =>
      validatePlacement(
        [
          { type: 'distinctInstance' },
          { type: 'memberOf', expression: 'attribute:ecs.instance-type =~ t2.*' },
          { type: 'memberOf', expression: 'task:group == service:daemon' },
        ],
        [
          { type: 'spread', field: 'attribute:ecs.availability-zone' },
          { type: 'spread', field: 'instanceId' },
          { type: 'spread', field: 'host' },
          { type: 'binpack', field: 'memory' },
          { type: 'random' },
        ],
      ),
    ).not.toThrow();
  });

  it.each<[string, PlacementConstraint[], PlacementStrategy[], string]>([
    [
      'eleven constraints',
      Array.from({ length: 11 }, () => ({ type: 'distinctInstance' })),
      [],
      'placementConstraints:',
    ],
    ['six strategies', [], Array.from({ length: 6 }, () => ({ type: 'random' })), 'placementStrategy:'],
    [
      'binpack on disk',
      [],
      [{ type: 'random' }, { type: 'binpack', field: 'disk' }],
      'placementStrategy[1].field:',
    ],
    ['binpack without a field', [], [{ type: 'binpack' }], 'placementStrategy[0].field:'],
    ['spread on an unknown field', [], [{ type: 'spread', field: 'zone' }], 'placementStrategy[0].field:'],
    [
      'spread on an attribute without a name',
      [],
      [{ type: 'spread', field: 'attribute:' }],
      'placementStrategy[0].field:',
    ],
    ['spread without a field', [], [{ type: 'spread' }], 'placementStrategy[0].field:'],
    ['random with a field', [], [{ type: 'random', field: 'cpu' }], 'placementStrategy[0].field:'],
    [
      'an unknown strategy type',
      [],
      [{ type: 'pack' as PlacementStrategy['type'], field: 'cpu' }],
      'placementStrategy[0].type:',
    ],
    ['memberOf without an expression', [{ type: 'memberOf' }], [], 'placementConstraints[0].expression:'],
    [
      'an unparseable memberOf expression',
      [{ type: 'distinctInstance' }, { type: 'memberOf', expression: 'attribute:stack ==' }],
      [],
      'placementConstraints[1].expression:',
    ],
    [
      'a memberOf expression over 2000 characters',
      [{ type: 'memberOf', expression: `attribute:a == ${'x'.repeat(1990)}` }],
      [],
      'placementConstraints[0].expression:',
    ],
    [
      'distinctInstance with an expression',
      [{ type: 'distinctInstance', expression: 'attribute:a == b' }],
      [],
      'placementConstraints[0].expression:',
    ],
    [
      'an unknown constraint type',
      [{ type: 'sameInstance' as PlacementConstraint['type'] }],
      [],
      'placementConstraints[0].type:',
    ],
  ])('refuses %s, naming the field', (_, constraints, strategies, path) => {
    const error = refusal(() => validatePlacement(constraints, strategies));

    expect(error.code).toBe('InvalidParameterException');
    expect(error.message.startsWith(path)).toBe(true);
  });

  it('accepts ten constraints and five strategies', () => {
    expect(() =>
      validatePlacement(
        Array.from({ length: 10 }, () => ({ type: 'distinctInstance' as const })),
        Array.from({ length: 5 }, () => ({ type: 'random' as const })),
      ),
    ).not.toThrow();
  });

  it('is what placeTasks applies before placing anything', () => {
    const error = refusal(() =>
      placeTasks(request({ strategies: [{ type: 'binpack', field: 'disk' }] }), [instance('i-a')], 1),
    );

    expect(error.code).toBe('InvalidParameterException');
    expect(error.message).toMatch(/^placementStrategy\[0\]\.field:/);
  });
});
