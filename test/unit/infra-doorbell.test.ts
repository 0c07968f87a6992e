import { describe, expect, it } from 'vitest';
import { heartbeatSeconds } from '../../core/agent-api/agent-sync.ts';
import {
  doorbellContextKey,
  doorbellQueueArnPattern,
  doorbellQueueAttributes,
  doorbellQueueName,
  doorbellQueuePrefix,
  doorbellQueueUrl,
  doorbellReceiveParameters,
  doorbellSettings,
} from '../../core/doorbell/settings.ts';
import { doorbellAnswerRung } from '../../core/protocol/doorbell.ts';

const where = {
  region: 'eu-west-1',
  accountId: '123456789012',
  prefix: doorbellQueuePrefix('berth', 'prod'),
};
const instanceId = 'b5b0c3a1d2e44f6a9c8b7a6d5e4f3a2b';

describe('doorbell settings', () => {
  it('deliver each ring once: nothing deletes a ring, so it stays hidden until it expires', () => {
    expect(doorbellSettings.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(
      doorbellSettings.messageRetentionSeconds,
    );
  });

  it('keep a ring no longer than a heartbeat, after which the agent syncs anyway', () => {
    // SQS's shortest retention is 60 s.
    expect(doorbellSettings.messageRetentionSeconds).toBeGreaterThanOrEqual(60);
    expect(doorbellSettings.messageRetentionSeconds).toBeLessThanOrEqual(heartbeatSeconds);
  });

  it('end the long-poll inside API Gateway’s integration timeout', () => {
    expect(doorbellSettings.waitSeconds).toBeLessThanOrEqual(20); // SQS's longest wait
    expect(doorbellSettings.integrationTimeoutMs).toBeLessThanOrEqual(30_000); // HTTP API's longest
    expect(doorbellSettings.waitSeconds * 1000 + 5_000).toBeLessThanOrEqual(
      doorbellSettings.integrationTimeoutMs,
    );
  });

  it('cache the authorizer’s answer as long as HTTP API allows', () => {
    expect(doorbellSettings.authorizerCacheSeconds).toBeGreaterThan(0);
    expect(doorbellSettings.authorizerCacheSeconds).toBeLessThanOrEqual(3600);
  });

  it('create queues with the same values, as strings', () => {
    expect(doorbellQueueAttributes).toEqual({
      MessageRetentionPeriod: '60',
      VisibilityTimeout: '60',
      ReceiveMessageWaitTimeSeconds: '20',
      SqsManagedSseEnabled: 'true',
    });
  });

  it('receive from the queue the authorizer names, waiting as long as SQS allows', () => {
    expect(doorbellReceiveParameters).toEqual({
      QueueUrl: `$context.authorizer.${doorbellContextKey}`,
      WaitTimeSeconds: '20',
      MaxNumberOfMessages: '10',
    });
  });
});

describe('doorbell queues', () => {
  it('are named by stage and instance, inside SQS’s 80 characters', () => {
    expect(doorbellQueueName(where.prefix, instanceId)).toBe(`berth-prod-bell-${instanceId}`);
    const longStage = doorbellQueuePrefix('berth', 's'.repeat(36));
    expect(doorbellQueueName(longStage, instanceId).length).toBeLessThanOrEqual(80);
    expect(() => doorbellQueuePrefix('berth', 's'.repeat(37))).toThrow(/longer than 48/);
  });

  it('replace characters SQS does not allow in a stage name', () => {
    expect(doorbellQueuePrefix('berth', 'pr.42')).toBe('berth-pr-42-bell-');
  });

  it('have a URL derived from the instance id alone, under the stage’s IAM pattern', () => {
    const url = doorbellQueueUrl(where, instanceId);
    expect(url).toBe(`https://sqs.eu-west-1.amazonaws.com/123456789012/berth-prod-bell-${instanceId}`);
    const pattern = doorbellQueueArnPattern(where);
    expect(pattern).toBe('arn:aws:sqs:eu-west-1:123456789012:berth-prod-bell-*');
    expect(
      `arn:aws:sqs:eu-west-1:123456789012:${doorbellQueueName(where.prefix, instanceId)}`.startsWith(
        pattern.slice(0, -1),
      ),
    ).toBe(true);
  });

  it('of one stage are never matched by another stage’s pattern', () => {
    const other = doorbellQueueArnPattern({ ...where, prefix: doorbellQueuePrefix('berth', 'prod2') });
    expect(
      `arn:aws:sqs:eu-west-1:123456789012:${doorbellQueueName(where.prefix, instanceId)}`.startsWith(
        other.slice(0, -1),
      ),
    ).toBe(false);
  });
});

describe('doorbell answer', () => {
  it('reads berth up’s answer', () => {
    expect(doorbellAnswerRung(200, '{"rung":true}')).toBe(true);
    expect(doorbellAnswerRung(200, '{"rung":false}')).toBe(false);
  });

  it('reads SQS’s ReceiveMessage answer in its JSON and XML encodings', () => {
    expect(doorbellAnswerRung(200, '{}')).toBe(false);
    expect(doorbellAnswerRung(200, '{"Messages":[]}')).toBe(false);
    expect(doorbellAnswerRung(200, '{"Messages":[{"MessageId":"m1","Body":"ring"}]}')).toBe(true);
    expect(
      doorbellAnswerRung(200, '{"ReceiveMessageResponse":{"ReceiveMessageResult":{"messages":null}}}'),
    ).toBe(false);
    expect(
      doorbellAnswerRung(
        200,
        '{"ReceiveMessageResponse":{"ReceiveMessageResult":{"messages":[{"MessageId":"m1","Body":"ring"}]}}}',
      ),
    ).toBe(true);
    expect(
      doorbellAnswerRung(200, '<ReceiveMessageResponse><ReceiveMessageResult/></ReceiveMessageResponse>'),
    ).toBe(false);
    expect(
      doorbellAnswerRung(
        200,
        '<ReceiveMessageResponse><ReceiveMessageResult><Message><MessageId>m1</MessageId></Message></ReceiveMessageResult></ReceiveMessageResponse>',
      ),
    ).toBe(true);
  });

  it('counts anything it does not recognise as rung, so the agent syncs rather than miss work', () => {
    expect(doorbellAnswerRung(500, '')).toBe(true);
    expect(doorbellAnswerRung(403, '{"message":"Forbidden"}')).toBe(true);
    expect(doorbellAnswerRung(200, 'something else')).toBe(true);
  });
});
