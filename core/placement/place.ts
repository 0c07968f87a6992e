/**
 * The placement engine: which container instances get a batch of tasks. Pure -- no I/O, clock or
 * ambient randomness; `random` draws from `request.seed`. ECS's process: keep the instances that
 * have the CPU, memory and ports (filter.ts), then those meeting the constraints, then let the
 * strategies choose among them (strategies.ts).
 */
import { candidateOf, charge, checksFor, depthOf, failureOf } from './filter.ts';
import { chooseCandidate, compareIds, DEFAULT_STRATEGIES } from './strategies.ts';
import type { PlacementInstance, PlacementRequest, PlacementResult } from './types.ts';
import { validatePlacement } from './validate.ts';

export { DEFAULT_STRATEGIES } from './strategies.ts';
export type {
  PlacementFailure,
  PlacementFailureReason,
  PlacementInstance,
  PlacementRequest,
  PlacementResult,
} from './types.ts';
export { PlacementFailureReasons } from './types.ts';
export { MAX_PLACEMENT_CONSTRAINTS, MAX_PLACEMENT_STRATEGIES, validatePlacement } from './validate.ts';

/**
 * Places `count` tasks one after another: each placement updates the candidate view (resources,
 * ports, tasks) before the next one, so `distinctInstance` and spread see earlier placements of the
 * same call. Candidates are the ACTIVE instances; one whose agent is disconnected can take nothing.
 * With no strategy, Berth spreads over instances (DEFAULT_STRATEGIES). Ties go to the lowest id.
 *
 * Returns one instance id per placed task, in placement order, and -- when fewer than `count` could
 * be placed -- why the next one could not: the reason of the closest candidate, in ECS's words.
 * The inputs are not modified; the same inputs always give the same result, whatever their order.
 *
 * @throws BerthError `InvalidParameterException` for constraints or strategies that
 *   validatePlacement refuses.
 */
export function placeTasks(
  request: PlacementRequest,
  instances: readonly PlacementInstance[],
  count: number,
): PlacementResult {
  validatePlacement(request.constraints, request.strategies);
  const checks = checksFor(request);
  const strategies = request.strategies.length > 0 ? request.strategies : DEFAULT_STRATEGIES;
  // DRAINING, REGISTERING, ... instances take no new tasks (ECS), and their tasks are on their way
  // out, so they neither receive placements nor weigh in spread.
  const population = instances
    .filter((instance) => instance.status === 'ACTIVE')
    .map(candidateOf)
    .sort((a, b) => compareIds(a.instance.id, b.instance.id));

  const placements: string[] = [];
  for (let index = 0; index < count; index++) {
    const able = population.filter((candidate) => depthOf(checks, candidate) === checks.length);
    if (able.length === 0) return { placements, failure: failureOf(checks, population) };
    const chosen = chooseCandidate(strategies, able, {
      group: request.group,
      population,
      seed: request.seed,
      index,
    });
    charge(chosen, request);
    placements.push(chosen.instance.id);
  }
  return { placements };
}
