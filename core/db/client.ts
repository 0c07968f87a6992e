import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Capacity consumed, as DynamoDB reports it (ReturnConsumedCapacity), by kind of call. */
export type Meter = {
  readUnits: number;
  writeUnits: number;
  calls: Record<string, number>;
  reset: () => void;
};

/** The table handle every repository function takes. SDK objects never leave core/db. */
export type Db = {
  readonly doc: DynamoDBDocumentClient;
  readonly table: string;
  /** Present when the client was created with `meter: true` (benchmarks). */
  readonly meter?: Meter;
};

export type DbOptions = {
  table: string;
  region: string;
  /** DynamoDB Local's URL; absent on AWS. */
  endpoint?: string;
  /** Ask DynamoDB for the capacity of every call and add it up (for benchmarks). */
  meter?: boolean;
};

type Capacity = { ReadCapacityUnits?: number; WriteCapacityUnits?: number; CapacityUnits?: number };

const newMeter = (): Meter => {
  const meter: Meter = {
    readUnits: 0,
    writeUnits: 0,
    calls: {},
    reset: () => {
      meter.readUnits = 0;
      meter.writeUnits = 0;
      meter.calls = {};
    },
  };
  return meter;
};

const writeCommands = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'TransactWriteItemsCommand',
  'BatchWriteItemCommand',
]);

export const createDb = (options: DbOptions): Db => {
  const client = new DynamoDBClient({
    region: options.region,
    ...(options.endpoint
      ? {
          endpoint: options.endpoint,
          // DynamoDB Local accepts any alphanumeric key; never let it pick up real ones by accident.
          credentials: { accessKeyId: 'berthlocal', secretAccessKey: 'berthlocal' },
        }
      : {}),
    maxAttempts: 5,
  });
  const meter = options.meter ? newMeter() : undefined;
  if (meter) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { ReturnConsumedCapacity?: string };
        input.ReturnConsumedCapacity ??= 'TOTAL';
        const result = await next(args);
        const name = context.commandName ?? 'unknown';
        meter.calls[name] = (meter.calls[name] ?? 0) + 1;
        const consumed = (result.output as { ConsumedCapacity?: Capacity | Capacity[] }).ConsumedCapacity;
        for (const capacity of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
          // DynamoDB Local answers CapacityUnits only; a write call's units are write units.
          const units = capacity.CapacityUnits ?? 0;
          if (writeCommands.has(name)) meter.writeUnits += capacity.WriteCapacityUnits ?? units;
          else meter.readUnits += capacity.ReadCapacityUnits ?? units;
        }
        return result;
      },
      { step: 'initialize', name: 'berthCapacityMeter' },
    );
  }
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return { doc, table: options.table, ...(meter ? { meter } : {}) };
};
