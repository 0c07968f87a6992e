import { describe, expect, it } from 'vitest';
import {
  alarmSettings,
  iteratorAgeDetectionSeconds,
  recordGiveUpSeconds,
  serverErrorRateExpression,
  serverErrorRateMinimumRequests,
  serverErrorRatePercent,
} from '../../core/alarms.ts';

describe('alarm settings', () => {
  it('page on the first dead-lettered stream record', () => {
    const { deadLetters } = alarmSettings;
    expect(deadLetters.comparison).toBe('GreaterThanThreshold');
    expect(deadLetters.threshold).toBe(0);
    expect(deadLetters.statistic).toBe('Maximum');
    expect(deadLetters.datapointsToAlarm).toBe(1);
  });

  it('notice a stuck stream long before its records are given up on', () => {
    expect(iteratorAgeDetectionSeconds()).toBeLessThanOrEqual(10 * 60);
    expect(iteratorAgeDetectionSeconds() * 10).toBeLessThan(recordGiveUpSeconds);
  });

  it('are shapes CloudWatch accepts', () => {
    for (const setting of Object.values(alarmSettings)) {
      // Standard-resolution alarms take periods of 10, 30 or a multiple of 60 seconds.
      expect(setting.periodSeconds % 60).toBe(0);
      expect(setting.datapointsToAlarm).toBeGreaterThanOrEqual(1);
      expect(setting.datapointsToAlarm).toBeLessThanOrEqual(setting.evaluationPeriods);
      // CloudWatch evaluates at most one day of periods.
      expect(setting.periodSeconds * setting.evaluationPeriods).toBeLessThanOrEqual(86_400);
      expect(setting.treatMissingData).toBe('notBreaching');
    }
  });
});

describe('server error rate', () => {
  it('is the percentage of requests answered 5xx', () => {
    expect(serverErrorRatePercent(3, 200)).toBe(1.5);
    expect(serverErrorRatePercent(3, 200) > alarmSettings.serverErrorRate.threshold).toBe(true);
    expect(serverErrorRatePercent(1, 200) > alarmSettings.serverErrorRate.threshold).toBe(false);
  });

  it('counts a quiet period as healthy, whatever its few requests did', () => {
    expect(serverErrorRatePercent(5, serverErrorRateMinimumRequests - 1)).toBe(0);
    expect(serverErrorRatePercent(0, 0)).toBe(0);
  });

  it('is computed by CloudWatch with the same guard', () => {
    expect(serverErrorRateExpression('e', 'r')).toBe(
      `IF(r >= ${serverErrorRateMinimumRequests}, 100 * e / r, 0)`,
    );
  });
});
