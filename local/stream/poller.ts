import { setMaxListeners } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  type ShardIteratorType,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { type StreamSettings, streamSettings } from '../../core/reconcile/run/stream-settings.ts';
import { type CheckpointFile, loadCheckpoint, writeFileAtomic } from './checkpoint.ts';
import { nextSequenceNumber, toLambdaRecord } from './records.ts';
import {
  afterInvocation,
  countTooOld,
  type InvocationOutcome,
  type PendingBatch,
  readBatchResponse,
  shardsReadyToRead,
} from './rules.ts';

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
