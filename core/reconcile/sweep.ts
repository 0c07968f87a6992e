import { setAgentConnected } from '../db/agent-writes.ts';
import { listClusters } from '../db/clusters.ts';
import { clusterPartition } from '../db/container-instances.ts';
import { servicesOf } from '../db/services.ts';
import { tasksOfCluster } from '../db/tasks.ts';
import { emptyWrite, writeUnit } from '../db/unit-writes.ts';
import { type ReconcileDeps, reconcileServiceUnit } from './apply.ts';

export type SweepSettings = {
  /** An agent silent this long is disconnected (DESIGN: three heartbeats). */
  graceSeconds: number;
  /** A task not RUNNING this long after it was placed is stopped as failed to start. */
  pendingTimeoutSeconds: number;
};

export const defaultSweepSettings: SweepSettings = { graceSeconds: 180, pendingTimeoutSeconds: 900 };

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
  const at = now.toISOString();
  const report: SweepReport = { disconnected: 0, stuckTasksStopped: 0, servicesReconciled: 0 };
  let nextToken: string | undefined;
  do {
    const page = await listClusters(deps.db, 100, nextToken);
    nextToken = page.nextToken;
    for (const item of page.items) {
      const cluster = String(item.name);
      const { instances, heartbeats } = await clusterPartition(deps.db, cluster);
      for (const instance of instances) {
        if (!instance.agentConnected || instance.status === 'INACTIVE') continue;
        const lastSeen = heartbeats.get(instance.id) ?? instance.registeredAt;
        if (now.getTime() - Date.parse(lastSeen) > settings.graceSeconds * 1000) {
          if (await setAgentConnected(deps.db, cluster, instance.id, false, at)) report.disconnected += 1;
        }
      }
      const stuck = (await tasksOfCluster(deps.db, cluster)).filter(
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
      for (const service of await servicesOf(deps.db, cluster)) {
        const due = !service.steadySince || (service.retryAfter !== undefined && service.retryAfter <= at);
        if (!due) continue;
        await reconcileServiceUnit(deps, cluster, service.name);
        report.servicesReconciled += 1;
      }
    }
  } while (nextToken);
  return report;
};
