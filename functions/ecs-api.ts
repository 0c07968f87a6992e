import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handleOperatorRequest } from '../core/ecs/serve.ts';
import { depsFromEnv, type HandlerDeps, lazily } from './deps.ts';
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

const built = lazily(() => createEcsApiHandler(depsFromEnv()));
export const handler = middy((event: APIGatewayProxyEventV2) => built()(event));
