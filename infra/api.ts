import { doorbellSettings } from '../core/doorbell/settings.ts';
import { httpRoutes, routeKeyOf } from '../core/routes.ts';
import { receiveIntegration } from './doorbell.ts';
import { agentApi, doorbellAuthorizer, ecsApi } from './functions.ts';

// A compact access log: every agent makes about four requests a minute, so each byte here is paid
// for ~170,000 times per agent-month (SST's default line is three times longer).
const accessLogFormat = JSON.stringify({
  time: '$context.requestTime',
  id: '$context.requestId',
  ip: '$context.identity.sourceIp',
  route: '$context.routeKey',
  status: '$context.status',
  ms: '$context.responseLatency',
  error: '$context.integrationErrorMessage',
  authError: '$context.authorizer.error',
});

export const api = new sst.aws.ApiGatewayV2('Api', {
  cors: false,
  accessLog: { retention: '1 month' },
  transform: {
    stage: (args) => {
      args.accessLogSettings = $output(args.accessLogSettings).apply((settings) => ({
        destinationArn: settings?.destinationArn ?? '',
        format: accessLogFormat,
      }));
    },
  },
});

/** One cached authorizer for the doorbell: an idle agent costs about one invocation an hour. */
export const agentTokenAuthorizer = api.addAuthorizer({
  name: 'AgentToken',
  lambda: {
    function: doorbellAuthorizer.arn,
    identitySources: ['$request.header.Authorization'],
    response: 'simple',
    payload: '2.0',
    ttl: `${doorbellSettings.authorizerCacheSeconds} seconds`,
  },
});

// The route table (core/routes.ts) decides; `berth up` routes by the same table.
for (const route of httpRoutes) {
  const key = routeKeyOf(route);
  switch (route.target) {
    case 'operator':
      api.route(key, ecsApi.arn);
      break;
    case 'agent':
      api.route(key, agentApi.arn);
      break;
    case 'doorbell':
      // A URL route only to borrow SST's route and auth wiring: the transform makes it an SQS
      // ReceiveMessage service integration, so the URL is never called.
      api.routeUrl(key, 'https://sqs.amazonaws.com', {
        auth: { lambda: agentTokenAuthorizer.id },
        transform: { integration: receiveIntegration },
      });
      break;
  }
}
