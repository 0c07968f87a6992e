/**
 * Optimistic concurrency, once: read, decide, write under a condition on what was read; a write that
 * lost the race is tried again from a fresh read, after a jittered wait, a bounded number of times.
 * Every caller that gives up does so with the same error: ServerException, kind `unavailable` (503:
 * the caller may try again), naming what kept changing.
 */
import { BerthError } from '../errors.ts';

/** What one read-decide-write attempt came to: finished with a value, or lost a race (go again). */
export type Attempt<T> = { done: true; value: T } | { done: false; cause?: unknown };

export const done = <T>(value: T): Attempt<T> => ({ done: true, value });

/** The write lost a race with another one: read again and decide again. */
export const retry = (cause?: unknown): Attempt<never> => ({ done: false, cause });

/**
 * Attempts an API action makes before it answers "changing too fast" (CreateService, UpdateService,
 * DeleteService, RunTask, StartTask, StopTask): each re-reads what it decides from, so ten lost
 * races in a row mean a caller fighting a storm of writes, which is better told to come back.
 */
export const actionAttempts = 10;

/** The wait before attempt `n + 1`, at random up to 10 × 2^n ms, at most 200 ms. */
export const backoffMs = (conflicts: number, random: () => number = Math.random): number =>
  random() * Math.min(200, 10 * 2 ** conflicts);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The one error of a read-decide-write that ran out of attempts; `cause` (never sent) is the last race. */
export const changingTooFast = (message: string, attempts: number, cause?: unknown) =>
  new BerthError('ServerException', 'unavailable', message, { attempts, cause });

export type OptimisticOptions = {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  /** The message of the error when they run out, e.g. "The service is changing too fast; try again." */
  exhausted: string;
  /** Called on each lost race (metrics). */
  onRetry?: () => void;
};

/**
 * Runs `attempt` (read, decide, write) until it is done, at most `maxAttempts` times; between two
 * attempts it waits `backoffMs`. An error `attempt` throws is not a race: it goes to the caller as it is.
 */
export const optimistic = async <T>(
  options: OptimisticOptions,
  attempt: (attemptNumber: number) => Promise<Attempt<T>>,
): Promise<T> => {
  for (let n = 1; ; n++) {
    const outcome = await attempt(n);
    if (outcome.done) return outcome.value;
    options.onRetry?.();
    if (n >= options.maxAttempts) throw changingTooFast(options.exhausted, n, outcome.cause);
    await sleep(backoffMs(n));
  }
};
