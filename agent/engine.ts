import type { AssignedTask } from '../core/protocol/agent.ts';
import type { Logger } from './log.ts';
import { applyAcks, factsOf, recordReport } from './reports.ts';
import type { RestartSettings } from './restart-policy.ts';
import type {
  ContainerObservation,
  ContainerRuntime,
  PullBehavior,
  RegistryAuth,
  RuntimeEvent,
} from './runtime/types.ts';
import { runtimeNameOf } from './runtime/types.ts';
import { type AgentState, type ContainerState, newTaskState, type TaskState } from './state.ts';
import { nextStep, type Step } from './steps.ts';
import {
  applyObservation,
  containerSpecOf,
  desireStopped,
  failTask,
  pullBehaviorFor,
  startFailed,
  stepFailed,
} from './transitions.ts';

export type EngineSettings = {
  cluster: string;
  /** This agent's container instance ARN: the owner label of every container it creates. */
  containerInstanceArn: string;
  pullBehavior: PullBehavior;
  /** Seconds between SIGTERM and SIGKILL when a container has no stopTimeout (ECS: 30). */
  stopTimeoutSeconds: number;
  /** How long stopped containers stay after their STOPPED report was acknowledged. */
  cleanupWaitMs: number;
  /** How often every container is inspected, in case an engine event was missed. */
  observeIntervalMs: number;
  restart: RestartSettings;
  /** Registry credentials by `repositoryCredentials.credentialsParameter`. */
  registryCredentials: Record<string, RegistryAuth>;
};

export type EngineDeps = {
  state: AgentState;
  runtime: ContainerRuntime;
  settings: EngineSettings;
  log: Logger;
  now: () => number;
  /** Whether the control plane is unreachable now (offline autonomy applies). */
  isOffline: () => boolean;
  /** A report was queued (the agent decides when it goes: a task still PENDING waits a moment). */
  onReport: () => void;
  /** Persists the state now (before a container may be created for a new task) or soon. */
  saveNow: () => void;
  saveSoon: () => void;
};

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

const workSteps = new Set<Step['kind']>(['pull', 'create', 'start', 'restart', 'stop', 'skip']);

/** Runtime events that change what a container is doing (Docker's Action names). */
const lifecycleEvents = new Set([
  'create',
  'start',
  'restart',
  'die',
  'kill',
  'oom',
  'stop',
  'destroy',
  'health_status',
  'pause',
  'unpause',
]);

/**
 * Drives the runtime toward each task's desired state. Work on one task is serialized (a
 * task is never advanced by two loops at once); tasks advance in parallel. Engine events and a
 * periodic pass only mark a task for inspection: what changed is always read from the runtime.
 * The pure part, what each outcome makes of a task's state, is transitions.ts (and steps.ts,
 * reports.ts, restart-policy.ts); this class calls the runtime, keeps timers and logs.
 */
export class TaskEngine {
  private readonly busy = new Set<string>();
  private readonly again = new Set<string>();
  private readonly toObserve = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  /** Labelled containers of tasks this agent does not know (yet): ECS container name -> id, by task. */
  private orphans = new Map<string, Map<string, string>>();
  private unwatch?: () => void;
  private observer?: NodeJS.Timeout;
  private closed = false;

  private readonly deps: EngineDeps;

  constructor(deps: EngineDeps) {
    this.deps = deps;
  }

  private get state() {
    return this.deps.state;
  }

  /** Tasks that are known and whose containers are not cleaned up yet. */
  get tasks(): TaskState[] {
    return Object.values(this.state.tasks);
  }

  get hasOrphans(): boolean {
    return this.orphans.size > 0;
  }

  /**
   * Starts from what is on disk and in the runtime: the containers of known tasks are matched by
   * label (same ids: adopted, never recreated), unknown labelled ones are held as orphans until
   * the control plane's desired set says whose they are. Every known task is then inspected.
   */
  async recover(): Promise<void> {
    const found = await this.deps.runtime.list(this.deps.settings.containerInstanceArn);
    const byTask = new Map<string, Map<string, string[]>>();
    for (const summary of found) {
      const names = byTask.get(summary.taskArn) ?? new Map<string, string[]>();
      names.set(summary.containerName, [...(names.get(summary.containerName) ?? []), summary.id]);
      byTask.set(summary.taskArn, names);
    }
    for (const [taskArn, names] of byTask) {
      const t = this.state.tasks[taskArn];
      if (!t) {
        this.orphans.set(taskArn, new Map([...names].map(([name, ids]) => [name, ids[0] ?? ''])));
        continue;
      }
      for (const [name, ids] of names) {
        const c = t.containers.find((x) => x.name === name);
        if (!c) continue;
        if (!c.runtimeId || !ids.includes(c.runtimeId)) this.adopt(c, ids[0] ?? '');
        // Two containers for one task container cannot come from this agent; keep the recorded one.
        for (const extra of ids.filter((id) => id !== c.runtimeId)) await this.deps.runtime.remove(extra);
      }
    }
    this.unwatch = this.deps.runtime.watch(
      this.deps.settings.containerInstanceArn,
      (event) => this.onRuntimeEvent(event),
      (error) => this.deps.log.warn('runtime events', { error: messageOf(error) }),
    );
    this.observer = setInterval(() => this.observeAll(), this.deps.settings.observeIntervalMs);
    for (const t of this.tasks) {
      if (t.stoppedAckedAt !== undefined) this.scheduleCleanup(t);
    }
    this.observeAll();
  }

  private adopt(c: ContainerState, id: string) {
    this.deps.log.info('adopting container', { container: c.name, id });
    c.runtimeId = id;
    if (c.phase === 'NONE' || c.phase === 'PULLED') c.phase = 'CREATED';
  }

  private onRuntimeEvent(event: RuntimeEvent) {
    if (event.kind === 'resync') return this.observeAll();
    // Health-check probes alone emit three exec events each; only a container's own life matters.
    if (!lifecycleEvents.has(event.kind)) return;
    if (!event.taskArn || !this.state.tasks[event.taskArn]) return;
    this.toObserve.add(event.taskArn);
    this.kick(event.taskArn);
  }

  /** Inspects every task's containers (start, engine events stream restarted, periodic pass). */
  observeAll(): void {
    for (const t of this.tasks) {
      this.toObserve.add(t.task.taskArn);
      this.kick(t.task.taskArn);
    }
  }

  /**
   * Applies the control plane's whole desired set: new tasks are recorded (and saved, before any
   * container exists for them), desired status only moves forward, and tasks missing from the
   * set are no longer this instance's: they are stopped.
   */
  applyAssignments(assigned: AssignedTask[]): void {
    const wanted = new Set(assigned.map((task) => task.taskArn));
    for (const task of assigned) {
      let t = this.state.tasks[task.taskArn];
      if (!t) {
        t = newTaskState(task);
        this.state.tasks[task.taskArn] = t;
        const orphans = this.orphans.get(task.taskArn);
        if (orphans) {
          for (const c of t.containers) {
            const id = orphans.get(c.name);
            if (id) this.adopt(c, id);
          }
          this.orphans.delete(task.taskArn);
          this.toObserve.add(task.taskArn);
        }
      }
      if (task.desiredStatus === 'STOPPED') desireStopped(t);
    }
    for (const t of this.tasks) {
      if (!wanted.has(t.task.taskArn) && t.reportedStatus !== 'STOPPED' && !t.stopping) {
        desireStopped(t, 'Task is no longer assigned to this instance');
      }
    }
    this.deps.saveNow();
    // Every assigned task is among this.tasks now.
    for (const t of this.tasks) this.kick(t.task.taskArn);
  }

  /**
   * Stops and removes the orphans the whole desired set did not claim. It runs in the background
   * (stopping takes up to each container's stop timeout, and the sync loop must not wait for it:
   * heartbeats would be late); one that fails stays an orphan and is tried again with the next
   * whole desired set. The promise is for callers that want to wait.
   */
  removeUnclaimedOrphans(): Promise<void> {
    const orphans = this.orphans;
    this.orphans = new Map();
    const removing = (async () => {
      for (const [taskArn, containers] of orphans) {
        if (this.closed) {
          this.orphans.set(taskArn, containers);
          continue;
        }
        this.deps.log.info('removing containers of an unknown task', { taskArn });
        try {
          for (const id of containers.values()) {
            await this.deps.runtime.stop(id, this.deps.settings.stopTimeoutSeconds);
            await this.deps.runtime.remove(id);
          }
          await this.deps.runtime.removeTaskVolumes(taskArn);
        } catch (error) {
          this.deps.log.warn('could not remove the containers of an unknown task; will retry', {
            taskArn,
            error: messageOf(error),
          });
          this.orphans.set(taskArn, containers);
        }
      }
    })();
    this.track(removing);
    return removing;
  }

  /** Applies acknowledgements; tasks whose STOPPED report was acknowledged are cleaned up later. */
  acknowledge(acked: { taskArn: string; seq: number }[]): void {
    for (const t of applyAcks(this.state.tasks, acked, this.deps.now())) this.scheduleCleanup(t);
    this.deps.saveSoon();
  }

  private scheduleCleanup(t: TaskState) {
    const arn = t.task.taskArn;
    const due = (t.stoppedAckedAt ?? this.deps.now()) + this.deps.settings.cleanupWaitMs;
    this.setTimer(`cleanup:${arn}`, due - this.deps.now(), () => {
      this.track(this.cleanup(arn));
    });
  }

  private async cleanup(arn: string) {
    const t = this.state.tasks[arn];
    if (!t || this.closed) return;
    try {
      for (const c of t.containers) if (c.runtimeId) await this.deps.runtime.remove(c.runtimeId);
      await this.deps.runtime.removeTaskVolumes(arn);
      // Forgotten only once its containers are gone: a crash before this repeats the cleanup.
      delete this.state.tasks[arn];
      this.deps.saveSoon();
    } catch (error) {
      this.deps.log.warn('cleanup failed; retrying later', { taskArn: arn, error: messageOf(error) });
      this.setTimer(`cleanup:${arn}`, this.deps.settings.observeIntervalMs, () =>
        this.track(this.cleanup(arn)),
      );
    }
  }

  private setTimer(key: string, delayMs: number, run: () => void) {
    clearTimeout(this.timers.get(key));
    if (this.closed) return;
    this.timers.set(
      key,
      setTimeout(
        () => {
          this.timers.delete(key);
          run();
        },
        Math.max(0, delayMs),
      ),
    );
  }

  private track(work: Promise<void>) {
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }

  /** Advances a task now, or again right after the pass in progress. */
  kick(arn: string): void {
    if (this.closed) return;
    if (this.busy.has(arn)) {
      this.again.add(arn);
      return;
    }
    this.track(this.drive(arn));
  }

  private async drive(arn: string): Promise<void> {
    this.busy.add(arn);
    try {
      do {
        this.again.delete(arn);
        const t = this.state.tasks[arn];
        if (!t || t.stoppedAckedAt !== undefined) break;
        // What the task is before this pass (PENDING when just assigned): a long image pull must not
        // leave the control plane without news until the containers start. Unchanged, it adds nothing.
        this.record(t);
        try {
          await this.advance(t);
        } catch (error) {
          // The engine itself failed (Docker down…): try again on the next pass.
          this.deps.log.warn('task pass failed', { taskArn: arn, error: messageOf(error) });
        }
        this.record(t);
      } while (this.again.has(arn) && !this.closed);
    } finally {
      this.busy.delete(arn);
    }
  }

  private record(t: TaskState) {
    if (recordReport(t, this.deps.now())) {
      this.deps.saveSoon();
      this.deps.onReport();
    }
  }

  private async advance(t: TaskState): Promise<void> {
    // Bounded: each round moves at least one container a phase on; a task has at most 10 containers.
    for (let round = 0; round < 100 && !this.closed; round++) {
      if (this.toObserve.delete(t.task.taskArn)) await this.observe(t);
      const facts = factsOf(t);
      const now = this.deps.now();
      const steps = t.containers.map((c) => ({ c, step: nextStep(facts, c.name, now) }));
      const failed = steps.filter(({ step }) => step.kind === 'fail');
      for (const { c, step } of failed) stepFailed(t, c, step.kind === 'fail' ? step.reason : '');
      if (failed.length) continue;
      const work = steps.filter(({ step }) => workSteps.has(step.kind));
      if (work.length === 0) break;
      await Promise.all(
        work.map(async ({ c, step }) => {
          const began = this.deps.now();
          await this.execute(t, c, step.kind);
          this.deps.log.debug('step', {
            taskArn: t.task.taskArn,
            container: c.name,
            step: step.kind,
            ms: this.deps.now() - began,
          });
        }),
      );
      // The first report (PENDING) goes out while a slow pull goes on; later ones once the pass
      // settles, so a start costs the control plane two writes, not one per phase.
      if (t.reportedStatus === undefined) this.record(t);
    }
    const restarts = t.containers.flatMap((c) => (c.restartAt !== undefined ? [c.restartAt] : []));
    if (restarts.length) {
      this.setTimer(`restart:${t.task.taskArn}`, Math.min(...restarts) - this.deps.now(), () =>
        this.kick(t.task.taskArn),
      );
    }
  }

  private async execute(t: TaskState, c: ContainerState, kind: Step['kind']): Promise<void> {
    const runtime = this.deps.runtime;
    const spec = containerSpecOf(t, c);
    switch (kind) {
      case 'pull': {
        const image = spec.image;
        const once = this.deps.settings.pullBehavior === 'once';
        const behavior = pullBehaviorFor(this.deps.settings.pullBehavior, this.state.pulledImages, image);
        const credentials = spec.repositoryCredentials?.credentialsParameter;
        const auth = credentials ? this.deps.settings.registryCredentials[credentials] : undefined;
        try {
          await runtime.ensureImage(image, behavior, auth);
          if (once && !this.state.pulledImages.includes(image)) this.state.pulledImages.push(image);
          c.phase = 'PULLED';
        } catch (error) {
          failTask(t, c, `CannotPullContainerError: ${messageOf(error)}`);
        }
        return;
      }
      case 'create': {
        const peers: Record<string, string> = {};
        const peerNames: Record<string, string> = {};
        for (const peer of t.containers) {
          if (peer.runtimeId) peers[peer.name] = peer.runtimeId;
          peerNames[peer.name] = runtimeNameOf(t.task, peer.name);
        }
        const container = t.task.containers.find((x) => x.name === c.name);
        if (!container) return;
        if (spec.secrets?.length || spec.environmentFiles?.length) {
          // Running without them would start the process with a configuration it never had.
          failTask(
            t,
            c,
            'CannotCreateContainerError: secrets and environmentFiles are not supported by the Berth agent',
          );
          return;
        }
        try {
          c.runtimeId = await runtime.create({
            task: t.task,
            container,
            cluster: this.deps.settings.cluster,
            owner: this.deps.settings.containerInstanceArn,
            name: runtimeNameOf(t.task, c.name),
            peers,
            peerNames,
          });
          c.phase = 'CREATED';
          this.deps.saveSoon();
        } catch (error) {
          failTask(t, c, `CannotCreateContainerError: ${messageOf(error)}`);
        }
        return;
      }
      case 'start':
      case 'restart': {
        if (!c.runtimeId) return;
        const restarting = kind === 'restart';
        try {
          await runtime.start(c.runtimeId);
        } catch (error) {
          const reason = `CannotStartContainerError: ${messageOf(error)}`;
          startFailed(t, c, spec, restarting, reason);
          return;
        }
        if (restarting) {
          c.restarts += 1;
          c.restartAt = undefined;
          c.reason = undefined;
          this.deps.log.info('restarted container', {
            taskArn: t.task.taskArn,
            container: c.name,
            restarts: c.restarts,
          });
        }
        c.phase = 'RUNNING';
        c.everStarted = true;
        c.startedAt = this.deps.now();
        const observation = await runtime.inspect(c.runtimeId);
        this.apply(t, c, observation);
        return;
      }
      case 'stop': {
        if (!c.runtimeId) {
          c.phase = 'STOPPED';
          return;
        }
        await runtime.stop(c.runtimeId, spec.stopTimeout ?? this.deps.settings.stopTimeoutSeconds);
        const observation = await runtime.inspect(c.runtimeId);
        c.phase = 'STOPPED';
        c.restartAt = undefined;
        if (observation?.exitCode !== undefined) c.exitCode = observation.exitCode;
        c.networkBindings = undefined;
        return;
      }
      case 'skip':
        c.phase = 'STOPPED';
        c.restartAt = undefined;
        return;
      default:
        return;
    }
  }

  /** Reads the runtime's view of each live container of the task. */
  private async observe(t: TaskState): Promise<void> {
    for (const c of t.containers) {
      if (!c.runtimeId || (c.phase !== 'CREATED' && c.phase !== 'RUNNING')) continue;
      this.apply(t, c, await this.deps.runtime.inspect(c.runtimeId));
    }
  }

  /** Folds one observation into the container's state (transitions.ts), and says what it saw. */
  private apply(t: TaskState, c: ContainerState, observation: ContainerObservation | undefined) {
    const id = c.runtimeId;
    const observed = applyObservation(t, c, observation, {
      now: this.deps.now(),
      offline: this.deps.isOffline(),
      restart: this.deps.settings.restart,
    });
    if (observed.kind === 'vanished') {
      this.deps.log.warn('container vanished', { taskArn: t.task.taskArn, container: c.name, id });
    } else if (observed.kind === 'exited') {
      this.deps.log.info('container exited', {
        taskArn: t.task.taskArn,
        container: c.name,
        exitCode: observed.exitCode,
        restart: observed.restart ? observed.restart.delayMs : false,
      });
    }
  }

  /** Stops driving (timers, events, passes in progress); containers keep running. */
  async close(): Promise<void> {
    this.closed = true;
    this.unwatch?.();
    clearInterval(this.observer);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }
}
