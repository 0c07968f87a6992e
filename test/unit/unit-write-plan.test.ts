import { describe, expect, it } from 'vitest';
import { emptyWrite, maxTransactionItems } from '../../core/db/unit-writes.ts';
import type { ContainerInstanceRecord } from '../../core/model/container-instance.ts';
import { describeTaskDefinition, type TaskDefinition } from '../../core/model/task-definition/describe.ts';
import { RegisterTaskDefinitionInput } from '../../core/model/task-definition/schema.ts';
import { fullInstanceMessage } from '../../core/placement/request.ts';
import type { ServicePlan } from '../../core/reconcile/service.ts';
import {
  definitionKey,
  definitionKeysOf,
  isEmptyWrite,
  maxStartsPerPass,
  planUnitWrite,
  type UnitWritePlanInput,
} from '../../core/reconcile/unit-write-plan.ts';
import { at, DEP_A, service, task } from './reconcile-fixtures.ts';

const definition = (revision: number, memory = 64): TaskDefinition =>
  describeTaskDefinition(
    RegisterTaskDefinitionInput.parse({
      family: 'web',
      containerDefinitions: [{ name: 'app', image: 'busybox', memory, essential: true }],
    }),
    {
      taskDefinitionArn: `arn:aws:ecs:us-east-1:000000000000:task-definition/web:${revision}`,
      revision,
      status: 'ACTIVE',
      registeredAt: new Date(at(-7200)),
    },
  );

const instance = (id: string, memory = 4096): ContainerInstanceRecord =>
  ({
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
    attributes: [],
    registeredAt: at(-7200),
    version: 1,
  }) as unknown as ContainerInstanceRecord;

const plan = (parts: Partial<ServicePlan> = {}): ServicePlan => ({
  start: [],
  stop: [],
  finalize: [],
  events: [],
  ...parts,
});

const inputOf = (parts: Partial<UnitWritePlanInput> = {}): UnitWritePlanInput => ({
  service: service(),
  tasks: [],
  instances: [instance('i-1')],
  plan: plan({ start: [{ deploymentId: DEP_A, family: 'web', revision: 1, count: 2 }] }),
  definitions: new Map([[definitionKey('web', 1), definition(1)]]),
  at: at(0),
  full: new Set(),
  ...parts,
});

describe('definitionKeysOf', () => {
  it('names each revision a plan starts once', () => {
    const keys = definitionKeysOf(
      plan({
        start: [
          { deploymentId: DEP_A, family: 'web', revision: 2, count: 1 },
          { deploymentId: 'other', family: 'web', revision: 2, count: 3 },
          { deploymentId: DEP_A, family: 'web', revision: 1, count: 1 },
        ],
      }),
    );
    expect(keys).toEqual([
      { family: 'web', revision: 2 },
      { family: 'web', revision: 1 },
    ]);
  });
});

describe('planUnitWrite', () => {
  it('places starts on an instance with room, under the service version, with deterministic ids', () => {
    const first = planUnitWrite(inputOf());
    const again = planUnitWrite(inputOf());
    expect(first.truncated).toBe(false);
    expect(first.placementMessage).toBeUndefined();
    expect(first.write.newTasks.map((t) => t.instanceId)).toEqual(['i-1', 'i-1']);
    expect(first.write.newTasks.map((t) => t.id)).toEqual(again.write.newTasks.map((t) => t.id));
    expect(new Set(first.write.newTasks.map((t) => t.id)).size).toBe(2);
    expect(first.write.newTasks.every((t) => t.deploymentId === DEP_A && t.group === 'service:web')).toBe(
      true,
    );
    expect(first.write.service).toEqual({
      cluster: 'default',
      name: 'web',
      version: 7,
      set: { taskSequence: 12 },
    });
    expect(isEmptyWrite(first.write)).toBe(false);
  });

  it('fails a start whose definition is missing with ECS wording and an event, starting nothing', () => {
    const result = planUnitWrite(inputOf({ definitions: new Map() }));
    expect(result.write.newTasks).toEqual([]);
    expect(result.placementMessage).toBe('its task definition web:1 is missing.');
    expect(result.write.service?.set.placementMessage).toBe('its task definition web:1 is missing.');
    expect(result.write.events.map((e) => e.event.message)).toEqual([
      '(service web) was unable to place a task because its task definition web:1 is missing.',
    ]);
  });

  it('places nothing on an instance DynamoDB refused to grow, and says so when nothing else can take it', () => {
    const result = planUnitWrite(inputOf({ full: new Set(['i-1']) }));
    expect(result.write.newTasks).toEqual([]);
    expect(result.placementMessage).toBe(fullInstanceMessage('i-1'));
    const elsewhere = planUnitWrite(
      inputOf({ full: new Set(['i-1']), instances: [instance('i-1'), instance('i-2')] }),
    );
    expect(elsewhere.write.newTasks.map((t) => t.instanceId)).toEqual(['i-2', 'i-2']);
    expect(elsewhere.placementMessage).toBeUndefined();
  });

  it('reports what cannot be placed for want of memory', () => {
    const result = planUnitWrite(
      inputOf({ definitions: new Map([[definitionKey('web', 1), definition(1, 3000)]]) }),
    );
    expect(result.write.newTasks).toHaveLength(1);
    expect(result.placementMessage).toMatch(/memory/);
  });

  it('starts at most maxStartsPerPass tasks in one pass and marks the rest for the next', () => {
    const instances = Array.from({ length: 30 }, (_, n) => instance(`i-${n}`, 100_000));
    const result = planUnitWrite(
      inputOf({
        instances,
        plan: plan({
          start: [{ deploymentId: DEP_A, family: 'web', revision: 1, count: maxStartsPerPass + 5 }],
        }),
      }),
    );
    expect(result.write.newTasks.length).toBeLessThanOrEqual(maxStartsPerPass);
    expect(result.write.newTasks.length).toBeGreaterThan(0);
    expect(result.truncated).toBe(true);
  });

  it('fits stops across many instances into one transaction and leaves the rest for the next pass', () => {
    const tasks = Array.from({ length: 80 }, (_, n) =>
      task(`t-${n}`, { instanceId: `i-${n}`, deploymentId: DEP_A }),
    );
    const result = planUnitWrite(
      inputOf({
        tasks,
        instances: [],
        plan: plan({
          stop: tasks.map((t) => ({
            taskId: t.id,
            reason: 'Scaling activity initiated by deployment',
            stopCode: 'ServiceSchedulerInitiated',
          })),
        }),
      }),
    );
    // Two items per stop (its task and its instance's assignment), after the service and a spare.
    expect(result.write.stops).toHaveLength(Math.floor((maxTransactionItems - 2) / 2));
    expect(result.truncated).toBe(true);
  });
});

describe('isEmptyWrite', () => {
  it('is true for a write that changes nothing and false once it changes something', () => {
    expect(isEmptyWrite(emptyWrite(at(0)))).toBe(true);
    const withField = emptyWrite(at(0));
    withField.service = { cluster: 'default', name: 'web', version: 7, set: { taskSequence: 1 } };
    expect(isEmptyWrite(withField)).toBe(false);
    const guardOnly = emptyWrite(at(0));
    guardOnly.service = { cluster: 'default', name: 'web', version: 7, set: {} };
    expect(isEmptyWrite(guardOnly)).toBe(true);
  });
});
