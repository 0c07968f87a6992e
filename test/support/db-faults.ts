import { InternalServerError, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import type { DbPlugin } from '../../core/db/client.ts';
import { seededRandom } from './seeded-random.ts';

export type DbFaultKind = 'throttle' | 'internal' | 'timeout';

/**
 * Errors injected into a share of DynamoDB calls. `after` is the case that matters: DynamoDB
 * applied the call, and the caller sees an error — a lost answer. In the `attempt` layer each SDK
 * attempt may fail, so the SDK retries as it would real errors and only what it gives up on reaches
 * Berth; in the `call` layer Berth's code sees every injected error (the SDK gave up).
 */
export type DbFaults = {
  /** Share of calls that fail, 0..1; may be changed while running (set 0 to let the system settle). */
  rate: number;
  kinds: readonly DbFaultKind[];
  /** Seeds the choice of calls, kinds and moments, so a run can be repeated. */
  seed: number;
  /** Before the call reaches DynamoDB, after DynamoDB applied it, or either (default). */
  when?: 'before' | 'after' | 'either';
  /** Only these commands (e.g. `TransactWriteItemsCommand`); default every call. */
  commands?: readonly string[];
  /** Where the faults are injected (default `attempt`); may be changed while running. */
  layer?: 'attempt' | 'call';
  /** At most this many faults in all (e.g. 1: exactly the next matching call fails). */
  limit?: number;
  /** Filled in: how many faults were injected, by `layer:when:kind:command`. */
  injected?: Record<string, number>;
};

/** The error DynamoDB (or the HTTP layer) would raise, shaped so the SDK classifies it as it would the real one. */
const injectedError = (kind: DbFaultKind, command: string): Error => {
  const $metadata = { httpStatusCode: kind === 'internal' ? 500 : 400, attempts: 1, totalRetryDelay: 0 };
  const message = `injected ${kind} fault on ${command}`;
  if (kind === 'throttle') return new ProvisionedThroughputExceededException({ message, $metadata });
  if (kind === 'internal') return new InternalServerError({ message, $metadata });
  // What the node HTTP handler raises when a socket times out.
  return Object.assign(new Error(message), { name: 'TimeoutError' });
};

/**
 * Fails a share of the table's calls on purpose (reliability tests): a plugin for `createDb`'s
 * `plugins` (`startBerth({ dbFaults })` adds it). `faults` is read at every call, so a test may
 * change it while running.
 */
export const dbFaultsPlugin = (faults: DbFaults): DbPlugin => ({
  applyToStack: (stack) => {
    const random = seededRandom(faults.seed).next;
    faults.injected ??= {};
    const inject =
      (layer: 'attempt' | 'call') =>
      <Args, Output>(next: (args: Args) => Promise<Output>, context: { commandName?: string }) =>
      async (args: Args): Promise<Output> => {
        const command = context.commandName ?? 'unknown';
        if ((faults.layer ?? 'attempt') !== layer) return next(args);
        if (faults.commands && !faults.commands.includes(command)) return next(args);
        const count = Object.values(faults.injected ?? {}).reduce((sum, n) => sum + n, 0);
        if (faults.limit !== undefined && count >= faults.limit) return next(args);
        if (faults.kinds.length === 0 || random() >= faults.rate) return next(args);
        const kind = faults.kinds[Math.floor(random() * faults.kinds.length)] as DbFaultKind;
        const when =
          faults.when === 'before' || faults.when === 'after'
            ? faults.when
            : random() < 0.5
              ? 'before'
              : 'after';
        const name = `${layer}:${when}:${kind}:${command}`;
        if (faults.injected) faults.injected[name] = (faults.injected[name] ?? 0) + 1;
        if (when === 'after') await next(args);
        throw injectedError(kind, command);
      };
    // Outside the SDK's retries (initialize), and inside them (finalizeRequest, after the
    // high-priority retry middleware): each attempt may fail on its own.
    stack.add(inject('call'), { step: 'initialize', name: 'berthFaultsPerCall' });
    stack.add(inject('attempt'), { step: 'finalizeRequest', priority: 'low', name: 'berthFaultsPerAttempt' });
  },
});
