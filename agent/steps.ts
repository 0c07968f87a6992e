/**
 * The agent's task engine as pure functions, in the manner of amazon-ecs-agent's: each container
 * moves along ordered phases, and `nextStep` says what may happen to one container now, given the
 * whole task. No clock, no I/O: the engine (engine.ts) feeds it facts and carries the steps out.
 */

/** A container's phases, in order. STOPPED is final unless a restart is pending. */
export const ContainerPhases = ['NONE', 'PULLED', 'CREATED', 'RUNNING', 'STOPPED'] as const;
export type ContainerPhase = (typeof ContainerPhases)[number];

export type DependencyCondition = 'START' | 'COMPLETE' | 'SUCCESS' | 'HEALTHY';
export type Health = 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';

export type ContainerFacts = {
  name: string;
  essential: boolean;
  phase: ContainerPhase;
  /** The process ran at least once (a container stopped before starting never did). */
  everStarted: boolean;
  exitCode?: number;
  /** Undefined for a container without a health check. */
  health?: Health;
  /** It has been HEALTHY at least once (ECS's HEALTHY condition holds from then on). */
  everHealthy: boolean;
  /** Epoch ms a pending local restart is due; set only while phase is STOPPED. */
  restartAt?: number;
  dependsOn: { containerName: string; condition: DependencyCondition }[];
  /** Containers it links to or takes volumes from: created before it is, running before it starts. */
  needs: string[];
};

export type TaskFacts = {
  /** The task is on its way to STOPPED (desired STOPPED, an essential exit, a failure). */
  stopping: boolean;
  containers: ContainerFacts[];
};

export type Step =
  | { kind: 'pull' | 'create' | 'start' | 'restart' | 'stop' | 'skip' | 'wait' | 'none' }
  | { kind: 'fail'; reason: string };

type DependencyState = 'met' | 'pending' | 'never';

const restartPending = (c: ContainerFacts) => c.phase === 'STOPPED' && c.restartAt !== undefined;
const finallyStopped = (c: ContainerFacts) => c.phase === 'STOPPED' && c.restartAt === undefined;

/** Whether `dependency` meets `condition` now, later, or never. */
export const dependencyState = (
  dependency: ContainerFacts,
  condition: DependencyCondition,
): DependencyState => {
  const skipped = finallyStopped(dependency) && !dependency.everStarted;
  if (skipped) return 'never';
  switch (condition) {
    case 'START':
      return dependency.everStarted ? 'met' : 'pending';
    case 'COMPLETE':
      return finallyStopped(dependency) ? 'met' : 'pending';
    case 'SUCCESS':
      if (!finallyStopped(dependency)) return 'pending';
      return dependency.exitCode === 0 ? 'met' : 'never';
    case 'HEALTHY':
      if (dependency.everHealthy) return 'met';
      return finallyStopped(dependency) ? 'never' : 'pending';
  }
};

/** Who must stop before `name` does: containers that depend on it, link to it or mount from it. */
const dependentsOf = (task: TaskFacts, name: string): ContainerFacts[] =>
  task.containers.filter(
    (c) => c.needs.includes(name) || c.dependsOn.some((dependency) => dependency.containerName === name),
  );

const byName = (task: TaskFacts, name: string) => task.containers.find((c) => c.name === name);

/**
 * What may happen to container `name` now. While the task runs: pull, create (after what it
 * links to or mounts from exists), start (once its dependsOn conditions hold), restart when a
 * pending restart is due. While stopping: stop it once nothing that depends on it still runs, so
 * containers stop in reverse dependency order; skip what never started.
 */
export const nextStep = (task: TaskFacts, name: string, now: number): Step => {
  const container = byName(task, name);
  if (!container) return { kind: 'none' };
  if (task.stopping) {
    if (container.phase === 'RUNNING') {
      return dependentsOf(task, name).some((c) => c.phase === 'RUNNING')
        ? { kind: 'wait' }
        : { kind: 'stop' };
    }
    return container.phase === 'STOPPED' && container.restartAt === undefined
      ? { kind: 'none' }
      : { kind: 'skip' };
  }
  switch (container.phase) {
    case 'NONE':
      return { kind: 'pull' };
    case 'PULLED': {
      const missing = container.needs.some((needed) => {
        const peer = byName(task, needed);
        return peer !== undefined && (peer.phase === 'NONE' || peer.phase === 'PULLED');
      });
      return missing ? { kind: 'wait' } : { kind: 'create' };
    }
    case 'CREATED': {
      for (const dependency of container.dependsOn) {
        const peer = byName(task, dependency.containerName);
        if (!peer) continue;
        const state = dependencyState(peer, dependency.condition);
        if (state === 'never') {
          return {
            kind: 'fail',
            reason: `Dependency ${dependency.containerName} of container ${name} cannot meet condition ${dependency.condition}`,
          };
        }
        if (state === 'pending') return { kind: 'wait' };
      }
      const linkedDown = container.needs.some((needed) => {
        const peer = byName(task, needed);
        return peer !== undefined && !peer.everStarted;
      });
      return linkedDown ? { kind: 'wait' } : { kind: 'start' };
    }
    case 'RUNNING':
      return { kind: 'none' };
    case 'STOPPED':
      if (container.restartAt === undefined) return { kind: 'none' };
      return container.restartAt <= now ? { kind: 'restart' } : { kind: 'wait' };
  }
};

/** The task's status from its containers: STOPPED once all stopped for good, RUNNING once all started. */
export const taskStatusOf = (task: TaskFacts): 'PENDING' | 'RUNNING' | 'STOPPED' => {
  if (task.containers.every(finallyStopped)) return 'STOPPED';
  // A container skipped for a dependency that failed does not hold the task in PENDING.
  if (task.containers.every((c) => c.everStarted || finallyStopped(c) || restartPending(c))) return 'RUNNING';
  return 'PENDING';
};

/**
 * ECS's task health: UNHEALTHY when an essential container with a health check is unhealthy,
 * HEALTHY when all of them are healthy, UNKNOWN otherwise (or when none has a health check).
 */
export const taskHealthOf = (containers: Pick<ContainerFacts, 'essential' | 'health'>[]): Health => {
  const checked = containers.filter((c) => c.essential && c.health !== undefined);
  if (checked.length === 0) return 'UNKNOWN';
  if (checked.some((c) => c.health === 'UNHEALTHY')) return 'UNHEALTHY';
  return checked.every((c) => c.health === 'HEALTHY') ? 'HEALTHY' : 'UNKNOWN';
};

/** How a container's phase reads in a report: a container waiting for a restart is PENDING again. */
export const reportedContainerStatus = (
  c: Pick<ContainerFacts, 'phase' | 'restartAt'>,
): 'PENDING' | 'RUNNING' | 'STOPPED' => {
  if (c.phase === 'RUNNING') return 'RUNNING';
  if (c.phase === 'STOPPED') return c.restartAt === undefined ? 'STOPPED' : 'PENDING';
  return 'PENDING';
};
