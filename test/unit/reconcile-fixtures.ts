import fc from 'fast-check';
import type { ContainerInstanceStatus } from '../../core/model/container-instance.ts';
import {
  type Deployment,
  type DeploymentConfiguration,
  replaceAfterDisconnectTag,
  type ServiceRecord,
} from '../../core/model/service.ts';
import type { TaskRecord, TaskStatus } from '../../core/model/task.ts';
import type { InstanceView } from '../../core/reconcile/classify.ts';
import { type ReconcileInput, reconcileService, type ServicePlan } from '../../core/reconcile/service.ts';

// ---------------------------------------------------------------------------------------------
// Builders for scenario tests. Defaults describe a steady two-task service `web` on deployment A.
// ---------------------------------------------------------------------------------------------

export const T0 = Date.parse('2024-05-01T12:00:00.000Z');
/** An ISO time `seconds` after T0 (negative: before). */
export const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

/** The previous deployment (revision 1) and a newer one (revision 2). */
export const DEP_A = 'ecs-svc/1000000000000000001';
export const DEP_B = 'ecs-svc/2000000000000000002';

export const deployment = (id: string, overrides: Partial<Deployment> = {}): Deployment => ({
  id,
  status: 'PRIMARY',
  family: 'web',
  revision: 1,
  desiredCount: 2,
  rolloutState: 'COMPLETED',
  rolloutStateReason: 'ECS deployment completed.',
  failedTasks: 0,
  createdAt: at(-3600),
  updatedAt: at(-3600),
  ...overrides,
});

/** Deployment B (revision 2) rolling out over a completed A. */
export const rollingDeployments = (overrides: Partial<Deployment> = {}): Deployment[] => [
  deployment(DEP_B, {
    revision: 2,
    rolloutState: 'IN_PROGRESS',
    rolloutStateReason: 'ECS deployment in progress.',
    createdAt: at(-60),
    updatedAt: at(-60),
    ...overrides,
  }),
  deployment(DEP_A, { status: 'ACTIVE' }),
];

export const config = (
  minimumHealthyPercent: number,
  maximumPercent: number,
  deploymentCircuitBreaker = { enable: false, rollback: false },
): DeploymentConfiguration => ({ minimumHealthyPercent, maximumPercent, deploymentCircuitBreaker });

export const service = (overrides: Partial<ServiceRecord> = {}): ServiceRecord => ({
  type: 'service',
  name: 'web',
  cluster: 'default',
  status: 'ACTIVE',
  desiredCount: 2,
  family: 'web',
  revision: 1,
  deploymentConfiguration: config(100, 200),
  placementConstraints: [],
  placementStrategy: [],
  deployments: [deployment(DEP_A)],
  taskSequence: 10,
  tags: {},
  createdAt: at(-7200),
  updatedAt: at(-3600),
  version: 7,
  ...overrides,
});

/** A healthy RUNNING task of deployment A on i-1 (override what the scenario needs). */
export const task = (id: string, overrides: Partial<TaskRecord> = {}): TaskRecord => ({
  type: 'task',
  id,
  cluster: 'default',
  family: 'web',
  revision: 1,
  serviceName: 'web',
  deploymentId: DEP_A,
  group: 'service:web',
  startedBy: DEP_A,
  instanceId: 'i-1',
  desiredStatus: 'RUNNING',
  lastStatus: 'RUNNING',
  healthStatus: 'UNKNOWN',
  containers: [],
  reservation: { cpu: 256, memory: 256, ports: [], portsUdp: [] },
  hasHealthCheck: false,
  released: false,
  reportSeq: 3,
  tags: {},
  createdAt: at(-600),
  startedAt: at(-590),
  healthyAt: at(-590),
  updatedAt: at(-590),
  version: 3,
  ...overrides,
});

/** Placed but not yet RUNNING (so not yet healthy). */
export const pendingTask = (id: string, overrides: Partial<TaskRecord> = {}): TaskRecord =>
  task(id, {
    lastStatus: 'PENDING',
    startedAt: undefined,
    healthyAt: undefined,
    createdAt: at(-30),
    ...overrides,
  });

/** STOPPED before it ever became healthy: a start failure. */
export const failedTask = (id: string, stoppedAtSeconds: number, overrides: Partial<TaskRecord> = {}) =>
  task(id, {
    desiredStatus: 'STOPPED',
    lastStatus: 'STOPPED',
    stopCode: 'TaskFailedToStart',
    stoppedReason: 'CannotPullContainerError',
    startedAt: undefined,
    healthyAt: undefined,
    createdAt: at(stoppedAtSeconds - 20),
    stoppedAt: at(stoppedAtSeconds),
    updatedAt: at(stoppedAtSeconds),
    ...overrides,
  });

export const instance = (id: string, overrides: Partial<InstanceView> = {}): InstanceView => ({
  id,
  status: 'ACTIVE',
  agentConnected: true,
  ...overrides,
});

export const instancesOf = (...views: InstanceView[]): Map<string, InstanceView> =>
  new Map(views.map((view) => [view.id, view]));

export const input = (parts: {
  service?: ServiceRecord;
  tasks?: TaskRecord[];
  instances?: Map<string, InstanceView>;
  now?: number;
}): ReconcileInput => ({
  service: parts.service ?? service(),
  tasks: parts.tasks ?? [],
  instances: parts.instances ?? instancesOf(instance('i-1'), instance('i-2'), instance('i-3')),
  now: new Date(parts.now ?? T0),
});

export const startCount = (plan: ServicePlan): number =>
  plan.start.reduce((sum, start) => sum + start.count, 0);
export const stoppedIds = (plan: ServicePlan): string[] => plan.stop.map((stop) => stop.taskId).sort();

// ---------------------------------------------------------------------------------------------
// Oracles: the README's words written out again, independently of classify.ts.
// ---------------------------------------------------------------------------------------------

export const ceilingOf = (service: ServiceRecord): number => {
  const desired = service.status === 'DRAINING' ? 0 : service.desiredCount;
  const ceiling = Math.floor((desired * service.deploymentConfiguration.maximumPercent) / 100);
  return desired >= 1 ? Math.max(1, ceiling) : ceiling;
};

export const floorOf = (service: ServiceRecord): number => {
  const desired = service.status === 'DRAINING' ? 0 : service.desiredCount;
  return Math.ceil((desired * service.deploymentConfiguration.minimumHealthyPercent) / 100);
};

const isGone = (input: ReconcileInput, task: TaskRecord): boolean => {
  const view = input.instances.get(task.instanceId);
  return !view || view.status === 'INACTIVE' || view.status === 'DEREGISTERING';
};

export const isLostTask = (input: ReconcileInput, task: TaskRecord): boolean => {
  const view = input.instances.get(task.instanceId);
  const tag = input.service.tags[replaceAfterDisconnectTag];
  if (!view || view.agentConnected || tag === undefined || !/^\d{1,9}$/.test(tag)) return false;
  const since = view.disconnectedAt ? Date.parse(view.disconnectedAt) : input.now.getTime();
  return input.now.getTime() - since >= Number(tag) * 1000;
};

/** Live, on an instance that is still there, not lost: it holds (or will hold) its instance. */
export const isOccupying = (input: ReconcileInput, task: TaskRecord): boolean =>
  task.lastStatus !== 'STOPPED' && !isGone(input, task) && !isLostTask(input, task);

export const isHealthyTask = (input: ReconcileInput, task: TaskRecord): boolean =>
  isOccupying(input, task) &&
  task.desiredStatus === 'RUNNING' &&
  task.lastStatus === 'RUNNING' &&
  task.healthStatus !== 'UNHEALTHY' &&
  (!task.hasHealthCheck || task.healthStatus === 'HEALTHY');

// ---------------------------------------------------------------------------------------------
// Arbitraries.
// ---------------------------------------------------------------------------------------------

const PRIMARY = 'ecs-svc/3000000000000000003';
const OLD = 'ecs-svc/4000000000000000004';
const INSTANCE_IDS = ['i-0', 'i-1', 'i-2', 'i-3'] as const;

const configArb: fc.Arbitrary<DeploymentConfiguration> = fc
  .tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 100 }), fc.boolean(), fc.boolean())
  .map(([min, extra, enable, rollback]) => config(min, Math.max(100, min + extra), { enable, rollback }));

const instanceViewArb = (id: string): fc.Arbitrary<InstanceView> =>
  fc.record(
    {
      id: fc.constant(id),
      status: fc.constantFrom<ContainerInstanceStatus>(
        'ACTIVE',
        'ACTIVE',
        'ACTIVE',
        'DRAINING',
        'INACTIVE',
        'DEREGISTERING',
      ),
      agentConnected: fc.boolean(),
      disconnectedAt: fc.integer({ min: -1200, max: 0 }).map(at),
    },
    { requiredKeys: ['id', 'status', 'agentConnected'] },
  );

const taskArb = (id: string): fc.Arbitrary<TaskRecord> =>
  fc
    .record({
      deploymentId: fc.constantFrom(PRIMARY, PRIMARY, OLD, 'ecs-svc/5000000000000000005'),
      instanceId: fc.constantFrom(...INSTANCE_IDS, 'i-gone'),
      desiredStatus: fc.constantFrom('RUNNING' as const, 'RUNNING' as const, 'STOPPED' as const),
      lastStatus: fc.constantFrom<TaskStatus>(
        'PROVISIONING',
        'PENDING',
        'ACTIVATING',
        'RUNNING',
        'RUNNING',
        'RUNNING',
        'DEACTIVATING',
        'STOPPED',
      ),
      healthStatus: fc.constantFrom('UNKNOWN' as const, 'HEALTHY' as const, 'UNHEALTHY' as const),
      hasHealthCheck: fc.boolean(),
      everHealthy: fc.boolean(),
      stopCode: fc.option(
        fc.constantFrom('TaskFailedToStart' as const, 'ServiceSchedulerInitiated' as const),
        {
          nil: undefined,
        },
      ),
      createdAgo: fc.integer({ min: 1, max: 3600 }),
    })
    .map((t) =>
      task(id, {
        deploymentId: t.deploymentId,
        startedBy: t.deploymentId,
        revision: t.deploymentId === PRIMARY ? 2 : 1,
        instanceId: t.instanceId,
        desiredStatus: t.lastStatus === 'STOPPED' ? 'STOPPED' : t.desiredStatus,
        lastStatus: t.lastStatus,
        healthStatus: t.healthStatus,
        hasHealthCheck: t.hasHealthCheck,
        createdAt: at(-t.createdAgo),
        startedAt: t.everHealthy ? at(-t.createdAgo + 1) : undefined,
        healthyAt: t.everHealthy ? at(-t.createdAgo + 1) : undefined,
        ...(t.lastStatus === 'STOPPED'
          ? { stopCode: t.stopCode ?? 'TaskFailedToStart', stoppedAt: at(-t.createdAgo / 2) }
          : {}),
      }),
    );

const deploymentsArb: fc.Arbitrary<Deployment[]> = fc
  .record({
    rolloutState: fc.constantFrom('IN_PROGRESS' as const, 'COMPLETED' as const, 'FAILED' as const),
    failedTasks: fc.integer({ min: 0, max: 4 }),
    withOld: fc.boolean(),
    oldState: fc.constantFrom('IN_PROGRESS' as const, 'COMPLETED' as const),
  })
  .map((d) => [
    deployment(PRIMARY, {
      revision: 2,
      rolloutState: d.rolloutState,
      failedTasks: d.failedTasks,
      createdAt: at(-900),
    }),
    ...(d.withOld ? [deployment(OLD, { status: 'ACTIVE', rolloutState: d.oldState })] : []),
  ]);

const serviceArb: fc.Arbitrary<ServiceRecord> = fc
  .record({
    status: fc.constantFrom('ACTIVE' as const, 'ACTIVE' as const, 'ACTIVE' as const, 'DRAINING' as const),
    desiredCount: fc.integer({ min: 0, max: 8 }),
    deploymentConfiguration: configArb,
    deployments: deploymentsArb,
    tag: fc.option(fc.constantFrom('0', '60', '600'), { nil: undefined }),
    steady: fc.boolean(),
    retryAfter: fc.option(fc.integer({ min: -60, max: 600 }).map(at), { nil: undefined }),
  })
  .map((s) =>
    service({
      status: s.status,
      desiredCount: s.status === 'DRAINING' ? 0 : s.desiredCount,
      revision: 2,
      deploymentConfiguration: s.deploymentConfiguration,
      deployments: s.deployments,
      tags: s.tag === undefined ? {} : { [replaceAfterDisconnectTag]: s.tag },
      ...(s.steady ? { steadySince: at(-300) } : {}),
      ...(s.retryAfter ? { retryAfter: s.retryAfter } : {}),
    }),
  );

/** Any state a service unit may be read in, sensible or odd (for the safety properties). */
export const anyInputArb: fc.Arbitrary<ReconcileInput> = fc
  .record({
    service: serviceArb,
    instances: fc.tuple(...INSTANCE_IDS.map(instanceViewArb)),
    tasks: fc
      .integer({ min: 0, max: 14 })
      .chain((n) => fc.tuple(...Array.from({ length: n }, (_, k) => taskArb(`t-${k}`)))),
    nowOffset: fc.integer({ min: 0, max: 1800 }),
  })
  .map((w) => ({
    service: w.service,
    tasks: w.tasks,
    instances: instancesOf(...w.instances),
    now: new Date(T0 + w.nowOffset * 1000),
  }));

// ---------------------------------------------------------------------------------------------
// A world the service can converge in: at least one ACTIVE connected instance; disconnected ones
// only under a replace-after-disconnect policy (else their tasks stay as they were, as ECS does);
// min/max leave room to move (ceiling > floor); too few start failures to trip the breaker.
// ---------------------------------------------------------------------------------------------

export type World = {
  service: ServiceRecord;
  tasks: TaskRecord[];
  instances: Map<string, InstanceView>;
  now: number;
  events: string[];
  /** Round-robin cursor over the instances that take new tasks. */
  cursor: number;
};

const convergentInstanceArb = (id: string): fc.Arbitrary<InstanceView> =>
  fc
    .record({
      kind: fc.constantFrom('active', 'active', 'draining', 'gone', 'disconnected'),
      disconnectedAgo: fc.integer({ min: 0, max: 300 }),
    })
    .map(({ kind, disconnectedAgo }) =>
      kind === 'draining'
        ? instance(id, { status: 'DRAINING' })
        : kind === 'gone'
          ? instance(id, { status: 'INACTIVE', agentConnected: false })
          : kind === 'disconnected'
            ? instance(id, { agentConnected: false, disconnectedAt: at(-disconnectedAgo) })
            : instance(id),
    );

const convergentTaskArb = (id: string): fc.Arbitrary<TaskRecord> =>
  fc
    .record({
      deploymentId: fc.constantFrom(PRIMARY, PRIMARY, OLD),
      instanceId: fc.constantFrom(...INSTANCE_IDS, 'i-gone'),
      desiredStatus: fc.constantFrom('RUNNING' as const, 'RUNNING' as const, 'STOPPED' as const),
      lastStatus: fc.constantFrom<TaskStatus>('PROVISIONING', 'PENDING', 'RUNNING', 'RUNNING', 'STOPPED'),
      healthStatus: fc.constantFrom('UNKNOWN' as const, 'HEALTHY' as const, 'UNHEALTHY' as const),
      hasHealthCheck: fc.boolean(),
      failed: fc.boolean(),
      createdAgo: fc.integer({ min: 30, max: 1800 }),
    })
    .map((t) => {
      const running = t.lastStatus === 'RUNNING';
      const healthyNow =
        running && t.healthStatus !== 'UNHEALTHY' && (!t.hasHealthCheck || t.healthStatus === 'HEALTHY');
      return task(id, {
        deploymentId: t.deploymentId,
        startedBy: t.deploymentId,
        revision: t.deploymentId === PRIMARY ? 2 : 1,
        instanceId: t.instanceId,
        desiredStatus: t.lastStatus === 'STOPPED' ? 'STOPPED' : t.desiredStatus,
        lastStatus: t.lastStatus,
        healthStatus: running ? t.healthStatus : 'UNKNOWN',
        hasHealthCheck: t.hasHealthCheck,
        createdAt: at(-t.createdAgo),
        startedAt: running ? at(-t.createdAgo + 5) : undefined,
        healthyAt: healthyNow ? at(-t.createdAgo + 5) : undefined,
        ...(t.lastStatus === 'STOPPED'
          ? {
              stopCode: t.failed ? ('TaskFailedToStart' as const) : ('ServiceSchedulerInitiated' as const),
              healthyAt: t.failed ? undefined : at(-t.createdAgo + 5),
              stoppedAt: at(-t.createdAgo + 10),
            }
          : {}),
      });
    });

const progressPossible = (s: ServiceRecord) => s.desiredCount === 0 || ceilingOf(s) > floorOf(s);

/** Tasks that are, or may become (a gone instance's task finalized before it was healthy), failures. */
const potentialFailures = (world: World): number =>
  world.tasks.filter((t) => {
    if (t.deploymentId !== PRIMARY || t.healthyAt) return false;
    if (t.lastStatus === 'STOPPED') return t.stopCode === 'TaskFailedToStart';
    const view = world.instances.get(t.instanceId);
    return !view || view.status === 'INACTIVE';
  }).length;

export const convergentWorldArb: fc.Arbitrary<World> = fc
  .record({
    status: fc.constantFrom('ACTIVE' as const, 'ACTIVE' as const, 'ACTIVE' as const, 'DRAINING' as const),
    desiredCount: fc.integer({ min: 0, max: 6 }),
    percents: fc.constantFrom([100, 200], [50, 100], [0, 100], [50, 200], [100, 150], [0, 200], [75, 125]),
    breaker: fc.record({ enable: fc.boolean(), rollback: fc.boolean() }),
    primaryState: fc.constantFrom('IN_PROGRESS' as const, 'COMPLETED' as const),
    withOld: fc.boolean(),
    tag: fc.constantFrom('0', '60'),
    steady: fc.boolean(),
    others: fc.tuple(...INSTANCE_IDS.slice(1).map(convergentInstanceArb)),
    /** Start failures of the primary in the last half minute (3 or more: it backs off). */
    recentFailures: fc.integer({ min: 0, max: 6 }),
    tasks: fc
      .integer({ min: 0, max: 10 })
      .chain((n) => fc.tuple(...Array.from({ length: n }, (_, k) => convergentTaskArb(`t-${k}`)))),
  })
  .map(
    (w): World => ({
      service: service({
        status: w.status,
        desiredCount: w.status === 'DRAINING' ? 0 : w.desiredCount,
        revision: 2,
        deploymentConfiguration: config(w.percents[0] ?? 100, w.percents[1] ?? 200, w.breaker),
        deployments: [
          deployment(PRIMARY, { revision: 2, rolloutState: w.primaryState, createdAt: at(-900) }),
          ...(w.withOld ? [deployment(OLD, { status: 'ACTIVE' })] : []),
        ],
        tags: { [replaceAfterDisconnectTag]: w.tag },
        ...(w.steady ? { steadySince: at(-300) } : {}),
      }),
      tasks: [
        ...w.tasks,
        ...Array.from({ length: w.recentFailures }, (_, k) =>
          failedTask(`f-${k}`, -5 * k, { deploymentId: PRIMARY, startedBy: PRIMARY, revision: 2 }),
        ),
      ],
      instances: instancesOf(instance('i-0'), ...w.others),
      now: T0,
      events: [],
      cursor: 0,
    }),
  )
  .filter(
    (world) =>
      progressPossible(world.service) &&
      (!world.service.deploymentConfiguration.deploymentCircuitBreaker.enable ||
        potentialFailures(world) < 3),
  );

// ---------------------------------------------------------------------------------------------
// The simulator: a pure stand-in for apply.ts (writes a plan) and the agents (drive tasks).
// ---------------------------------------------------------------------------------------------

export const inputOf = (world: World): ReconcileInput => ({
  service: world.service,
  tasks: world.tasks,
  instances: world.instances,
  now: new Date(world.now),
});

/** Writes a plan as apply.ts does: new tasks PROVISIONING round-robin, stops, finalizes, service fields. */
export const applyPlan = (world: World, plan: ServicePlan): World => {
  const iso = new Date(world.now).toISOString();
  const stops = new Map(plan.stop.map((stop) => [stop.taskId, stop]));
  const finalizes = new Map(plan.finalize.map((finalize) => [finalize.taskId, finalize]));
  const tasks = world.tasks.map((t): TaskRecord => {
    const finalize = finalizes.get(t.id);
    if (finalize && t.lastStatus !== 'STOPPED') {
      // unit-writes.ts stamps TaskFailedToStart when no stop code was recorded.
      return {
        ...t,
        desiredStatus: 'STOPPED',
        lastStatus: 'STOPPED',
        stopCode: t.stopCode ?? 'TaskFailedToStart',
        stoppedReason: t.stoppedReason ?? finalize.reason,
        stoppedAt: iso,
        updatedAt: iso,
      };
    }
    const stop = stops.get(t.id);
    if (stop && t.desiredStatus === 'RUNNING') {
      return {
        ...t,
        desiredStatus: 'STOPPED',
        stopCode: t.stopCode ?? stop.stopCode,
        stoppedReason: t.stoppedReason ?? stop.reason,
        stoppingAt: iso,
        updatedAt: iso,
      };
    }
    return t;
  });
  const targets = [...world.instances.values()].filter((v) => v.status === 'ACTIVE' && v.agentConnected);
  let sequence = world.service.taskSequence;
  let cursor = world.cursor;
  for (const start of plan.start) {
    for (let k = 0; k < start.count && targets.length > 0; k++) {
      sequence += 1;
      const target = targets[cursor % targets.length];
      cursor += 1;
      if (!target) continue;
      tasks.push(
        task(`new-${sequence}`, {
          deploymentId: start.deploymentId,
          startedBy: start.deploymentId,
          family: start.family,
          revision: start.revision,
          instanceId: target.id,
          lastStatus: 'PROVISIONING',
          hasHealthCheck: sequence % 2 === 0,
          startedAt: undefined,
          healthyAt: undefined,
          createdAt: iso,
          updatedAt: iso,
        }),
      );
    }
  }
  const next: ServiceRecord = {
    ...world.service,
    taskSequence: sequence,
    version: world.service.version + 1,
  };
  for (const [key, value] of Object.entries(plan.service ?? {})) {
    if (value === undefined) delete (next as Record<string, unknown>)[key];
    else (next as Record<string, unknown>)[key] = value;
  }
  return { ...world, service: next, tasks, events: [...world.events, ...plan.events], cursor };
};

/** One move of every connected agent: stop what is desired STOPPED, advance the rest toward healthy. */
export const runAgents = (world: World): World => {
  const iso = new Date(world.now).toISOString();
  const tasks = world.tasks.map((t): TaskRecord => {
    const view = world.instances.get(t.instanceId);
    const reachable = view?.agentConnected && (view.status === 'ACTIVE' || view.status === 'DRAINING');
    if (!reachable || t.lastStatus === 'STOPPED') return t;
    if (t.desiredStatus === 'STOPPED') return { ...t, lastStatus: 'STOPPED', stoppedAt: iso, updatedAt: iso };
    if (t.lastStatus === 'PROVISIONING') return { ...t, lastStatus: 'PENDING', updatedAt: iso };
    if (t.lastStatus !== 'RUNNING') {
      return {
        ...t,
        lastStatus: 'RUNNING',
        startedAt: iso,
        ...(t.hasHealthCheck ? {} : { healthyAt: iso }),
        updatedAt: iso,
      };
    }
    if (t.hasHealthCheck && t.healthStatus === 'UNKNOWN') {
      return { ...t, healthStatus: 'HEALTHY', healthyAt: t.healthyAt ?? iso, updatedAt: iso };
    }
    return t;
  });
  return { ...world, tasks };
};

export const stepSeconds = 20;

/** One round: reconcile, write the plan, let the agents act, let time pass. */
export const step = (world: World): { plan: ServicePlan; world: World } => {
  const plan = reconcileService(inputOf(world));
  const written = runAgents(applyPlan(world, plan));
  return { plan, world: { ...written, now: written.now + stepSeconds * 1000 } };
};

/** D healthy primary tasks on ACTIVE instances and nothing else live but lost tasks; a deleted one gone. */
export const isSettled = (world: World): boolean => {
  const input = inputOf(world);
  if (world.service.status === 'DRAINING') return false;
  const primary = world.service.deployments.find((d) => d.status === 'PRIMARY');
  const desired = world.service.status === 'ACTIVE' ? world.service.desiredCount : 0;
  const live = world.tasks.filter((t) => isOccupying(input, t));
  const good = live.filter(
    (t) =>
      t.deploymentId === primary?.id &&
      isHealthyTask(input, t) &&
      world.instances.get(t.instanceId)?.status === 'ACTIVE',
  );
  return good.length === desired && live.length === desired;
};
