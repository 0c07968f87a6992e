import { setAgentConnected } from '../db/agent-writes.ts';
import { listClusters } from '../db/clusters.ts';
import { clusterPartition } from '../db/container-instances.ts';
import { servicesOf } from '../db/services.ts';
import { tasksOfCluster } from '../db/tasks.ts';
import { emptyWrite, writeUnit } from '../db/unit-writes.ts';
import { BerthError } from '../errors.ts';
import { replaceAfterDisconnectOf, type ServiceRecord } from '../model/service.ts';
import type { TaskRecord } from '../model/task.ts';
import { type ReconcileDeps, reconcileServiceUnit } from './apply.ts';
import { defaultSweepSettings, type SweepSettings } from './sweep-settings.ts';

export { defaultSweepSettings, type SweepSettings };

export type SweepReport = { disconnected: number; stuckTasksStopped: number; servicesReconciled: number };

/**
 * The periodic pass (every minute on AWS, a timer locally): what only time changes — agents that
 * went silent, tasks stuck before RUNNING, services waiting out a backoff or not yet steady.
 */
export const sweep = async (
  deps: ReconcileDeps,
  settings: SweepSettings = defaultSweepSettings,
): Promise<SweepReport> => {
  const now = (deps.now ?? (() => new Date()))();
  const report: SweepReport = { disconnected: 0, stuckTasksStopped: 0, servicesReconciled: 0 };
  const failures: { cluster: string; error: unknown }[] = [];
  let nextToken: string | undefined;
  do {
    const page = await listClusters(deps.db, 100, nextToken);
    nextToken = page.nextToken;
    for (const item of page.items) {
      const cluster = String(item.name);
      try {
        await sweepCluster(deps, settings, cluster, now, report);
      } catch (error) {
        // One cluster that cannot be swept (an item DynamoDB cannot read, a conflict storm) must
        // not leave the clusters after it unswept; the sweep still fails, once all were tried.
        failures.push({ cluster, error });
      }
    }
  } while (nextToken);
  if (failures.length > 0) {
    throw new BerthError(
      'SweepIncomplete',
      'internal',
      `The sweep of ${failures.length} cluster(s) failed: ${failures.map((f) => f.cluster).join(', ')}.`,
      { report, failures },
    );
  }
  return report;
};

/** One cluster's part of the sweep, adding what it did to `report`. */
const sweepCluster = async (
  deps: ReconcileDeps,
  settings: SweepSettings,
  cluster: string,
  now: Date,
  report: SweepReport,
): Promise<void> => {
  const at = now.toISOString();
  const { instances, heartbeats } = await clusterPartition(deps.db, cluster);
  /** When each disconnected instance went silent. */
  const silentSince = new Map<string, number>();
  for (const instance of instances) {
    if (instance.status === 'INACTIVE') continue;
    if (!instance.agentConnected) {
      const since = instance.disconnectedAt;
      silentSince.set(instance.id, since ? Date.parse(since) : now.getTime());
      continue;
    }
    const lastSeen = heartbeats.get(instance.id) ?? instance.registeredAt;
    if (now.getTime() - Date.parse(lastSeen) > settings.graceSeconds * 1000) {
      if (await setAgentConnected(deps.db, cluster, instance.id, false, at)) {
        report.disconnected += 1;
        silentSince.set(instance.id, now.getTime());
      }
    }
  }
  const tasks = await tasksOfCluster(deps.db, cluster);
  const stuck = tasks.filter(
    (task) =>
      task.desiredStatus === 'RUNNING' &&
      (task.lastStatus === 'PROVISIONING' || task.lastStatus === 'PENDING') &&
      now.getTime() - Date.parse(task.createdAt) > settings.pendingTimeoutSeconds * 1000,
  );
  for (const task of stuck) {
    const write = emptyWrite(at);
    write.stops = [
      {
        task,
        reason: `Task did not start within ${settings.pendingTimeoutSeconds} seconds.`,
        stopCode: 'TaskFailedToStart',
      },
    ];
    if ((await writeUnit(deps.db, write)).ok) {
      report.stuckTasksStopped += 1;
      await deps.doorbell?.ring(task.instanceId);
    }
  }
  // The disconnect policy is time-based too: nothing is written when an instance's silence
  // outlasts a service's berth:replace-after-disconnect, so the sweep looks again.
  const silentFor = (task: TaskRecord) => now.getTime() - (silentSince.get(task.instanceId) ?? now.getTime());
  const lostTasksOf = (service: ServiceRecord) => {
    const after = replaceAfterDisconnectOf(service);
    return (
      after !== undefined &&
      tasks.some(
        (task) =>
          task.serviceName === service.name &&
          task.desiredStatus === 'RUNNING' &&
          task.lastStatus !== 'STOPPED' &&
          silentSince.has(task.instanceId) &&
          silentFor(task) >= after * 1000,
      )
    );
  };
  for (const service of await servicesOf(deps.db, cluster)) {
    const due =
      !service.steadySince ||
      (service.retryAfter !== undefined && service.retryAfter <= at) ||
      lostTasksOf(service);
    if (!due) continue;
    await reconcileServiceUnit(deps, cluster, service.name);
    report.servicesReconciled += 1;
  }
};
