import type { ContainerSpec } from './container-spec.ts';

/** Local restarts of failed containers (DESIGN: offline autonomy). */
export type RestartSettings = {
  /** The first restart waits this long; each further one twice as long… */
  baseMs: number;
  /** …up to this. */
  maxMs: number;
  /** A container that ran this long before exiting starts its backoff over. */
  resetAfterMs: number;
};

/** ECS: restartAttemptPeriod defaults to 300 s. */
const defaultAttemptPeriodSeconds = 300;

export type ExitFacts = {
  spec: Pick<ContainerSpec, 'essential' | 'restartPolicy'>;
  /** The task is a service task (AssignedTask.restartOnFailure). */
  restartOnFailure: boolean;
  /** The control plane is unreachable: nobody else can replace the task. */
  offline: boolean;
  exitCode: number | undefined;
  /** How long the process ran before it exited. */
  ranForMs: number;
  /** Restarts in a row so far (reset after a long enough run). */
  consecutiveRestarts: number;
};

export type RestartDecision =
  | { restart: false }
  | { restart: true; delayMs: number; consecutiveRestarts: number; why: 'restartPolicy' | 'offline' };

/**
 * Whether an exited container is restarted in place, and when.
 * - `restartPolicy.enabled` (ECS): unless the exit code is ignored, restart at once if the
 *   container ran at least `restartAttemptPeriod`; one that exits earlier is not restarted (ECS's rule).
 * - Offline autonomy (Berth): an essential container of a service task is restarted with
 *   exponential backoff while the control plane is unreachable. Online, the task stops instead and
 *   the scheduler replaces it, as ECS does, so deployments and circuit breakers see the failure.
 */
export const restartDecision = (facts: ExitFacts, settings: RestartSettings): RestartDecision => {
  const consecutive = facts.ranForMs >= settings.resetAfterMs ? 0 : facts.consecutiveRestarts;
  const policy = facts.spec.restartPolicy;
  if (policy?.enabled) {
    const ignored = facts.exitCode !== undefined && (policy.ignoredExitCodes ?? []).includes(facts.exitCode);
    const period = (policy.restartAttemptPeriod ?? defaultAttemptPeriodSeconds) * 1000;
    if (!ignored && facts.ranForMs >= period) {
      return { restart: true, delayMs: 0, consecutiveRestarts: consecutive + 1, why: 'restartPolicy' };
    }
  }
  if (facts.offline && facts.restartOnFailure && facts.spec.essential) {
    const delayMs = Math.min(settings.maxMs, settings.baseMs * 2 ** consecutive);
    return { restart: true, delayMs, consecutiveRestarts: consecutive + 1, why: 'offline' };
  }
  return { restart: false };
};
