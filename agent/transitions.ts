import { type ContainerSpec, specOf } from './container-spec.ts';
import { type RestartSettings, restartDecision } from './restart-policy.ts';
import type { ContainerObservation, PullBehavior } from './runtime/types.ts';
import type { ContainerState, TaskState } from './state.ts';

/**
 * What each outcome of the engine's work, and each observation of the runtime, makes of a task's
 * state: pure (time and the link are inputs). The engine (engine.ts) calls the runtime and logs;
 * nextStep (steps.ts) then decides the next step from the state these leave.
 */

/** A container of the task as its definition says (overrides applied). */
export const containerSpecOf = (t: TaskState, c: ContainerState): ContainerSpec => {
  const container = t.task.containers.find((x) => x.name === c.name);
  if (!container) throw new Error(`container ${c.name} is not in task ${t.task.taskArn}`);
  return specOf(container);
};

/** The control plane (or this instance's loss of the task) wants it stopped. */
export const desireStopped = (t: TaskState, reason?: string): void => {
  t.desiredStatus = 'STOPPED';
  // The scheduler recorded its own stop code and reason; the agent's report does not override them.
  t.stopping ??= reason ? { reason } : {};
};

/** nextStep says the container cannot run (a dependency that never will): the task fails if it is essential. */
export const stepFailed = (t: TaskState, c: ContainerState, reason: string): void => {
  c.reason = reason;
  if (containerSpecOf(t, c).essential) t.stopping ??= { stopCode: 'TaskFailedToStart', reason };
  else c.phase = 'STOPPED';
};

/** A container could not be pulled, created or started: the task fails to start. */
export const failTask = (t: TaskState, c: ContainerState, reason: string): void => {
  c.reason = reason.slice(0, 1024);
  c.phase = 'STOPPED';
  t.stopping ??= { stopCode: 'TaskFailedToStart', reason: c.reason };
};

/**
 * How an image is pulled: `once` pulls an image the first time this agent runs it and uses the
 * cached one after; the other behaviours are the runtime's.
 */
export const pullBehaviorFor = (
  configured: PullBehavior,
  pulledImages: readonly string[],
  image: string,
): PullBehavior =>
  configured === 'once' ? (pulledImages.includes(image) ? 'prefer-cached' : 'always') : configured;

/**
 * A start (or a local restart) the runtime refused: a restart or a non-essential container stops
 * (an essential one takes its task with it, as an exit would); a first start of an essential one
 * fails the task.
 */
export const startFailed = (
  t: TaskState,
  c: ContainerState,
  spec: Pick<ContainerSpec, 'essential'>,
  restarting: boolean,
  reason: string,
): void => {
  c.restartAt = undefined;
  if (restarting || !spec.essential) {
    c.phase = 'STOPPED';
    c.reason = reason;
    if (spec.essential)
      t.stopping ??= {
        stopCode: 'EssentialContainerExited',
        reason: 'Essential container in task exited',
      };
  } else {
    failTask(t, c, reason);
  }
};

export type ObservationContext = {
  /** Epoch ms now. */
  now: number;
  /** Whether the control plane is unreachable (offline autonomy applies). */
  offline: boolean;
  restart: RestartSettings;
};

/** What an observation changed that the engine says (logs); every other change is in the state. */
export type Observed =
  | { kind: 'nothing' }
  | { kind: 'vanished' }
  | { kind: 'exited'; exitCode: number | undefined; restart: { delayMs: number } | false };

/**
 * Folds one observation into the container's state: running, exited, vanished, health, ports.
 * `undefined`: the runtime no longer has the container.
 */
export const applyObservation = (
  t: TaskState,
  c: ContainerState,
  observation: ContainerObservation | undefined,
  context: ObservationContext,
): Observed => {
  if (!observation) {
    if (c.phase === 'STOPPED') return { kind: 'nothing' };
    c.phase = 'STOPPED';
    c.reason = 'The container was removed outside Berth';
    c.networkBindings = undefined;
    if (containerSpecOf(t, c).essential) {
      t.stopping ??= { stopCode: 'EssentialContainerExited', reason: 'Essential container in task exited' };
    }
    return { kind: 'vanished' };
  }
  const spec = containerSpecOf(t, c);
  if (spec.healthCheck) {
    const health =
      observation.health === 'healthy'
        ? 'HEALTHY'
        : observation.health === 'unhealthy'
          ? 'UNHEALTHY'
          : 'UNKNOWN';
    c.health = health;
    if (health === 'HEALTHY') c.everHealthy = true;
  }
  if (observation.running) {
    if (c.phase !== 'RUNNING') {
      // Adopted after an agent restart: it was started while the agent was away, or before.
      c.phase = 'RUNNING';
      c.everStarted = true;
      c.startedAt = observation.startedAt ? Date.parse(observation.startedAt) : context.now;
    }
    c.networkBindings = observation.networkBindings;
    return { kind: 'nothing' };
  }
  if (c.phase === 'CREATED' && !observation.startedAt) return { kind: 'nothing' }; // created, never started: nothing to see
  return exited(t, c, observation, context);
};

/** A container that exited: its exit recorded, then restarted in place (restart-policy.ts) or its task stopped. */
const exited = (
  t: TaskState,
  c: ContainerState,
  observation: ContainerObservation,
  context: ObservationContext,
): Observed => {
  const spec = containerSpecOf(t, c);
  const startedAt = observation.startedAt ? Date.parse(observation.startedAt) : (c.startedAt ?? context.now);
  const finishedAt = observation.finishedAt ? Date.parse(observation.finishedAt) : context.now;
  c.phase = 'STOPPED';
  c.everStarted = true;
  c.exitCode = observation.exitCode;
  c.networkBindings = undefined;
  if (observation.oomKilled) c.reason = 'OutOfMemoryError: Container killed due to memory usage';
  else if (observation.error) c.reason = observation.error.slice(0, 1024);
  if (t.stopping) return { kind: 'nothing' };
  const decision = restartDecision(
    {
      spec,
      restartOnFailure: t.task.restartOnFailure,
      offline: context.offline,
      exitCode: observation.exitCode,
      ranForMs: Math.max(0, finishedAt - startedAt),
      consecutiveRestarts: c.consecutiveRestarts,
    },
    context.restart,
  );
  const observed: Observed = {
    kind: 'exited',
    exitCode: observation.exitCode,
    restart: decision.restart ? { delayMs: decision.delayMs } : false,
  };
  if (decision.restart) {
    c.consecutiveRestarts = decision.consecutiveRestarts;
    c.restartAt = context.now + decision.delayMs;
    c.reason = `Exited with code ${observation.exitCode ?? 'unknown'}; restarting in ${Math.round(decision.delayMs / 1000)} s (${decision.why === 'offline' ? 'control plane unreachable' : 'restartPolicy'})`;
    return observed;
  }
  if (spec.essential) {
    t.stopping = { stopCode: 'EssentialContainerExited', reason: 'Essential container in task exited' };
  }
  return observed;
};
