import { describe, expect, it } from 'vitest';
import { backoffMs, done, optimistic, retry } from '../../core/db/optimistic.ts';
import { isBerthError } from '../../core/errors.ts';

describe('optimistic', () => {
  it('returns the first attempt that is done', async () => {
    let calls = 0;
    const value = await optimistic({ maxAttempts: 3, exhausted: 'x' }, async () => {
      calls += 1;
      return done('ok');
    });
    expect(value).toBe('ok');
    expect(calls).toBe(1);
  });

  it('tries again after each lost race, counting them', async () => {
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

  it('gives up after maxAttempts with ServerException, unavailable', async () => {
    let calls = 0;
    const failure = await optimistic(
      { maxAttempts: 3, exhausted: 'The service is changing too fast; try again.' },
      async () => {
        calls += 1;
        return retry(new Error('race'));
      },
    ).catch((error: unknown) => error);
    expect(calls).toBe(3);
    expect(isBerthError(failure)).toBe(true);
    expect(failure).toMatchObject({ code: 'ServerException', kind: 'unavailable' });
    expect((failure as Error).message).toBe('The service is changing too fast; try again.');
  });

  it('passes an error the attempt throws straight to the caller', async () => {
    let calls = 0;
    const boom = new Error('boom');
    const failure = await optimistic({ maxAttempts: 5, exhausted: 'x' }, async () => {
      calls += 1;
      throw boom;
    }).catch((error: unknown) => error);
    expect(failure).toBe(boom);
    expect(calls).toBe(1);
  });
});

describe('backoffMs', () => {
  it('waits at random below 10 × 2^n ms, at most 200 ms', () => {
    expect(backoffMs(1, () => 0)).toBe(0);
    expect(backoffMs(1, () => 0.5)).toBe(10);
    expect(backoffMs(3, () => 0.999)).toBeLessThan(80);
    expect(backoffMs(20, () => 0.999)).toBeLessThan(200);
    expect(backoffMs(20, () => 0.5)).toBe(100);
  });
});
