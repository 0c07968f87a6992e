import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateServiceCommand } from '@aws-sdk/client-ecs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createDb, type Db } from '../../core/db/client.ts';
import { statusRank, type TaskStatus } from '../../core/model/task.ts';
import { freePort } from '../../local/dynamodb.ts';
import {
  accessKeyIdOf,
  type BerthProcess,
  groupGone,
  jvmsOf,
  startBerthProcess,
  waitUntil,
} from './berth-process.ts';
import {
  chaosScale,
  containersByTask,
  registerFamily,
  scenarioTimeout,
  serviceState,
  simFleet,
} from './fleet.ts';
import { convergenceViolations, safetyViolations, scanTable, servicesIn, tasksIn } from './invariants.ts';
import { fleetFingerprint, type SimAgent } from './sim-agent.ts';

vi.setConfig({ testTimeout: scenarioTimeout(), hookTimeout: scenarioTimeout() });

/**
 * Scenario: `berth up` is killed with SIGKILL (its node process, as the OOM killer would) in the
 * middle of a 200-task deployment, and started again on the same data directory. Its DynamoDB
 * Local must not outlive it, the deployment must complete, and nothing acknowledged may be lost
 * or duplicated.
 */

const dataDir = mkdtempSync(join(tmpdir(), 'berth-crash-'));
let berth: BerthProcess | undefined;
let inspector: Db | undefined;

afterAll(async () => {
  await berth?.stop();
  inspector?.doc.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

const desired = 200;
const cluster = 'crash';

/** One round of the fleet: every agent syncs once (failing quietly while Berth is down). */
const round = async (agents: readonly SimAgent[]) => {
  await Promise.all(agents.map((agent) => agent.sync()));
  await new Promise((resolve) => setTimeout(resolve, 50));
};

const runningContainers = (agents: readonly SimAgent[]) =>
  agents.reduce((n, a) => n + a.host.running().length, 0);

describe('berth up killed with SIGKILL mid-deployment', () => {
  it('leaves no DynamoDB Local behind, and after a restart completes the deployment without losing or duplicating a task', async () => {
    // Prepare
    const port = await freePort();
    berth = await startBerthProcess(dataDir, port);
    const target = { endpoint: () => `http://127.0.0.1:${port}`, ssm: berth.ssm };
    const agents = await simFleet({ ...target, endpoint: target.endpoint(), ecs: berth.ecs }, cluster, 10);
    const first = await registerFamily(berth.ecs, 'crash-web', 64);
    const second = await registerFamily(berth.ecs, 'crash-web', 32);
    const created = await berth.ecs.send(
      new CreateServiceCommand({
        cluster,
        serviceName: 'web',
        taskDefinition: 'crash-web:1',
        desiredCount: desired,
        deploymentConfiguration: { maximumPercent: 100, minimumHealthyPercent: 0 },
      }),
    );
    const acknowledged = {
      taskDefinitions: [first.taskDefinition?.taskDefinitionArn, second.taskDefinition?.taskDefinitionArn],
      service: created.service?.serviceArn,
    };

    // Act: kill berth's node process once the deployment is under way (more kills under chaos).
    const kills: { runningAtKill: number; jvmsLeft: number; groupGone: boolean }[] = [];
    for (let kill = 1; kill <= chaosScale(); kill++) {
      const threshold = Math.floor((desired * kill) / (chaosScale() + 1) / 5);
      await waitUntil(
        'the deployment to be under way',
        async () => {
          await round(agents);
          return runningContainers(agents) >= threshold;
        },
        120_000,
      );
      const running = berth as BerthProcess;
      const berthPid = running.berthPid();
      const jvmsBefore = jvmsOf(dataDir);
      process.kill(berthPid as number, 'SIGKILL');
      const gone = await groupGone(running.child.pid as number, 15_000);
      kills.push({
        runningAtKill: runningContainers(agents),
        jvmsLeft: jvmsOf(dataDir).length,
        groupGone: gone,
      });
      expect(jvmsBefore).toHaveLength(1);
      // While it is down the agents keep their tasks and keep trying.
      await round(agents);
      berth = await startBerthProcess(dataDir, port);
    }
    await waitUntil(
      'the deployment to complete',
      async () => {
        const before = fleetFingerprint(agents);
        await round(agents);
        await round(agents);
        const state = await serviceState((berth as BerthProcess).ecs, cluster, 'web');
        return (
          state.rolloutState === 'COMPLETED' &&
          state.runningCount === desired &&
          fleetFingerprint(agents) === before
        );
      },
      180_000,
    );
    // Read the table through the restarted Berth's own DynamoDB Local.
    const jvm = jvmsOf(dataDir)[0];
    const dynamoPort = /-port (\d+)/.exec(jvm?.cmdline ?? '')?.[1];
    inspector = createDb({
      table: 'berth',
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${dynamoPort}`,
      credentials: { accessKeyId: accessKeyIdOf(jvm?.pid ?? 0) ?? '', secretAccessKey: 'berthlocal' },
    });
    const items = await scanTable(inspector);

    // Assess
    for (const kill of kills) {
      expect(kill.runningAtKill).toBeGreaterThan(0);
      expect(kill.runningAtKill).toBeLessThan(desired);
      expect(kill).toMatchObject({ jvmsLeft: 0, groupGone: true });
    }
    expect(agents.some((agent) => agent.failedSyncs > 0)).toBe(true);
    expect(safetyViolations(items)).toEqual([]);
    expect(convergenceViolations(items)).toEqual([]);
    expect(items.find((item) => item.type === 'cluster' && item.name === cluster)).toMatchObject({
      status: 'ACTIVE',
    });
    expect(servicesIn(items).map((service) => `${service.cluster}/${service.name}`)).toEqual([
      `${cluster}/web`,
    ]);
    expect(acknowledged.service).toContain(`service/${cluster}/web`);
    const revisions = items
      .filter((item) => item.type === 'taskDefinition')
      .map((item) => `${item.family}:${item.revision}`);
    expect(revisions.sort()).toEqual(['crash-web:1', 'crash-web:2']);
    expect(acknowledged.taskDefinitions.every((arn) => arn?.startsWith('arn:aws:ecs:'))).toBe(true);
    // Exactly the 200 tasks the deployment placed, each running on exactly one machine.
    const tasks = tasksIn(items);
    expect(tasks).toHaveLength(desired);
    const where = containersByTask(agents);
    expect(where.size).toBe(desired);
    for (const task of tasks) {
      const hosts = [...where.entries()].find(([arn]) => arn.endsWith(task.id))?.[1];
      expect({ task: task.id, hosts }).toEqual({ task: task.id, hosts: [task.instanceId] });
    }
    // Every report an agent had acknowledged is still reflected.
    const byId = new Map(tasks.map((task) => [task.id, task]));
    for (const agent of agents) {
      for (const ack of agent.acknowledged) {
        const stored = byId.get(ack.taskArn.split('/').at(-1) ?? '');
        expect(stored && statusRank(stored.lastStatus) >= statusRank(ack.lastStatus as TaskStatus)).toBe(
          true,
        );
      }
    }
  });
});
