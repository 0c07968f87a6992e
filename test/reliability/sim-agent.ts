import { CreateActivationCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { AssignedTask, SyncResponse, TaskReport } from '../../core/protocol/agent.ts';

/**
 * A simulated edge machine for the reliability scenarios: the agent speaks the real agent API over
 * HTTP, and its "Docker" (SimHost) outlives the agent, so an agent killed mid-way can be started
 * again from its token alone and adopt what runs, as the real agent adopts labelled containers.
 * Unlike test/integration's ScriptedAgent it keeps no seq across a restart: like the real agent
 * (agent/reports.ts), it takes the clock in ms as the floor of every seq.
 */
export type SimContainer = { taskArn: string; state: 'running' | 'exited'; exitCode?: number };

/** What survives an agent restart: the machine's containers, one per task. */
export class SimHost {
  readonly containers = new Map<string, SimContainer>();
  /** An essential container exits on its own (a crash while nobody watches). */
  exit(taskArn: string, exitCode = 1): void {
    const container = this.containers.get(taskArn);
    if (container) Object.assign(container, { state: 'exited', exitCode });
  }
  running(): string[] {
    return [...this.containers.values()].filter((c) => c.state === 'running').map((c) => c.taskArn);
  }
}

type Held = {
  task: AssignedTask;
  seq: number;
  /** Reports not yet acknowledged, oldest first. */
  pending: TaskReport[];
  /** The last report's body, so a report is made only when something changed. */
  lastBody?: string;
  /** Acknowledged STOPPED: the container may go. */
  done: boolean;
};

/** The agent API's limit on reports in one sync (core/protocol/agent.ts). */
const maxReportsPerSync = 200;

/** Where an agent talks to; a function, so a control plane restarted elsewhere can be followed. */
export type AgentTarget = { endpoint: () => string };

const jsonFetch = async (url: string, init: RequestInit): Promise<{ status: number; body: unknown }> => {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: response.status, body };
};

export class SimAgent {
  readonly held = new Map<string, Held>();
  assignmentVersion = 0;
  /** False: the agent's traffic is blocked (a partition); sync does nothing. */
  connected = true;
  /** Families whose containers exit at once with code 1. */
  readonly failing = new Set<string>();
  /** Every report the control plane acknowledged: what it promised to keep. */
  readonly acknowledged: { taskArn: string; lastStatus: TaskReport['lastStatus']; seq: number }[] = [];
  /** Syncs that failed (control plane down, 5xx): the agent keeps its reports and tries again. */
  failedSyncs = 0;
  /** Every report sent, in order (to replay old ones on purpose). */
  readonly sent: TaskReport[] = [];
  /** Reports to send again with the next sync, as a confused or replaying agent would. */
  readonly replays: TaskReport[] = [];

  readonly target: AgentTarget;
  readonly token: string;
  readonly containerInstanceArn: string;
  readonly host: SimHost;

  constructor(
    target: AgentTarget,
    token: string,
    containerInstanceArn: string,
    host: SimHost = new SimHost(),
  ) {
    this.target = target;
    this.token = token;
    this.containerInstanceArn = containerInstanceArn;
    this.host = host;
  }

  static async register(
    target: AgentTarget & { ssm: SSMClient },
    options: { cluster: string; cpu?: number; memory?: number },
  ): Promise<SimAgent> {
    const activation = await target.ssm.send(
      new CreateActivationCommand({ IamRole: 'berth', RegistrationLimit: 1 }),
    );
    const response = await jsonFetch(`${target.endpoint()}/agent/v1/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        activationId: activation.ActivationId,
        activationCode: activation.ActivationCode,
        cluster: options.cluster,
        hostname: 'sim-host',
        agentVersion: '0.1.0',
        resources: { cpu: options.cpu ?? 2048, memory: options.memory ?? 4096 },
      }),
    });
    if (response.status !== 200) throw new Error(`registration failed: ${JSON.stringify(response.body)}`);
    const body = response.body as { token: string; containerInstanceArn: string };
    return new SimAgent(target, body.token, body.containerInstanceArn);
  }

  get instanceId(): string {
    return this.containerInstanceArn.split('/').at(-1) ?? '';
  }

  /** The agent process dies and starts again: memory lost, token and containers kept. */
  restart(): SimAgent {
    const again = new SimAgent(this.target, this.token, this.containerInstanceArn, this.host);
    for (const family of this.failing) again.failing.add(family);
    again.connected = this.connected;
    return again;
  }

  private report(held: Held, body: Omit<TaskReport, 'seq'>): void {
    const text = JSON.stringify(body);
    if (text === held.lastBody) return;
    held.lastBody = text;
    held.seq = Math.max(held.seq + 1, Date.now());
    held.pending.push({ ...body, seq: held.seq });
  }

  private reportContainer(held: Held): void {
    const container = this.host.containers.get(held.task.taskArn);
    const names = held.task.containers.map((c) => c.name);
    if (!container) return;
    if (container.state === 'running') {
      this.report(held, {
        taskArn: held.task.taskArn,
        lastStatus: 'RUNNING',
        containers: names.map((name) => ({ name, lastStatus: 'RUNNING' })),
      });
    } else {
      const failed = container.exitCode !== 0;
      this.report(held, {
        taskArn: held.task.taskArn,
        lastStatus: 'STOPPED',
        ...(failed && held.task.desiredStatus === 'RUNNING'
          ? { stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' }
          : {}),
        containers: names.map((name) => ({ name, lastStatus: 'STOPPED', exitCode: container.exitCode ?? 0 })),
      });
    }
  }

  /** Drives the machine toward the desired set: start, adopt, stop, forget. */
  private act(desired: AssignedTask[]): void {
    const wanted = new Set(desired.map((task) => task.taskArn));
    for (const task of desired) {
      const held = this.held.get(task.taskArn) ?? { task, seq: 0, pending: [], done: false };
      held.task = task;
      this.held.set(task.taskArn, held);
      const container = this.host.containers.get(task.taskArn);
      if (task.desiredStatus === 'RUNNING' && !container) {
        const fails = this.failing.has(task.family);
        this.host.containers.set(task.taskArn, {
          taskArn: task.taskArn,
          state: fails ? 'exited' : 'running',
          ...(fails ? { exitCode: 1 } : {}),
        });
      } else if (task.desiredStatus === 'STOPPED' && container?.state === 'running') {
        Object.assign(container, { state: 'exited', exitCode: 0 });
      } else if (task.desiredStatus === 'STOPPED' && !container) {
        // Never started here (or removed behind our back): it is stopped all the same.
        this.host.containers.set(task.taskArn, { taskArn: task.taskArn, state: 'exited', exitCode: 0 });
      }
      this.reportContainer(this.held.get(task.taskArn) as Held);
    }
    // No longer live for the control plane (it is STOPPED there): stop and remove what is left.
    for (const [arn, held] of this.held) {
      if (wanted.has(arn)) continue;
      const container = this.host.containers.get(arn);
      if (container?.state === 'running') Object.assign(container, { state: 'exited', exitCode: 0 });
      if (held.pending.length === 0) {
        this.held.delete(arn);
        this.host.containers.delete(arn);
      }
    }
    for (const arn of [...this.host.containers.keys()]) {
      if (!wanted.has(arn) && !this.held.has(arn)) this.host.containers.delete(arn);
    }
  }

  /**
   * One sync: send every unacknowledged report, then act on the answer. `loseAnswer`: the request
   * reaches the control plane but the agent dies before reading the answer. `actOnTasks: false`:
   * the agent dies after receiving its tasks but before acting on them.
   */
  async sync(
    options: { loseAnswer?: boolean; actOnTasks?: boolean } = {},
  ): Promise<SyncResponse | undefined> {
    if (!this.connected) return undefined;
    // Containers that exited on their own since the last look.
    for (const held of this.held.values()) this.reportContainer(held);
    // As the real agent (agent/agent.ts), at most 200 reports a sync: the rest go with the next.
    const reports = [
      ...this.replays.splice(0),
      ...[...this.held.values()].flatMap((held) => held.pending),
    ].slice(0, maxReportsPerSync);
    this.sent.push(...reports);
    let response: { status: number; body: unknown };
    try {
      response = await jsonFetch(`${this.target.endpoint()}/agent/v1/sync`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ assignmentVersion: this.assignmentVersion, reports }),
      });
    } catch {
      this.failedSyncs += 1;
      return undefined;
    }
    if (response.status >= 500) {
      this.failedSyncs += 1;
      return undefined;
    }
    if (response.status !== 200)
      throw new Error(`sync refused: ${response.status} ${JSON.stringify(response.body)}`);
    if (options.loseAnswer) return undefined;
    const body = response.body as SyncResponse;
    for (const ack of body.acked) {
      const held = this.held.get(ack.taskArn);
      if (!held) continue;
      for (const report of held.pending.filter((r) => r.seq <= ack.seq)) {
        this.acknowledged.push({ taskArn: report.taskArn, lastStatus: report.lastStatus, seq: report.seq });
        if (report.lastStatus === 'STOPPED') held.done = true;
      }
      held.pending = held.pending.filter((r) => r.seq > ack.seq);
    }
    if (body.tasks && options.actOnTasks !== false) {
      this.assignmentVersion = body.assignmentVersion;
      this.act(body.tasks);
    }
    // Acknowledged as STOPPED: the container goes (DESIGN: only after the ack).
    for (const [arn, held] of this.held) {
      if (held.done && held.pending.length === 0) {
        this.held.delete(arn);
        this.host.containers.delete(arn);
      }
    }
    return body;
  }

  /** Reports still waiting for an acknowledgement. */
  unacknowledged(): number {
    return [...this.held.values()].reduce((sum, held) => sum + held.pending.length, 0);
  }
}

/** The fleet's state as agents see it, to tell when a round changed nothing. */
export const fleetFingerprint = (agents: readonly SimAgent[]): string =>
  agents
    .map(
      (agent) =>
        `${agent.assignmentVersion}:${agent.unacknowledged()}:${[...agent.host.containers.values()]
          .map((c) => `${c.taskArn.slice(-6)}${c.state}`)
          .sort()
          .join(',')}`,
    )
    .join('|');
