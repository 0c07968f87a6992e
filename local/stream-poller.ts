import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  type AttributeValue,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  type ShardIteratorType,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type {
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
  AttributeValue as LambdaAttributeValue,
} from 'aws-lambda';
import { type StreamSettings, streamSettings } from '../core/reconcile/stream-settings.ts';

// The local stand-in for Lambda's event source mapping on the table's stream: it reads DynamoDB
// Local's Streams API and calls the reconciler's handler with the same events, batches, retries and
// checkpoints that Lambda would use, so the handler cannot tell `berth up` from AWS.

/** The reconciler's Lambda handler, as the event source mapping calls it. */
export type StreamHandler = (
  event: DynamoDBStreamEvent,
  // biome-ignore lint/suspicious/noConfusingVoidType: a Lambda stream handler may return nothing
) => Promise<DynamoDBBatchResponse | void>;

/** Where to read, whom to call, and how to behave (the event source mapping's settings). */
export type StreamPollerOptions = {
  /** DynamoDB Local's endpoint. */
  endpoint: string;
  /**
   * The credentials it requires (Berth's launcher checks the key id; DynamoDB Local accepts only
   * alphanumeric access keys and checks nothing else).
   */
  credentials:
    | { accessKeyId: string; secretAccessKey: string }
    | (() => Promise<{ accessKeyId: string; secretAccessKey: string; expiration?: Date }>);
  tableName: string;
  /** JSON file with each shard's position; absent = kept in memory (a restart replays the stream). */
  checkpointFile?: string;
  handler: StreamHandler;
  /** The local stand-in for the failure destination (DLQ): called with the records given up on. */
  onFailure?: (records: DynamoDBRecord[], error: unknown) => void;
  /** Pause between reads of a shard that had nothing new; default 200 ms. */
  pollIntervalMs?: number;
  /** Default: the reconciler's own, shared with infra/. parallelizationFactor is read as 1. */
  settings?: StreamSettings;
  /** Region written into each record's awsRegion (DynamoDB Local reports "ddblocal"); default us-east-1. */
  region?: string;
  /** Errors the poller retries on its own (handler errors, reads, checkpoint writes); default stderr. */
  onError?: (error: unknown, context: { shardId?: string; step: string }) => void;
  /**
   * Resolves when the poller may go on: reading the stream (`read`), or handing records to the
   * handler, which writes (`write`). `berth up` holds the poller while its store is away or its
   * disk is nearly full, so that an outage neither fills the log with failed reads nor spends the
   * batches' retries (records given up on are changes the reconciler may never look at again).
   * Resolves at once when absent; must resolve when `signal` aborts (stop()).
   */
  ready?: (need: 'read' | 'write', signal: AbortSignal) => Promise<void>;
};

/** A running poller. */
export type StreamPoller = {
  /** Lets the handler call in flight finish and checkpoint, then stops reading. */
  stop(): Promise<void>;
  /**
   * Resolves when every record written before the call has been handed to the handler successfully
   * (or dead-lettered); rejects after timeoutMs (default 10 s) or when the poller stops.
   */
  drain(timeoutMs?: number): Promise<void>;
};

/**
 * `unreadable`: DynamoDB Local could not hand the records over at all (their records then carry
 * only a sequence number); see readPastUnreadable.
 */
export type DiscardReason = 'retries_exhausted' | 'too_old' | 'unreadable';

/** Why records went to onFailure, as Lambda's failure destination would say it. */
export class StreamRecordsDiscarded extends Error {
  readonly reason: DiscardReason;
  constructor(reason: DiscardReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StreamRecordsDiscarded';
    this.reason = reason;
  }
}

/** New shards appear when a shard closes (we look then) or rarely otherwise (we look this often). */
const discoveryIntervalMs = 5_000;
/** GetRecords' own limit. */
const maxRecordsPerRead = 1_000;

const retryDelayMs = (attempt: number): number => Math.min(100 * 2 ** (attempt - 1), 5_000);
/** Failed reads in a row, all InternalFailure, before the poller looks for a record it cannot read. */
const unreadableAfterFailures = 3;
/** How far past the checkpoint the poller looks for the next readable record, per look. */
const maxUnreadableSkip = 1_000;

/**
 * The sequence number after `sequenceNumber`. DynamoDB Local numbers a stream's records 1, 2, 3…
 * (21 digits); undefined for any other form (real DynamoDB's), where positions cannot be named.
 */
export const nextSequenceNumber = (sequenceNumber: string): string | undefined =>
  /^\d{1,40}$/.test(sequenceNumber)
    ? (BigInt(sequenceNumber) + 1n).toString().padStart(sequenceNumber.length, '0')
    : undefined;

// --- records: the Streams API's shape -> the Lambda event's shape ---------------------------------

const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

const attributeMembers = ['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL'] as const;

/** The SDK decodes binaries to bytes; Lambda delivers the wire JSON, where they are base64 text. */
const toLambdaValue = (value: AttributeValue): LambdaAttributeValue => {
  if (value.B !== undefined) return { B: toBase64(value.B) };
  if (value.BS !== undefined) return { BS: value.BS.map(toBase64) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaValue) };
  // The SDK reads the wire's `{"M":{}}` (an empty map) as a value with no member set; Lambda
  // delivers it as it is, and util-dynamodb's unmarshall refuses a value without a member.
  if (attributeMembers.every((member) => value[member] === undefined)) return { M: {} };
  // S, N, SS, NS, NULL and BOOL are the same JSON on both sides.
  return value as unknown as LambdaAttributeValue;
};

const toLambdaImage = (image: Record<string, AttributeValue>): Record<string, LambdaAttributeValue> =>
  Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toLambdaValue(value)]));

/**
 * A stream record as Lambda hands it to a function: images stay in attribute-value JSON, the
 * creation time is epoch seconds, the source is the stream's ARN.
 */
export const toLambdaRecord = (record: _Record, streamArn: string, region: string): DynamoDBRecord => {
  const change = record.dynamodb ?? {};
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    dynamodb: {
      ...(change.ApproximateCreationDateTime
        ? { ApproximateCreationDateTime: Math.floor(change.ApproximateCreationDateTime.getTime() / 1000) }
        : {}),
      ...(change.Keys ? { Keys: toLambdaImage(change.Keys) } : {}),
      ...(change.NewImage ? { NewImage: toLambdaImage(change.NewImage) } : {}),
      ...(change.OldImage ? { OldImage: toLambdaImage(change.OldImage) } : {}),
      SequenceNumber: change.SequenceNumber,
      SizeBytes: change.SizeBytes,
      StreamViewType: change.StreamViewType,
    },
    eventSourceARN: streamArn,
    // Present on TTL deletions (the service principal), as in Lambda's events.
    ...(record.userIdentity ? { userIdentity: record.userIdentity } : {}),
  };
};

// --- failure handling: pure, so the rules read in one place -------------------------------------

/** What the handler's call came to. */
export type InvocationOutcome =
  | { kind: 'ok' }
  /** Index in the batch of the record with the lowest failed sequence number. */
  | { kind: 'partial'; firstFailed: number }
  | { kind: 'error'; error: unknown };

/** Records still to hand to the handler, and how often exactly these were tried already. */
export type PendingBatch = { records: DynamoDBRecord[]; attempts: number };

/**
 * Reads a handler's answer as Lambda does: nothing, `{}` or an empty `batchItemFailures` is success;
 * an itemIdentifier that is empty or not a sequence number of the batch fails the whole batch.
 */
export const readBatchResponse = (
  response: unknown,
  records: readonly DynamoDBRecord[],
  settings: StreamSettings,
): InvocationOutcome => {
  if (!settings.functionResponseTypes.includes('ReportBatchItemFailures')) return { kind: 'ok' };
  const failures = (response as Partial<DynamoDBBatchResponse> | null | undefined)?.batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'ok' };
  if (!Array.isArray(failures)) {
    return { kind: 'error', error: new Error('batchItemFailures is not a list') };
  }
  if (failures.length === 0) return { kind: 'ok' };
  let firstFailed = records.length;
  for (const failure of failures) {
    const id: unknown = failure?.itemIdentifier;
    const index =
      typeof id === 'string' && id !== '' ? records.findIndex((r) => r.dynamodb?.SequenceNumber === id) : -1;
    if (index < 0) {
      return {
        kind: 'error',
        error: new Error(`batchItemFailures names ${JSON.stringify(id)}, not a sequence number of the batch`),
      };
    }
    firstFailed = Math.min(firstFailed, index);
  }
  return { kind: 'partial', firstFailed };
};

/**
 * Lambda's rules after an invocation: records before the lowest failure are done; with bisect on,
 * a batch that failed from its first record is split in halves (a split is not a retry); otherwise
 * the failed rest is retried until maximumRetryAttempts, then given up on as a whole.
 */
export const afterInvocation = (
  batch: PendingBatch,
  outcome: InvocationOutcome,
  settings: StreamSettings,
): { succeeded: DynamoDBRecord[]; retry: PendingBatch[]; discarded: DynamoDBRecord[] } => {
  if (outcome.kind === 'ok') return { succeeded: batch.records, retry: [], discarded: [] };
  const failedFrom = outcome.kind === 'partial' ? outcome.firstFailed : 0;
  const succeeded = batch.records.slice(0, failedFrom);
  const failed = batch.records.slice(failedFrom);
  if (settings.bisectBatchOnFunctionError && failedFrom === 0 && failed.length > 1) {
    const half = Math.ceil(failed.length / 2);
    return {
      succeeded,
      retry: [
        { records: failed.slice(0, half), attempts: 0 },
        { records: failed.slice(half), attempts: 0 },
      ],
      discarded: [],
    };
  }
  const attempts = batch.attempts + 1;
  if (settings.maximumRetryAttempts >= 0 && attempts > settings.maximumRetryAttempts) {
    return { succeeded, retry: [], discarded: failed };
  }
  return { succeeded, retry: [{ records: failed, attempts }], discarded: [] };
};

/** How many records at the head of the batch are past maximumRecordAgeInSeconds. */
const countTooOld = (records: readonly DynamoDBRecord[], settings: StreamSettings, nowMs: number): number => {
  if (settings.maximumRecordAgeInSeconds < 0) return 0;
  const oldest = nowMs / 1000 - settings.maximumRecordAgeInSeconds;
  // Only a leading run: the checkpoint moves past what is dropped, so a fresh record in front of a
  // stale one (clock skew) must not be skipped with it.
  let count = 0;
  while (
    count < records.length &&
    (records[count]?.dynamodb?.ApproximateCreationDateTime ?? oldest) < oldest
  ) {
    count += 1;
  }
  return count;
};

/**
 * Shard lineage: a shard is read only once its parent has been read to its end (or has left the
 * stream), so that the changes to one item are handed over in the order they were made.
 */
export const shardsReadyToRead = (
  shards: readonly { shardId: string; parentShardId?: string }[],
  finished: ReadonlySet<string>,
  started: ReadonlySet<string>,
): string[] => {
  const listed = new Set(shards.map((shard) => shard.shardId));
  return shards
    .filter((shard) => !finished.has(shard.shardId) && !started.has(shard.shardId))
    .filter(
      (shard) =>
        shard.parentShardId === undefined ||
        !listed.has(shard.parentShardId) ||
        finished.has(shard.parentShardId),
    )
    .map((shard) => shard.shardId);
};

// --- checkpoint file ------------------------------------------------------------------------------

/** A shard's position: the last record handled (successfully or dead-lettered), or read to its end. */
type ShardCheckpoint = { sequenceNumber?: string; finished?: true };
type CheckpointFile = { version: 1; streamArn: string; shards: Record<string, ShardCheckpoint> };

const loadCheckpoint = async (
  file: string | undefined,
  streamArn: string,
): Promise<{ shards: Record<string, ShardCheckpoint>; fresh: boolean }> => {
  if (!file) return { shards: {}, fresh: true };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { shards: {}, fresh: true };
    throw error;
  }
  let parsed: Partial<CheckpointFile>;
  try {
    parsed = JSON.parse(text) as Partial<CheckpointFile>;
  } catch (error) {
    // Never written half (atomic replace), so this is a hand edit: refuse rather than guess.
    throw new Error(`stream checkpoint ${file} is not JSON; delete it to replay the stream`, {
      cause: error,
    });
  }
  // Positions in another stream (the table was recreated) mean nothing in this one.
  if (parsed.streamArn !== streamArn || typeof parsed.shards !== 'object' || parsed.shards === null) {
    return { shards: {}, fresh: true };
  }
  return { shards: { ...parsed.shards }, fresh: false };
};

/** Temp file + fsync + rename + fsync of the directory: a crash leaves the old file or the new one. */
const writeFileAtomic = async (file: string, text: string): Promise<void> => {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  const directory = await open(dirname(file), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
};

// --- the poller -----------------------------------------------------------------------------------

type ShardState = {
  id: string;
  parentId?: string;
  started: boolean;
  finished: boolean;
  /** Where to start without a checkpoint (LATEST only for open shards of a fresh LATEST mapping). */
  startAt: ShardIteratorType;
  /** The shard's first sequence number, as DescribeStream lists it. */
  firstSequenceNumber?: string;
  /** When the last read that found nothing new began (performance.now()); drain() compares it. */
  caughtUpSince: number;
};

const isNamed = (error: unknown, name: string): boolean => (error as { name?: unknown })?.name === name;

/**
 * Starts polling the table's stream and handing its records to `handler` with Lambda's event
 * source mapping semantics: per shard in order (parents before children, shards concurrently),
 * batches of up to batchSize, partial batch responses redelivering from the lowest failed sequence
 * number, retries with backoff and bisection after a thrown error, records given up on passed to
 * onFailure, and each shard's position checkpointed (atomically) after every batch.
 * Resolves once the stream was found and its shards listed.
 */
export const startStreamPoller = async (options: StreamPollerOptions): Promise<StreamPoller> => {
  const settings = options.settings ?? streamSettings;
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const region = options.region ?? 'us-east-1';
  const onError =
    options.onError ??
    ((error: unknown, context: object) => console.error('berth: stream poller error', context, error));
  const onFailure =
    options.onFailure ??
    ((records: DynamoDBRecord[], error: unknown) =>
      console.error(
        'berth: stream records given up on',
        {
          count: records.length,
          firstSequenceNumber: records[0]?.dynamodb?.SequenceNumber,
          lastSequenceNumber: records.at(-1)?.dynamodb?.SequenceNumber,
        },
        error,
      ));
  const clientConfig = {
    endpoint: options.endpoint,
    region,
    credentials: options.credentials,
    // A stalled store must not hold a read for ever (DynamoDB Local stopped, a half-open socket):
    // a read that times out is retried from the checkpoint like any failed read.
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
  };

  const tables = new DynamoDBClient(clientConfig);
  let streamArn: string;
  try {
    const { Table: table } = await tables.send(new DescribeTableCommand({ TableName: options.tableName }));
    if (!table?.LatestStreamArn || table.StreamSpecification?.StreamEnabled === false) {
      throw new Error(`table ${options.tableName} has no stream enabled`);
    }
    streamArn = table.LatestStreamArn;
  } finally {
    tables.destroy();
  }

  const checkpointFile = options.checkpointFile;
  if (checkpointFile) await mkdir(dirname(checkpointFile), { recursive: true });
  const loaded = await loadCheckpoint(checkpointFile, streamArn);
  const positions = loaded.shards;
  let firstDiscovery = true;

  // Writes run one after another, each writing the newest positions of all shards.
  let writes: Promise<void> = Promise.resolve();
  const saveCheckpoint = (): Promise<void> => {
    if (!checkpointFile) return Promise.resolve();
    const write = writes.then(() =>
      writeFileAtomic(
        checkpointFile,
        `${JSON.stringify({ version: 1, streamArn, shards: positions } satisfies CheckpointFile, null, 2)}\n`,
      ),
    );
    writes = write.catch(() => {});
    return write;
  };

  const streams = new DynamoDBStreamsClient(clientConfig);
  const stopController = new AbortController();
  const stopSignal = stopController.signal;
  // Every read in flight and every pause listens to it: one per shard, plus drains.
  setMaxListeners(0, stopSignal);
  const stopping = () => stopSignal.aborted;

  /** A pause cut short by stop(). */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopping()) return resolve();
      const done = () => {
        clearTimeout(timer);
        stopSignal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stopSignal.addEventListener('abort', done);
    });

  // Idle pauses (nothing to read) also end early when someone waits for the poller: drain(), or a
  // finished parent whose children should start now.
  const idleWaiters = new Set<() => void>();
  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopping()) return resolve();
      const done = () => {
        clearTimeout(timer);
        idleWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      idleWaiters.add(done);
    });
  const wakeIdle = () => {
    for (const wake of [...idleWaiters]) wake();
  };
  let draining = 0;

  const shards = new Map<string, ShardState>();
  const workers = new Set<Promise<void>>();
  let discoveryWanted = false;
  /** performance.now() at the start of the last complete listing of the shards. */
  let discoveredSince = Number.NEGATIVE_INFINITY;

  const commit = async (shard: ShardState, last: DynamoDBRecord) => {
    positions[shard.id] = { sequenceNumber: last.dynamodb?.SequenceNumber };
    await saveCheckpoint();
  };

  const discard = async (shard: ShardState, records: DynamoDBRecord[], error: StreamRecordsDiscarded) => {
    try {
      onFailure(records, error);
    } catch (failure) {
      onError(failure, { shardId: shard.id, step: 'on-failure' });
    }
    // Like Lambda after sending to the failure destination: move on past them.
    const last = records.at(-1);
    if (last) await commit(shard, last);
  };

  const invoke = async (records: DynamoDBRecord[]): Promise<InvocationOutcome> => {
    try {
      // A copy: the handler must not be able to change what a retry hands over.
      const response = await options.handler({ Records: [...records] });
      return readBatchResponse(response, records, settings);
    } catch (error) {
      return { kind: 'error', error };
    }
  };

  /** Hands one read's records over until each succeeded or was given up on; false when stopped. */
  const deliver = async (shard: ShardState, records: DynamoDBRecord[]): Promise<boolean> => {
    const queue: PendingBatch[] = [{ records, attempts: 0 }];
    for (let batch = queue[0]; batch; batch = queue[0]) {
      const tooOld = countTooOld(batch.records, settings, Date.now());
      if (tooOld > 0) {
        await discard(
          shard,
          batch.records.slice(0, tooOld),
          new StreamRecordsDiscarded(
            'too_old',
            `older than maximumRecordAgeInSeconds (${settings.maximumRecordAgeInSeconds})`,
          ),
        );
        batch = { records: batch.records.slice(tooOld), attempts: batch.attempts };
        if (batch.records.length === 0) {
          queue.shift();
          continue;
        }
      }
      if (batch.attempts > 0) await pause(retryDelayMs(batch.attempts));
      await options.ready?.('write', stopSignal);
      // Between calls is where stop() takes effect: the checkpoint already covers what was handled.
      if (stopping()) return false;
      const outcome = await invoke(batch.records);
      if (outcome.kind === 'error') onError(outcome.error, { shardId: shard.id, step: 'handler' });
      const next = afterInvocation(batch, outcome, settings);
      const lastSucceeded = next.succeeded.at(-1);
      if (lastSucceeded) await commit(shard, lastSucceeded);
      if (next.discarded.length > 0) {
        await discard(
          shard,
          next.discarded,
          new StreamRecordsDiscarded(
            'retries_exhausted',
            `failed after ${settings.maximumRetryAttempts} retries`,
            outcome.kind === 'error' ? { cause: outcome.error } : undefined,
          ),
        );
      }
      queue.splice(0, 1, ...next.retry);
    }
    return true;
  };

  /** An iterator just past the shard's checkpoint; undefined when the shard has left the stream. */
  const openIterator = async (shard: ShardState): Promise<string | undefined> => {
    const get = async (type: ShardIteratorType, sequenceNumber?: string) =>
      (
        await streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shard.id,
            ShardIteratorType: type,
            SequenceNumber: sequenceNumber,
          }),
          { abortSignal: stopSignal },
        )
      ).ShardIterator;
    try {
      const sequenceNumber = positions[shard.id]?.sequenceNumber;
      if (sequenceNumber) {
        try {
          return await get('AFTER_SEQUENCE_NUMBER', sequenceNumber);
        } catch (error) {
          // Past the stream's retention (24 h) the checkpoint's records are gone: the oldest record
          // left is the next one we have not seen. A sequence number the shard does not know (a
          // checkpoint from another database) is read from the start: at least once, never lost.
          if (!(error instanceof TrimmedDataAccessException) && !isNamed(error, 'ValidationException')) {
            throw error;
          }
          onError(error, { shardId: shard.id, step: 'resume-from-checkpoint' });
        }
      }
      return await get(shard.startAt);
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  };

  const finish = async (shard: ShardState) => {
    shard.finished = true;
    positions[shard.id] = { ...positions[shard.id], finished: true };
    await saveCheckpoint();
    // Its children may start now rather than at the next periodic listing.
    discoveryWanted = true;
    wakeIdle();
  };

  /** The record at `sequenceNumber` (or the first after it), read alone; none at the shard's end. */
  const readOne = async (shard: ShardState, sequenceNumber: string): Promise<DynamoDBRecord[]> => {
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shard.id,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        SequenceNumber: sequenceNumber,
      }),
      { abortSignal: stopSignal },
    );
    const page = await streams.send(new GetRecordsCommand({ ShardIterator, Limit: 1 }), {
      abortSignal: stopSignal,
    });
    return (page.Records ?? []).map((record) => toLambdaRecord(record, streamArn, region));
  };

  /** The record at `sequenceNumber` read alone, or `unreadable` after that many InternalFailures. */
  const readOneOrNot = async (
    shard: ShardState,
    sequenceNumber: string,
  ): Promise<DynamoDBRecord[] | 'unreadable'> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await readOne(shard, sequenceNumber);
      } catch (error) {
        if (!isNamed(error, 'InternalFailure') || stopping()) throw error;
        if (attempt >= unreadableAfterFailures) return 'unreadable';
        await pause(retryDelayMs(attempt));
      }
    }
  };

  /**
   * DynamoDB Local stores an item whose member name holds a lone surrogate but then cannot read it,
   * nor any stream record whose image holds it, and GetRecords reads one record past its Limit: every
   * read that reaches such a record fails with InternalFailure, and the shard would be blocked for
   * good. So, after reads failed that way: hand over the records one at a time up to the first that
   * cannot be read (it, or the one after it, is bad), then give up on the records up to the next
   * readable one, as the failure destination would get them (onFailure, checkpoint past them). Only
   * for DynamoDB Local: its numbering (1, 2, 3…) is what lets positions past a record be named, and
   * requests are checked for lone surrogates before anything is written. False when stopped.
   */
  const readPastUnreadable = async (shard: ShardState): Promise<boolean> => {
    const checkpoint = positions[shard.id]?.sequenceNumber;
    let next = checkpoint ? nextSequenceNumber(checkpoint) : shard.firstSequenceNumber;
    if (!next) return true;
    for (let read = 0; read <= settings.batchSize; read++) {
      if (stopping()) return false;
      const one = await readOneOrNot(shard, next);
      if (one === 'unreadable') break;
      const record = one[0];
      // Nothing left to read, or the batch is readable one by one: the failure is behind us.
      if (!record || read === settings.batchSize) return true;
      if (!(await deliver(shard, one))) return false;
      const after = nextSequenceNumber(record.dynamodb?.SequenceNumber ?? '');
      if (!after) return true;
      next = after;
    }
    const skipped: DynamoDBRecord[] = [];
    for (let candidate: string | undefined = next; candidate && skipped.length < maxUnreadableSkip; ) {
      if (stopping()) return false;
      skipped.push({ eventSourceARN: streamArn, dynamodb: { SequenceNumber: candidate } });
      candidate = nextSequenceNumber(candidate);
      if (candidate && (await readOneOrNot(shard, candidate)) !== 'unreadable') break;
    }
    await discard(
      shard,
      skipped,
      new StreamRecordsDiscarded(
        'unreadable',
        `DynamoDB Local could not read stream records ${skipped[0]?.dynamodb?.SequenceNumber} to ${skipped.at(-1)?.dynamodb?.SequenceNumber}`,
      ),
    );
    return true;
  };

  /** Reads one shard to its end (or until stop), one batch at a time. */
  const readShard = async (shard: ShardState) => {
    const limit = Math.min(settings.batchSize, maxRecordsPerRead);
    const windowMs = settings.maximumBatchingWindowInSeconds * 1000;
    let iterator: string | undefined;
    let failures = 0;
    let unreadableFailures = 0;
    while (!stopping()) {
      try {
        await options.ready?.('read', stopSignal);
        if (stopping()) return;
        if (iterator === undefined) {
          iterator = await openIterator(shard);
          if (iterator === undefined) {
            await finish(shard);
            return;
          }
        }
        const readStartedAt = performance.now();
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }), {
          abortSignal: stopSignal,
        });
        let raw = page.Records ?? [];
        let next = page.NextShardIterator;
        if (raw.length > 0 && windowMs > 0) {
          // The batching window: gather until the batch is full or the window has passed.
          const deadline = performance.now() + windowMs;
          while (raw.length < settings.batchSize && next && !stopping() && performance.now() < deadline) {
            await idle(Math.min(pollIntervalMs, deadline - performance.now()));
            const more = await streams.send(
              new GetRecordsCommand({
                ShardIterator: next,
                Limit: Math.min(settings.batchSize - raw.length, maxRecordsPerRead),
              }),
              { abortSignal: stopSignal },
            );
            raw = raw.concat(more.Records ?? []);
            next = more.NextShardIterator;
          }
        }
        failures = 0;
        unreadableFailures = 0;
        if (raw.length > 0) {
          const records = raw.map((record) => toLambdaRecord(record, streamArn, region));
          if (!(await deliver(shard, records))) return;
        }
        // No next iterator: the shard is closed and we have read all of it.
        if (next === undefined) {
          await finish(shard);
          return;
        }
        iterator = next;
        if (raw.length === 0) {
          shard.caughtUpSince = readStartedAt;
          await idle(draining > 0 ? Math.min(pollIntervalMs, 10) : pollIntervalMs);
        }
      } catch (error) {
        if (stopping()) return;
        // Reopen from the checkpoint, which is exactly what was handled: an expired iterator (15
        // minutes old, after a long handler call) or any failed read starts over from there.
        iterator = undefined;
        if (error instanceof ExpiredIteratorException) continue;
        failures += 1;
        unreadableFailures = isNamed(error, 'InternalFailure') ? unreadableFailures + 1 : 0;
        onError(error, { shardId: shard.id, step: 'read' });
        if (unreadableFailures >= unreadableAfterFailures) {
          unreadableFailures = 0;
          try {
            if (!(await readPastUnreadable(shard))) return;
            failures = 0;
          } catch (probeError) {
            if (stopping()) return;
            onError(probeError, { shardId: shard.id, step: 'read-past-unreadable' });
          }
          continue;
        }
        await pause(retryDelayMs(failures));
      }
    }
  };

  const startReading = (shard: ShardState) => {
    shard.started = true;
    const worker = readShard(shard).catch((error) => onError(error, { shardId: shard.id, step: 'read' }));
    workers.add(worker);
    void worker.finally(() => workers.delete(worker));
  };

  /** Lists the shards, forgets those gone from the stream and starts those whose turn it is. */
  const discover = async () => {
    const startedAt = performance.now();
    const listed: { shardId: string; parentShardId?: string; closed: boolean; first?: string }[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const page = await streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
        { abortSignal: stopSignal },
      );
      for (const shard of page.StreamDescription?.Shards ?? []) {
        if (!shard.ShardId) continue;
        listed.push({
          shardId: shard.ShardId,
          parentShardId: shard.ParentShardId,
          closed: shard.SequenceNumberRange?.EndingSequenceNumber !== undefined,
          first: shard.SequenceNumberRange?.StartingSequenceNumber,
        });
      }
      exclusiveStartShardId = page.StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);

    const latestFromScratch = firstDiscovery && loaded.fresh && settings.startingPosition === 'LATEST';
    for (const { shardId, parentShardId, closed, first } of listed) {
      if (shards.has(shardId)) continue;
      const finished = positions[shardId]?.finished === true || (latestFromScratch && closed);
      shards.set(shardId, {
        id: shardId,
        parentId: parentShardId,
        started: false,
        finished,
        startAt: latestFromScratch ? 'LATEST' : 'TRIM_HORIZON',
        ...(latestFromScratch || !first ? {} : { firstSequenceNumber: first }),
        caughtUpSince: Number.NEGATIVE_INFINITY,
      });
      if (finished) positions[shardId] = { ...positions[shardId], finished: true };
    }
    firstDiscovery = false;
    // Shards past the stream's retention are gone for good; so are their checkpoints.
    const listedIds = new Set(listed.map((shard) => shard.shardId));
    for (const [id, shard] of shards) {
      if (!listedIds.has(id) && (shard.finished || !shard.started)) shards.delete(id);
    }
    for (const id of Object.keys(positions)) if (!shards.has(id)) delete positions[id];

    const states = [...shards.values()];
    const ready = shardsReadyToRead(
      listed,
      new Set(states.filter((s) => s.finished).map((s) => s.id)),
      new Set(states.filter((s) => s.started).map((s) => s.id)),
    );
    for (const id of ready) {
      const shard = shards.get(id);
      if (shard) startReading(shard);
    }
    discoveredSince = startedAt;
  };

  try {
    await discover();
  } catch (error) {
    stopController.abort();
    streams.destroy();
    throw error;
  }

  const discovery = (async () => {
    while (!stopping()) {
      if (!discoveryWanted) await idle(discoveryIntervalMs);
      discoveryWanted = false;
      if (stopping()) return;
      try {
        await options.ready?.('read', stopSignal);
        if (stopping()) return;
        await discover();
      } catch (error) {
        if (!stopping()) onError(error, { step: 'describe-stream' });
      }
    }
  })();

  let stopped: Promise<void> | undefined;
  return {
    stop: () => {
      stopped ??= (async () => {
        stopController.abort();
        wakeIdle();
        await discovery;
        while (workers.size > 0) await Promise.allSettled([...workers]);
        await writes;
        streams.destroy();
      })();
      return stopped;
    },
    drain: async (timeoutMs = 10_000) => {
      const since = performance.now();
      draining += 1;
      discoveryWanted = true;
      wakeIdle();
      try {
        for (;;) {
          if (stopping()) throw new Error('the stream poller was stopped before it drained');
          const behind = [...shards.values()].filter((s) => !s.finished && s.caughtUpSince < since);
          if (discoveredSince >= since && behind.length === 0) return;
          if (performance.now() - since > timeoutMs) {
            throw new Error(
              `the stream poller did not drain within ${timeoutMs} ms; shards behind: ${behind.map((s) => s.id).join(', ') || '(listing pending)'}`,
            );
          }
          await pause(10);
        }
      } finally {
        draining -= 1;
      }
    },
  };
};
