import { describe, expect, it } from 'vitest';
import { maxRetryAfterMs, retryDelay } from '../../agent/backoff.ts';
import { NetworkError, retryAfterMsOf } from '../../agent/http.ts';

const now = Date.parse('2026-11-25T10:00:00.000Z');
const link = { baseMs: 500, maxMs: 30_000 };

describe('retryAfterMsOf', () => {
  it('reads delta-seconds and HTTP dates', () => {
    expect(retryAfterMsOf('120', now)).toBe(120_000);
    expect(retryAfterMsOf(' 7 ', now)).toBe(7_000);
    expect(retryAfterMsOf('Wed, 25 Nov 2026 10:01:30 GMT', now)).toBe(90_000);
  });

  it('answers 0 for a date already past and nothing for what it cannot read', () => {
    expect(retryAfterMsOf('Wed, 25 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(retryAfterMsOf('soon', now)).toBeUndefined();
    expect(retryAfterMsOf('', now)).toBeUndefined();
    expect(retryAfterMsOf(undefined, now)).toBeUndefined();
  });
});

describe('retryDelay', () => {
  it('waits as long as the server asked when that is longer than the backoff', () => {
    expect(retryDelay(new NetworkError('HTTP 429', 60_000), 1, link, () => 1)).toBe(60_000);
  });

  it('keeps the backoff when the server asked for less, or said nothing', () => {
    expect(retryDelay(new NetworkError('HTTP 429', 10), 3, link, () => 1)).toBe(2_000);
    expect(retryDelay(new NetworkError('refused'), 3, link, () => 1)).toBe(2_000);
    expect(retryDelay(new Error('other'), 1, link, () => 0)).toBe(250);
  });

  it('caps what a server may ask for', () => {
    expect(retryDelay(new NetworkError('HTTP 429', 86_400_000), 1, link, () => 1)).toBe(maxRetryAfterMs);
  });
});
