import { renameSync } from 'node:fs';
import { join } from 'node:path';
import type { AssignedTask, TaskReport } from '../core/protocol/agent.ts';
import { atomicWriteFile, readTextIfExists } from './files.ts';
import type { NetworkBinding } from './runtime/types.ts';
import { arrayAt, numberAt, objectAt, parseJson, ShapeError, stringAt } from './shape.ts';
import type { ContainerPhase, Health } from './steps.ts';

/** ECS stop codes the agent reports. */
export type StopCode = NonNullable<TaskReport['stopCode']>;

/** One container of a task as the agent tracks it (kept on disk). */
export type ContainerState = {
  name: string;
  phase: ContainerPhase;
  runtimeId?: string;
  everStarted: boolean;
  exitCode?: number;
  reason?: string;
  health?: Health;
  everHealthy: boolean;
  networkBindings?: NetworkBinding[];
  /** Epoch ms of the latest start: how long it ran decides restarts. */
  startedAt?: number;
  /** Local restarts so far, and in a row (for the backoff). */
  restarts: number;
  consecutiveRestarts: number;
  /** Epoch ms a pending local restart is due. */
  restartAt?: number;
};

/** One task on this instance (kept on disk). */
export type TaskState = {
  task: AssignedTask;
  /** Only moves forward: RUNNING, then STOPPED. */
  desiredStatus: 'RUNNING' | 'STOPPED';
  /** Set once the task is on its way to STOPPED, with why (the server's own code wins there). */
  stopping?: { stopCode?: StopCode; reason?: string };
  containers: ContainerState[];
  /** The furthest task status reported: reports never go back. */
  reportedStatus?: 'PENDING' | 'RUNNING' | 'STOPPED';
  /** The last seq given to a report of this task. */
  seq: number;
  /** The last report's body (without seq and time): a report is made only when it changes. */
  lastReport?: string;
  /** Reports not yet acknowledged, oldest first. */
  pending: TaskReport[];
  /** Epoch ms the STOPPED report was acknowledged: the containers go after the cleanup wait. */
  stoppedAckedAt?: number;
};

/** A task just assigned: desired RUNNING, every container not yet created, nothing reported. */
export const newTaskState = (task: AssignedTask): TaskState => ({
  task,
  desiredStatus: 'RUNNING',
  containers: task.containers.map((c) => ({
    name: c.name,
    phase: 'NONE',
    everStarted: false,
    everHealthy: false,
    restarts: 0,
    consecutiveRestarts: 0,
  })),
  seq: 0,
  pending: [],
});

export type AgentState = {
  /** The last assignment version applied (0: none yet). */
  assignmentVersion: number;
  tasks: Record<string, TaskState>;
  /** Images this agent pulled (the `once` pull behaviour). */
  pulledImages: string[];
};

/** The state of an agent that has run nothing yet. */
export const emptyState = (): AgentState => ({ assignmentVersion: 0, tasks: {}, pulledImages: [] });

/**
 * The file is checked for its outline only: it is the agent's own output (written atomically),
 * and a deep check would have to follow every field of every ECS container definition.
 */
const stateOf = (body: unknown): AgentState => {
  const file = objectAt(body, 'state');
  if (file.format !== 1) throw new ShapeError(`state format ${String(file.format)} is not 1`);
  const tasks = objectAt(file.tasks, 'state.tasks');
  for (const [arn, value] of Object.entries(tasks)) {
    const task = objectAt(value, arn);
    stringAt(objectAt(task.task, `${arn}.task`), 'taskArn', `${arn}.task`);
    arrayAt(task, 'containers', arn);
    arrayAt(task, 'pending', arn);
    numberAt(task, 'seq', arn);
  }
  return {
    assignmentVersion: numberAt(file, 'assignmentVersion', 'state'),
    tasks: tasks as Record<string, TaskState>,
    pulledImages: arrayAt(file, 'pulledImages', 'state').map(String),
  };
};

/** Where the state lives in the data dir. */
export const stateFileOf = (dataDir: string) => join(dataDir, 'state.json');

export type LoadedState = { state: AgentState; fresh: boolean; problem?: string };

/**
 * Reads the state file. A missing file is a fresh start; an unreadable one is set aside
 * (state.json.corrupt-TIME) and the agent starts empty, then adopts its containers by label and
 * gets its whole desired set from the control plane again.
 */
export const loadState = (dataDir: string, now = Date.now()): LoadedState => {
  const path = stateFileOf(dataDir);
  const text = readTextIfExists(path);
  if (text === undefined) return { state: emptyState(), fresh: true };
  try {
    return { state: stateOf(parseJson(text, path)), fresh: false };
  } catch (error) {
    const aside = `${path}.corrupt-${now}`;
    renameSync(path, aside);
    return {
      state: emptyState(),
      fresh: true,
      problem: `state file unreadable, moved to ${aside}: ${error}`,
    };
  }
};

/** The state file's content. */
export const stateText = (state: AgentState): string => JSON.stringify({ format: 1, ...state });

/** Replaces the state file atomically (see atomicWriteFile). */
export const saveState = (dataDir: string, state: AgentState): void =>
  saveStateText(dataDir, stateText(state));

export const saveStateText = (dataDir: string, text: string): void =>
  atomicWriteFile(stateFileOf(dataDir), text);
