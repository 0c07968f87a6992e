import { setAgentConnected } from '../../db/agent-writes.ts';
import { listClusters } from '../../db/clusters.ts';
import { clusterPartition } from '../../db/container-instances.ts';
import { servicesOf } from '../../db/services.ts';
import { tasksOfCluster } from '../../db/tasks.ts';
import { emptyWrite, writeUnit } from '../../db/unit-writes.ts';
import { BerthError } from '../../errors.ts';
import { isServiceDue, silenceOf, stuckTasksOf } from '../sweep-rules.ts';
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
  const nowMs = now.getTime();
  const { instances, heartbeats } = await clusterPartition(deps.db, cluster);
  const { toDisconnect, silentSince } = silenceOf(instances, heartbeats, nowMs, settings.graceSeconds);
  for (const instanceId of toDisconnect) {
    if (await setAgentConnected(deps.db, cluster, instanceId, false, at)) {
      report.disconnected += 1;
      silentSince.set(instanceId, nowMs);
    }
  }
  const tasks = await tasksOfCluster(deps.db, cluster);
  for (const task of stuckTasksOf(tasks, nowMs, settings.pendingTimeoutSeconds)) {
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
  for (const service of await servicesOf(deps.db, cluster)) {
    if (!isServiceDue(service, tasks, silentSince, nowMs)) continue;
    await reconcileServiceUnit(deps, cluster, service.name);
    report.servicesReconciled += 1;
  }
};
