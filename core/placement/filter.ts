/**
 * Which container instances can take a task, in ECS's order: a connected agent, then resources (CPU,
 * memory, ports), then the task's required attributes and the placement constraints. Each check
 * knows ECS's failure reason and service-event wording, so the deepest check an instance got past
 * says why the task could not be placed ("the closest matching container-instance").
 */
import { instanceLimits } from '../model/container-instance.ts';
import type { PlacementConstraint } from '../model/service.ts';
import { matchesQuery, parseQuery, type QueryExpression, type QuerySubject } from './query-language.ts';
import type {
  PlacementFailure,
  PlacementFailureReason,
  PlacementInstance,
  PlacementRequest,
} from './types.ts';

/**
 * An instance as one placeTasks call sees it: a private copy, charged with every task the call
 * places, so distinctInstance, ports and spread see the earlier placements of the same call.
 */
export type Candidate = {
  readonly instance: PlacementInstance;
  cpu: number;
  memory: number;
  readonly ports: Set<number>;
  readonly portsUdp: Set<number>;
  /** The group of every live task on the instance, placements of this call included. */
  readonly taskGroups: string[];
};

export const candidateOf = (instance: PlacementInstance): Candidate => ({
  instance,
  cpu: instance.remaining.cpu,
  memory: instance.remaining.memory,
  ports: new Set(instance.usedPorts),
  portsUdp: new Set(instance.usedPortsUdp),
  taskGroups: instance.tasks.map((task) => task.group),
});

/** Records one placed task on the candidate: its resources and ports are taken, its group runs there. */
export const charge = (candidate: Candidate, request: PlacementRequest): void => {
  candidate.cpu -= request.reservation.cpu;
  candidate.memory -= request.reservation.memory;
  for (const port of request.reservation.ports) candidate.ports.add(port);
  for (const port of request.reservation.portsUdp) candidate.portsUdp.add(port);
  candidate.taskGroups.push(request.group);
};

/**
 * The instance as the cluster query language sees it. `runningTasksCount` counts every live task
 * (pending ones included) because that is what will be running once the placements land.
 */
export const querySubjectOf = (candidate: Candidate): QuerySubject => ({
  agentConnected: candidate.instance.agentConnected,
  agentVersion: candidate.instance.agentVersion,
  ec2InstanceId: candidate.instance.ec2InstanceId,
  registeredAt: new Date(candidate.instance.registeredAt),
  runningTasksCount: candidate.taskGroups.length,
  attributes: Object.fromEntries(
    Object.entries(candidate.instance.attributes).map(([name, value]) => [name, value ?? undefined]),
  ),
  taskGroups: candidate.taskGroups,
});

/** One requirement an instance must meet; `explain` finishes ECS's "closest matching" sentence. */
export type Check = {
  readonly reason: PlacementFailureReason;
  readonly passes: (candidate: Candidate) => boolean;
  readonly explain: string;
};

const hasRequiredAttributes =
  (required: NonNullable<PlacementRequest['requiredAttributes']>) =>
  (candidate: Candidate): boolean =>
    required.every(({ name, value }) => {
      const attributes = candidate.instance.attributes;
      if (!Object.hasOwn(attributes, name)) return false;
      return value === undefined || attributes[name] === value;
    });

const constraintCheck = (constraint: PlacementConstraint, group: string): Check => {
  if (constraint.type === 'distinctInstance') {
    // ECS's API reference: "each task in a particular group is running on a different container
    // instance" -- tasks of other groups do not count.
    return {
      reason: 'ATTRIBUTE',
      passes: (candidate) => !candidate.taskGroups.includes(group),
      explain: `is already running a task of ${group}, which the distinctInstance placement constraint forbids.`,
    };
  }
  const expression = constraint.expression ?? '';
  const query: QueryExpression = parseQuery(expression);
  return {
    reason: 'ATTRIBUTE',
    passes: (candidate) => matchesQuery(query, querySubjectOf(candidate)),
    explain: `does not satisfy the memberOf placement constraint "${expression}".`,
  };
};

/**
 * The checks for a request, in the order ECS applies them. Parses memberOf expressions once.
 * Non-ACTIVE instances are no candidates at all; an ACTIVE one with a disconnected agent is one
 * that fails the first check (reason AGENT).
 */
export const checksFor = (request: PlacementRequest): Check[] => {
  const { reservation } = request;
  const required = request.requiredAttributes ?? [];
  return [
    {
      reason: 'AGENT',
      passes: (candidate) => candidate.instance.agentConnected,
      explain: 'encountered error "AGENT".',
    },
    {
      reason: 'RESOURCE:CPU',
      passes: (candidate) => candidate.cpu >= reservation.cpu,
      explain: 'has insufficient CPU units available.',
    },
    {
      reason: 'RESOURCE:MEMORY',
      passes: (candidate) => candidate.memory >= reservation.memory,
      explain: 'has insufficient memory available.',
    },
    {
      reason: 'RESOURCE:PORTS',
      passes: (candidate) =>
        reservation.ports.every((port) => !candidate.ports.has(port)) &&
        reservation.portsUdp.every((port) => !candidate.portsUdp.has(port)),
      explain: 'is already using a port required by your task.',
    },
    // Berth's bounds on one instance (its item must stay below DynamoDB's item size).
    {
      reason: 'RESOURCE:PORTS',
      passes: (candidate) =>
        candidate.ports.size + reservation.ports.length <= instanceLimits.hostPorts &&
        candidate.portsUdp.size + reservation.portsUdp.length <= instanceLimits.hostPorts,
      explain: `has no room for more host ports (Berth keeps at most ${instanceLimits.hostPorts} per protocol on one container instance).`,
    },
    {
      reason: 'RESOURCE:TASKS',
      passes: (candidate) => candidate.taskGroups.length < instanceLimits.tasks,
      explain: `already runs ${instanceLimits.tasks} tasks, as many as Berth places on one container instance.`,
    },
    ...(required.length > 0
      ? [
          {
            reason: 'ATTRIBUTE' as const,
            passes: hasRequiredAttributes(required),
            explain: 'is missing an attribute required by your task.',
          },
        ]
      : []),
    ...request.constraints.map((constraint) => constraintCheck(constraint, request.group)),
  ];
};

/** How many checks, in order, the candidate passes: `checks.length` when it can take the task. */
export const depthOf = (checks: readonly Check[], candidate: Candidate): number => {
  const failing = checks.findIndex((check) => !check.passes(candidate));
  return failing === -1 ? checks.length : failing;
};

const UNPLACEABLE = 'no container instance met all of its requirements.';

/**
 * Why nothing could take the task: the reason of the candidate that got furthest through the checks
 * (the first by id among equals, so the answer is deterministic). Without any ACTIVE instance the
 * reason is AGENT, as ECS answers when a cluster has no usable container instance.
 */
export const failureOf = (checks: readonly Check[], candidates: readonly Candidate[]): PlacementFailure => {
  let closest: { candidate: Candidate; depth: number } | undefined;
  for (const candidate of candidates) {
    const depth = depthOf(checks, candidate);
    if (!closest || depth > closest.depth) closest = { candidate, depth };
  }
  if (!closest) {
    return {
      reason: 'AGENT',
      message: `${UNPLACEABLE} Reason: No Container Instances were found in your cluster.`,
    };
  }
  const id = closest.candidate.instance.id;
  // A candidate that passes every check is never asked about; guard anyway so the index is valid.
  const check = checks[Math.min(closest.depth, checks.length - 1)]!;
  return {
    reason: check.reason,
    closestInstanceId: id,
    message: `${UNPLACEABLE} The closest matching container-instance ${id} ${check.explain}`,
  };
};
