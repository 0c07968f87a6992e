import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type StreamSettings, streamSettings } from '../../core/reconcile/run/stream-settings.ts';
import {
  dynamoDbLocalCredentials,
  ensureTable,
  type LocalDynamo,
  startDynamoDbLocal,
} from '../../local/dynamodb.ts';
import {
  type StreamPoller,
  type StreamPollerOptions,
  StreamRecordsDiscarded,
  startStreamPoller,
} from '../../local/stream/poller.ts';
import { shardsReadyToRead } from '../../local/stream/rules.ts';

let dynamo: LocalDynamo;
let db: DynamoDBClient;
let scratch: string;
const pollers: StreamPoller[] = [];

beforeAll(async () => {
  dynamo = await startDynamoDbLocal({});
  db = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: dynamoDbLocalCredentials(dynamo.accessKeyId),
  });
  scratch = await mkdtemp(join(tmpdir(), 'berth-stream-poller-'));
});

afterEach(async () => {
  await Promise.all(pollers.splice(0).map((poller) => poller.stop()));
});

afterAll(async () => {
  db?.destroy();
  await dynamo?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

let tables = 0;
/** A table of its own per test, so that no test reads another's stream. */
const freshTable = async (): Promise<string> => {
  tables += 1;
  const name = `stream-poller-${tables}`;
  await ensureTable(dynamo, name);
  return name;
};

/** Write number `w` of a test, to item pk/sk; every write carries its number. */
const put = (table: string, w: number, pk = 'item', sk = `w${w}`) =>
  db.send(
    new PutItemCommand({ TableName: table, Item: { pk: { S: pk }, sk: { S: sk }, w: { N: String(w) } } }),
  );

/** `w3` for a write, `-pk/sk` for a removal: what a test expects the handler to have seen. */
const label = (record: DynamoDBRecord): string =>
  record.eventName === 'REMOVE'
    ? `-${record.dynamodb?.Keys?.pk?.S}/${record.dynamodb?.Keys?.sk?.S}`
    : `w${record.dynamodb?.NewImage?.w?.N}`;
const labels = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `w${from + i}`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A handler that keeps every batch it is given and answers what `answer` says. */
const recordingHandler = (
  answer?: (records: DynamoDBRecord[], call: number) => Promise<DynamoDBBatchResponse | undefined>,
) => {
  const calls: DynamoDBRecord[][] = [];
  return {
    calls,
    labels: () => calls.map((records) => records.map(label)),
    handler: async (event: { Records: DynamoDBRecord[] }) => {
      calls.push(event.Records);
      return answer?.(event.Records, calls.length);
    },
  };
};

const start = async (
  options: Omit<StreamPollerOptions, 'endpoint' | 'credentials' | 'settings'> & {
    settings?: Partial<StreamSettings>;
  },
) => {
  const poller = await startStreamPoller({
    endpoint: dynamo.endpoint,
    credentials: dynamoDbLocalCredentials(dynamo.accessKeyId),
    pollIntervalMs: 50,
    onError: () => {},
    ...options,
    settings: { ...streamSettings, ...options.settings },
  });
  pollers.push(poller);
  return poller;
};

const stop = async (poller: StreamPoller) => {
  pollers.splice(pollers.indexOf(poller), 1);
  await poller.stop();
};

describe('stream poller', () => {
  it('hands every write to the handler once, in order per key, shaped as Lambda delivers it', async () => {
    // Prepare
    const table = await freshTable();
    const seen = recordingHandler();
    const poller = await start({ tableName: table, handler: seen.handler, settings: { batchSize: 4 } });
    const expected = new Map<string, string[]>();
    let w = 0;
    for (let round = 0; round < 5; round += 1) {
      for (const pk of ['a', 'b', 'c']) {
        const writes = expected.get(pk) ?? [];
        expected.set(pk, writes);
        if (pk === 'b' && round === 2) {
          await db.send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: pk }, sk: { S: 'x' } } }));
          writes.push(`-${pk}/x`);
        } else {
          await put(table, w, pk, 'x');
          writes.push(`w${w}`);
        }
        w += 1;
      }
    }
    await db.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: 'bin' },
          sk: { S: 'x' },
          w: { N: '99' },
          data: { B: new Uint8Array([1, 2, 3]) },
          none: { M: {} },
          nothing: { L: [] },
        },
      }),
    );

    // Act
    await poller.drain();

    // Assess
    const received = seen.calls.flat();
    expect(received).toHaveLength(16);
    expect(new Set(received.map((r) => r.eventID)).size).toBe(16);
    expect(seen.calls.every((batch) => batch.length >= 1 && batch.length <= 4)).toBe(true);
    const sequence = received.map((r) => BigInt(r.dynamodb?.SequenceNumber ?? '0'));
    expect(sequence.every((n, i) => i === 0 || n > (sequence[i - 1] ?? 0n))).toBe(true);
    for (const [pk, writes] of expected) {
      expect(received.filter((r) => r.dynamodb?.Keys?.pk?.S === pk).map(label)).toEqual(writes);
    }
    const { Table: described } = await db.send(new DescribeTableCommand({ TableName: table }));
    const modify = received.find((r) => r.eventName === 'MODIFY' && r.dynamodb?.Keys?.pk?.S === 'a');
    expect(modify).toMatchObject({
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: described?.LatestStreamArn,
      dynamodb: {
        Keys: { pk: { S: 'a' }, sk: { S: 'x' } },
        NewImage: { pk: { S: 'a' }, sk: { S: 'x' }, w: { N: '3' } },
        OldImage: { pk: { S: 'a' }, sk: { S: 'x' }, w: { N: '0' } },
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    expect(Math.abs((modify?.dynamodb?.ApproximateCreationDateTime ?? 0) - Date.now() / 1000)).toBeLessThan(
      120,
    );
    expect(received.at(-1)?.dynamodb?.NewImage?.data).toEqual({ B: 'AQID' });
    // Empty collections keep their type, as in Lambda's event (the SDK alone loses an empty map's).
    expect(received.at(-1)?.dynamodb?.NewImage?.none).toEqual({ M: {} });
    expect(received.at(-1)?.dynamodb?.NewImage?.nothing).toEqual({ L: [] });
  });

  it('redelivers from the lowest reported batch item failure: that record and all after it, none before', async () => {
    // Prepare
    const table = await freshTable();
    for (let w = 0; w < 10; w += 1) await put(table, w);
    const seen = recordingHandler(async (records, call) =>
      call === 1
        ? {
            batchItemFailures: [6, 4].map((w) => ({
              itemIdentifier: records.find((r) => label(r) === `w${w}`)?.dynamodb?.SequenceNumber ?? '',
            })),
          }
        : undefined,
    );
    const failed: DynamoDBRecord[][] = [];

    // Act
    const poller = await start({
      tableName: table,
      handler: seen.handler,
      onFailure: (records) => failed.push(records),
      settings: { batchSize: 10 },
    });
    await poller.drain();

    // Assess
    expect(seen.labels()).toEqual([labels(10), labels(6, 4)]);
    expect(failed).toEqual([]);
  });

  it('bisects a batch whose handler throws and dead-letters the failing record after the retry limit', async () => {
    // Prepare
    const table = await freshTable();
    for (let w = 0; w < 4; w += 1) await put(table, w);
    const poison = new Error('cannot reconcile w2');
    const seen = recordingHandler(async (records) => {
      if (records.some((r) => label(r) === 'w2')) throw poison;
      return undefined;
    });
    const failed: { records: string[]; error: unknown }[] = [];
    const poller = await start({
      tableName: table,
      handler: seen.handler,
      onFailure: (records, error) => failed.push({ records: records.map(label), error }),
      settings: { batchSize: 4, maximumRetryAttempts: 2, bisectBatchOnFunctionError: true },
    });

    // Act
    await poller.drain();
    await put(table, 4);
    await poller.drain();

    // Assess: halves are retried without counting; the lone poison record gets 1 + 2 retries.
    expect(seen.labels()).toEqual([
      ['w0', 'w1', 'w2', 'w3'],
      ['w0', 'w1'],
      ['w2', 'w3'],
      ['w2'],
      ['w2'],
      ['w2'],
      ['w3'],
      ['w4'],
    ]);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.records).toEqual(['w2']);
    expect(failed[0]?.error).toBeInstanceOf(StreamRecordsDiscarded);
    expect(failed[0]?.error).toMatchObject({ reason: 'retries_exhausted', cause: poison });
  });

  it('gives up on a record DynamoDB Local cannot read (and the one read with it) and hands over the rest', async () => {
    // Prepare: w3 names an attribute with a lone surrogate, which DynamoDB Local stores but can
    // never read back, in the table or the stream; GetRecords reads one record past its Limit, so
    // w2 cannot be read without it.
    const table = await freshTable();
    for (let w = 0; w < 3; w += 1) await put(table, w);
    await db.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: 'item' }, sk: { S: 'w3' } },
        UpdateExpression: 'SET w = :w, #bad = :bad',
        ExpressionAttributeNames: { '#bad': '\ud800' },
        ExpressionAttributeValues: { ':w': { N: '3' }, ':bad': { S: 'x' } },
      }),
    );
    for (let w = 4; w < 6; w += 1) await put(table, w);
    const seen = recordingHandler();
    const failed: { records: DynamoDBRecord[]; error: unknown }[] = [];
    const poller = await start({
      tableName: table,
      handler: seen.handler,
      onFailure: (records, error) => failed.push({ records, error }),
    });

    // Act
    await poller.drain(30_000);
    await put(table, 6);
    await poller.drain();

    // Assess
    expect(seen.labels().flat()).toEqual(['w0', 'w1', 'w4', 'w5', 'w6']);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.error).toBeInstanceOf(StreamRecordsDiscarded);
    expect(failed[0]?.error).toMatchObject({ reason: 'unreadable' });
    const [w2, w3] = failed[0]?.records.map((record) => BigInt(record.dynamodb?.SequenceNumber ?? '0')) ?? [];
    const w1 = BigInt(seen.calls.flat()[1]?.dynamodb?.SequenceNumber ?? '0');
    expect([w2, w3]).toEqual([w1 + 1n, w1 + 2n]);
  });

  it('retries the whole batch of a throwing handler without bisect, then dead-letters it and moves on', async () => {
    // Prepare
    const table = await freshTable();
    for (let w = 0; w < 3; w += 1) await put(table, w);
    const seen = recordingHandler(async (records) => {
      if (records.some((r) => label(r) === 'w1')) throw new Error('cannot reconcile w1');
      return undefined;
    });
    const failed: string[][] = [];
    const poller = await start({
      tableName: table,
      handler: seen.handler,
      onFailure: (records) => failed.push(records.map(label)),
      settings: { batchSize: 3, maximumRetryAttempts: 1, bisectBatchOnFunctionError: false },
    });

    // Act
    await poller.drain();
    await put(table, 3);
    await poller.drain();

    // Assess
    expect(seen.labels()).toEqual([labels(3), labels(3), ['w3']]);
    expect(failed).toEqual([labels(3)]);
  });

  it('dead-letters records older than maximumRecordAgeInSeconds without handing them to the handler', async () => {
    // Prepare
    const table = await freshTable();
    await put(table, 0);
    await put(table, 1);
    await sleep(1_100);
    const seen = recordingHandler();
    const failed: { records: string[]; error: unknown }[] = [];

    // Act
    const poller = await start({
      tableName: table,
      handler: seen.handler,
      onFailure: (records, error) => failed.push({ records: records.map(label), error }),
      settings: { maximumRecordAgeInSeconds: 1 },
    });
    await poller.drain();

    // Assess
    expect(seen.calls).toEqual([]);
    expect(failed.flatMap((f) => f.records)).toEqual(['w0', 'w1']);
    expect(failed[0]?.error).toMatchObject({ reason: 'too_old' });
  });

  it('resumes from the checkpoint file after a restart: handled records stay handled, writes made while stopped arrive', async () => {
    // Prepare
    const table = await freshTable();
    const checkpointFile = join(scratch, 'restart', 'checkpoint.json');
    for (let w = 0; w < 3; w += 1) await put(table, w);
    const before = recordingHandler();
    const first = await start({ tableName: table, handler: before.handler, checkpointFile });
    await first.drain();
    await stop(first);
    for (let w = 3; w < 5; w += 1) await put(table, w);

    // Act
    const after = recordingHandler();
    const second = await start({ tableName: table, handler: after.handler, checkpointFile });
    await second.drain();

    // Assess
    expect(before.labels().flat()).toEqual(labels(3));
    expect(after.labels().flat()).toEqual(labels(2, 3));
    const stored = JSON.parse(await readFile(checkpointFile, 'utf8'));
    const { Table: described } = await db.send(new DescribeTableCommand({ TableName: table }));
    expect(stored.streamArn).toBe(described?.LatestStreamArn);
    expect(Object.values(stored.shards)).toContainEqual({
      sequenceNumber: after.calls.flat().at(-1)?.dynamodb?.SequenceNumber,
    });
  });

  it('redelivers what came after a checkpoint file that was rolled back (at least once)', async () => {
    // Prepare
    const table = await freshTable();
    const checkpointFile = join(scratch, 'rollback', 'checkpoint.json');
    const saved = join(scratch, 'rollback', 'saved.json');
    await put(table, 0);
    await put(table, 1);
    const first = await start({ tableName: table, handler: recordingHandler().handler, checkpointFile });
    await first.drain();
    await stop(first);
    await copyFile(checkpointFile, saved);
    const second = await start({ tableName: table, handler: recordingHandler().handler, checkpointFile });
    for (let w = 2; w < 5; w += 1) await put(table, w);
    await second.drain();
    await stop(second);

    // Act
    await copyFile(saved, checkpointFile);
    const again = recordingHandler();
    const third = await start({ tableName: table, handler: again.handler, checkpointFile });
    await third.drain();

    // Assess
    expect(again.labels().flat()).toEqual(labels(3, 2));
  });

  it('lets the batch in flight finish on stop() and checkpoints it', async () => {
    // Prepare
    const table = await freshTable();
    const checkpointFile = join(scratch, 'stop', 'checkpoint.json');
    for (let w = 0; w < 3; w += 1) await put(table, w);
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let called = false;
    const finished: string[] = [];
    const first = await start({
      tableName: table,
      checkpointFile,
      handler: async (event) => {
        called = true;
        await gate;
        finished.push(...event.Records.map(label));
      },
    });
    while (!called) await sleep(10);

    // Act
    let stopped = false;
    const stopping = stop(first).then(() => {
      stopped = true;
    });
    await sleep(200);
    const stoppedBeforeRelease = stopped;
    release();
    await stopping;
    await put(table, 3);
    const after = recordingHandler();
    const second = await start({ tableName: table, handler: after.handler, checkpointFile });
    await second.drain();

    // Assess
    expect(stoppedBeforeRelease).toBe(false);
    expect(finished).toEqual(labels(3));
    expect(after.labels().flat()).toEqual(['w3']);
  });

  it('drain() resolves only after the pending records were handled', async () => {
    // Prepare
    const table = await freshTable();
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handled: string[] = [];
    const poller = await start({
      tableName: table,
      handler: async (event) => {
        await gate;
        handled.push(...event.Records.map(label));
      },
      settings: { batchSize: 2 },
    });
    for (let w = 0; w < 5; w += 1) await put(table, w);

    // Act
    let drained = false;
    const draining = poller.drain().then(() => {
      drained = true;
    });
    await sleep(300);
    const drainedWhileBlocked = drained;
    release();
    await draining;

    // Assess
    expect(drainedWhileBlocked).toBe(false);
    expect(handled).toEqual(labels(5));
  });

  it('reads a child shard only after its parent shard was read to its end', () => {
    // Prepare: parent -> child -> grandchild, plus a shard whose parent already left the stream.
    const shards = [
      { shardId: 'parent' },
      { shardId: 'child', parentShardId: 'parent' },
      { shardId: 'grandchild', parentShardId: 'child' },
      { shardId: 'orphan', parentShardId: 'trimmed' },
    ];

    // Act
    const atStart = shardsReadyToRead(shards, new Set(), new Set());
    const parentDone = shardsReadyToRead(shards, new Set(['parent']), new Set(['parent', 'orphan']));
    const childDone = shardsReadyToRead(
      shards,
      new Set(['parent', 'child']),
      new Set(['parent', 'orphan', 'child']),
    );

    // Assess
    expect(atStart).toEqual(['parent', 'orphan']);
    expect(parentDone).toEqual(['child']);
    expect(childDone).toEqual(['grandchild']);
  });
});
