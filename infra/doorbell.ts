import {
  doorbellQueueArnPattern,
  doorbellQueuePrefix,
  doorbellReceiveParameters,
  doorbellSettings,
} from '../core/doorbell/settings.ts';

// The doorbell's fixed parts (docs/doorbell.md). Queues themselves are made at run time, one per
// container instance, by the agent API at registration; all of a stage's share one name prefix,
// so the IAM statements below cover them without knowing them.

export const accountId = aws.getCallerIdentityOutput().accountId;
export const region = aws.getRegionOutput().region;
export const queuePrefix = doorbellQueuePrefix($app.name, $app.stage);
export const queueArns = $resolve([region, accountId]).apply(([region, accountId]) =>
  doorbellQueueArnPattern({ region, accountId, prefix: queuePrefix }),
);

/** The role API Gateway assumes to long-poll a queue for an agent: ReceiveMessage and nothing else. */
export const receiveRole = new aws.iam.Role('DoorbellReceiveRole', {
  description: 'API Gateway long-polls Berth doorbell queues (GET /agent/v1/doorbell).',
  assumeRolePolicy: aws.iam.getPolicyDocumentOutput({
    statements: [
      {
        actions: ['sts:AssumeRole'],
        principals: [{ type: 'Service', identifiers: ['apigateway.amazonaws.com'] }],
      },
    ],
  }).json,
  inlinePolicies: [
    {
      name: 'receive-doorbell',
      policy: aws.iam.getPolicyDocumentOutput({
        statements: [{ actions: ['sqs:ReceiveMessage'], resources: [queueArns] }],
      }).json,
    },
  ],
});

/**
 * Turns the route's integration into HTTP API's SQS-ReceiveMessage service integration (merged
 * over SST's URL integration): the queue URL comes from the authorizer's context, the wait is
 * SQS's longest, and no Lambda is involved.
 */
export const receiveIntegration: Partial<aws.apigatewayv2.IntegrationArgs> = {
  integrationType: 'AWS_PROXY',
  integrationSubtype: 'SQS-ReceiveMessage',
  integrationUri: undefined,
  integrationMethod: undefined,
  payloadFormatVersion: '1.0',
  credentialsArn: receiveRole.arn,
  timeoutMilliseconds: doorbellSettings.integrationTimeoutMs,
  requestParameters: { ...doorbellReceiveParameters },
};
