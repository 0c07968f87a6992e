import { describe, expect, it } from 'vitest';
import { jitteredBackoff } from '../../agent/backoff.ts';
import { type ExitFacts, restartDecision } from '../../agent/restart-policy.ts';

const settings = { baseMs: 1000, maxMs: 8000, resetAfterMs: 60_000 };
const exit = (facts: Partial<ExitFacts> = {}): ExitFacts => ({
  spec: { essential: true },
  restartOnFailure: true,
  offline: true,
  exitCode: 1,
  ranForMs: 1000,
  consecutiveRestarts: 0,
  ...facts,
});

describe('restartDecision', () => {
  it('restarts an essential container of a service task while offline, backing off exponentially to the cap', () => {
    const delays = [0, 1, 2, 3, 4, 5].map((n) => {
      const decision = restartDecision(exit({ consecutiveRestarts: n }), settings);
      return decision.restart ? decision.delayMs : undefined;
    });
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('leaves the failure to the scheduler while the control plane is reachable', () => {
    expect(restartDecision(exit({ offline: false }), settings).restart).toBe(false);
  });

  it('does not restart standalone tasks or non-essential containers without a restart policy', () => {
    expect(restartDecision(exit({ restartOnFailure: false }), settings).restart).toBe(false);
    expect(restartDecision(exit({ spec: { essential: false } }), settings).restart).toBe(false);
  });

  it('starts the backoff over after a container ran long enough', () => {
    const decision = restartDecision(exit({ consecutiveRestarts: 4, ranForMs: 60_000 }), settings);
    expect(decision).toMatchObject({ restart: true, delayMs: 1000, consecutiveRestarts: 1 });
  });

  it('honours restartPolicy: restarts at once after restartAttemptPeriod, online too', () => {
    const spec = { essential: true, restartPolicy: { enabled: true, restartAttemptPeriod: 60 } };
    const decision = restartDecision(
      exit({ spec, offline: false, restartOnFailure: false, ranForMs: 61_000 }),
      settings,
    );
    expect(decision).toMatchObject({ restart: true, delayMs: 0, why: 'restartPolicy' });
  });

  it('honours restartPolicy: no restart for an ignored exit code or an exit before the attempt period', () => {
    const spec = {
      essential: false,
      restartPolicy: { enabled: true, ignoredExitCodes: [0], restartAttemptPeriod: 60 },
    };
    const base = { spec, offline: false, restartOnFailure: false };
    expect(restartDecision(exit({ ...base, exitCode: 0, ranForMs: 120_000 }), settings).restart).toBe(false);
    expect(restartDecision(exit({ ...base, exitCode: 2, ranForMs: 10_000 }), settings).restart).toBe(false);
  });
});

describe('jitteredBackoff', () => {
  it('waits between half and all of the exponential cap', () => {
    const opts = { baseMs: 500, maxMs: 30_000 };
    expect(jitteredBackoff(1, opts, () => 0)).toBe(250);
    expect(jitteredBackoff(1, opts, () => 1)).toBe(500);
    expect(jitteredBackoff(4, opts, () => 1)).toBe(4000);
    expect(jitteredBackoff(20, opts, () => 0.5)).toBe(22_500);
  });
});
