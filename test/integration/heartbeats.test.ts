import {
  CreateClusterCommand,
  DescribeContainerInstancesCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from './harness.ts';
import { ScriptedAgent, settle, syncRound } from './scripted-agent.ts';

// Heartbeats with the defaults (60-second syncs, a 180-second grace): a sync writes the heartbeat
// record only when the last one is half the grace old, and that must never make a live agent look
// silent.

let berth: TestBerth;
/** Added to the wall clock: moving it forward is time passing for Berth. */
let clockOffsetMs = 0;
const now = () => new Date(Date.now() + clockOffsetMs);
const cluster = 'beats';

beforeAll(async () => {
  berth = await startBerth({ now, meter: true, sweepIntervalMs: 3_600_000 });
  await berth.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
});

afterAll(async () => {
  await berth?.stop();
});

const heartbeatWrites = () => berth.meter?.calls.PutItemCommand ?? 0;

/** A minute passes: every connected agent syncs, then the sweeper runs. */
const minute = async (agents: ScriptedAgent[]) => {
  clockOffsetMs += 60_000;
  await syncRound(berth, agents);
  await berth.sweep();
  await berth.drain();
};

const connected = async (agents: ScriptedAgent[]) =>
  (
    (
      await berth.ecs.send(
        new DescribeContainerInstancesCommand({
          cluster,
          containerInstances: agents.map((agent) => agent.containerInstanceArn),
        }),
      )
    ).containerInstances ?? []
  ).map((instance) => instance.agentConnected === true);

describe('heartbeats', () => {
  it('keep an agent syncing every minute connected on half the writes, and a silent one is found within the grace', async () => {
    // Prepare
    const agents = [
      await ScriptedAgent.register(berth, { cluster }),
      await ScriptedAgent.register(berth, { cluster }),
    ];
    await syncRound(berth, agents);
    const writesBefore = heartbeatWrites();

    // Act: ten minutes of syncs, a sweep after each.
    const whileSyncing: boolean[][] = [];
    for (let i = 0; i < 10; i++) {
      await minute(agents);
      whileSyncing.push(await connected(agents));
    }
    const writes = heartbeatWrites() - writesBefore;
    // Then the second agent goes silent.
    const silent = agents[1] as ScriptedAgent;
    silent.connected = false;
    const afterSilence: boolean[][] = [];
    for (let i = 0; i < 4; i++) {
      await minute(agents);
      afterSilence.push(await connected(agents));
    }

    // Assess
    expect(whileSyncing.every((states) => states.every(Boolean))).toBe(true);
    // 20 syncs, a heartbeat written on every other one.
    expect(writes).toBe(10);
    // Silent since minute 10: still connected a minute later, disconnected by the third minute.
    expect(afterSilence[0]).toEqual([true, true]);
    expect(afterSilence[2]).toEqual([true, false]);
    expect(afterSilence[3]).toEqual([true, false]);
  });

  it('with nothing to report read the instance alone, however many tasks it runs', async () => {
    // Prepare: an agent alone in its cluster running five tasks, everything reported and acknowledged.
    // Operator requests are signed by the wall clock, which Berth's must stay within 15 minutes of.
    clockOffsetMs = 0;
    const own = 'beats-idle';
    await berth.ecs.send(new CreateClusterCommand({ clusterName: own }));
    const agent = await ScriptedAgent.register(berth, { cluster: own });
    await berth.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'beat',
        requiresCompatibilities: ['EXTERNAL'],
        containerDefinitions: [{ name: 'app', image: 'busybox', cpu: 8, memory: 16, essential: true }],
      }),
    );
    await berth.ecs.send(
      new RunTaskCommand({ cluster: own, taskDefinition: 'beat', count: 5, launchType: 'EXTERNAL' }),
    );
    await settle(berth, [agent]);
    const meter = berth.meter;
    if (!meter) throw new Error('the meter is off');
    meter.reset();

    // Act: a heartbeat sync.
    clockOffsetMs += 60_000;
    const answer = await agent.sync();

    // Assess: the instance is read (and the heartbeat maybe written); no task item is.
    expect(agent.running()).toHaveLength(5);
    expect(answer.tasks).toBeUndefined();
    expect(meter.calls.BatchGetItemCommand ?? 0).toBe(0);
    expect(meter.calls.QueryCommand ?? 0).toBe(0);
    expect(meter.calls.GetItemCommand).toBe(1);
  });

  it('that report on one task read that task alone, not all the agent runs', async () => {
    // Prepare: an agent alone in its cluster running five tasks, all reported; then one exits.
    // Operator requests are signed by the wall clock, which Berth's must stay within 15 minutes of.
    clockOffsetMs = 0;
    const own = 'beats-report';
    await berth.ecs.send(new CreateClusterCommand({ clusterName: own }));
    const agent = await ScriptedAgent.register(berth, { cluster: own });
    await berth.ecs.send(
      new RunTaskCommand({ cluster: own, taskDefinition: 'beat', count: 5, launchType: 'EXTERNAL' }),
    );
    await settle(berth, [agent]);
    const exited = [...agent.held.values()][0];
    if (!exited) throw new Error('no task');
    Object.assign(exited, { status: 'STOPPED', seq: exited.seq + 1, extra: { stoppedReason: 'exited' } });
    const meter = berth.meter;
    if (!meter) throw new Error('the meter is off');
    meter.reset();

    // Act
    const answer = await agent.sync();

    // Assess: acknowledged, after reading the instance and that one task (one read unit each).
    expect(answer.acked).toEqual([{ taskArn: exited.task.taskArn, seq: exited.seq }]);
    expect(meter.calls.BatchGetItemCommand).toBe(1);
    expect(meter.readUnits).toBe(2);
  });
});
