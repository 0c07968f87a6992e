/**
 * ECS's limits on placement constraints and strategies, checked where CreateService, UpdateService
 * and RunTask accept them (and again by placeTasks, so the engine never guesses at a bad rule).
 */
import { invalidParameter, isBerthError } from '../errors.ts';
import type { PlacementConstraint, PlacementStrategy } from '../model/service.ts';
import { MAX_QUERY_LENGTH, parseQuery } from './query-language.ts';

export const MAX_PLACEMENT_CONSTRAINTS = 10;
export const MAX_PLACEMENT_STRATEGIES = 5;
/** ECS's length limit on `PlacementStrategy.field`. */
export const MAX_STRATEGY_FIELD_LENGTH = 255;

export const BinpackFields = ['cpu', 'memory'] as const;
export type BinpackField = (typeof BinpackFields)[number];

/** `instanceId` and `host` mean the same thing in ECS: one bucket per container instance. */
export const SpreadInstanceFields = ['instanceId', 'host'] as const;
export const ATTRIBUTE_FIELD_PREFIX = 'attribute:';

const refuse = (path: string, message: string) => invalidParameter(`${path}: ${message}`);

/** A field that is absent or empty: ECS's SDKs send `""` as often as they omit a field. */
const isBlank = (value: string | undefined): boolean => value === undefined || value === '';

export const isBinpackField = (field: string | undefined): field is BinpackField =>
  (BinpackFields as readonly (string | undefined)[]).includes(field);

/** The attribute a spread field names, or undefined for `instanceId`/`host`. */
export const spreadAttributeOf = (field: string | undefined): string | undefined =>
  field?.startsWith(ATTRIBUTE_FIELD_PREFIX) ? field.slice(ATTRIBUTE_FIELD_PREFIX.length) : undefined;

const validateConstraint = (constraint: PlacementConstraint, path: string): void => {
  switch (constraint.type) {
    case 'distinctInstance':
      if (!isBlank(constraint.expression)) {
        throw refuse(
          `${path}.expression`,
          'An expression cannot be specified when the constraint type is distinctInstance.',
        );
      }
      return;
    case 'memberOf': {
      const expression = constraint.expression;
      if (expression === undefined || expression.trim() === '') {
        throw refuse(`${path}.expression`, 'A memberOf constraint requires an expression.');
      }
      if (expression.length > MAX_QUERY_LENGTH) {
        throw refuse(
          `${path}.expression`,
          `The expression has ${expression.length} characters; the limit is ${MAX_QUERY_LENGTH}.`,
        );
      }
      try {
        parseQuery(expression);
      } catch (error) {
        if (isBerthError(error)) throw refuse(`${path}.expression`, error.message);
        throw error;
      }
      return;
    }
    default:
      throw refuse(`${path}.type`, `Invalid placement constraint type '${String(constraint.type)}'.`);
  }
};

const validateStrategy = (strategy: PlacementStrategy, path: string): void => {
  const field = strategy.field;
  switch (strategy.type) {
    case 'binpack':
      if (!isBinpackField(field)) {
        throw refuse(`${path}.field`, `Invalid field '${field ?? ''}' for binpack: use cpu or memory.`);
      }
      return;
    case 'spread': {
      const attribute = spreadAttributeOf(field);
      const valid =
        (SpreadInstanceFields as readonly (string | undefined)[]).includes(field) ||
        (attribute !== undefined && attribute !== '');
      if (!valid || (field ?? '').length > MAX_STRATEGY_FIELD_LENGTH) {
        throw refuse(
          `${path}.field`,
          `Invalid field '${field ?? ''}' for spread: use instanceId, host or attribute:NAME.`,
        );
      }
      return;
    }
    case 'random':
      if (!isBlank(field)) {
        throw refuse(`${path}.field`, 'A field cannot be specified for the random placement strategy.');
      }
      return;
    default:
      throw refuse(`${path}.type`, `Invalid placement strategy type '${String(strategy.type)}'.`);
  }
};

/**
 * Checks placement constraints and strategies against ECS's rules: at most 10 constraints and 5
 * strategies; binpack on `cpu` or `memory`; spread on `instanceId`, `host` or `attribute:NAME`
 * (`attribute:ecs.availability-zone` included); random without a field; memberOf with a parseable
 * expression of at most 2000 characters; distinctInstance without one.
 *
 * @throws BerthError `InvalidParameterException` whose message starts with the offending field's
 *   path, e.g. `placementStrategy[1].field: …` or `placementConstraints[0].expression: …`.
 */
export function validatePlacement(
  constraints: readonly PlacementConstraint[],
  strategies: readonly PlacementStrategy[],
): void {
  if (constraints.length > MAX_PLACEMENT_CONSTRAINTS) {
    throw refuse(
      'placementConstraints',
      `At most ${MAX_PLACEMENT_CONSTRAINTS} placement constraints are allowed; got ${constraints.length}.`,
    );
  }
  if (strategies.length > MAX_PLACEMENT_STRATEGIES) {
    throw refuse(
      'placementStrategy',
      `At most ${MAX_PLACEMENT_STRATEGIES} placement strategies are allowed; got ${strategies.length}.`,
    );
  }
  for (const [index, constraint] of constraints.entries()) {
    validateConstraint(constraint, `placementConstraints[${index}]`);
  }
  for (const [index, strategy] of strategies.entries()) {
    validateStrategy(strategy, `placementStrategy[${index}]`);
  }
}
