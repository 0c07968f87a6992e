/**
 * Berth's own CloudWatch metrics (EMF, written by Powertools Metrics in the handlers), as plain
 * names shared by functions/ (which emit them) and infra/ (whose dashboard and alarms read them).
 * Every metric carries the dimensions `service` (berth) and `stage`. Per-action detail (which ECS
 * action, which agent route) travels as an EMF property, not a dimension: a dimension value is a
 * separate custom metric at $0.30 a month each, a property is free and Logs Insights can group by it.
 */
export const metricNamespace = 'Berth';

export const metricNames = {
  /** Every operator (ECS/SSM API) request; properties `action`, `statusCode`. */
  operatorRequests: 'OperatorRequests',
  /** Operator requests answered 5xx. */
  operatorServerErrors: 'OperatorServerErrors',
  /** Agent API requests other than sync (register, unknown routes); syncs are API Gateway's Count. */
  agentRequests: 'AgentRequests',
  /** Agent API requests answered 5xx. */
  agentServerErrors: 'AgentServerErrors',
  /** The reconciler's own figures (ReconcileDeps.onMetric). */
  tasksPlaced: 'TasksPlaced',
  tasksStopped: 'TasksStopped',
  placementFailures: 'PlacementFailures',
  reconcileConflicts: 'ReconcileConflicts',
  /** From a change's stream record to the end of its reconcile, in milliseconds. */
  reconcileLatency: 'ReconcileLatency',
  /** Agents the sweeper marked disconnected. */
  agentsDisconnected: 'AgentsDisconnected',
  /** Rings that could not be sent (the agent then waits for its heartbeat). */
  doorbellRingFailures: 'DoorbellRingFailures',
} as const;

export type MetricName = (typeof metricNames)[keyof typeof metricNames];

/** The dimension every Berth metric carries besides Powertools' own `service`. */
export const stageDimension = 'stage';
