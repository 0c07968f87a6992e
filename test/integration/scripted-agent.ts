import {
  CreateClusterCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  type ListTasksCommandInput,
  type Task,
} from '@aws-sdk/client-ecs';
import type { AssignedTask, SyncResponse, TaskReport } from '../../core/protocol/agent.ts';
import { registerAgent, type TestBerth } from './harness.ts';

type Held = {
  task: AssignedTask;
  status: 'PENDING' | 'RUNNING' | 'STOPPED';
  seq: number;
  acked: number;
  /** Task-level fields of the latest report (stopCode, stoppedReason), sent again until acknowledged. */
  extra?: Partial<TaskReport>;
};

/** Whether a task matches an entry of `failing`/`stalling`: its family, or `family:revision`. */
const matches = (entries: ReadonlySet<string>, task: AssignedTask) =>
  entries.has(task.family) || entries.has(`${task.family}:${task.revision}`);

/**
 * A scripted agent speaking the real agent API over HTTP: it starts what it is assigned at once
 * (or fails it, on request) and stops what it is told to stop. No Docker.
 */
export class ScriptedAgent {
  readonly held = new Map<string, Held>();
  assignmentVersion = 0;
  connected = true;
  /** Containers of these families (or `family:revision`) exit at once with code 1 (a task that cannot start). */
  readonly failing = new Set<string>();
  /** Tasks of these families (or `family:revision`) are reported PENDING and never start (a stuck pull). */
  readonly stalling = new Set<string>();

  private readonly berth: TestBerth;
  readonly token: string;
  readonly containerInstanceArn: string;

  private constructor(berth: TestBerth, token: string, containerInstanceArn: string) {
    this.berth = berth;
    this.token = token;
    this.containerInstanceArn = containerInstanceArn;
  }

  static async register(berth: TestBerth, options: Parameters<typeof registerAgent>[1] = {}) {
    const registered = await registerAgent(berth, options);
    return new ScriptedAgent(berth, registered.token, registered.containerInstanceArn);
  }

  get instanceId(): string {
    return this.containerInstanceArn.split('/').pop() ?? '';
  }

  /** Records a new state of a task; the next sync reports it (and again until acknowledged). */
  private report(held: Held, status: Held['status'], extra: Partial<TaskReport> = {}): void {
    held.status = status;
    held.seq += 1;
    held.extra = extra;
  }

  /** One sync: report every unacknowledged change, then act on the desired set. */
  async sync(): Promise<SyncResponse> {
    const reports: TaskReport[] = [];
    for (const held of this.held.values()) {
      if (held.acked < held.seq) reports.push(this.currentReport(held));
    }
    const response = await this.berth.agent(
      '/sync',
      { assignmentVersion: this.assignmentVersion, reports },
      this.token,
    );
    if (response.status !== 200)
      throw new Error(`sync failed: ${response.status} ${JSON.stringify(response.body)}`);
    const body = response.body as SyncResponse;
    for (const ack of body.acked) {
      const held = [...this.held.values()].find((h) => h.task.taskArn === ack.taskArn);
      if (held && ack.seq > held.acked) held.acked = ack.seq;
    }
    if (body.tasks) {
      this.assignmentVersion = body.assignmentVersion;
      for (const task of body.tasks) {
        const held = this.held.get(task.taskArn) ?? { task, status: 'PENDING' as const, seq: 0, acked: 0 };
        held.task = task;
        this.held.set(task.taskArn, held);
        if (task.desiredStatus === 'STOPPED' && held.status !== 'STOPPED') {
          this.report(held, 'STOPPED', { stoppedReason: 'Stopped by the scheduler' });
        } else if (task.desiredStatus === 'RUNNING' && held.status === 'PENDING' && held.seq === 0) {
          if (matches(this.failing, task)) {
            this.report(held, 'STOPPED', {
              stopCode: 'EssentialContainerExited',
              stoppedReason: 'Essential container in task exited',
            });
          } else if (matches(this.stalling, task)) {
            this.report(held, 'PENDING');
          } else {
            this.report(held, 'RUNNING');
          }
        }
      }
    }
    // Forget what the control plane acknowledged as STOPPED (the real agent removes it then).
    for (const [arn, held] of this.held)
      if (held.status === 'STOPPED' && held.acked >= held.seq) this.held.delete(arn);
    return body;
  }

  private currentReport(held: Held): TaskReport {
    const exitCode = held.extra?.stopCode === 'EssentialContainerExited' ? 1 : 0;
    return {
      taskArn: held.task.taskArn,
      seq: held.seq,
      lastStatus: held.status,
      containers: held.task.containers.map((c) => ({
        name: c.name,
        lastStatus: held.status,
        ...(held.status === 'STOPPED' ? { exitCode } : {}),
      })),
      ...held.extra,
    };
  }

  running(): string[] {
    return [...this.held.values()].filter((h) => h.status === 'RUNNING').map((h) => h.task.taskArn);
  }
}

const fingerprint = (agents: ScriptedAgent[]) =>
  agents
    .map(
      (a) =>
        `${a.assignmentVersion}:${[...a.held.values()].map((h) => `${h.status}${h.seq}/${h.acked}`).join(',')}`,
    )
    .join('|');

/**
 * Syncs every agent until a pass changes nothing (reports all acknowledged, no new assignments).
 * `others`: more control planes on the same table, whose reconcilers are waited for as well.
 */
export const settle = async (
  berth: TestBerth,
  agents: ScriptedAgent[],
  rounds = 30,
  others: { drain: () => Promise<void> }[] = [],
): Promise<void> => {
  const drainAll = async () => {
    await berth.drain();
    for (const other of others) await other.drain();
  };
  for (let round = 0; round < rounds; round++) {
    await drainAll();
    const before = fingerprint(agents);
    for (const agent of agents) if (agent.connected) await agent.sync();
    await drainAll();
    for (const agent of agents) if (agent.connected) await agent.sync();
    if (fingerprint(agents) === before) return;
  }
  throw new Error('the fleet did not settle');
};

/** One round of the fleet: the reconciler catches up, every connected agent syncs once, it catches up again. */
export const syncRound = async (berth: TestBerth, agents: ScriptedAgent[]): Promise<void> => {
  await berth.drain();
  for (const agent of agents) if (agent.connected) await agent.sync();
  await berth.drain();
};

/** A cluster of its own for a test, with `count` scripted agents registered in it. */
export const fleet = async (
  berth: TestBerth,
  cluster: string,
  count: number,
  options: Omit<Parameters<typeof ScriptedAgent.register>[1], 'cluster'> = {},
): Promise<ScriptedAgent[]> => {
  await berth.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  const agents: ScriptedAgent[] = [];
  for (let i = 0; i < count; i++) agents.push(await ScriptedAgent.register(berth, { ...options, cluster }));
  return agents;
};

/** Every task of a cluster matching a ListTasks filter, described (desired RUNNING and STOPPED). */
export const tasksOf = async (
  berth: TestBerth,
  filter: Omit<ListTasksCommandInput, 'desiredStatus' | 'nextToken'> & { cluster: string },
): Promise<Task[]> => {
  const arns: string[] = [];
  for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
    let nextToken: string | undefined;
    do {
      const page = await berth.ecs.send(new ListTasksCommand({ ...filter, desiredStatus, nextToken }));
      arns.push(...(page.taskArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
  }
  const tasks: Task[] = [];
  for (let i = 0; i < arns.length; i += 100) {
    const answer = await berth.ecs.send(
      new DescribeTasksCommand({ cluster: filter.cluster, tasks: arns.slice(i, i + 100) }),
    );
    tasks.push(...(answer.tasks ?? []));
  }
  return tasks;
};
