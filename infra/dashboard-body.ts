import { alarmSettings } from '../core/alarms.ts';
import { metricNames, metricNamespace, stageDimension } from '../core/metrics.ts';

/**
 * The stage's CloudWatch dashboard as a plain function of resource names, so it can be checked
 * without AWS (test/unit/infra-dashboard.test.ts). infra/dashboard.ts feeds it the deployed names.
 */
export type DashboardNames = {
  region: string;
  stage: string;
  apiId: string;
  deadLetterQueue: string;
  table: string;
  functions: {
    ecsApi: string;
    agentApi: string;
    doorbellAuthorizer: string;
    reconciler: string;
    sweeper: string;
  };
  /** The operator API's log group, for the per-action Logs Insights table. */
  ecsApiLogGroup: string;
};

type MetricLine = (string | { stat?: string; label?: string; id?: string; expression?: string })[];

export type Widget = {
  type: 'metric' | 'log' | 'text';
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, unknown>;
};

const width = 8;
const height = 6;

export const dashboardBody = (names: DashboardNames): { widgets: Widget[] } => {
  const berth = (name: string, options: { stat?: string; label?: string } = {}): MetricLine => [
    metricNamespace,
    name,
    'service',
    'berth',
    stageDimension,
    names.stage,
    options,
  ];
  const lambda = (metric: string, fn: string, stat = 'Sum'): MetricLine => [
    'AWS/Lambda',
    metric,
    'FunctionName',
    fn,
    { stat, label: fn },
  ];
  const api = (metric: string, label: string): MetricLine => [
    'AWS/ApiGateway',
    metric,
    'ApiId',
    names.apiId,
    { stat: 'Sum', label },
  ];
  const functions = Object.values(names.functions);
  const grid: Omit<Widget, 'x' | 'y' | 'width' | 'height'>[] = [];
  const metric = (
    title: string,
    metrics: MetricLine[],
    extra: Record<string, unknown> = {},
  ): Omit<Widget, 'x' | 'y' | 'width' | 'height'> => ({
    type: 'metric',
    properties: {
      title,
      region: names.region,
      view: 'timeSeries',
      stacked: false,
      period: 60,
      metrics,
      ...extra,
    },
  });
  const threshold = (label: string, value: number) => ({ annotations: { horizontal: [{ label, value }] } });

  grid.push(
    metric('API requests (all routes)', [api('Count', 'requests')]),
    metric('API errors', [api('4xx', '4xx'), api('5xx', '5xx')]),
    metric('API latency (ms)', [
      ['AWS/ApiGateway', 'Latency', 'ApiId', names.apiId, { stat: 'p50', label: 'p50' }],
      ['AWS/ApiGateway', 'Latency', 'ApiId', names.apiId, { stat: 'p99', label: 'p99' }],
    ]),
    {
      type: 'log',
      properties: {
        title: 'Operator requests and server errors by action',
        region: names.region,
        view: 'table',
        query: [
          `SOURCE '${names.ecsApiLogGroup}'`,
          `filter ispresent(${metricNames.operatorRequests})`,
          `stats sum(${metricNames.operatorRequests}) as requests, sum(${metricNames.operatorServerErrors}) as serverErrors by action`,
          'sort requests desc',
        ].join(' | '),
      },
    },
    metric('Agent registrations and agent API errors', [
      berth(metricNames.agentRequests, { stat: 'Sum', label: 'register and other non-sync requests' }),
      berth(metricNames.agentServerErrors, { stat: 'Sum', label: 'server errors' }),
      berth(metricNames.agentsDisconnected, { stat: 'Sum', label: 'agents disconnected by the sweeper' }),
      berth(metricNames.doorbellRingFailures, { stat: 'Sum', label: 'doorbell rings failed' }),
    ]),
    metric('Tasks placed and stopped', [
      berth(metricNames.tasksPlaced, { stat: 'Sum', label: 'placed' }),
      berth(metricNames.tasksStopped, { stat: 'Sum', label: 'stopped' }),
    ]),
    metric('Placement failures and reconcile conflicts', [
      berth(metricNames.placementFailures, { stat: 'Sum', label: 'placement failures' }),
      berth(metricNames.reconcileConflicts, { stat: 'Sum', label: 'conflicts (retried)' }),
    ]),
    metric('Reconcile latency (ms, change to reconciled)', [
      berth(metricNames.reconcileLatency, { stat: 'p50', label: 'p50' }),
      berth(metricNames.reconcileLatency, { stat: 'p99', label: 'p99' }),
      berth(metricNames.reconcileLatency, { stat: 'Maximum', label: 'max' }),
    ]),
    metric(
      'Stream iterator age (ms)',
      [lambda('IteratorAge', names.functions.reconciler, 'Maximum')],
      threshold('alarm', alarmSettings.streamIteratorAge.threshold),
    ),
    metric(
      'Reconciler dead letters',
      [
        [
          'AWS/SQS',
          'ApproximateNumberOfMessagesVisible',
          'QueueName',
          names.deadLetterQueue,
          { stat: 'Maximum', label: 'messages' },
        ],
      ],
      threshold('alarm above', alarmSettings.deadLetters.threshold),
    ),
    metric(
      'Lambda errors',
      functions.map((fn) => lambda('Errors', fn)),
    ),
    metric(
      'Lambda throttles',
      functions.map((fn) => lambda('Throttles', fn)),
    ),
    metric(
      'Lambda duration p99 (ms)',
      functions.map((fn) => lambda('Duration', fn, 'p99')),
    ),
    metric('DynamoDB consumed capacity (units per minute)', [
      ['AWS/DynamoDB', 'ConsumedReadCapacityUnits', 'TableName', names.table, { stat: 'Sum', label: 'read' }],
      [
        'AWS/DynamoDB',
        'ConsumedWriteCapacityUnits',
        'TableName',
        names.table,
        { stat: 'Sum', label: 'write' },
      ],
    ]),
  );
  // Three widgets a row, in the order above.
  const widgets = grid.map((widget, index) => ({
    ...widget,
    x: (index % 3) * width,
    y: Math.floor(index / 3) * height,
    width,
    height,
  }));
  return { widgets };
};
