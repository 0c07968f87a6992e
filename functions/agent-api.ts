import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handleAgentRequest } from '../core/ecs/agent-endpoint.ts';
import { depsFromEnv, type HandlerDeps, lazily } from './deps.ts';
import { requestOf, resultOf } from './http.ts';

/** The agent endpoint (`/agent/v1/…`). */
export const createAgentApiHandler =
  (deps: HandlerDeps) =>
  async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> =>
    resultOf(
      await handleAgentRequest(
        {
          ...deps,
          onError: (error, context) =>
            deps.logger.error('agent request failed', { error: error as Error, ...context }),
        },
        requestOf(event),
      ),
    );

const built = lazily(() => createAgentApiHandler(depsFromEnv()));
export const handler = middy((event: APIGatewayProxyEventV2) => built()(event));
