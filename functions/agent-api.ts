import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handleAgentRequest } from '../core/agent-api/agent-endpoint.ts';
import { metricNames } from '../core/metrics.ts';
import { agentApiPrefix } from '../core/protocol/agent.ts';
import { packagedAgentFiles } from './agent-files.ts';
import { depsFromEnv, type HandlerDeps, lazily, metrics } from './deps.ts';
import { lambdaHandler } from './handler.ts';
import { requestOf, resultOf } from './http.ts';

/** The agent endpoint (`/agent/v1/…`), including the installer and the agent bundle it downloads. */
export const createAgentApiHandler =
  (deps: HandlerDeps, agentFiles = packagedAgentFiles()) =>
  async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> =>
    resultOf(
      await handleAgentRequest(
        {
          ...deps,
          agentFiles,
          onError: (error, context) =>
            deps.logger.error('agent request failed', { error: error as Error, ...context }),
        },
        requestOf(event),
      ),
    );

const built = lazily(() => createAgentApiHandler(depsFromEnv()));

export const handler = lambdaHandler(async (event: APIGatewayProxyEventV2) => {
  const result = await built()(event);
  // A sync every minute from every agent is API Gateway's Count; an EMF line for each would cost
  // more in log ingestion than the sync itself. Registrations and failures are counted here.
  const route = `${event.requestContext.http.method} ${event.rawPath}`;
  const failed = (result.statusCode ?? 500) >= 500;
  if (route !== `POST ${agentApiPrefix}/sync` || failed) {
    metrics.addMetadata('route', route);
    metrics.addMetadata('statusCode', String(result.statusCode));
    metrics.addMetric(metricNames.agentRequests, MetricUnit.Count, 1);
  }
  if (failed) metrics.addMetric(metricNames.agentServerErrors, MetricUnit.Count, 1);
  return result;
});
