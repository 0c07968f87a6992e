import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ReconcileInput, ServicePlan } from '../../core/reconcile/service.ts';
import { isEmptyPlan, reconcileService } from '../../core/reconcile/service.ts';
import {
  anyInputArb,
  ceilingOf,
  convergentWorldArb,
  floorOf,
  inputOf,
  isHealthyTask,
  isOccupying,
  isSettled,
  startCount,
  step,
  type World,
} from './reconcile-fixtures.ts';

/** The safety rules every single plan keeps, whatever state it was decided from. */
const checkPlan = (input: ReconcileInput, plan: ServicePlan) => {
  const byId = new Map(input.tasks.map((task) => [task.id, task]));
  const stops = plan.stop.map((stop) => stop.taskId);
  const finalizes = plan.finalize.map((finalize) => finalize.taskId);

  // Ceiling: stopped tasks hold their instance until their agent reports them STOPPED, so after the
  // plan the occupying tasks are those before plus the starts. A plan that starts anything keeps
  // that within floor(D × max / 100) (at least 1 when D ≥ 1); it never adds to an excess.
  const occupying = input.tasks.filter((task) => isOccupying(input, task)).length;
  if (startCount(plan) > 0)
    expect(occupying + startCount(plan)).toBeLessThanOrEqual(ceilingOf(input.service));

  // Floor: healthy tasks (desired RUNNING, RUNNING, HEALTHY where checked, on a present instance,
  // not lost) that the plan stops never take the healthy count below ceil(D × min / 100), or below
  // where it already was. Unhealthy, pending, lost and gone tasks are not healthy, so they may go.
  const healthy = input.tasks.filter((task) => isHealthyTask(input, task));
  const healthyLeft = healthy.filter((task) => !stops.includes(task.id)).length;
  expect(healthyLeft).toBeGreaterThanOrEqual(Math.min(healthy.length, floorOf(input.service)));

  // Each task is stopped or finalized at most once, never both, and only when the write can apply
  // (a stop needs desired RUNNING, a finalize a live task): else the guarded transaction fails.
  expect(new Set(stops).size).toBe(stops.length);
  expect(new Set(finalizes).size).toBe(finalizes.length);
  expect(stops.filter((id) => finalizes.includes(id))).toEqual([]);
  for (const id of stops) expect(byId.get(id)).toMatchObject({ desiredStatus: 'RUNNING' });
  for (const id of [...stops, ...finalizes]) expect(byId.get(id)?.lastStatus).not.toBe('STOPPED');

  // Starts: only the primary deployment's definition, never for a deleted or failed rollout.
  const primary = input.service.deployments.find((deployment) => deployment.status === 'PRIMARY');
  for (const start of plan.start) {
    expect(start.count).toBeGreaterThan(0);
    expect(start).toMatchObject({
      deploymentId: primary?.id,
      family: primary?.family,
      revision: primary?.revision,
    });
  }
  if (input.service.status !== 'ACTIVE' || primary?.rolloutState === 'FAILED') expect(plan.start).toEqual([]);
};

describe('reconcileService properties', () => {
  it('keeps the ceiling, the floor and one action per task in every plan', () => {
    fc.assert(
      fc.property(anyInputArb, (input) => {
        checkPlan(input, reconcileService(input));
      }),
      { numRuns: 1500 },
    );
  });

  it('decides the same plan for the same input and leaves the input untouched', () => {
    fc.assert(
      fc.property(anyInputArb, (input) => {
        const copy = structuredClone(input);

        const first = reconcileService(input);
        const second = reconcileService(copy);

        expect(second).toEqual(first);
        expect(input).toEqual(copy);
      }),
      { numRuns: 500 },
    );
  });

  it('converges with capacity to exactly D healthy primary tasks, then writes nothing', () => {
    const maxSteps = 120;
    const quietSteps = 12;
    fc.assert(
      fc.property(convergentWorldArb, (initial) => {
        let world: World = initial;
        let settledAt: number | undefined;
        for (let round = 0; round < maxSteps && settledAt === undefined; round++) {
          const before = world;
          const result = step(world);
          checkPlan(inputOf(before), result.plan);
          // New tasks get fresh ids: a placement never reuses a task.
          const ids = result.world.tasks.map((task) => task.id);
          expect(new Set(ids).size).toBe(ids.length);
          // "Steady state" is said only by the pass that marks the service steady, not on every pass.
          if (result.plan.events.some((event) => event.endsWith('has reached a steady state.'))) {
            expect(before.service.steadySince).toBeUndefined();
            expect(result.plan.service?.steadySince).toBeDefined();
          }
          world = result.world;
          const quiet = isEmptyPlan(result.plan) && result.plan.recheckAt === undefined;
          if (quiet && isSettled(before)) settledAt = round;
        }

        // Assess: settled within the bound to D healthy primary tasks and nothing else live but lost
        // tasks (a deleted service: INACTIVE), and from then on, as time passes and agents keep
        // reporting, every pass is empty.
        expect(settledAt).toBeDefined();
        expect(isSettled(world)).toBe(true);
        if (initial.service.status === 'DRAINING') expect(world.service.status).toBe('INACTIVE');
        for (let round = 0; round < quietSteps; round++) {
          const result = step(world);
          expect(result.plan).toEqual({ start: [], stop: [], finalize: [], events: [] });
          world = result.world;
        }
      }),
      { numRuns: 300 },
    );
  });
});
