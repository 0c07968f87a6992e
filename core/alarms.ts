import { streamSettings } from './reconcile/run/stream-settings.ts';

/**
 * The alarms of a stage, as plain data: infra/alarms.ts turns each into a CloudWatch alarm. Values
 * are CloudWatch's own (statistic, comparison, periods), so a reader can check one against the
 * console. Tested in test/unit/infra-alarms.test.ts.
 */
export type AlarmSetting = {
  readonly description: string;
  readonly statistic: 'Maximum' | 'Sum' | 'Average';
  readonly comparison: 'GreaterThanThreshold' | 'GreaterThanOrEqualToThreshold';
  readonly threshold: number;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  /** No data means nothing is happening (no records, no requests), which is not a failure. */
  readonly treatMissingData: 'notBreaching';
};

export const alarmSettings = {
  /**
   * Any record in the reconciler's failure destination is a change the reconciler gave up on and
   * may never look at again (it is level-triggered on writes): one is enough to call someone.
   */
  deadLetters: {
    description: 'Stream records were dead-lettered: a change was never reconciled.',
    statistic: 'Maximum',
    comparison: 'GreaterThanThreshold',
    threshold: 0,
    periodSeconds: 60,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    treatMissingData: 'notBreaching',
  },
  /**
   * The age of the newest record the reconciler read, in milliseconds. A healthy reconciler keeps
   * it near zero; a minute sustained for five means a shard is stuck on a failing batch (retrying)
   * or the function is throttled, long before records age out of the stream.
   */
  streamIteratorAge: {
    description: 'The reconciler is falling behind the table stream.',
    statistic: 'Maximum',
    comparison: 'GreaterThanThreshold',
    threshold: 60_000,
    periodSeconds: 60,
    evaluationPeriods: 5,
    datapointsToAlarm: 5,
    treatMissingData: 'notBreaching',
  },
  /**
   * API Gateway 5xx as a percentage of requests, over 5 minutes, in two of three periods. Below
   * `minimumRequests` a period counts as 0 %, so one failure among a handful of requests (a quiet
   * stage) does not page anyone.
   */
  serverErrorRate: {
    description: 'More than 1 % of API requests failed with a server error.',
    statistic: 'Sum',
    comparison: 'GreaterThanThreshold',
    threshold: 1,
    periodSeconds: 300,
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
    treatMissingData: 'notBreaching',
  },
} as const satisfies Record<string, AlarmSetting>;

/** Periods with fewer requests than this count as error-free for the 5xx-rate alarm. */
export const serverErrorRateMinimumRequests = 50;

/** The 5xx rate as the alarm computes it (percent), the same rule as serverErrorRateExpression. */
export const serverErrorRatePercent = (
  errors: number,
  requests: number,
  minimumRequests = serverErrorRateMinimumRequests,
): number => (requests >= minimumRequests && requests > 0 ? (100 * errors) / requests : 0);

/** CloudWatch metric math for the same rule, over metric ids `errors` and `requests`. */
export const serverErrorRateExpression = (
  errors = 'errors',
  requests = 'requests',
  minimumRequests = serverErrorRateMinimumRequests,
): string => `IF(${requests} >= ${minimumRequests}, 100 * ${errors} / ${requests}, 0)`;

/** How long a stuck shard goes unnoticed at most: the iterator-age alarm's whole window, in seconds. */
export const iteratorAgeDetectionSeconds = (setting = alarmSettings.streamIteratorAge): number =>
  setting.threshold / 1000 + setting.periodSeconds * setting.evaluationPeriods;

/** The stream mapping gives up on a record after this long (the alarm must fire well before). */
export const recordGiveUpSeconds = streamSettings.maximumRecordAgeInSeconds;
