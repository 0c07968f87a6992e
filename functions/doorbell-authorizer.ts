import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerResult,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { hashSecret } from '../core/auth/secrets.ts';
import { configFromEnv } from '../core/config.ts';
import { instanceOfToken } from '../core/db/activations.ts';
import { createDb, type Db } from '../core/db/client.ts';
import { type DoorbellLocation, doorbellContextKey, doorbellQueueUrl } from '../core/doorbell/settings.ts';

type DoorbellContext = Record<typeof doorbellContextKey, string>;
export type DoorbellAuthorization =
  | APIGatewaySimpleAuthorizerWithContextResult<DoorbellContext>
  | APIGatewaySimpleAuthorizerResult;

/** Agent tokens as the agent API accepts them (core/agent-api/agent-sync.ts authenticateAgent). */
const bearer = /^Bearer ([A-Za-z0-9_]{10,200})$/;

/**
 * The doorbell route's Lambda authorizer: maps an agent's bearer token to its instance's queue URL,
 * which the SQS integration reads as `$context.authorizer.queueUrl`. API Gateway caches the answer
 * per token for an hour, so an idle agent costs about one invocation an hour, not one per poll.
 * An unknown token is refused (and that refusal is cached too: tokens never come back). A failed
 * read throws, which API Gateway answers with 500 and does not cache.
 */
export const createDoorbellAuthorizer =
  (deps: { db: Db; location: DoorbellLocation }) =>
  async (event: APIGatewayRequestAuthorizerEventV2): Promise<DoorbellAuthorization> => {
    const token = bearer.exec(event.headers?.authorization ?? event.identitySource?.[0] ?? '')?.[1];
    if (!token) return { isAuthorized: false };
    // A consistent read: an agent that registered a moment ago must not get a refusal cached for an hour.
    const owner = await instanceOfToken(deps.db, hashSecret(token));
    if (!owner) return { isAuthorized: false };
    return {
      isAuthorized: true,
      context: { [doorbellContextKey]: doorbellQueueUrl(deps.location, owner.instanceId) },
    };
  };

// Not wrapped in lambdaHandler (functions/handler.ts): the authorizer adds no metrics and logs
// nothing, and Powertools' logger and metrics would add 38 KB to a bundle on every agent's path.
let built: ReturnType<typeof createDoorbellAuthorizer> | undefined;

export const handler = (event: APIGatewayRequestAuthorizerEventV2): Promise<DoorbellAuthorization> => {
  if (!built) {
    const config = configFromEnv();
    built = createDoorbellAuthorizer({
      db: createDb({ table: config.tableName, region: config.region }),
      location: {
        region: config.region,
        accountId: config.accountId,
        prefix: process.env.BERTH_DOORBELL_QUEUE_PREFIX ?? '',
      },
    });
  }
  return built(event);
};
