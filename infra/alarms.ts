import { type AlarmSetting, alarmSettings, serverErrorRateExpression } from '../core/alarms.ts';
import { api } from './api.ts';
import { deadLetters } from './dead-letters.ts';
import { reconciler } from './functions.ts';

/** Where alarms go: subscribe an email or a pager to it (docs/deploy.md). */
export const alarmTopic = new sst.aws.SnsTopic('Alarms');

const common = (setting: AlarmSetting) => ({
  alarmDescription: setting.description,
  comparisonOperator: setting.comparison,
  threshold: setting.threshold,
  evaluationPeriods: setting.evaluationPeriods,
  datapointsToAlarm: setting.datapointsToAlarm,
  treatMissingData: setting.treatMissingData,
  alarmActions: [alarmTopic.arn],
  okActions: [alarmTopic.arn],
});

export const deadLettersAlarm = new aws.cloudwatch.MetricAlarm('ReconcilerDeadLettersAlarm', {
  ...common(alarmSettings.deadLetters),
  namespace: 'AWS/SQS',
  metricName: 'ApproximateNumberOfMessagesVisible',
  dimensions: { QueueName: deadLetters.nodes.queue.name },
  statistic: alarmSettings.deadLetters.statistic,
  period: alarmSettings.deadLetters.periodSeconds,
});

export const iteratorAgeAlarm = new aws.cloudwatch.MetricAlarm('StreamIteratorAgeAlarm', {
  ...common(alarmSettings.streamIteratorAge),
  namespace: 'AWS/Lambda',
  metricName: 'IteratorAge',
  dimensions: { FunctionName: reconciler.name },
  statistic: alarmSettings.streamIteratorAge.statistic,
  period: alarmSettings.streamIteratorAge.periodSeconds,
});

const apiMetric = (id: string, metricName: string) => ({
  id,
  returnData: false,
  metric: {
    namespace: 'AWS/ApiGateway',
    metricName,
    dimensions: { ApiId: api.nodes.api.id },
    stat: alarmSettings.serverErrorRate.statistic,
    period: alarmSettings.serverErrorRate.periodSeconds,
  },
});

export const serverErrorRateAlarm = new aws.cloudwatch.MetricAlarm('ApiServerErrorRateAlarm', {
  ...common(alarmSettings.serverErrorRate),
  metricQueries: [
    apiMetric('errors', '5xx'),
    apiMetric('requests', 'Count'),
    {
      id: 'rate',
      expression: serverErrorRateExpression('errors', 'requests'),
      label: '5xx %',
      returnData: true,
    },
  ],
});
