/**
 * Placement strategies: among the instances that can take a task, which one gets it. Each strategy
 * gives every candidate a score (lower is better); strategies apply in order, so a later one only
 * decides among the candidates an earlier one found equally good. Remaining ties go to the lowest
 * instance id, so the outcome never depends on the order instances were read in.
 */
import type { PlacementStrategy } from '../model/service.ts';
import type { Candidate } from './filter.ts';
import { spreadAttributeOf } from './validate.ts';

/**
 * Berth's strategy when none is given. ECS spreads service tasks over
 * `attribute:ecs.availability-zone` then `instanceId`; external instances rarely carry an
 * availability zone, so Berth spreads over instances alone -- for services and RunTask alike.
 */
export const DEFAULT_STRATEGIES: readonly PlacementStrategy[] = [{ type: 'spread', field: 'instanceId' }];

/** Code-unit order, not localeCompare: the result must not depend on the host's locale. */
export const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** mulberry32: a tiny, well-mixed 32-bit PRNG; deterministic for a seed. */
const mulberry32 = (seed: number): (() => number) => {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

/** One stream per (seed, placement index): the second task of a call does not replay the first's draw. */
const streamSeed = (seed: number, index: number): number => {
  const base = Number.isFinite(seed) ? Math.trunc(seed) % 4294967296 : 0;
  let h = (base ^ Math.imul(index + 1, 0x9e3779b9)) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
};

/** A seeded Fisher-Yates shuffle of the candidates (taken in id order), as rank by instance id. */
const randomRanks = (candidates: readonly Candidate[], seed: number, index: number): Map<string, number> => {
  const ids = candidates.map((candidate) => candidate.instance.id).sort(compareIds);
  const next = mulberry32(streamSeed(seed, index));
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  return new Map(ids.map((id, rank) => [id, rank]));
};

/** Instances without the attribute share one bucket of their own, distinct from every value. */
const MISSING_BUCKET = Symbol('attribute missing');
type Bucket = string | typeof MISSING_BUCKET;

const bucketOf = (candidate: Candidate, attribute: string): Bucket => {
  const attributes = candidate.instance.attributes;
  return Object.hasOwn(attributes, attribute) ? (attributes[attribute] ?? '') : MISSING_BUCKET;
};

const groupCount = (candidate: Candidate, group: string): number =>
  candidate.taskGroups.reduce((count, taskGroup) => (taskGroup === group ? count + 1 : count), 0);

/** What the strategies need besides the candidates. */
export type StrategyContext = {
  group: string;
  /**
   * Every ACTIVE instance, including ones that cannot take this task: spread over an attribute
   * balances the group's tasks across each value's instances, not only across today's candidates.
   */
  population: readonly Candidate[];
  seed: number;
  /** The placement's position within its placeTasks call. */
  index: number;
};

type Score = (candidate: Candidate) => number;

const scoreFor = (
  strategy: PlacementStrategy,
  candidates: readonly Candidate[],
  context: StrategyContext,
): Score => {
  switch (strategy.type) {
    case 'binpack':
      // Least remaining first: the fullest instance that still fits.
      return strategy.field === 'memory' ? (candidate) => candidate.memory : (candidate) => candidate.cpu;
    case 'spread': {
      const attribute = spreadAttributeOf(strategy.field);
      if (attribute === undefined) return (candidate) => groupCount(candidate, context.group);
      const perBucket = new Map<Bucket, number>();
      for (const member of context.population) {
        const bucket = bucketOf(member, attribute);
        perBucket.set(bucket, (perBucket.get(bucket) ?? 0) + groupCount(member, context.group));
      }
      return (candidate) => perBucket.get(bucketOf(candidate, attribute)) ?? 0;
    }
    case 'random': {
      const ranks = randomRanks(candidates, context.seed, context.index);
      return (candidate) => ranks.get(candidate.instance.id) ?? 0;
    }
  }
};

/**
 * The candidate the strategies prefer. `candidates` must be non-empty and all able to take the task.
 */
export const chooseCandidate = (
  strategies: readonly PlacementStrategy[],
  candidates: readonly Candidate[],
  context: StrategyContext,
): Candidate => {
  const scores = strategies.map((strategy) => scoreFor(strategy, candidates, context));
  const keyed = candidates.map((candidate) => ({ candidate, key: scores.map((score) => score(candidate)) }));
  let best = keyed[0]!;
  for (const entry of keyed.slice(1)) {
    if (isBetter(entry, best)) best = entry;
  }
  return best.candidate;
};

const isBetter = (
  a: { candidate: Candidate; key: number[] },
  b: { candidate: Candidate; key: number[] },
): boolean => {
  for (let i = 0; i < a.key.length; i++) {
    const difference = a.key[i]! - b.key[i]!;
    if (difference !== 0) return difference < 0;
  }
  return compareIds(a.candidate.instance.id, b.candidate.instance.id) < 0;
};
