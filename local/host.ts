import { createHmac, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { handleAgentRequest } from '../core/agent-api/agent-endpoint.ts';
import { type AccessKeyPair, staticKeys } from '../core/auth/access-keys.ts';
import { createSealer } from '../core/auth/seal.ts';
import { newAccessKeyPair } from '../core/auth/secrets.ts';
import { type BerthConfig, defaultConfig } from '../core/config.ts';
import { createDb, type Db, type DbPlugin, type DbTimeouts } from '../core/db/client.ts';
import { LocalDoorbell } from '../core/doorbell/in-process.ts';
import { handleOperatorRequest } from '../core/ecs/serve.ts';
import { storeUnavailable } from '../core/errors.ts';
import type { HttpRequest, HttpResponse } from '../core/http.ts';
import type { ReconcileDeps } from '../core/reconcile/run/apply.ts';
import {
  defaultSweepSettings,
  type SweepReport,
  type SweepSettings,
  sweep,
} from '../core/reconcile/run/sweep.ts';
import { type ReconcileUnit, reconcileUnit, unitId } from '../core/reconcile/run/units.ts';
import { createReconcilerHandler } from '../functions/reconciler.ts';
import { localAgentFiles } from './agent-files.ts';
import { ensureTable, followingDynamoDbLocalKey } from './dynamodb.ts';
import { createHttpServer, listen, type TransportLimits } from './server.ts';
import { createStoreHealth, type HealthReport, superviseDynamoDbLocal, watchDisk } from './store-health.ts';
import { type StreamHandler, startStreamPoller } from './stream/poller.ts';

export type LocalHostOptions = {
  port?: number;
  host?: string;
  /** Where the database, the stream checkpoint and the admin keys live; ignored with inMemory. */
  dataDir?: string;
  inMemory?: boolean;
  region?: string;
  /** Use this admin key pair instead of the stored or a new one. */
  adminKeys?: AccessKeyPair;
  now?: () => Date;
  /** How often the sweeper runs (AWS: every minute). */
  sweepIntervalMs?: number;
  sweepSettings?: Partial<SweepSettings>;
  /** Run no reconciler, poller or sweeper: a second host on the same table may, or a test drives them. */
  withoutScheduler?: boolean;
  /** Where to point DynamoDB (another host's DynamoDB Local) instead of starting one. */
  dynamoEndpoint?: string;
  /** With dynamoEndpoint: the access key id that DynamoDB Local requires (that host's `dynamoAccessKeyId`). */
  dynamoAccessKeyId?: string;
  /** SDK middleware for the table's client (tests and benchmarks: faults, metering; see createDb). */
  dbPlugins?: readonly DbPlugin[];
  /** Called after each HTTP response with its route and duration (benchmarks count requests). */
  onRequest?: (route: string, ms: number) => void;
  /** Header and request timeouts and the connection cap of the HTTP server (defaults in server.ts). */
  transportLimits?: Partial<TransportLimits>;
  /** Called after each stream batch the reconciler handled, with its size and duration. */
  onStreamBatch?: (records: number, ms: number) => void;
  /** Below this much free space in the data directory writes are refused (default 64 MiB). */
  minFreeBytes?: number;
  /** How often the free space is looked at (default every second). */
  diskCheckIntervalMs?: number;
  /** Time limits of each database call (default `defaultDbTimeouts`). */
  dbTimeouts?: Partial<DbTimeouts>;
  /**
   * Called when DynamoDB Local died and cannot be restarted (`berth up` exits non-zero, so that a
   * supervisor restarts it); until then, and without it, requests are answered 503.
   */
  onStoreLost?: (error: Error) => void;
};

export type LocalHost = {
  endpoint: string;
  port: number;
  region: string;
  credentials: AccessKeyPair;
  /** True when the admin key pair was made by this start (the only time its secret is shown). */
  credentialsCreated: boolean;
  /** The file the admin key pair is kept in (0600); absent in memory or with `adminKeys`. */
  credentialsFile?: string;
  dataDir?: string;
  dynamoEndpoint: string;
  /** The access key id DynamoDB Local requires of every request now (a secret, new at each restart: see local/dynamodb.ts). */
  readonly dynamoAccessKeyId: string;
  config: BerthConfig;
  db: Db;
  doorbell: LocalDoorbell;
  /** Resolves once every change written so far has been through the reconciler. */
  drain: (timeoutMs?: number) => Promise<void>;
  /** Runs the sweeper once now. */
  sweep: () => Promise<SweepReport>;
  /** The store's health, as `GET /health` answers it. */
  health: () => HealthReport;
  /** DynamoDB Local's pid now (absent with dynamoEndpoint); reliability tests kill and stop it. */
  storePid: () => number | undefined;
  stop: () => Promise<void>;
};

/** The default margin of free space: room for a burst of writes between two looks at the disk. */
export const defaultMinFreeBytes = 64 * 1024 * 1024;

/** The admin key pair: created on first start and kept (0600) in the data dir. */
const loadOrCreateKeys = (
  dataDir: string | undefined,
): { pair: AccessKeyPair; created: boolean; file?: string } => {
  if (!dataDir) return { pair: newAccessKeyPair(), created: true };
  const file = join(dataDir, 'credentials.json');
  if (existsSync(file)) {
    return { pair: JSON.parse(readFileSync(file, 'utf8')) as AccessKeyPair, created: false, file };
  }
  const pair = newAccessKeyPair();
  writeFileSync(file, `${JSON.stringify(pair, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { pair, created: true, file };
};

/**
 * The key that seals SecureString parameters and secrets at rest (core/auth/seal.ts): 32 random
 * bytes made on first start and kept (0600) in the data dir, apart from DynamoDB's files, so a copy
 * of the table alone does not give the values away. Losing it loses those values.
 */
const loadOrCreateSealingKey = (dataDir: string | undefined): Buffer => {
  if (!dataDir) return randomBytes(32);
  const file = join(dataDir, 'sealing-key');
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte key in hex`);
    return key;
  }
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return key;
};

/**
 * Makes the data dir its user's alone: it holds the admin secret and, in DynamoDB's files, task
 * definitions' secrets. Every start does it (directories 0700, files 0600), whatever an older
 * Berth, a copy or a umask left; files made later are created 0600 too (the keys, the checkpoint,
 * and DynamoDB Local's under the umask 077 it is started with). Symlinks are left as they are:
 * what they point at is not the data dir's.
 */
const restrictDataDir = (dir: string): void => {
  chmodSync(dir, 0o700);
  // Only Berth's own entries: `--data-dir .` or `--data-dir ~` must not strip the execute bits of
  // whatever else lives there.
  for (const name of berthEntries) {
    const path = join(dir, name);
    if (existsSync(path)) restrictTree(path);
  }
};

/** What Berth keeps in a data dir (the keys, the stream checkpoint, DynamoDB Local's files). */
const berthEntries = ['credentials.json', 'sealing-key', 'stream-checkpoint.json', 'dynamodb'] as const;

const restrictTree = (path: string): void => {
  const stat = lstatSync(path);
  if (stat.isFile()) chmodSync(path, 0o600);
  if (!stat.isDirectory()) return;
  chmodSync(path, 0o700);
  for (const entry of readdirSync(path)) restrictTree(join(path, entry));
};

/** The reconciler handler, reporting each batch's size and duration when asked (benchmarks). */
const timedHandler = (
  handler: StreamHandler,
  onBatch?: (records: number, ms: number) => void,
): StreamHandler =>
  onBatch
    ? async (event) => {
        const started = performance.now();
        try {
          return await handler(event);
        } finally {
          onBatch(event.Records.length, performance.now() - started);
        }
      }
    : handler;

const starting = (): Promise<HttpResponse> =>
  Promise.resolve({
    statusCode: 503,
    headers: { 'content-type': 'application/json', 'retry-after': '1' },
    body: JSON.stringify({ __type: 'ServiceUnavailableException', message: 'Berth is starting.' }),
  });

/**
 * `berth up`: the whole control plane on one machine — DynamoDB Local, the table, the same
 * handlers the Lambdas run (served over node:http), the stream poller driving the reconciler, the
 * sweeper on a timer, and the doorbell in-process.
 */
export const startLocalHost = async (options: LocalHostOptions = {}): Promise<LocalHost> => {
  const dataDir = options.inMemory ? undefined : resolve(options.dataDir ?? '.berth');
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    restrictDataDir(dataDir);
  }
  const keys = options.adminKeys
    ? { pair: options.adminKeys, created: false, file: undefined }
    : loadOrCreateKeys(dataDir);
  const credentials = keys.pair;
  const config: BerthConfig = {
    ...defaultConfig,
    region: options.region ?? defaultConfig.region,
    // Heartbeats are written often enough for the sweeper's grace, whatever it is set to.
    heartbeatWriteSeconds: (options.sweepSettings?.graceSeconds ?? defaultSweepSettings.graceSeconds) / 2,
  };
  const now = options.now ?? (() => new Date());
  const sealer = createSealer(loadOrCreateSealingKey(dataDir));
  const doorbell = new LocalDoorbell(
    createHmac('sha256', credentials.secretAccessKey).update('berth doorbell addresses').digest(),
    () => now().getTime(),
  );
  const onError = (error: unknown, context: object) => console.error('berth: internal error', context, error);

  const health = createStoreHealth();
  // `GET /health`: for `berth status` and supervisors (503 while anything is refused). Unsigned, so
  // it says only what is refused and why.
  const healthResponse = (): HttpResponse => {
    const report = health.report();
    const fine = report.store === 'up' && report.writes === 'accepted';
    return {
      statusCode: fine ? 200 : 503,
      headers: { 'content-type': 'application/json', ...(fine ? {} : { 'retry-after': '5' }) },
      body: JSON.stringify(report),
    };
  };

  // Listen first: a port in use is reported before the database spends seconds starting.
  let route: {
    operator: (r: HttpRequest) => Promise<HttpResponse>;
    agent: (r: HttpRequest) => Promise<HttpResponse>;
  } = { operator: starting, agent: starting };
  const server = createHttpServer(
    {
      operator: (r) =>
        r.method === 'GET' && r.path === '/health' && route.operator !== starting
          ? Promise.resolve(healthResponse())
          : route.operator(r),
      agent: (r) => route.agent(r),
    },
    options.onRequest,
    options.transportLimits,
  );
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 9400, host);
  const closeServer = () =>
    new Promise<void>((done) => {
      doorbell.close();
      server.close(() => done());
      server.closeAllConnections();
    });

  const dynamoDir = dataDir ? join(dataDir, 'dynamodb') : undefined;
  const disk = dynamoDir
    ? watchDisk({
        path: dataDir ?? dynamoDir,
        minFreeBytes: options.minFreeBytes ?? defaultMinFreeBytes,
        health,
        ...(options.diskCheckIntervalMs ? { intervalMs: options.diskCheckIntervalMs } : {}),
      })
    : undefined;
  const dynamo = options.dynamoEndpoint
    ? undefined
    : await superviseDynamoDbLocal({
        dataDir: dynamoDir,
        tableName: config.tableName,
        health,
        onGiveUp: (error) => options.onStoreLost?.(error),
        ...(disk ? { onOutput: disk.storeOutput } : {}),
      }).catch(async (error) => {
        disk?.stop();
        await closeServer();
        throw error;
      });
  const dynamoEndpoint = options.dynamoEndpoint ?? dynamo?.endpoint ?? '';
  // Ours changes when it is restarted (store-health): the clients ask for it before every call.
  const store: { readonly accessKeyId: string } = dynamo ?? { accessKeyId: options.dynamoAccessKeyId ?? '' };
  const storeCredentials = followingDynamoDbLocalKey(store);
  try {
    await ensureTable({ endpoint: dynamoEndpoint, accessKeyId: store.accessKeyId }, config.tableName);
    const db = createDb({
      table: config.tableName,
      region: config.region,
      endpoint: dynamoEndpoint,
      credentials: storeCredentials,
      ...(options.dbPlugins ? { plugins: options.dbPlugins } : {}),
      gate: health.gate,
      // Always DynamoDB Local here (ours, or another host's): wait for each transaction's commit,
      // unless the data is only in memory, where a JVM that dies loses all of it anyway (and the
      // barrier's read, ~5-15 ms a transaction, would only slow benchmarks down).
      ...(dataDir || options.dynamoEndpoint
        ? {
            commitBarrier: {
              confirm: (sentAt: number) =>
                disk?.fullReportedSince(sentAt)
                  ? storeUnavailable(
                      'DynamoDB Local reported a full disk while committing this write: it may not be stored; try again.',
                      10,
                    )
                  : undefined,
            },
          }
        : {}),
      ...(options.dbTimeouts ? { timeouts: options.dbTimeouts } : {}),
    });
    const reconcileDeps: ReconcileDeps = { db, config, doorbell, now };
    const agentFiles = localAgentFiles();
    route = {
      operator: (request) =>
        handleOperatorRequest(
          {
            db,
            config,
            lookupSecret: staticKeys([credentials]),
            now,
            onError,
            doorbell,
            sealer,
          },
          request,
        ),
      agent: (request) =>
        handleAgentRequest(
          {
            db,
            config,
            now,
            onError,
            doorbell,
            agentFiles,
          },
          request,
        ),
    };

    // Time-based rechecks (backoff ends): one timer per unit, the earliest wins.
    const timers = new Map<string, NodeJS.Timeout>();
    const recheck = (unit: ReconcileUnit, at: string) => {
      const id = unitId(unit);
      clearTimeout(timers.get(id));
      const delay = Math.max(0, Date.parse(at) - now().getTime()) + 50;
      const timer = setTimeout(() => {
        timers.delete(id);
        // Not while writes are refused: the recheck would fail, and nothing else would schedule it.
        if (!health.writable()) return recheck(unit, new Date(now().getTime() + 1_000).toISOString());
        // A recheck may find the unit still waiting: its next recheck is scheduled the same way.
        reconcileUnit(reconcileDeps, unit, recheck).catch((error) => onError(error, { recheck: id }));
      }, delay);
      timer.unref();
      timers.set(id, timer);
    };
    const sweepSettings = { ...defaultSweepSettings, ...options.sweepSettings };
    const sweepOnce = () => sweep(reconcileDeps, sweepSettings);
    const poller = options.withoutScheduler
      ? undefined
      : await startStreamPoller({
          endpoint: dynamoEndpoint,
          credentials: storeCredentials,
          tableName: config.tableName,
          ...(dataDir ? { checkpointFile: join(dataDir, 'stream-checkpoint.json') } : {}),
          handler: timedHandler(createReconcilerHandler(reconcileDeps, recheck), options.onStreamBatch),
          onFailure: (records, error) =>
            console.error(`berth: gave up on ${records.length} stream record(s) after retries`, error),
          ready: health.ready,
        });
    let sweeping: Promise<unknown> = Promise.resolve();
    const sweeper = options.withoutScheduler
      ? undefined
      : setInterval(() => {
          // While writes are refused agents cannot sync, so their heartbeats age without their
          // fault: no sweep then, nor within a grace after, or an outage of the store would mark
          // the whole fleet disconnected (and replace its tasks) the moment it ended.
          const sinceWritable = Date.now() - health.writableSince();
          if (!health.writable() || sinceWritable < sweepSettings.graceSeconds * 1000) return;
          sweeping = sweepOnce().catch((error) => onError(error, { sweep: true }));
        }, options.sweepIntervalMs ?? 15_000);
    sweeper?.unref();
    const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return {
      endpoint: `http://${shownHost}:${port}`,
      port,
      region: config.region,
      credentials,
      credentialsCreated: keys.created,
      ...(keys.file ? { credentialsFile: keys.file } : {}),
      dataDir,
      dynamoEndpoint,
      get dynamoAccessKeyId() {
        return store.accessKeyId;
      },
      config,
      db,
      doorbell,
      drain: async (timeoutMs) => {
        await poller?.drain(timeoutMs);
      },
      sweep: sweepOnce,
      health: health.report,
      storePid: () => dynamo?.pid(),
      stop: async () => {
        clearInterval(sweeper);
        disk?.stop();
        for (const timer of timers.values()) clearTimeout(timer);
        await closeServer();
        await poller?.stop();
        await sweeping;
        db.doc.destroy();
        await dynamo?.stop();
      },
    };
  } catch (error) {
    disk?.stop();
    await closeServer();
    await dynamo?.stop();
    throw error;
  }
};
