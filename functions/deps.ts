import { Logger } from '@aws-lambda-powertools/logger';
import { staticKeys } from '../core/auth/access-keys.ts';
import type { SecretLookup } from '../core/auth/sigv4.ts';
import { type BerthConfig, configFromEnv } from '../core/config.ts';
import { createDb, type Db } from '../core/db/client.ts';

/** What the handlers need, built once per Lambda container from its environment. */
export type HandlerDeps = { db: Db; config: BerthConfig; lookupSecret: SecretLookup; logger: Logger };

export const logger = new Logger({ serviceName: 'berth' });

export const depsFromEnv = (env: NodeJS.ProcessEnv = process.env): HandlerDeps => {
  const config = configFromEnv(env);
  const keys =
    env.BERTH_ADMIN_ACCESS_KEY_ID && env.BERTH_ADMIN_SECRET_ACCESS_KEY
      ? [{ accessKeyId: env.BERTH_ADMIN_ACCESS_KEY_ID, secretAccessKey: env.BERTH_ADMIN_SECRET_ACCESS_KEY }]
      : [];
  return {
    db: createDb({ table: config.tableName, region: config.region, endpoint: env.BERTH_DYNAMODB_ENDPOINT }),
    config,
    lookupSecret: staticKeys(keys),
    logger,
  };
};

/** Builds a handler's dependencies on first use, so importing a handler module has no side effects. */
export const lazily = <T>(build: () => T): (() => T) => {
  let built: T | undefined;
  return () => {
    built ??= build();
    return built;
  };
};
