import { describe, expect, it } from 'vitest';
import { alarmSettings } from '../../core/alarms.ts';
import { metricNames } from '../../core/metrics.ts';
import { dashboardBody } from '../../infra/dashboard-body.ts';

const names = {
  region: 'eu-west-1',
  stage: 'prod',
  apiId: 'a1b2c3',
  deadLetterQueue: 'berth-prod-ReconcilerDeadLetters',
  table: 'berth-prod-Table',
  functions: {
    ecsApi: 'berth-prod-EcsApi',
    agentApi: 'berth-prod-AgentApi',
    doorbellAuthorizer: 'berth-prod-DoorbellAuthorizer',
    reconciler: 'berth-prod-Reconciler',
    sweeper: 'berth-prod-Sweeper',
  },
  ecsApiLogGroup: '/aws/lambda/berth-prod-EcsApi',
};

const body = dashboardBody(names);
const text = JSON.stringify(body);
const metricsOf = (title: string) =>
  (body.widgets.find((widget) => widget.properties.title === title)?.properties.metrics ?? []) as unknown[][];

describe('stage dashboard', () => {
  it('shows API requests and errors, with a per-action table', () => {
    expect(metricsOf('API requests (all routes)')).toContainEqual([
      'AWS/ApiGateway',
      'Count',
      'ApiId',
      'a1b2c3',
      expect.anything(),
    ]);
    expect(metricsOf('API errors').map((line) => line[1])).toEqual(['4xx', '5xx']);
    const table = body.widgets.find((widget) => widget.type === 'log');
    expect(table?.properties.query).toContain(`SOURCE '/aws/lambda/berth-prod-EcsApi'`);
    expect(table?.properties.query).toContain('by action');
  });

  it('shows the scheduler’s own figures for this stage', () => {
    for (const name of [
      metricNames.tasksPlaced,
      metricNames.tasksStopped,
      metricNames.placementFailures,
      metricNames.reconcileLatency,
    ]) {
      expect(text).toContain(`["Berth","${name}","service","berth","stage","prod"`);
    }
  });

  it('shows the dead letters and the stream iterator age against their alarm thresholds', () => {
    expect(metricsOf('Reconciler dead letters')[0]).toContain('berth-prod-ReconcilerDeadLetters');
    const age = body.widgets.find((widget) => widget.properties.title === 'Stream iterator age (ms)');
    expect(age?.properties.metrics).toEqual([
      [
        'AWS/Lambda',
        'IteratorAge',
        'FunctionName',
        'berth-prod-Reconciler',
        { stat: 'Maximum', label: 'berth-prod-Reconciler' },
      ],
    ]);
    expect(age?.properties.annotations).toEqual({
      horizontal: [{ label: 'alarm', value: alarmSettings.streamIteratorAge.threshold }],
    });
  });

  it('shows errors and throttles of every function', () => {
    for (const title of ['Lambda errors', 'Lambda throttles']) {
      expect(metricsOf(title).map((line) => line[3])).toEqual(Object.values(names.functions));
    }
  });

  it('lays widgets out on CloudWatch’s 24-column grid without overlap', () => {
    const cells = new Set<string>();
    for (const widget of body.widgets) {
      expect(widget.x + widget.width).toBeLessThanOrEqual(24);
      for (let x = widget.x; x < widget.x + widget.width; x++) {
        for (let y = widget.y; y < widget.y + widget.height; y++) {
          expect(cells.has(`${x},${y}`)).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
    expect(body.widgets.length).toBeLessThanOrEqual(100);
  });
});
