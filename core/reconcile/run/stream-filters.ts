/**
 * Which stream records reach the reconciler, as Lambda event-filter patterns (plain data): infra/
 * sets them on the event source mapping, and `matchesStreamFilters` evaluates them the way Lambda
 * does, for the local poller and for tests. A record that matches no pattern never invokes the
 * function — so the heartbeat an agent writes every minute, service events, tokens and activations
 * cost no reconciler invocation.
 *
 * They select exactly the keys `unitOfKey` maps to a unit (test/unit/infra-stream-filters.test.ts
 * checks every key builder). Lambda's filter syntax has no "anything but this prefix", so the
 * patterns list what is wanted rather than what is not.
 */
export type FilterRule = string | { prefix: string };
export type FilterPattern = { readonly [field: string]: FilterPattern | readonly FilterRule[] };

export const reconcilerStreamFilters = [
  // A container instance: registered, drained, disconnected, capacity freed, deregistered.
  { dynamodb: { Keys: { pk: { S: [{ prefix: 'CLUSTER#' }] }, sk: { S: [{ prefix: 'INSTANCE#' }] } } } },
  // A service or one of its tasks (not its events: those are the reconciler's own output).
  {
    dynamodb: {
      Keys: { pk: { S: [{ prefix: 'SERVICE#' }] }, sk: { S: ['SERVICE', { prefix: 'TASK#' }] } },
    },
  },
] as const satisfies readonly FilterPattern[];

/** Lambda allows five patterns per event source mapping (ten with a quota increase). */
export const maxFilterPatterns = 5;

const isRuleList = (value: FilterPattern | readonly FilterRule[]): value is readonly FilterRule[] =>
  Array.isArray(value);

const matchesRule = (rule: FilterRule, value: unknown): boolean => {
  if (typeof rule === 'string') return value === rule;
  if (Object.keys(rule).length !== 1 || typeof rule.prefix !== 'string') {
    throw new Error(`Unsupported filter rule ${JSON.stringify(rule)}: extend matchesStreamFilters first.`);
  }
  return typeof value === 'string' && value.startsWith(rule.prefix);
};

/** One pattern: every field it names must be present and match one of its rules (AND of ORs). */
export const matchesPattern = (pattern: FilterPattern, record: unknown): boolean =>
  Object.entries(pattern).every(([field, expected]) => {
    const value =
      record !== null && typeof record === 'object' ? (record as Record<string, unknown>)[field] : undefined;
    if (isRuleList(expected)) return expected.some((rule) => matchesRule(rule, value));
    return value !== undefined && matchesPattern(expected, value);
  });

/** Whether Lambda would hand this stream record to the reconciler (patterns are ORed). */
export const matchesStreamFilters = (
  record: unknown,
  patterns: readonly FilterPattern[] = reconcilerStreamFilters,
): boolean => patterns.some((pattern) => matchesPattern(pattern, record));
