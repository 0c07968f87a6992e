/** Exponential backoff settings: the first retry waits about `baseMs`, none longer than `maxMs`. */
export type BackoffSettings = { baseMs: number; maxMs: number };

/**
 * Full-jitter exponential backoff (attempt 1, 2, 3…): a random wait in [cap/2, cap] where
 * cap = min(max, base·2^(attempt-1)). The jitter keeps a fleet that lost its control plane at the
 * same moment from reconnecting in lockstep; the floor keeps one agent from retrying in a tight loop.
 */
export const jitteredBackoff = (attempt: number, settings: BackoffSettings, random: () => number): number => {
  const cap = Math.min(settings.maxMs, settings.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
};

/** The longest Retry-After honoured: a server asking for more is waited on this long, then asked again. */
export const maxRetryAfterMs = 15 * 60_000;

/**
 * The wait before retrying after `error`: the jittered backoff, or longer when the server said how
 * long to stay away (Retry-After on a 429 or 503), up to maxRetryAfterMs.
 */
export const retryDelay = (
  error: unknown,
  attempt: number,
  settings: BackoffSettings,
  random: () => number,
): number => {
  const asked = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  const backoff = jitteredBackoff(attempt, settings, random);
  return typeof asked === 'number' && Number.isFinite(asked)
    ? Math.max(backoff, Math.min(asked, maxRetryAfterMs))
    : backoff;
};

/** Resolves after `ms`, or at once when `signal` aborts. */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
