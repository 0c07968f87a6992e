import { describe, expect, it } from 'vitest';
import {
  actionAttempts,
  backoffMs,
  changingTooFast,
  done,
  optimistic,
  retry,
} from '../../core/db/optimistic.ts';
import { BerthError, httpStatusOf, isBerthError } from '../../core/errors.ts';

describe('done and retry', () => {
  it('are the two outcomes of an attempt', () => {
    expect(done(3)).toEqual({ done: true, value: 3 });
    const cause = new Error('race');
    expect(retry(cause)).toEqual({ done: false, cause });
    expect(retry()).toEqual({ done: false, cause: undefined });
  });
});

describe('optimistic', () => {
  it('returns the first attempt that is done', async () => {
    let calls = 0;
    let retries = 0;
    const value = await optimistic(
      { maxAttempts: 3, exhausted: 'x', onRetry: () => (retries += 1) },
      async () => {
        calls += 1;
        return done('ok');
      },
    );
    expect(value).toBe('ok');
    expect(calls).toBe(1);
    expect(retries).toBe(0);
  });

  it('tries again after each lost race, numbering the attempts and counting the races', async () => {
    const seen: number[] = [];
    let retries = 0;
    const value = await optimistic(
      { maxAttempts: 5, exhausted: 'x', onRetry: () => (retries += 1) },
      async (n) => {
        seen.push(n);
        return n < 3 ? retry() : done(n * 10);
      },
    );
    expect(value).toBe(30);
    expect(seen).toEqual([1, 2, 3]);
    expect(retries).toBe(2);
  });

  it('succeeds on the last attempt it is allowed', async () => {
    const value = await optimistic({ maxAttempts: 3, exhausted: 'x' }, async (n) =>
      n < 3 ? retry() : done('last'),
    );
    expect(value).toBe('last');
  });

  it('gives up after maxAttempts with ServerException, unavailable, and the exhausted message', async () => {
    let calls = 0;
    let retries = 0;
    const race = new Error('race');
    const failure = await optimistic(
      {
        maxAttempts: 3,
        exhausted: 'The service is changing too fast; try again.',
        onRetry: () => (retries += 1),
      },
      async () => {
        calls += 1;
        return retry(race);
      },
    ).catch((error: unknown) => error);
    expect(calls).toBe(3);
    // onRetry counts every lost race, the last one included.
    expect(retries).toBe(3);
    expect(failure).toBeInstanceOf(BerthError);
    expect(isBerthError(failure)).toBe(true);
    expect(failure).toMatchObject({
      code: 'ServerException',
      kind: 'unavailable',
      name: 'ServerException',
      message: 'The service is changing too fast; try again.',
      details: { attempts: 3, cause: race },
    });
    expect(httpStatusOf((failure as BerthError).kind)).toBe(503);
  });

  it('makes one attempt only when maxAttempts is 1', async () => {
    let calls = 0;
    const failure = await optimistic({ maxAttempts: 1, exhausted: 'gone' }, async () => {
      calls += 1;
      return retry();
    }).catch((error: unknown) => error);
    expect(calls).toBe(1);
    expect(failure).toMatchObject({ code: 'ServerException', message: 'gone' });
  });

  it('passes an error the attempt throws straight to the caller after one call', async () => {
    let calls = 0;
    let retries = 0;
    const boom = new BerthError('ClientException', 'input', 'boom');
    const failure = await optimistic(
      { maxAttempts: 5, exhausted: 'x', onRetry: () => (retries += 1) },
      async () => {
        calls += 1;
        throw boom;
      },
    ).catch((error: unknown) => error);
    expect(failure).toBe(boom);
    expect(calls).toBe(1);
    expect(retries).toBe(0);
  });

  it('passes a thrown error through even after lost races', async () => {
    const boom = new Error('boom');
    let calls = 0;
    const failure = await optimistic({ maxAttempts: 5, exhausted: 'x' }, async (n) => {
      calls += 1;
      if (n < 2) return retry();
      throw boom;
    }).catch((error: unknown) => error);
    expect(failure).toBe(boom);
    expect(calls).toBe(2);
  });
});

describe('changingTooFast', () => {
  it('is the ServerException optimistic gives up with', () => {
    const error = changingTooFast('too fast', 4);
    expect(error).toMatchObject({ code: 'ServerException', kind: 'unavailable', message: 'too fast' });
    expect(error.details).toEqual({ attempts: 4, cause: undefined });
  });
});

describe('backoffMs', () => {
  it('waits at random below 10 × 2^n ms, at most 200 ms', () => {
    expect(backoffMs(1, () => 0)).toBe(0);
    expect(backoffMs(1, () => 0.5)).toBe(10);
    expect(backoffMs(2, () => 0.5)).toBe(20);
    expect(backoffMs(3, () => 0.5)).toBe(40);
    expect(backoffMs(3, () => 0.999)).toBeLessThan(80);
    expect(backoffMs(20, () => 0.999)).toBeLessThan(200);
    expect(backoffMs(20, () => 0.5)).toBe(100);
  });

  it('stays within [0, min(200, 10 × 2^n)) for every n and random in [0, 1)', () => {
    for (const r of [0, 0.25, 0.5, 0.75, 0.999_999]) {
      for (let n = 0; n <= 30; n++) {
        const wait = backoffMs(n, () => r);
        expect(wait).toBeGreaterThanOrEqual(0);
        expect(wait).toBeLessThan(Math.min(200, 10 * 2 ** n));
        expect(wait).toBeCloseTo(r * Math.min(200, 10 * 2 ** n), 9);
      }
    }
  });

  it('uses Math.random when not given a source', () => {
    for (let k = 0; k < 50; k++) {
      const wait = backoffMs(4);
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThan(160);
    }
  });
});

describe('actionAttempts', () => {
  it('is ten', () => {
    expect(actionAttempts).toBe(10);
  });
});
