import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type BerthError, isBerthError, storeUnavailable } from '../errors.ts';
import { keys } from './keys.ts';

/** The table handle every repository function takes. SDK objects never leave core/db. */
export type Db = {
  readonly doc: DynamoDBDocumentClient;
  readonly table: string;
  /** Told once about each range a query skipped because an item in it cannot be read (query.ts). */
  readonly onUnreadable?: (skipped: UnreadableRange) => void;
};

/** Where a query found items it could not read: between two keys of a partition (either end open). */
export type UnreadableRange = { index?: string; partition: unknown; after?: unknown; before?: unknown };

export type DbOptions = {
  table: string;
  region: string;
  /** DynamoDB Local's URL; absent on AWS. */
  endpoint?: string;
  /** With `endpoint`: the credentials DynamoDB Local requires (Berth's launcher checks the key id). */
  credentials?:
    | { accessKeyId: string; secretAccessKey: string }
    | (() => Promise<{ accessKeyId: string; secretAccessKey: string; expiration?: Date }>);
  /**
   * SDK middleware for the table's client, applied after Berth's own (so inside the gate, the time
   * limit and the 503 mapping), in order. Berth sets none; tests and benchmarks inject faults and
   * count capacity this way (test/support/).
   */
  plugins?: readonly DbPlugin[];
  /** Where skipped unreadable items are reported; default one JSON line on stderr per range. */
  onUnreadable?: (skipped: UnreadableRange) => void;
  /** How long a call may take (default `defaultDbTimeouts`). */
  timeouts?: Partial<DbTimeouts>;
  /**
   * Asked before every call: an error it returns is thrown instead of making the call. `berth up`
   * refuses every call while its store is restarting, and writes while its disk is nearly full.
   */
  gate?: DbGate;
  /**
   * DynamoDB Local only. It answers TransactWriteItems before it has committed it: its JVM killed
   * a few milliseconds after the 200 loses the transaction, and on a full disk the commit fails
   * after the 200 (sqlite's "disk is full" in its log; docs/reliability.md). With this set, every
   * transaction is followed by a consistent read (DynamoDB Local serves calls in order, so the
   * read's answer comes after the commit), and then `confirm` is asked whether the store reported a
   * failed commit since the transaction was sent (`sentAt`, ms): if so the caller gets that error.
   */
  commitBarrier?: { confirm: (sentAt: number) => BerthError | undefined };
};

export type DbGate = (call: { command: string; writes: boolean }) => BerthError | undefined;

/** An AWS SDK v3 plugin (`applyToStack`) for the DynamoDB client's middleware stack. */
export type DbPlugin = Parameters<DynamoDBClient['middlewareStack']['use']>[0];

/**
 * Time limits of a DynamoDB call. Without them a stalled store (a stopped JVM, a half-open socket)
 * holds every request that reaches it for ever. An attempt that times out is retried by the SDK
 * (transactions with their idempotency token; conditional puts recognise their own item), and the
 * whole call, retries included, ends at `callMs`: in an API request an answer after that is worth
 * less than a 503 its caller can retry.
 */
export type DbTimeouts = {
  /** Establishing a connection. */
  connectMs: number;
  /** One attempt, from sending the request to the response's headers. */
  attemptMs: number;
  /** The call, every retry included. */
  callMs: number;
};

export const defaultDbTimeouts: DbTimeouts = { connectMs: 2_000, attemptMs: 5_000, callMs: 10_000 };

/** Errors that say the store is away or overloaded rather than that the call was wrong: the SDK retries them. */
const unavailableNames = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
]);
const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * The store's trouble, after the SDK's own retries, as a 503 the caller may retry: a refused or
 * reset connection, a timeout, throttling, a 5xx. Anything else (a failed condition, a validation
 * error, a bug) is left as it is.
 */
const asUnavailable = (error: unknown): BerthError | undefined => {
  const { name, code, $metadata } = (error ?? {}) as {
    name?: unknown;
    code?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const status = $metadata?.httpStatusCode ?? 0;
  // DynamoDB Local's InternalFailure (a 500) is not the store being away: it is its answer for an
  // item it cannot read, and for what a Berth bug sends it. Retrying would not help, so it stays an
  // internal error, logged and answered 500 (a full disk is refused before it, by the gate).
  if (name === 'InternalFailure') return undefined;
  if (
    (typeof name === 'string' && unavailableNames.has(name)) ||
    (typeof code === 'string' && unavailableCodes.has(code)) ||
    status >= 500
  ) {
    return storeUnavailable('The database is not answering; try again.', 1, error);
  }
  return undefined;
};

/** After a transaction: wait for DynamoDB Local to have committed it, then ask whether it failed. */
const awaitCommit = async (
  barrier: NonNullable<DbOptions['commitBarrier']>,
  reader: DynamoDBClient,
  table: string,
  sentAt: number,
) => {
  const key = keys.commitBarrier();
  await reader.send(
    new GetItemCommand({
      TableName: table,
      Key: { pk: { S: key.pk }, sk: { S: key.sk } },
      ConsistentRead: true,
    }),
  );
  // The store's log of the failed commit was written before the read was served; let it be read.
  await new Promise((resolve) => setImmediate(resolve));
  const failed = barrier.confirm(sentAt);
  if (failed) throw failed;
};

/** Gate, time limit and the 503 mapping, around everything else (the SDK's retries and any plugin). */
const addStoreHealth = (
  client: DynamoDBClient,
  callMs: number,
  gate: DbGate | undefined,
  barrier?: { confirm: DbOptions['commitBarrier']; reader: DynamoDBClient; table: string },
) => {
  client.middlewareStack.add(
    <Args, Output>(next: (args: Args) => Promise<Output>, context: { commandName?: string }) =>
      async (args: Args): Promise<Output> => {
        const command = context.commandName ?? 'unknown';
        const refused = gate?.({ command, writes: writeCommands.has(command) });
        if (refused) throw refused;
        let timer: NodeJS.Timeout | undefined;
        // The call goes on in the background until its own attempts time out; its answer is not
        // waited for. A write it applies meanwhile is a lost answer, which every write tolerates.
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(storeUnavailable(`The database did not answer within ${callMs} ms; try again.`, 1)),
            callMs,
          );
        });
        try {
          const sentAt = Date.now();
          const output = await Promise.race([next(args), deadline]);
          if (barrier?.confirm && command === 'TransactWriteItemsCommand') {
            await Promise.race([
              awaitCommit(barrier.confirm, barrier.reader, barrier.table, sentAt),
              deadline,
            ]);
          }
          return output;
        } catch (error) {
          throw isBerthError(error) ? error : (asUnavailable(error) ?? error);
        } finally {
          clearTimeout(timer);
        }
      },
    { step: 'initialize', priority: 'high', name: 'berthStoreHealth' },
  );
};

/** The commands that write: the gate refuses them on a nearly full disk. */
export const writeCommands: ReadonlySet<string> = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'TransactWriteItemsCommand',
  'BatchWriteItemCommand',
]);

export const createDb = (options: DbOptions): Db => {
  const timeouts = { ...defaultDbTimeouts, ...options.timeouts };
  const config = {
    region: options.region,
    ...(options.endpoint
      ? {
          endpoint: options.endpoint,
          // DynamoDB Local accepts any alphanumeric key; never let it pick up real ones by accident.
          credentials: options.credentials ?? { accessKeyId: 'berthlocal', secretAccessKey: 'berthlocal' },
        }
      : {}),
    maxAttempts: 5,
    requestHandler: {
      connectionTimeout: timeouts.connectMs,
      requestTimeout: timeouts.attemptMs,
      // Without it a request past requestTimeout is only warned about, and goes on waiting.
      throwOnRequestTimeout: true,
    },
  };
  const client = new DynamoDBClient(config);
  // The barrier's reads go on a client of their own: not gated again, without the plugins.
  const reader = options.commitBarrier ? new DynamoDBClient(config) : undefined;
  addStoreHealth(
    client,
    timeouts.callMs,
    options.gate,
    reader && { confirm: options.commitBarrier, reader, table: options.table },
  );
  for (const plugin of options.plugins ?? []) client.middlewareStack.use(plugin);
  const doc = DynamoDBDocumentClient.from(client, {
    // convertClassInstanceToMap: the marshaller takes a map whose caller-chosen key `constructor`
    // holds a string (a tag, a label) for a class instance; it is plain data and must be stored as such.
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  });
  // Once per range: every read of the range would report it again (the reconciler, each sweep).
  const reported = new Set<string>();
  const report =
    options.onUnreadable ??
    ((skipped: UnreadableRange) =>
      console.error(
        JSON.stringify({ level: 'ERROR', message: 'berth: skipped unreadable items', ...skipped }),
      ));
  const onUnreadable = (skipped: UnreadableRange) => {
    const id = JSON.stringify(skipped);
    if (reported.has(id)) return;
    reported.add(id);
    report(skipped);
  };
  if (reader) {
    const destroy = doc.destroy.bind(doc);
    doc.destroy = () => {
      reader.destroy();
      destroy();
    };
  }
  return { doc, table: options.table, onUnreadable };
};
