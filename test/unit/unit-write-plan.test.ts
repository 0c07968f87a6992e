import { describe, expect, it } from 'vitest';
import { emptyWrite, maxTransactionItems } from '../../core/db/unit-writes.ts';
import type { ContainerInstanceRecord } from '../../core/model/container-instance.ts';
import { describeTaskDefinition, type TaskDefinition } from '../../core/model/task-definition/describe.ts';
import { RegisterTaskDefinitionInput } from '../../core/model/task-definition/schema.ts';
import { validateTaskDefinition } from '../../core/model/task-definition/validate.ts';
import { fullInstanceMessage } from '../../core/placement/request.ts';
import { deterministicId } from '../../core/reconcile/ids.ts';
import type { ServicePlan } from '../../core/reconcile/service.ts';
import {
  definitionKey,
  definitionKeysOf,
  isEmptyWrite,
  maxStartsPerPass,
  planUnitWrite,
  type UnitWritePlanInput,
} from '../../core/reconcile/unit-write-plan.ts';
import { at, DEP_A, DEP_B, deployment, service, task } from './reconcile-fixtures.ts';

/** Revision `revision` of `web`, registered as RegisterTaskDefinition would (parsed, validated, described). */
const definition = (revision: number, memory = 64): TaskDefinition => {
  const input = RegisterTaskDefinitionInput.parse({
    family: 'web',
    containerDefinitions: [{ name: 'app', image: 'busybox', memory, essential: true }],
  });
  validateTaskDefinition(input);
  return describeTaskDefinition(input, {
    taskDefinitionArn: `arn:aws:ecs:us-east-1:000000000000:task-definition/web:${revision}`,
    revision,
    status: 'ACTIVE',
    registeredAt: new Date(at(-7200)),
  });
};

/** An ACTIVE, connected, empty instance with `memory` MiB and 2 vCPU. */
const instance = (
  id: string,
  memory = 4096,
  overrides: Partial<ContainerInstanceRecord> = {},
): ContainerInstanceRecord => ({
  type: 'containerInstance',
  id,
  cluster: 'default',
  ec2InstanceId: `mi-${id}`,
  hostname: id,
  status: 'ACTIVE',
  agentConnected: true,
  agentVersion: '1.0.0',
  registered: { cpu: 2048, memory, ports: [], portsUdp: [] },
  remaining: { cpu: 2048, memory },
  groups: {},
  liveTasksCount: 0,
  attributes: {},
  tags: {},
  assignmentVersion: 1,
  activationId: 'activation-1',
  tokenHash: 'hash',
  registeredAt: at(-7200),
  lastSeenAt: at(-5),
  updatedAt: at(-5),
  version: 1,
  ...overrides,
});

const plan = (parts: Partial<ServicePlan> = {}): ServicePlan => ({
  start: [],
  stop: [],
  finalize: [],
  events: [],
  ...parts,
});

const startOf = (count: number, revision = 1, deploymentId = DEP_A) => ({
  deploymentId,
  family: 'web',
  revision,
  count,
});

const inputOf = (parts: Partial<UnitWritePlanInput> = {}): UnitWritePlanInput => ({
  service: service(),
  tasks: [],
  instances: [instance('i-1')],
  plan: plan({ start: [startOf(2)] }),
  definitions: new Map([[definitionKey('web', 1), definition(1)]]),
  at: at(0),
  full: new Set(),
  ...parts,
});

const stopsOf = (tasks: { id: string }[]) =>
  tasks.map((t) => ({
    taskId: t.id,
    reason: 'Scaling activity initiated by deployment',
    stopCode: 'ServiceSchedulerInitiated' as const,
  }));

describe('definitionKey', () => {
  it('is family:revision', () => {
    expect(definitionKey('web', 3)).toBe('web:3');
  });
});

describe('definitionKeysOf', () => {
  it('names each revision a plan starts once, in the order first started', () => {
    const keys = definitionKeysOf(
      plan({ start: [startOf(1, 2), startOf(3, 2, DEP_B), startOf(1, 1), startOf(2, 2)] }),
    );
    expect(keys).toEqual([
      { family: 'web', revision: 2 },
      { family: 'web', revision: 1 },
    ]);
  });

  it('names nothing for a plan that starts nothing', () => {
    expect(definitionKeysOf(plan())).toEqual([]);
  });
});

describe('planUnitWrite', () => {
  it('places starts on an instance with room, under the service version, with deterministic ids', () => {
    const first = planUnitWrite(inputOf());
    const again = planUnitWrite(inputOf());
    expect(first.truncated).toBe(false);
    expect(first.placementMessage).toBeUndefined();
    expect(first.write.newTasks.map((t) => t.instanceId)).toEqual(['i-1', 'i-1']);
    // Same input, same ids; the ids follow the service's sequence from 10.
    expect(first.write.newTasks.map((t) => t.id)).toEqual(again.write.newTasks.map((t) => t.id));
    const s = service();
    expect(first.write.newTasks.map((t) => t.id)).toEqual([
      deterministicId(s.cluster, s.name, s.createdAt, 11),
      deterministicId(s.cluster, s.name, s.createdAt, 12),
    ]);
    for (const t of first.write.newTasks) {
      expect(t).toMatchObject({
        cluster: 'default',
        family: 'web',
        revision: 1,
        serviceName: 'web',
        deploymentId: DEP_A,
        startedBy: DEP_A,
        group: 'service:web',
        desiredStatus: 'RUNNING',
      });
      expect(t.reservation.memory).toBe(64);
    }
    // The sequence advances by the count placed; the service's version guards the write.
    expect(first.write.service).toEqual({
      cluster: 'default',
      name: 'web',
      version: 7,
      set: { taskSequence: 12 },
    });
    expect(first.write.events).toEqual([]);
    expect(isEmptyWrite(first.write)).toBe(false);
  });

  it('gives a different service version the same ids (they hang on the sequence, not the version)', () => {
    const a = planUnitWrite(inputOf());
    const b = planUnitWrite(inputOf({ service: service({ version: 8 }) }));
    expect(b.write.newTasks.map((t) => t.id)).toEqual(a.write.newTasks.map((t) => t.id));
    expect(b.write.service?.version).toBe(8);
  });

  it('continues the sequence from where the service left it', () => {
    const result = planUnitWrite(
      inputOf({ service: service({ taskSequence: 41 }), plan: plan({ start: [startOf(3)] }) }),
    );
    expect(result.write.newTasks).toHaveLength(3);
    expect(result.write.service?.set.taskSequence).toBe(44);
  });

  it('fails a start whose definition is missing with ECS wording and an event, starting nothing', () => {
    const result = planUnitWrite(inputOf({ definitions: new Map(), plan: plan({ start: [startOf(2, 4)] }) }));
    expect(result.write.newTasks).toEqual([]);
    expect(result.truncated).toBe(false);
    expect(result.placementMessage).toBe('its task definition web:4 is missing.');
    expect(result.write.service?.set).toEqual({ placementMessage: 'its task definition web:4 is missing.' });
    expect(result.write.events.map((e) => e.event.message)).toEqual([
      '(service web) was unable to place a task because its task definition web:4 is missing.',
    ]);
    expect(result.write.events[0]).toMatchObject({ cluster: 'default', service: 'web' });
  });

  it('does not repeat the placement-failure event when the service already carries that message', () => {
    const message = 'its task definition web:1 is missing.';
    const result = planUnitWrite(
      inputOf({ definitions: new Map(), service: service({ placementMessage: message }) }),
    );
    expect(result.placementMessage).toBe(message);
    expect(result.write.events).toEqual([]);
    expect(result.write.service?.set).toEqual({});
    expect(isEmptyWrite(result.write)).toBe(true);
  });

  it('clears a placement message once the start is placed', () => {
    const result = planUnitWrite(inputOf({ service: service({ placementMessage: 'old reason' }) }));
    expect(result.placementMessage).toBeUndefined();
    expect(result.write.service?.set).toHaveProperty('placementMessage', undefined);
    expect(result.write.events).toEqual([]);
  });

  it('places nothing on an instance DynamoDB refused to grow, and says so when nothing else can take it', () => {
    const result = planUnitWrite(inputOf({ full: new Set(['i-1']) }));
    expect(result.write.newTasks).toEqual([]);
    expect(result.placementMessage).toBe(fullInstanceMessage('i-1'));
    expect(result.placementMessage).toBe(
      "no container instance met all of its requirements. The closest matching container-instance i-1 cannot record more tasks: its item is at DynamoDB's item size limit.",
    );
    expect(result.write.service?.set).toEqual({ placementMessage: fullInstanceMessage('i-1') });
    expect(result.write.events.map((e) => e.event.message)).toEqual([
      `(service web) was unable to place a task because ${fullInstanceMessage('i-1')}`,
    ]);
    const elsewhere = planUnitWrite(
      inputOf({ full: new Set(['i-1']), instances: [instance('i-1'), instance('i-2')] }),
    );
    expect(elsewhere.write.newTasks.map((t) => t.instanceId)).toEqual(['i-2', 'i-2']);
    expect(elsewhere.placementMessage).toBeUndefined();
  });

  it('places what fits and reports what cannot be placed for want of memory', () => {
    const result = planUnitWrite(
      inputOf({ definitions: new Map([[definitionKey('web', 1), definition(1, 3000)]]) }),
    );
    expect(result.write.newTasks).toHaveLength(1);
    expect(result.placementMessage).toMatch(/memory/);
    expect(result.write.service?.set.taskSequence).toBe(11);
    expect(result.write.events).toHaveLength(1);
  });

  it('starts exactly maxStartsPerPass tasks in one pass and marks the rest for the next', () => {
    const result = planUnitWrite(
      inputOf({
        instances: [instance('i-1', 100_000)],
        plan: plan({ start: [startOf(maxStartsPerPass + 5)] }),
      }),
    );
    expect(result.write.newTasks).toHaveLength(maxStartsPerPass);
    expect(result.truncated).toBe(true);
    expect(result.placementMessage).toBeUndefined();
    expect(result.write.service?.set.taskSequence).toBe(10 + maxStartsPerPass);
  });

  it('counts maxStartsPerPass across the starts of one plan', () => {
    const result = planUnitWrite(
      inputOf({
        instances: [instance('i-1', 100_000)],
        plan: plan({ start: [startOf(30, 1, DEP_A), startOf(30, 1, DEP_B)] }),
      }),
    );
    expect(result.write.newTasks).toHaveLength(maxStartsPerPass);
    expect(result.write.newTasks.filter((t) => t.deploymentId === DEP_A)).toHaveLength(30);
    expect(result.write.newTasks.filter((t) => t.deploymentId === DEP_B)).toHaveLength(maxStartsPerPass - 30);
    expect(result.truncated).toBe(true);
  });

  it('fits stops across many instances into one transaction and leaves the rest for the next pass', () => {
    const tasks = Array.from({ length: 80 }, (_, n) => task(`t-${n}`, { instanceId: `i-${n}` }));
    const result = planUnitWrite(inputOf({ tasks, instances: [], plan: plan({ stop: stopsOf(tasks) }) }));
    // Two items per stop (its task and its instance's assignment), after the service and a spare.
    expect(result.write.stops).toHaveLength(Math.floor((maxTransactionItems - 2) / 2));
    expect(result.write.stops.map((s) => s.task.id)).toEqual(tasks.slice(0, 49).map((t) => t.id));
    expect(result.write.stops[0]).toMatchObject({
      reason: 'Scaling activity initiated by deployment',
      stopCode: 'ServiceSchedulerInitiated',
    });
    expect(result.truncated).toBe(true);
  });

  it('counts an instance once for the stops on it', () => {
    const tasks = Array.from({ length: 120 }, (_, n) => task(`t-${n}`, { instanceId: 'i-1' }));
    const result = planUnitWrite(inputOf({ tasks, instances: [], plan: plan({ stop: stopsOf(tasks) }) }));
    // Service + spare, one assignment bump, then one item per stop.
    expect(result.write.stops).toHaveLength(maxTransactionItems - 3);
    expect(result.truncated).toBe(true);
  });

  it('keeps the plan whole when it fits, skipping stops and finalizes of tasks it was not given', () => {
    const tasks = [task('t-1'), task('t-2', { instanceId: 'i-gone' })];
    const result = planUnitWrite(
      inputOf({
        tasks,
        plan: plan({
          stop: stopsOf([{ id: 't-1' }, { id: 'unknown' }]),
          finalize: [
            { taskId: 't-2', reason: 'Instance gone' },
            { taskId: 'unknown-2', reason: 'Instance gone' },
          ],
        }),
      }),
    );
    expect(result.write.stops.map((s) => s.task.id)).toEqual(['t-1']);
    expect(result.write.finalizes).toEqual([{ task: tasks[1], reason: 'Instance gone' }]);
    expect(result.truncated).toBe(false);
    expect(result.write.service).toEqual({ cluster: 'default', name: 'web', version: 7, set: {} });
  });

  it('writes the plan events a millisecond apart with deterministic ids', () => {
    const events = [
      '(service web) has started 2 tasks: (task a) (task b).',
      '(service web) has reached a steady state.',
    ];
    const result = planUnitWrite(inputOf({ plan: plan({ events }) }));
    const again = planUnitWrite(inputOf({ plan: plan({ events }) }));
    expect(result.write.events.map((e) => e.event.message)).toEqual(events);
    expect(result.write.events.map((e) => e.event.createdAt)).toEqual([
      '2024-05-01T12:00:00.000Z',
      '2024-05-01T12:00:00.001Z',
    ]);
    expect(result.write.events.map((e) => e.event.id)).toEqual(again.write.events.map((e) => e.event.id));
    expect(new Set(result.write.events.map((e) => e.event.id)).size).toBe(2);
  });

  it("sets the service's task definition to its primary deployment's", () => {
    const deployments = [deployment(DEP_B, { revision: 2 }), deployment(DEP_A, { status: 'ACTIVE' })];
    const result = planUnitWrite(inputOf({ plan: plan({ service: { deployments } }) }));
    expect(result.write.service?.set).toMatchObject({ deployments, family: 'web', revision: 2 });
    const same = planUnitWrite(inputOf({ plan: plan({ service: { deployments: [deployment(DEP_A)] } }) }));
    expect(same.write.service?.set).not.toHaveProperty('revision');
  });

  it('removes the zero group counters of the instances it places on', () => {
    const result = planUnitWrite(
      inputOf({
        instances: [instance('i-1', 4096, { groups: { 'service:old': 0, 'service:web': 1 } })],
        plan: plan({ start: [startOf(1)] }),
      }),
    );
    expect(result.write.newTasks.map((t) => t.instanceId)).toEqual(['i-1']);
    expect(result.write.zeroGroups).toEqual({ 'i-1': ['service:old'] });
  });
});

describe('isEmptyWrite', () => {
  it('is true for a write that changes nothing and false once it changes something', () => {
    expect(isEmptyWrite(emptyWrite(at(0)))).toBe(true);
    const withField = emptyWrite(at(0));
    withField.service = { cluster: 'default', name: 'web', version: 7, set: { taskSequence: 1 } };
    expect(isEmptyWrite(withField)).toBe(false);
    const withTask = emptyWrite(at(0));
    withTask.newTasks.push(task('t-new'));
    expect(isEmptyWrite(withTask)).toBe(false);
    const withStop = emptyWrite(at(0));
    withStop.stops.push({ task: task('t-1'), reason: 'r', stopCode: 'ServiceSchedulerInitiated' });
    expect(isEmptyWrite(withStop)).toBe(false);
    const guardOnly = emptyWrite(at(0));
    guardOnly.service = { cluster: 'default', name: 'web', version: 7, set: {} };
    expect(isEmptyWrite(guardOnly)).toBe(true);
  });
});
