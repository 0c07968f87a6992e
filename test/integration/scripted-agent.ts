import type { AssignedTask, SyncResponse, TaskReport } from '../../core/protocol/agent.ts';
import { registerAgent, type TestBerth } from './harness.ts';

type Held = { task: AssignedTask; status: 'PENDING' | 'RUNNING' | 'STOPPED'; seq: number; acked: number };

/**
 * A scripted agent speaking the real agent API over HTTP: it starts what it is assigned at once
 * (or fails it, on request) and stops what it is told to stop. No Docker.
 */
export class ScriptedAgent {
  readonly held = new Map<string, Held>();
  assignmentVersion = 0;
  connected = true;
  /** Containers of these families exit at once with code 1 (a task that cannot start). */
  readonly failing = new Set<string>();

  private constructor(
    private readonly berth: TestBerth,
    readonly token: string,
    readonly containerInstanceArn: string,
  ) {}

  static async register(berth: TestBerth, options: Parameters<typeof registerAgent>[1] = {}) {
    const registered = await registerAgent(berth, options);
    return new ScriptedAgent(berth, registered.token, registered.containerInstanceArn);
  }

  get instanceId(): string {
    return this.containerInstanceArn.split('/').pop() ?? '';
  }

  private report(held: Held, status: Held['status'], extra: Partial<TaskReport> = {}): TaskReport {
    held.status = status;
    held.seq += 1;
    return {
      taskArn: held.task.taskArn,
      seq: held.seq,
      lastStatus: status,
      containers: held.task.containers.map((c) => ({
        name: c.name,
        lastStatus: status,
        ...(status === 'STOPPED' ? { exitCode: extra.stopCode === 'EssentialContainerExited' ? 1 : 0 } : {}),
      })),
      ...extra,
    };
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
          if (this.failing.has(task.family)) {
            this.report(held, 'STOPPED', {
              stopCode: 'EssentialContainerExited',
              stoppedReason: 'Essential container in task exited',
            });
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
    return {
      taskArn: held.task.taskArn,
      seq: held.seq,
      lastStatus: held.status,
      containers: held.task.containers.map((c) => ({ name: c.name, lastStatus: held.status })),
      ...(held.status === 'STOPPED' && this.failing.has(held.task.family)
        ? {
            stopCode: 'EssentialContainerExited' as const,
            stoppedReason: 'Essential container in task exited',
          }
        : {}),
    };
  }

  running(): string[] {
    return [...this.held.values()].filter((h) => h.status === 'RUNNING').map((h) => h.task.taskArn);
  }
}

/** Syncs every agent until a pass changes nothing (reports all acknowledged, no new assignments). */
export const settle = async (berth: TestBerth, agents: ScriptedAgent[], rounds = 30): Promise<void> => {
  for (let round = 0; round < rounds; round++) {
    await berth.drain();
    const before = agents.map(
      (a) =>
        `${a.assignmentVersion}:${[...a.held.values()].map((h) => `${h.status}${h.seq}/${h.acked}`).join(',')}`,
    );
    for (const agent of agents) if (agent.connected) await agent.sync();
    await berth.drain();
    for (const agent of agents) if (agent.connected) await agent.sync();
    const after = agents.map(
      (a) =>
        `${a.assignmentVersion}:${[...a.held.values()].map((h) => `${h.status}${h.seq}/${h.acked}`).join(',')}`,
    );
    if (before.join('|') === after.join('|')) return;
  }
  throw new Error('the fleet did not settle');
};
