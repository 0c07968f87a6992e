import { describe, expect, it } from 'vitest';
import { quickParams, runFleetBench } from '../bench/fleet.ts';

describe('fleet benchmark', () => {
  it('runs every scenario at CI size and reports every figure', async () => {
    const results = await runFleetBench({ ...quickParams, outDir: 'bench-results/ci' });

    expect(results.burst.tasks).toBe(quickParams.tasks);
    expect(results.burst.allRunning).toBe(true);
    for (const figure of [
      results.burst.p99Seconds,
      results.burst.placementsPerSecond,
      results.burst.ratioOfRaw,
      results.doorbell.p99Ms + 1,
      results.api.p99Ms,
      results.raw.txPerSecond,
    ]) {
      expect(Number.isFinite(figure) && figure > 0).toBe(true);
    }
    expect(results.doorbell.seen).toBe(quickParams.doorbellRuns);
    expect(results.idle.agents).toBe(quickParams.idleAgents);
    for (const figure of [results.idle.writeUnitsPerAgentHour, results.idle.dollarsPerAgentMonth]) {
      expect(Number.isFinite(figure) && figure >= 0).toBe(true);
    }
    // The sweeper alone costs something: the model never answers zero.
    expect(results.idle.dollarsPerAgentMonth).toBeGreaterThan(0);
  }, 90_000);
});
