import {
  type ContainerInstance,
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  type ECSClient,
  ListClustersCommand,
  ListContainerInstancesCommand,
  ListServicesCommand,
  ListTasksCommand,
  type Service,
  type Task,
} from '@aws-sdk/client-ecs';
import type { Command } from 'commander';
import { defaultSweepSettings } from '../core/reconcile/run/sweep-settings.ts';
import type { HealthReport } from '../local/store-health.ts';
import { ageOf, definitionOf, ecsClientFor, explainClientError, idOf, table } from './ecs-client.ts';
import { printable, printableJson } from './terminal.ts';

/**
 * How long an agent may stay silent before the control plane marks it disconnected (the sweeper's
 * default grace). ECS has no field for an agent's last heartbeat, only `agentConnected`, so "last
 * seen" is read from it: within this, or longer ago.
 */
export const disconnectGraceSeconds = defaultSweepSettings.graceSeconds;

/** How many stopped tasks the screen lists, newest first. */
const stoppedShown = 10;

/** CPU units or MiB: what the placed tasks reserve, of what the agent registered. */
export type ResourceUse = { used: number; registered: number };

/** One container instance, as `berth status` shows it. */
export type InstanceStatus = {
  containerInstanceArn: string;
  ec2InstanceId?: string;
  status: string;
  statusReason?: string;
  agentConnected: boolean;
  /** Derived from agentConnected (ECS has no heartbeat time). */
  lastSeen: string;
  cpu: ResourceUse;
  memory: ResourceUse;
  runningTasks: number;
  pendingTasks: number;
  agentVersion?: string;
  registeredAt?: string;
};

/** One deployment of a service: its task definition, counts and rollout state. */
export type DeploymentStatus = {
  id: string;
  status: string;
  taskDefinition: string;
  desired: number;
  running: number;
  pending: number;
  failed: number;
  rolloutState?: string;
  rolloutStateReason?: string;
};

/** One service, as `berth status` shows it. */
export type ServiceStatus = {
  serviceName: string;
  status: string;
  desired: number;
  running: number;
  pending: number;
  deployments: DeploymentStatus[];
  lastEvent?: { createdAt: string; message: string };
};

/** A stopped task and why it stopped. */
export type StoppedTaskStatus = {
  taskArn: string;
  taskDefinition: string;
  group?: string;
  stoppedAt?: string;
  stopCode?: string;
  stoppedReason?: string;
  /** Containers that exited with a code or a reason: usually why the task stopped. */
  containers: { name: string; exitCode?: number; reason?: string }[];
};

/** What `berth status --json` prints for each cluster. */
export type ClusterStatus = {
  clusterName: string;
  status: string;
  instances: InstanceStatus[];
  services: ServiceStatus[];
  stoppedTasks: StoppedTaskStatus[];
  /** Stopped tasks the control plane still holds (only the newest are listed). */
  stoppedTasksTotal: number;
};

const chunks = <T>(items: T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

/** Follows nextToken until the list ends. */
const allPages = async <T>(page: (nextToken?: string) => Promise<{ items: T[]; nextToken?: string }>) => {
  const items: T[] = [];
  let nextToken: string | undefined;
  do {
    const answer = await page(nextToken);
    items.push(...answer.items);
    nextToken = answer.nextToken;
  } while (nextToken);
  return items;
};

const resource = (instance: ContainerInstance, name: string): ResourceUse => {
  const registered = instance.registeredResources?.find((r) => r.name === name)?.integerValue ?? 0;
  const remaining = instance.remainingResources?.find((r) => r.name === name)?.integerValue ?? 0;
  return { used: registered - remaining, registered };
};

const iso = (date: Date | undefined) => date?.toISOString();

const instanceStatusOf = (instance: ContainerInstance): InstanceStatus => ({
  containerInstanceArn: instance.containerInstanceArn ?? '',
  ...(instance.ec2InstanceId ? { ec2InstanceId: instance.ec2InstanceId } : {}),
  status: instance.status ?? 'UNKNOWN',
  ...(instance.statusReason ? { statusReason: instance.statusReason } : {}),
  agentConnected: instance.agentConnected ?? false,
  lastSeen: instance.agentConnected
    ? `within ${disconnectGraceSeconds / 60}m`
    : `over ${disconnectGraceSeconds / 60}m`,
  cpu: resource(instance, 'CPU'),
  memory: resource(instance, 'MEMORY'),
  runningTasks: instance.runningTasksCount ?? 0,
  pendingTasks: instance.pendingTasksCount ?? 0,
  ...(instance.versionInfo?.agentVersion ? { agentVersion: instance.versionInfo.agentVersion } : {}),
  ...(instance.registeredAt ? { registeredAt: iso(instance.registeredAt) } : {}),
});

const serviceStatusOf = (service: Service): ServiceStatus => {
  // ECS returns events newest first.
  const event = service.events?.[0];
  return {
    serviceName: service.serviceName ?? '',
    status: service.status ?? 'UNKNOWN',
    desired: service.desiredCount ?? 0,
    running: service.runningCount ?? 0,
    pending: service.pendingCount ?? 0,
    deployments: (service.deployments ?? []).map((deployment) => ({
      id: deployment.id ?? '',
      status: deployment.status ?? '',
      taskDefinition: definitionOf(deployment.taskDefinition),
      desired: deployment.desiredCount ?? 0,
      running: deployment.runningCount ?? 0,
      pending: deployment.pendingCount ?? 0,
      failed: deployment.failedTasks ?? 0,
      ...(deployment.rolloutState ? { rolloutState: deployment.rolloutState } : {}),
      ...(deployment.rolloutStateReason ? { rolloutStateReason: deployment.rolloutStateReason } : {}),
    })),
    ...(event?.message
      ? { lastEvent: { createdAt: iso(event.createdAt) ?? '', message: event.message } }
      : {}),
  };
};

const stoppedTaskOf = (task: Task): StoppedTaskStatus => ({
  taskArn: task.taskArn ?? '',
  taskDefinition: definitionOf(task.taskDefinitionArn),
  ...(task.group ? { group: task.group } : {}),
  ...(task.stoppedAt ? { stoppedAt: iso(task.stoppedAt) } : {}),
  ...(task.stopCode ? { stopCode: task.stopCode } : {}),
  ...(task.stoppedReason ? { stoppedReason: task.stoppedReason } : {}),
  containers: (task.containers ?? [])
    .filter((c) => c.exitCode !== undefined || c.reason)
    .map((c) => ({
      name: c.name ?? '',
      ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
      ...(c.reason ? { reason: c.reason } : {}),
    })),
});

const byTime = (a: string | undefined, b: string | undefined) => (a ?? '').localeCompare(b ?? '');

/** Reads one cluster's instances, services and stopped tasks through the ECS API. */
export const collectClusterStatus = async (ecs: ECSClient, clusterName: string): Promise<ClusterStatus> => {
  const [cluster] = (await ecs.send(new DescribeClustersCommand({ clusters: [clusterName] }))).clusters ?? [];
  if (!cluster) throw new Error(`No cluster named ${clusterName}.`);

  const instanceArns = await allPages(async (nextToken) => {
    const page = await ecs.send(new ListContainerInstancesCommand({ cluster: clusterName, nextToken }));
    return { items: page.containerInstanceArns ?? [], nextToken: page.nextToken };
  });
  const instances: InstanceStatus[] = [];
  for (const batch of chunks(instanceArns, 100)) {
    const answer = await ecs.send(
      new DescribeContainerInstancesCommand({ cluster: clusterName, containerInstances: batch }),
    );
    instances.push(...(answer.containerInstances ?? []).map(instanceStatusOf));
  }
  // Oldest first: a fleet's screen keeps its order as machines join.
  instances.sort(
    (a, b) =>
      byTime(a.registeredAt, b.registeredAt) || a.containerInstanceArn.localeCompare(b.containerInstanceArn),
  );

  const serviceArns = await allPages(async (nextToken) => {
    const page = await ecs.send(new ListServicesCommand({ cluster: clusterName, nextToken }));
    return { items: page.serviceArns ?? [], nextToken: page.nextToken };
  });
  const services: ServiceStatus[] = [];
  for (const batch of chunks(serviceArns, 10)) {
    const answer = await ecs.send(new DescribeServicesCommand({ cluster: clusterName, services: batch }));
    services.push(...(answer.services ?? []).map(serviceStatusOf));
  }
  services.sort((a, b) => a.serviceName.localeCompare(b.serviceName));

  const stoppedArns = await allPages(async (nextToken) => {
    const page = await ecs.send(
      new ListTasksCommand({ cluster: clusterName, desiredStatus: 'STOPPED', maxResults: 100, nextToken }),
    );
    return { items: page.taskArns ?? [], nextToken: page.nextToken };
  });
  const stopped: StoppedTaskStatus[] = [];
  for (const batch of chunks(stoppedArns, 100)) {
    const answer = await ecs.send(new DescribeTasksCommand({ cluster: clusterName, tasks: batch }));
    // Desired STOPPED but still running is a task on its way out, not a stopped one.
    stopped.push(...(answer.tasks ?? []).filter((task) => task.lastStatus === 'STOPPED').map(stoppedTaskOf));
  }
  stopped.sort((a, b) => byTime(b.stoppedAt, a.stoppedAt) || a.taskArn.localeCompare(b.taskArn));

  return {
    clusterName: cluster.clusterName ?? clusterName,
    status: cluster.status ?? 'UNKNOWN',
    instances,
    services,
    stoppedTasks: stopped.slice(0, stoppedShown),
    stoppedTasksTotal: stopped.length,
  };
};

/** The named clusters, or every cluster when none is named. */
export const collectStatus = async (ecs: ECSClient, clusterName?: string): Promise<ClusterStatus[]> => {
  const names = clusterName
    ? [clusterName]
    : (
        await allPages(async (nextToken) => {
          const page = await ecs.send(new ListClustersCommand({ nextToken }));
          return { items: page.clusterArns ?? [], nextToken: page.nextToken };
        })
      )
        .map(idOf)
        .sort();
  const clusters: ClusterStatus[] = [];
  for (const name of names) clusters.push(await collectClusterStatus(ecs, name));
  return clusters;
};

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
const use = (resource: ResourceUse, unit = '') => `${resource.used}/${resource.registered}${unit}`;

const stoppedReasonOf = (task: StoppedTaskStatus): string => {
  const exits = task.containers
    .map((c) =>
      `${c.name}: ${c.exitCode !== undefined ? `exit ${c.exitCode}` : ''}${c.reason ? ` ${c.reason}` : ''}`.trim(),
    )
    .join(', ');
  return [task.stoppedReason ?? '-', exits ? `(${exits})` : ''].filter(Boolean).join(' ');
};

const deploymentLine = (deployment: DeploymentStatus) =>
  `${deployment.status} ${deployment.taskDefinition} ${deployment.running}/${deployment.desired}` +
  (deployment.pending ? ` +${deployment.pending} pending` : '') +
  (deployment.failed ? ` ${deployment.failed} failed` : '');

/** One cluster's screen: a header, then instances, services and recently stopped tasks. */
export const renderClusterStatus = (cluster: ClusterStatus, now: Date): string => {
  const connected = cluster.instances.filter((i) => i.agentConnected).length;
  const running = cluster.instances.reduce((sum, i) => sum + i.runningTasks, 0);
  const pending = cluster.instances.reduce((sum, i) => sum + i.pendingTasks, 0);
  const lines = [
    `Cluster ${printable(cluster.clusterName)} (${printable(cluster.status)}): ${plural(cluster.instances.length, 'instance')} ` +
      `(${connected} connected), ${plural(cluster.services.length, 'service')}, ` +
      `${running} running and ${pending} pending tasks`,
    '',
  ];

  if (cluster.instances.length === 0) {
    lines.push(
      'INSTANCES  none: install an agent (curl -fsSL ENDPOINT/agent/v1/install.sh | sudo bash -s -- …)',
    );
  } else {
    lines.push(
      ...table([
        ['INSTANCES', 'AGENT', 'STATUS', 'CPU', 'MEMORY', 'RUNNING', 'PENDING', 'VERSION', 'LAST SEEN'],
        ...cluster.instances.map((i) => [
          `  ${idOf(i.containerInstanceArn).slice(0, 12)}`,
          i.agentConnected ? 'connected' : 'disconnected',
          i.status,
          use(i.cpu),
          use(i.memory, ' MiB'),
          String(i.runningTasks),
          String(i.pendingTasks),
          i.agentVersion ?? '-',
          i.lastSeen,
        ]),
      ]),
    );
  }
  lines.push('');

  if (cluster.services.length === 0) {
    lines.push('SERVICES  none');
  } else {
    const rows: string[][] = [
      ['SERVICES', 'DESIRED', 'RUNNING', 'PENDING', 'DEPLOYMENTS (running/desired)', 'ROLLOUT', 'LAST EVENT'],
    ];
    for (const service of cluster.services) {
      const event = service.lastEvent
        ? `${ageOf(new Date(service.lastEvent.createdAt), now)}: ${service.lastEvent.message}`
        : '-';
      const [first, ...rest] = service.deployments;
      rows.push([
        `  ${service.serviceName}${service.status === 'ACTIVE' ? '' : ` (${service.status})`}`,
        String(service.desired),
        String(service.running),
        String(service.pending),
        first ? deploymentLine(first) : '-',
        first?.rolloutState ?? '-',
        event,
      ]);
      // Older deployments under the primary, as the ECS console lists them.
      for (const deployment of rest) {
        rows.push(['', '', '', '', deploymentLine(deployment), deployment.rolloutState ?? '-', '']);
      }
    }
    lines.push(...table(rows));
  }
  lines.push('');

  if (cluster.stoppedTasks.length === 0) {
    lines.push('STOPPED TASKS  none');
  } else {
    const shown =
      cluster.stoppedTasksTotal > cluster.stoppedTasks.length
        ? ` (newest ${cluster.stoppedTasks.length} of ${cluster.stoppedTasksTotal})`
        : '';
    lines.push(
      ...table([
        [`STOPPED TASKS${shown}`, 'DEFINITION', 'GROUP', 'STOPPED', 'CODE', 'REASON'],
        ...cluster.stoppedTasks.map((task) => [
          `  ${idOf(task.taskArn).slice(0, 12)}`,
          task.taskDefinition,
          task.group ?? '-',
          ageOf(task.stoppedAt ? new Date(task.stoppedAt) : undefined, now),
          task.stopCode ?? '-',
          stoppedReasonOf(task),
        ]),
      ]),
    );
  }
  return lines.join('\n');
};

/** Every cluster's screen, and the one note ECS's fields make necessary. */
export const renderStatus = (clusters: ClusterStatus[], now: Date): string => {
  if (clusters.length === 0) return 'No clusters yet: aws ecs create-cluster --cluster-name NAME';
  const screens = clusters.map((cluster) => renderClusterStatus(cluster, now));
  const note =
    `LAST SEEN comes from ECS's agentConnected (ECS has no heartbeat time): an agent is marked ` +
    `disconnected after ${disconnectGraceSeconds / 60} minutes without a sync.`;
  return `${screens.join('\n\n')}\n\n${note}`;
};

/**
 * `berth up`'s `GET /health`: whether its store is up and takes writes. Undefined where there is
 * none (a stage on AWS answers 404) or it cannot be read; the ECS calls then say what is wrong.
 */
export const collectHealth = async (endpoint: string | undefined): Promise<HealthReport | undefined> => {
  if (!endpoint) return undefined;
  try {
    const response = await fetch(new URL('/health', endpoint), { signal: AbortSignal.timeout(3_000) });
    if (response.status !== 200 && response.status !== 503) return undefined;
    const report = (await response.json()) as Partial<HealthReport>;
    return typeof report.store === 'string' && typeof report.writes === 'string'
      ? (report as HealthReport)
      : undefined;
  } catch {
    return undefined;
  }
};

/** One line above the clusters when the control plane refuses something; undefined when it does not. */
export const renderHealth = (health: HealthReport | undefined): string | undefined => {
  if (!health || (health.store === 'up' && health.writes === 'accepted')) return undefined;
  const what =
    health.store === 'restarting'
      ? 'DATABASE RESTARTING: requests are answered 503'
      : health.store === 'failed'
        ? 'DATABASE DOWN: requests are answered 503'
        : 'WRITES REFUSED (503), reads served';
  return `${what}${health.reason ? ` — ${health.reason}` : ''}${health.since ? ` (since ${health.since})` : ''}`;
};

/** Where `berth status` reaches the control plane, when it is named (else the SDK resolves it). */
const endpointOf = (options: { endpoint?: string }, env: NodeJS.ProcessEnv = process.env) =>
  options.endpoint ?? env.BERTH_ENDPOINT ?? env.AWS_ENDPOINT_URL_ECS ?? env.AWS_ENDPOINT_URL;

/** `berth status [--cluster C] [--json] [--endpoint URL]`. */
export const addStatusCommand = (program: Command): void => {
  program
    .command('status')
    .description("show a cluster's instances, services and recently stopped tasks (every cluster by default)")
    .option('--cluster <name>', 'only this cluster')
    .option('--json', 'print the same as JSON', false)
    .option('--endpoint <url>', 'the control plane (env BERTH_ENDPOINT)')
    .action(async (options: { cluster?: string; json: boolean; endpoint?: string }) => {
      const ecs = ecsClientFor(options);
      const health = await collectHealth(endpointOf(options));
      const healthLine = renderHealth(health);
      try {
        const clusters = await collectStatus(ecs, options.cluster);
        process.stdout.write(
          options.json
            ? `${printableJson({ ...(health ? { health } : {}), clusters }, 2)}
`
            : `${
                healthLine
                  ? `${printable(healthLine)}

`
                  : ''
              }${renderStatus(clusters, new Date())}
`,
        );
      } catch (error) {
        if (healthLine && !options.json) process.stderr.write(`berth status: ${healthLine}\n`);
        process.stderr.write(`berth status: ${explainClientError(error)}\n`);
        process.exitCode = 1;
      } finally {
        ecs.destroy();
      }
    });
};
