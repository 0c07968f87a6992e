import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteClusterCommand,
  DeleteServiceCommand,
  DeregisterContainerInstanceCommand,
  DeregisterTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  UpdateContainerInstancesStateCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { CreateActivationCommand, DeleteActivationCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDb, type Db } from '../../core/db/client.ts';
import { statusRank, type TaskStatus } from '../../core/model/task.ts';
import { startBerth, type TestBerth } from '../integration/harness.ts';
import type { DbFaults } from '../support/db-faults.ts';
import { chaosScale, chaosSeed, scenarioTimeout, seededRandom, settleFleet, targetOf } from './fleet.ts';
import { convergenceViolations, safetyViolations, scanTable, servicesIn, tasksIn } from './invariants.ts';
import { SimAgent } from './sim-agent.ts';

vi.setConfig({ testTimeout: scenarioTimeout(), hookTimeout: scenarioTimeout() });

/**
 * Scenario: DynamoDB throttles, fails and times out on a share of the table's calls, before the
 * call reached it or after it was applied (the answer lost). The faults sit inside the SDK's retry
 * loop, so the SDK retries them as real ones; what it gives up on reaches Berth's code. Operators
 * use the SDK's default retries, agents simply sync again. Afterwards (faults off, the sweeper's
 * periodic pass, the fleet settled): every invariant holds, every acknowledged write is there, and
 * no request took effect twice or in part.
 */

const faults: DbFaults = {
  rate: 0,
  kinds: ['throttle', 'internal', 'timeout'],
  when: 'either',
  seed: chaosSeed(424242),
};
let berth: TestBerth;
let operator: ECSClient;
/** The tests' own view of the table, without faults. */
let inspector: Db;

/** Berth logs every error it could not handle: counted here, not printed. */
const internalErrors: string[] = [];

beforeAll(async () => {
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    internalErrors.push(args.map((arg) => (arg instanceof Error ? arg.name : String(arg))).join(' '));
  });
  berth = await startBerth({ dbFaults: faults, sweepIntervalMs: 3_600_000 });
  inspector = createDb({
    table: berth.config.tableName,
    region: berth.region,
    endpoint: berth.dynamoEndpoint,
    credentials: { accessKeyId: berth.dynamoAccessKeyId, secretAccessKey: 'berthlocal' },
  });
  // An operator's client as shipped: the SDK's standard retries (3 attempts).
  operator = new ECSClient({
    endpoint: berth.endpoint,
    region: berth.region,
    credentials: berth.credentials,
  });
});

afterAll(async () => {
  operator?.destroy();
  inspector?.doc.destroy();
  await berth?.stop();
});

type Outcome = { ok: true; value: unknown } | { ok: false; error: string };
const attempt = async (send: () => Promise<unknown>): Promise<Outcome> => {
  try {
    return { ok: true, value: await send() };
  } catch (error) {
    return { ok: false, error: (error as Error).name };
  }
};

type Phase = Pick<DbFaults, 'rate' | 'when' | 'layer' | 'commands'>;
const writeCommands = [
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'TransactWriteItemsCommand',
];
const phases: [string, Phase][] = [
  ['on 20% of attempts (the SDK retries them)', { rate: 0.2, when: 'either', layer: 'attempt' }],
  ['on 8% of calls, seen by Berth itself', { rate: 0.08, when: 'either', layer: 'call' }],
  [
    'after 15% of writes were applied, seen by Berth itself',
    { rate: 0.15, when: 'after', layer: 'call', commands: writeCommands },
  ],
];

describe('DynamoDB errors and throttling', () => {
  it.each(phases)(
    '%s: retried where safe, nothing applied twice or in part, nothing acknowledged lost',
    async (_, phase) => {
      // Prepare: a fleet registered while DynamoDB is healthy.
      const cluster = `flaky-${phases.findIndex(([, p]) => p === phase)}`;
      const random = seededRandom(faults.seed);
      await berth.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
      const agents: SimAgent[] = [];
      for (let i = 0; i < 4; i++) agents.push(await SimAgent.register(targetOf(berth), { cluster }));
      const clusterItems = async () =>
        (await scanTable(inspector)).filter(
          (item) =>
            item.cluster === cluster || item.pk === `CLUSTER#${cluster}` || item.family === `${cluster}-app`,
        );

      // Act: a working session against a misbehaving table.
      Object.assign(faults, { commands: undefined }, phase);
      const definitions: Outcome[] = [];
      for (const size of [64, 96]) {
        definitions.push(
          await attempt(() =>
            operator.send(
              new RegisterTaskDefinitionCommand({
                family: `${cluster}-app`,
                containerDefinitions: [{ name: 'app', image: 'busybox', cpu: size, memory: size }],
              }),
            ),
          ),
        );
      }
      const createService = () =>
        attempt(() =>
          operator.send(
            new CreateServiceCommand({
              cluster,
              serviceName: 'web',
              taskDefinition: `${cluster}-app:1`,
              desiredCount: 6,
              clientToken: `create-${cluster}`,
            }),
          ),
        );
      // A caller that saw an error retries with the same clientToken, as ECS asks.
      let service = await createService();
      for (let retry = 0; retry < 3 && !service.ok; retry++) service = await createService();
      const runs: { startedBy: string; count: number; outcome: Outcome }[] = [];
      for (let round = 0; round < 8 * chaosScale(); round++) {
        const count = random.int(1, 3);
        const startedBy = `run-${round}`;
        runs.push({
          startedBy,
          count,
          outcome: await attempt(() =>
            operator.send(
              new RunTaskCommand({ cluster, taskDefinition: `${cluster}-app:1`, count, startedBy }),
            ),
          ),
        });
        if (round === 3) {
          await attempt(() =>
            operator.send(
              new UpdateServiceCommand({
                cluster,
                service: 'web',
                desiredCount: 8,
                taskDefinition: `${cluster}-app:2`,
              }),
            ),
          );
        }
        for (const agent of agents) await agent.sync();
        const live = tasksIn(await clusterItems()).filter((task) => task.lastStatus === 'RUNNING');
        if (live.length > 0 && random.int(0, 2) === 0) {
          await attempt(() => operator.send(new StopTaskCommand({ cluster, task: random.pick(live).id })));
        }
        await berth.drain(60_000).catch(() => undefined);
      }
      const midway = await clusterItems();
      // DynamoDB recovers; the sweeper's periodic pass picks up whatever the stream gave up on.
      faults.rate = 0;
      await berth.sweep();
      await settleFleet([berth], () => agents, 60);
      await berth.sweep();
      await settleFleet([berth], () => agents, 60);
      const items = await clusterItems();

      // Assess
      const injected = Object.entries(faults.injected ?? {}).filter(([name]) =>
        name.startsWith(phase.layer ?? ''),
      );
      expect(injected.filter(([name]) => name.includes(':after:')).length).toBeGreaterThan(0);
      expect(safetyViolations(midway)).toEqual([]);
      expect(safetyViolations(items)).toEqual([]);
      expect(convergenceViolations(items)).toEqual([]);
      // Task definitions: every acknowledged one is there, whole. RegisterTaskDefinition has no
      // clientToken (on ECS either): an answer lost after the write makes the SDK's retry register
      // the same content again, so a call may leave up to one revision per attempt.
      const revisions = items.filter((item) => item.type === 'taskDefinition');
      expect(revisions.length).toBeGreaterThanOrEqual(definitions.filter((outcome) => outcome.ok).length);
      expect(revisions.length).toBeLessThanOrEqual(definitions.length * 3);
      expect(revisions.map((item) => item.revision)).toEqual(revisions.map((_, i) => i + 1));
      const family = items.find((item) => item.type === 'taskDefinitionFamily');
      expect(family?.latestRevision).toBe(revisions.length);
      // The service exists once, as acknowledged.
      expect(service).toMatchObject({ ok: true });
      expect(servicesIn(items).map((s) => s.name)).toEqual(['web']);
      // Each RunTask took effect all or nothing, never twice; an acknowledged one took effect.
      const tasks = tasksIn(items);
      for (const run of runs) {
        const started = tasks.filter((task) => task.startedBy === run.startedBy).length;
        const allowed = run.outcome.ok ? [run.count] : [0, run.count];
        expect({ run: run.startedBy, started, allowed: allowed.includes(started) }).toEqual({
          run: run.startedBy,
          started,
          allowed: true,
        });
      }
      expect(runs.filter((run) => run.outcome.ok).length).toBeGreaterThan(runs.length / 2);
      // Every report the control plane acknowledged is reflected.
      const byId = new Map(tasks.map((task) => [task.id, task]));
      for (const agent of agents) {
        for (const ack of agent.acknowledged) {
          const stored = byId.get(ack.taskArn.split('/').at(-1) ?? '');
          expect(stored && statusRank(stored.lastStatus) >= statusRank(ack.lastStatus as TaskStatus)).toBe(
            true,
          );
        }
      }
      // One container per live task, on its own instance.
      const live = tasks.filter((task) => task.lastStatus !== 'STOPPED');
      const running = agents.flatMap((agent) =>
        agent.host.running().map((arn) => `${arn.split('/').at(-1)}@${agent.instanceId}`),
      );
      expect(running.sort()).toEqual(live.map((task) => `${task.id}@${task.instanceId}`).sort());
    },
  );
});

describe('a write DynamoDB applied whose answer was lost, retried by the SDK', () => {
  /** Arms exactly one fault: the next `command` is applied, then answered with an error. */
  const loseNextAnswer = (command: string) => {
    Object.assign(faults, {
      injected: {},
      rate: 1,
      limit: 1,
      when: 'after',
      layer: 'attempt',
      commands: [command],
      kinds: ['internal'],
    });
  };
  const heal = () => {
    const injected = Object.values(faults.injected ?? {}).reduce((sum, n) => sum + n, 0);
    Object.assign(faults, {
      rate: 0,
      limit: undefined,
      commands: undefined,
      kinds: ['throttle', 'internal', 'timeout'],
    });
    return injected;
  };
  const cluster = 'lost';
  const item = async (pk: string, sk: string) =>
    (await scanTable(inspector)).find((entry) => entry.pk === pk && entry.sk === sk);
  const ssmClient = () => berth.ssm;
  let agent: SimAgent;
  let taskArn = '';

  beforeAll(async () => {
    await berth.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
    agent = await SimAgent.register(targetOf(berth), { cluster });
  });

  const cases: [string, string, () => Promise<unknown>, () => Promise<void>][] = [
    [
      'CreateCluster',
      'PutItemCommand',
      () => berth.ecs.send(new CreateClusterCommand({ clusterName: 'lost-made' })),
      async () => expect(await item('CLUSTER#lost-made', 'CLUSTER')).toMatchObject({ status: 'ACTIVE' }),
    ],
    [
      'RegisterTaskDefinition',
      'TransactWriteItemsCommand',
      () =>
        berth.ecs.send(
          new RegisterTaskDefinitionCommand({
            family: 'lost-app',
            containerDefinitions: [{ name: 'app', image: 'busybox', cpu: 128, memory: 128 }],
          }),
        ),
      async () =>
        expect(await item('TASKDEF#lost-app', 'FAMILY')).toMatchObject({
          latestRevision: 1,
          activeRevisions: 1,
        }),
    ],
    [
      'CreateService',
      'PutItemCommand',
      () =>
        berth.ecs.send(
          new CreateServiceCommand({
            cluster,
            serviceName: 'web',
            taskDefinition: 'lost-app',
            desiredCount: 1,
          }),
        ),
      async () => expect(await item('SERVICE#lost#web', 'SERVICE')).toMatchObject({ status: 'ACTIVE' }),
    ],
    [
      'UpdateService',
      'TransactWriteItemsCommand',
      async () => {
        await berth.drain();
        return berth.ecs.send(new UpdateServiceCommand({ cluster, service: 'web', desiredCount: 2 }));
      },
      async () => expect(await item('SERVICE#lost#web', 'SERVICE')).toMatchObject({ desiredCount: 2 }),
    ],
    [
      'RunTask',
      'TransactWriteItemsCommand',
      async () => {
        const answer = await berth.ecs.send(
          new RunTaskCommand({ cluster, taskDefinition: 'lost-app', count: 2, startedBy: 'lost-run' }),
        );
        taskArn = answer.tasks?.[0]?.taskArn ?? '';
        return answer;
      },
      async () =>
        expect(
          tasksIn(await scanTable(inspector)).filter((task) => task.startedBy === 'lost-run'),
        ).toHaveLength(2),
    ],
    [
      'an agent report',
      'UpdateItemCommand',
      async () => {
        await berth.drain();
        const answer = await agent.sync();
        await agent.sync();
        return answer;
      },
      async () => {
        const mine = tasksIn(await scanTable(inspector)).filter(
          (task) => task.instanceId === agent.instanceId,
        );
        expect(mine.filter((task) => task.lastStatus === 'RUNNING').length).toBeGreaterThan(0);
      },
    ],
    [
      'StopTask',
      'TransactWriteItemsCommand',
      () => berth.ecs.send(new StopTaskCommand({ cluster, task: taskArn })),
      async () =>
        expect(tasksIn(await scanTable(inspector)).find((task) => taskArn.endsWith(task.id))).toMatchObject({
          desiredStatus: 'STOPPED',
          stopCode: 'UserInitiated',
        }),
    ],
    [
      'an agent report that frees resources',
      'TransactWriteItemsCommand',
      async () => {
        const answer = await agent.sync();
        await agent.sync();
        await agent.sync();
        return answer;
      },
      async () => {
        const items = await scanTable(inspector);
        expect(tasksIn(items).find((task) => taskArn.endsWith(task.id))).toMatchObject({
          lastStatus: 'STOPPED',
          released: true,
        });
        expect(safetyViolations(items)).toEqual([]);
      },
    ],
    [
      'CreateActivation',
      'PutItemCommand',
      () => ssmClient().send(new CreateActivationCommand({ IamRole: 'lost', Description: 'lost-answer' })),
      async () =>
        expect(
          (await scanTable(inspector)).filter((entry) => entry.description === 'lost-answer'),
        ).toHaveLength(1),
    ],
    [
      'DeleteActivation',
      'DeleteItemCommand',
      async () => {
        const made = (await scanTable(inspector)).find((entry) => entry.description === 'lost-answer');
        return ssmClient().send(new DeleteActivationCommand({ ActivationId: String(made?.id) }));
      },
      async () =>
        expect(
          (await scanTable(inspector)).filter((entry) => entry.description === 'lost-answer'),
        ).toHaveLength(0),
    ],
    [
      'an agent registration',
      'TransactWriteItemsCommand',
      async () => {
        const registered = await SimAgent.register(targetOf(berth), { cluster });
        return registered.containerInstanceArn;
      },
      async () =>
        expect(
          (await scanTable(inspector)).filter(
            (entry) => entry.type === 'containerInstance' && entry.cluster === cluster,
          ),
        ).toHaveLength(2),
    ],
    [
      'UpdateContainerInstancesState',
      'UpdateItemCommand',
      () =>
        berth.ecs.send(
          new UpdateContainerInstancesStateCommand({
            cluster,
            containerInstances: [agent.containerInstanceArn],
            status: 'DRAINING',
          }),
        ),
      async () =>
        expect(await item(`CLUSTER#${cluster}`, `INSTANCE#${agent.instanceId}`)).toMatchObject({
          status: 'DRAINING',
        }),
    ],
    [
      'DeleteService',
      'TransactWriteItemsCommand',
      () => berth.ecs.send(new DeleteServiceCommand({ cluster, service: 'web', force: true })),
      async () => expect((await item('SERVICE#lost#web', 'SERVICE'))?.status).not.toBe('ACTIVE'),
    ],
    [
      'DeregisterContainerInstance',
      'TransactWriteItemsCommand',
      () =>
        berth.ecs.send(
          new DeregisterContainerInstanceCommand({
            cluster,
            containerInstance: agent.containerInstanceArn,
            force: true,
          }),
        ),
      async () =>
        expect(await item(`CLUSTER#${cluster}`, `INSTANCE#${agent.instanceId}`)).toMatchObject({
          status: 'INACTIVE',
        }),
    ],
    [
      'DeregisterTaskDefinition',
      'TransactWriteItemsCommand',
      () => berth.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'lost-app:1' })),
      async () => expect(await item('TASKDEF#lost-app', 'FAMILY')).toMatchObject({ activeRevisions: 0 }),
    ],
    [
      'DeleteCluster',
      'UpdateItemCommand',
      async () => {
        await berth.ecs.send(new CreateClusterCommand({ clusterName: 'lost-gone' }));
        return berth.ecs.send(new DeleteClusterCommand({ cluster: 'lost-gone' }));
      },
      async () => expect(await item('CLUSTER#lost-gone', 'CLUSTER')).toMatchObject({ status: 'INACTIVE' }),
    ],
  ];

  it.each(cases)('%s succeeds once (%s)', async (_, command, act, check) => {
    // Prepare
    loseNextAnswer(command);

    // Act
    const outcome = await attempt(act);
    const injected = heal();

    // Assess
    expect(injected).toBe(1);
    expect(outcome).toMatchObject({ ok: true });
    await check();
  });
});
