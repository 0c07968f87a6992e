import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type AccessKeyPair, staticKeys } from '../core/auth/access-keys.ts';
import { newAccessKeyPair } from '../core/auth/secrets.ts';
import { type BerthConfig, defaultConfig } from '../core/config.ts';
import { createDb } from '../core/db/client.ts';
import { handleAgentRequest } from '../core/ecs/agent-endpoint.ts';
import { handleOperatorRequest } from '../core/ecs/serve.ts';
import { ensureTable, startDynamoDbLocal } from './dynamodb.ts';
import { createHttpServer, listen } from './server.ts';

export type LocalHostOptions = {
  port?: number;
  host?: string;
  /** Where the database and the admin keys live; ignored with inMemory. */
  dataDir?: string;
  inMemory?: boolean;
  region?: string;
  /** Use this admin key pair instead of the stored or a new one. */
  adminKeys?: AccessKeyPair;
  now?: () => Date;
};

export type LocalHost = {
  endpoint: string;
  port: number;
  region: string;
  credentials: AccessKeyPair;
  dataDir?: string;
  dynamoEndpoint: string;
  config: BerthConfig;
  stop: () => Promise<void>;
};

/** The admin key pair: created on first start and kept (0600) in the data dir. */
const loadOrCreateKeys = (dataDir: string | undefined): AccessKeyPair => {
  if (!dataDir) return newAccessKeyPair();
  const file = join(dataDir, 'credentials.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as AccessKeyPair;
  const pair = newAccessKeyPair();
  writeFileSync(file, `${JSON.stringify(pair, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return pair;
};

/**
 * `berth up`: the whole control plane on one machine — DynamoDB Local, the table, and the same
 * handlers the Lambdas run, served over node:http.
 */
export const startLocalHost = async (options: LocalHostOptions = {}): Promise<LocalHost> => {
  const dataDir = options.inMemory ? undefined : resolve(options.dataDir ?? '.berth');
  if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const credentials = options.adminKeys ?? loadOrCreateKeys(dataDir);
  const config: BerthConfig = { ...defaultConfig, region: options.region ?? defaultConfig.region };
  const dynamo = await startDynamoDbLocal({ dataDir: dataDir ? join(dataDir, 'dynamodb') : undefined });
  try {
    await ensureTable(dynamo.endpoint, config.tableName);
    const db = createDb({ table: config.tableName, region: config.region, endpoint: dynamo.endpoint });
    const onError = (error: unknown, context: object) =>
      console.error('berth: internal error', context, error);
    const server = createHttpServer({
      operator: (request) =>
        handleOperatorRequest(
          { db, config, lookupSecret: staticKeys([credentials]), now: options.now, onError },
          request,
        ),
      agent: (request) => handleAgentRequest({ db, config, now: options.now, onError }, request),
    });
    const host = options.host ?? '127.0.0.1';
    const port = await listen(server, options.port ?? 9400, host);
    const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return {
      endpoint: `http://${shownHost}:${port}`,
      port,
      region: config.region,
      credentials,
      dataDir,
      dynamoEndpoint: dynamo.endpoint,
      config,
      stop: async () => {
        await new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        });
        db.doc.destroy();
        await dynamo.stop();
      },
    };
  } catch (error) {
    await dynamo.stop();
    throw error;
  }
};
