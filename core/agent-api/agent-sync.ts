import { hashSecret } from '../auth/secrets.ts';
import { instanceOfToken } from '../db/activations.ts';
import { applyReport, recordHeartbeat, setAgentConnected } from '../db/agent-writes.ts';
import { getContainerInstance } from '../db/container-instances.ts';
import { definitionOf } from '../db/definition-cache.ts';
import { taskIdOfRef } from '../db/keys.ts';
import { getTask, tasksByRefs, tasksOfInstance } from '../db/tasks.ts';
import type { ActionContext } from '../ecs/context.ts';
import { BerthError } from '../errors.ts';
import type { ContainerInstanceRecord } from '../model/container-instance.ts';
import type { TaskRecord } from '../model/task.ts';
import { assignedTaskOf } from '../model/task-factory.ts';
import { changesOf, type ReportChanges } from '../model/task-report.ts';
import type { SyncRequest, SyncResponse } from '../protocol/agent.ts';

/** Seconds between syncs when nothing happens: the sync is the heartbeat. */
export const heartbeatSeconds = 60;

export const invalidAgentToken = () =>
  new BerthError('InvalidToken', 'auth', 'The agent token is not valid (unknown, revoked or deregistered).');

/**
 * A memo per table handle (two control planes in one process never share one), forgotten as a
 * whole when it grows past `max` entries.
 */
const memoPerTable = <V>(max = 100_000) => {
  const memos = new WeakMap<object, Map<string, V>>();
  return (db: object): Map<string, V> => {
    let memo = memos.get(db);
    if (!memo) {
      memo = new Map();
      memos.set(db, memo);
    }
    if (memo.size >= max) memo.clear();
    return memo;
  };
};

/**
 * Which instance each token hash belongs to. A token never changes owner, so the answer may be
 * remembered; whether the owner still holds the token is read fresh every time (the instance
 * record carries the hash, and deregistration makes it INACTIVE).
 */
const tokenOwners = memoPerTable<{ cluster: string; instanceId: string }>();

const ownerOfToken = async (context: ActionContext, tokenHash: string) => {
  const owners = tokenOwners(context.db);
  const known = owners.get(tokenHash);
  if (known) return known;
  const owner = await instanceOfToken(context.db, tokenHash);
  if (owner) owners.set(tokenHash, owner);
  return owner;
};

const tokenHashOf = (authorization: string | undefined): string => {
  const match = /^Bearer ([A-Za-z0-9_]{10,200})$/.exec(authorization ?? '');
  if (!match?.[1]) throw invalidAgentToken();
  return hashSecret(match[1]);
};

/** The instance a bearer token answers for, read fresh; 401 for anything else. */
export const authenticateAgent = async (
  context: ActionContext,
  authorization: string | undefined,
): Promise<ContainerInstanceRecord> => {
  const tokenHash = tokenHashOf(authorization);
  const owner = await ownerOfToken(context, tokenHash);
  if (!owner) throw invalidAgentToken();
  const instance = await getContainerInstance(context.db, owner.cluster, owner.instanceId);
  if (!instance || instance.status === 'INACTIVE' || instance.tokenHash !== tokenHash)
    throw invalidAgentToken();
  return instance;
};

/**
 * The instance a bearer token belongs to, without reading the instance when the token is known:
 * enough for the doorbell, which only waits (its deletion at deregistration refuses the token).
 */
export const authenticateDoorbell = async (
  context: ActionContext,
  authorization: string | undefined,
): Promise<{ cluster: string; instanceId: string }> => {
  const owner = await ownerOfToken(context, tokenHashOf(authorization));
  if (!owner) throw invalidAgentToken();
  return owner;
};

/**
 * When this process last wrote each instance's heartbeat: at idle an agent syncs every minute,
 * and a heartbeat every other sync still says it is alive within the grace.
 */
const heartbeatsWritten = memoPerTable<number>();
const defaultHeartbeatWriteSeconds = 90;

/** Writes the heartbeat unless this process wrote it less than heartbeatWriteSeconds ago. */
const recordHeartbeatWhenDue = async (
  context: ActionContext,
  instance: ContainerInstanceRecord,
  at: string,
) => {
  const written = heartbeatsWritten(context.db);
  const last = written.get(instance.id);
  const nowMs = Date.parse(at);
  const intervalMs = (context.config.heartbeatWriteSeconds ?? defaultHeartbeatWriteSeconds) * 1000;
  if (last !== undefined && nowMs - last >= 0 && nowMs - last < intervalMs) return;
  await recordHeartbeat(context.db, instance.cluster, instance.id, at);
  // Remembered only once written: a failed write is tried again on the next sync.
  written.set(instance.id, nowMs);
};

const taskIdOf = (taskArn: string): string | undefined => {
  const match = /:task\/[A-Za-z0-9_-]+\/([a-f0-9]{32})$/.exec(taskArn);
  return match?.[1];
};

/**
 * `POST /agent/v1/sync`: applies the agent's reports (each once, in order), records the
 * heartbeat, and answers the instance's whole desired set when its assignment version moved.
 */
export const syncAgent = async (
  context: ActionContext,
  instance: ContainerInstanceRecord,
  request: SyncRequest,
): Promise<SyncResponse> => {
  const at = context.now().toISOString();
  // The instance was read consistently, and so are the tasks it names; an instance registered before
  // it named its tasks is read through the index. Only an agent whose assignments moved needs them
  // all (its answer is the whole desired set); otherwise the tasks it reports on are enough, and a
  // heartbeat with nothing to report needs none: an idle fleet's syncs read one item each.
  const versionMoved = request.assignmentVersion !== instance.assignmentVersion;
  /** The tasks reported on, by id (a malformed ARN names none). */
  const reported = new Map<string, string>();
  for (const report of request.reports) {
    const id = taskIdOf(report.taskArn);
    if (id) reported.set(id, report.taskArn);
  }
  const liveRefs = instance.liveTaskRefs ?? [];
  const assigned =
    !versionMoved && request.reports.length === 0
      ? []
      : instance.tracksLiveTasks
        ? await tasksByRefs(
            context.db,
            versionMoved ? liveRefs : [...liveRefs].filter((ref) => reported.has(taskIdOfRef(ref))),
          )
        : await tasksOfInstance(context.db, instance.id);
  const byId = new Map(assigned.map((task) => [task.id, task]));
  const acked: SyncResponse['acked'] = [];
  // Every report is checked before any is applied: a request about another instance's task
  // changes nothing at all. Tasks that are no longer live (stopped, their resources given back)
  // are read by id, in parallel: after an outage an agent may report many at once.
  const others = [...reported.keys()].filter((id) => !byId.has(id));
  const found = await Promise.all(others.map((id) => getTask(context.db, instance.cluster, id)));
  for (const elsewhere of found) {
    if (!elsewhere) continue;
    if (elsewhere.instanceId === instance.id) byId.set(elsewhere.id, elsewhere);
    else {
      const taskArn = reported.get(elsewhere.id) ?? elsewhere.id;
      const message = `Task ${taskArn} is not assigned to this instance.`;
      throw new BerthError('AccessDeniedException', 'auth', message, { taskArn });
    }
  }
  // A task's reports in one request (PENDING and RUNNING, say) are folded into one write with the
  // newest seq: the same end state, one write instead of several.
  const folded = new Map<string, { task: TaskRecord; changes: ReportChanges; seq: number }>();
  for (const report of request.reports) {
    const id = taskIdOf(report.taskArn);
    const task = id ? byId.get(id) : undefined;
    // Unknown: a task the control plane no longer keeps (expired after stopping); nothing to record.
    if (task && report.seq > task.reportSeq) {
      const entry = folded.get(task.id);
      if (!entry || report.seq > entry.seq) {
        const base = entry ? ({ ...task, ...entry.changes } as TaskRecord) : task;
        const changes = changesOf(base, report, report.at && report.at < at ? report.at : at);
        folded.set(task.id, { task, changes: { ...entry?.changes, ...changes }, seq: report.seq });
      }
    }
    acked.push({ taskArn: report.taskArn, seq: report.seq });
  }
  // Tasks are independent of each other: their writes go together.
  await Promise.all(
    [...folded.values()].map(async ({ task, changes, seq }) => {
      const release = changes.lastStatus === 'STOPPED' && !task.released;
      const outcome = await applyReport(
        context.db,
        task,
        seq,
        changes,
        at,
        release,
        instance.groups?.[task.group],
      );
      if (outcome === 'applied') byId.set(task.id, { ...task, ...changes, reportSeq: seq } as TaskRecord);
    }),
  );
  await recordHeartbeatWhenDue(context, instance, at);
  if (!instance.agentConnected) await setAgentConnected(context.db, instance.cluster, instance.id, true, at);

  const response: SyncResponse = { assignmentVersion: instance.assignmentVersion, acked, heartbeatSeconds };
  if (request.assignmentVersion !== instance.assignmentVersion) {
    const live = [...byId.values()].filter((task) => task.lastStatus !== 'STOPPED');
    const tasks = [];
    for (const task of live) {
      const definition = await definitionOf(context.db, context.config, task.family, task.revision);
      if (definition) tasks.push(assignedTaskOf(task, definition, context.arns.task(task.cluster, task.id)));
    }
    response.tasks = tasks;
  }
  return response;
};
