import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateServiceCommand,
  RunTaskCommand,
  StopTaskCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { startBerth, type TestBerth } from '../integration/harness.ts';
import { chaosScale, registerFamily, scenarioTimeout, serviceState, settleFleet, simFleet } from './fleet.ts';
import { canonicalJson, convergenceViolations, safetyViolations, scanTable, tasksIn } from './invariants.ts';
import type { SimAgent } from './sim-agent.ts';

vi.setConfig({ testTimeout: scenarioTimeout(), hookTimeout: scenarioTimeout() });

/**
 * Scenario: the stream poller's checkpoint is rolled back while Berth is stopped, so on the next
 * start every batch since then is delivered again. The reconciler is level-triggered and re-reads
 * what it reconciles, so the replay must change nothing: "nothing" is defined as every item of the
 * table, every attribute (updatedAt and version included), equal as canonical JSON before and
 * after, and not one write call made while the replay ran.
 */

const dataDir = mkdtempSync(join(tmpdir(), 'berth-replay-'));
const checkpointFile = join(dataDir, 'stream-checkpoint.json');
const earlyCheckpoint = join(dataDir, 'early-checkpoint.json');
let berth: TestBerth | undefined;

const start = () => startBerth({ inMemory: false, dataDir, meter: true, sweepIntervalMs: 3_600_000 });

afterAll(async () => {
  await berth?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a stream checkpoint rolled back', () => {
  it('changes nothing when every batch since the old checkpoint is delivered again', async () => {
    // Prepare: a fleet that ran a service through a deployment, scaling and a stop, then settled.
    berth = await start();
    const agents: SimAgent[] = await simFleet(berth, 'replay', 3);
    await registerFamily(berth.ecs, 'replay-web');
    await registerFamily(berth.ecs, 'replay-web', 96);
    await berth.drain();
    copyFileSync(checkpointFile, earlyCheckpoint);
    const desired = 6 * chaosScale();
    await berth.ecs.send(
      new CreateServiceCommand({
        cluster: 'replay',
        serviceName: 'web',
        taskDefinition: 'replay-web:1',
        desiredCount: desired,
      }),
    );
    await berth.ecs.send(new RunTaskCommand({ cluster: 'replay', taskDefinition: 'replay-web:1', count: 2 }));
    await settleFleet([berth], () => agents);
    await berth.ecs.send(
      new UpdateServiceCommand({
        cluster: 'replay',
        service: 'web',
        taskDefinition: 'replay-web:2',
        desiredCount: desired + 2,
      }),
    );
    await settleFleet([berth], () => agents);
    const victim = tasksIn(await scanTable(berth.db)).find(
      (task) => task.serviceName === 'web' && task.lastStatus === 'RUNNING',
    );
    await berth.ecs.send(new StopTaskCommand({ cluster: 'replay', task: victim?.id ?? '' }));
    await settleFleet([berth], () => agents);
    // The last syncs' heartbeats are records too: let the poller take them before reading its position.
    await berth.drain();
    const before = await scanTable(berth.db);
    const finalCheckpoint = readFileSync(checkpointFile, 'utf8');
    await berth.stop();
    berth = undefined;

    // Act: roll the checkpoint back and start again on the same data.
    copyFileSync(earlyCheckpoint, checkpointFile);
    berth = await start();
    await berth.drain(60_000);
    await berth.drain(60_000);
    const after = await scanTable(berth.db);
    const writes = { ...berth.meter?.calls };

    // Assess
    expect(readFileSync(earlyCheckpoint, 'utf8')).not.toBe(finalCheckpoint);
    expect(readFileSync(checkpointFile, 'utf8')).toBe(finalCheckpoint);
    // The replay did reach the reconciler: it re-read the units the old records named.
    expect(writes.QueryCommand ?? 0).toBeGreaterThan(0);
    for (const command of [
      'PutItemCommand',
      'UpdateItemCommand',
      'DeleteItemCommand',
      'TransactWriteItemsCommand',
    ]) {
      expect({ command, calls: writes[command] ?? 0 }).toEqual({ command, calls: 0 });
    }
    expect(berth.meter?.writeUnits).toBe(0);
    expect(after.length).toBe(before.length);
    expect(canonicalJson(after)).toBe(canonicalJson(before));
    expect(safetyViolations(after)).toEqual([]);
    expect(convergenceViolations(after)).toEqual([]);
    expect(await serviceState(berth.ecs, 'replay', 'web')).toMatchObject({
      runningCount: desired + 2,
      rolloutState: 'COMPLETED',
    });
  });
});
