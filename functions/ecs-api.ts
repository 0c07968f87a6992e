import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handleOperatorRequest } from '../core/ecs/serve.ts';
import { metricNames } from '../core/metrics.ts';
import { adminKeysFromSsm } from './admin-keys.ts';
import { depsFromEnv, type HandlerDeps, lazily, metrics } from './deps.ts';
import { lambdaHandler } from './handler.ts';
import { requestOf, resultOf } from './http.ts';

/** The ECS/SSM operator endpoint (`POST /`). */
export const createEcsApiHandler =
  (deps: HandlerDeps) =>
  async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> =>
    resultOf(
      await handleOperatorRequest(
        {
          ...deps,
          onError: (error, context) =>
            deps.logger.error('operator request failed', { error: error as Error, ...context }),
        },
        requestOf(event),
      ),
    );

const built = lazily(() => {
  const deps = depsFromEnv();
  const lookupSecret = adminKeysFromSsm(process.env.BERTH_ADMIN_KEYS_PARAMETER, deps.lookupSecret);
  return createEcsApiHandler({ ...deps, lookupSecret });
});

export const handler = lambdaHandler(async (event: APIGatewayProxyEventV2) => {
  const result = await built()(event);
  // The action is a property, not a dimension (core/metrics.ts): Logs Insights groups by it.
  metrics.addMetadata('action', event.headers?.['x-amz-target']?.split('.').pop() ?? 'none');
  metrics.addMetadata('statusCode', String(result.statusCode));
  metrics.addMetric(metricNames.operatorRequests, MetricUnit.Count, 1);
  if ((result.statusCode ?? 500) >= 500)
    metrics.addMetric(metricNames.operatorServerErrors, MetricUnit.Count, 1);
  return result;
});
