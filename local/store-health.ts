import { statfs } from 'node:fs/promises';
import type { DbGate } from '../core/db/client.ts';
import { storeUnavailable } from '../core/errors.ts';
import { type DynamoDbLocalAccess, ensureTable, type LocalDynamo, startDynamoDbLocal } from './dynamodb.ts';

// `berth up`'s store can fail in ways a managed table does not: its JVM dies or stalls, and its disk
// fills up, where DynamoDB Local answers TransactWriteItems with 200 while sqlite stored nothing
// (docs/reliability.md). This file keeps the store's health: it restarts a JVM that died, watches
// the data directory's free space, and tells the database client (a gate), the stream poller and
// the sweeper (wait) and `GET /health` (a report) what may be done now.

/** What `GET /health` answers and `berth status` shows. */
export type HealthReport = {
  store: 'up' | 'restarting' | 'failed';
  writes: 'accepted' | 'refused';
  /** Why not everything is accepted, for people; absent when it is. */
  reason?: string;
  /** When the trouble in `reason` began (ISO 8601). */
  since?: string;
  /** The data directory's free space and the margin below which writes are refused. */
  disk?: { freeBytes: number; minFreeBytes: number };
};

export type StoreHealth = {
  report: () => HealthReport;
  /** For createDb: every call refused while the store is away, writes while the disk is low. */
  gate: DbGate;
  /** For the stream poller: resolves once reading (or writing) is possible, or when `signal` aborts. */
  ready: (need: 'read' | 'write', signal: AbortSignal) => Promise<void>;
  /** Whether writes are accepted now. */
  writable: () => boolean;
  /** When writes last became possible again after a refusal (ms since the epoch); 0 if never refused. */
  writableSince: () => number;
  setStore: (state: HealthReport['store'], reason?: string) => void;
  setDisk: (disk: { low: boolean; reason?: string; freeBytes: number; minFreeBytes: number }) => void;
};

/** Retry-After while the store restarts: a JVM is back in a few seconds. */
const restartingRetryAfterSeconds = 2;
/** Retry-After while the disk is low: room is made by a person or a cleanup job, not in a second. */
const diskRetryAfterSeconds = 10;

export const createStoreHealth = (): StoreHealth => {
  let store: { state: HealthReport['store']; reason?: string; since?: string } = { state: 'up' };
  let disk:
    | { low: boolean; reason?: string; since?: string; freeBytes: number; minFreeBytes: number }
    | undefined;
  let writableSince = 0;
  const waiters = new Set<() => void>();
  const changed = (wasWritable: boolean) => {
    if (!wasWritable && writable()) writableSince = Date.now();
    for (const wake of [...waiters]) wake();
  };
  const writable = () => store.state === 'up' && !disk?.low;
  const canGo = (need: 'read' | 'write') => (need === 'read' ? store.state === 'up' : writable());
  return {
    report: () => {
      const trouble = store.state !== 'up' ? store : disk?.low ? disk : undefined;
      return {
        store: store.state,
        writes: writable() ? 'accepted' : 'refused',
        ...(trouble?.reason ? { reason: trouble.reason } : {}),
        ...(trouble?.since ? { since: trouble.since } : {}),
        ...(disk ? { disk: { freeBytes: disk.freeBytes, minFreeBytes: disk.minFreeBytes } } : {}),
      };
    },
    gate: ({ writes }) => {
      if (store.state !== 'up') {
        return storeUnavailable(
          `The database is ${store.state === 'restarting' ? 'restarting' : 'down'}; try again.`,
          restartingRetryAfterSeconds,
        );
      }
      if (writes && disk?.low) {
        return storeUnavailable(
          `Writes are refused: ${disk.reason ?? 'the disk is full'}.`,
          diskRetryAfterSeconds,
        );
      }
      return undefined;
    },
    ready: (need, signal) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (!canGo(need) && !signal.aborted) return;
          waiters.delete(check);
          signal.removeEventListener('abort', check);
          resolve();
        };
        waiters.add(check);
        signal.addEventListener('abort', check);
        check();
      }),
    writable,
    writableSince: () => writableSince,
    setStore: (state, reason) => {
      if (state === store.state) return;
      const was = writable();
      store = state === 'up' ? { state } : { state, reason, since: new Date().toISOString() };
      changed(was);
    },
    setDisk: (next) => {
      const was = writable();
      const since = next.low ? (disk?.low ? disk.since : new Date().toISOString()) : undefined;
      disk = { ...next, ...(since ? { since } : {}) };
      changed(was);
    },
  };
};

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A failed start in one line: its first, and the JVM's first exception when the first says only that it exited. */
const summary = (error: unknown): string => {
  const lines = String((error as Error)?.message ?? error)
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const first = lines[0] ?? 'unknown error';
  const cause = lines.slice(1).find((line) => /Exception|Error/.test(line));
  return cause && first.endsWith(':') ? `${first} ${cause}` : first;
};

export type SupervisedStore = DynamoDbLocalAccess & {
  /** The JVM's pid now (reliability tests kill and stop it). */
  pid: () => number | undefined;
  stop: () => Promise<void>;
};

/**
 * DynamoDB Local, restarted when it exits unexpectedly: on the same data directory and port (the
 * endpoint every client holds), after 0.5, 1, 2, 4 and 8 s if a start fails. Meanwhile `health`
 * says the store is restarting, so requests are answered 503 at once instead of failing on a
 * refused connection. Given up on (`onGiveUp`; `berth up` then exits non-zero, for a supervisor to
 * restart the whole host) when five starts in a row failed, when it died five times within ten
 * minutes (something kills it: restarting again will not help), or at once when it held the data
 * in memory, which died with it (a restart would serve an empty table as if nothing happened).
 */
export const superviseDynamoDbLocal = async (options: {
  dataDir?: string;
  tableName: string;
  health: StoreHealth;
  onGiveUp: (error: Error) => void;
  /** Every chunk the JVM writes to stdout or stderr (the disk watch reads sqlite's "disk is full"). */
  onOutput?: (text: string) => void;
  log?: (line: string) => void;
  restartDelaysMs?: readonly number[];
}): Promise<SupervisedStore> => {
  const log = options.log ?? ((line: string) => console.error(line));
  const delays = options.restartDelaysMs ?? [500, 1_000, 2_000, 4_000, 8_000];
  const exits: number[] = [];
  let stopping = false;
  let restarting: Promise<void> | undefined;

  const watch = (dynamo: LocalDynamo) => {
    const forward = (chunk: Buffer) => options.onOutput?.(chunk.toString());
    dynamo.process.stdout?.on('data', forward);
    dynamo.process.stderr?.on('data', forward);
    dynamo.process.once('exit', (code, signal) => {
      if (stopping) return;
      restarting = restart(dynamo.process.pid, signal ? `signal ${signal}` : `code ${code}`);
    });
  };

  let current = await startDynamoDbLocal({ dataDir: options.dataDir });
  const port = Number(new URL(current.endpoint).port);
  watch(current);

  const giveUp = (reason: string) => {
    options.health.setStore('failed', reason);
    log(`berth: ${reason}; exiting so that a supervisor restarts Berth`);
    options.onGiveUp(new Error(reason));
  };

  const restart = async (pid: number | undefined, how: string) => {
    const exitedAt = Date.now();
    exits.push(exitedAt);
    while (exits.length > 0 && (exits[0] ?? 0) < exitedAt - 600_000) exits.shift();
    const what = `DynamoDB Local (pid ${pid}) exited unexpectedly (${how})`;
    options.health.setStore('restarting', what);
    if (!options.dataDir) return giveUp(`${what}; it held the data in memory, which is gone`);
    if (exits.length >= 5) return giveUp(`${what}, the ${exits.length}th time in ten minutes`);
    log(`berth: ${what}; requests that need the database are answered 503 until it is back; restarting it`);
    let failure: unknown;
    for (const delay of delays) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (stopping) return;
      let next: LocalDynamo | undefined;
      try {
        // A new key: the SDK may have retried a call in flight when the store died against its port,
        // handing the old key to whatever took the port meanwhile; the new JVM does not take it.
        next = await startDynamoDbLocal({ dataDir: options.dataDir, port });
        if (stopping) return void (await next.stop());
        await ensureTable(next, options.tableName);
        current = next;
        watch(next);
        options.health.setStore('up');
        log(
          `berth: DynamoDB Local is back (pid ${next.process.pid}, ${seconds(Date.now() - exitedAt)} after it exited); the database answers again`,
        );
        return;
      } catch (error) {
        failure = error;
        // A JVM that started but could not be made ready would hold the port the next try needs.
        await next?.stop();
        log(`berth: DynamoDB Local did not start again: ${summary(error)}`);
      }
    }
    giveUp(`${what}, and ${delays.length} starts failed (the last: ${summary(failure)})`);
  };

  return {
    endpoint: current.endpoint,
    get accessKeyId() {
      return current.accessKeyId;
    },
    pid: () => current.process.pid,
    stop: async () => {
      stopping = true;
      await restarting;
      await current.stop();
    },
  };
};

/** sqlite's SQLITE_FULL as DynamoDB Local logs it (sqlite4java: "[13] … [database or disk is full]"). */
const sqliteFull = 'database or disk is full';

/**
 * Watches the data directory's free space (statfs every `intervalMs`) and refuses writes below
 * `minFreeBytes`: on a full disk DynamoDB Local answers TransactWriteItems with 200 and stores
 * nothing, so a write must not reach it without room to spare. Writes are accepted again above a
 * quarter more than the margin (no flapping around it). sqlite reporting a full disk anyway (a
 * quota, no inodes, a burst between two looks) refuses writes for `fullHoldMs` too.
 */
export const watchDisk = (options: {
  path: string;
  minFreeBytes: number;
  health: StoreHealth;
  intervalMs?: number;
  fullHoldMs?: number;
  log?: (line: string) => void;
}): {
  storeOutput: (text: string) => void;
  /** Whether sqlite reported a full disk at `at` (ms since the epoch) or later. */
  fullReportedSince: (at: number) => boolean;
  stop: () => void;
  check: () => Promise<void>;
} => {
  const log = options.log ?? ((line: string) => console.error(line));
  const intervalMs = options.intervalMs ?? 1_000;
  const fullHoldMs = options.fullHoldMs ?? 30_000;
  const { minFreeBytes } = options;
  const resumeBytes = minFreeBytes + minFreeBytes / 4;
  const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;
  let low = false;
  let fullReportedAt = Number.NEGATIVE_INFINITY;
  let freeBytes = Number.POSITIVE_INFINITY;
  let tail = '';

  let why: string | undefined;
  const decide = (reason?: string) => {
    const held = Date.now() - fullReportedAt < fullHoldMs;
    const next = held || freeBytes < (low ? resumeBytes : minFreeBytes);
    if (next && !low) {
      why =
        reason ?? `the data directory has ${mib(freeBytes)} free, below the margin of ${mib(minFreeBytes)}`;
      log(`berth: ${why}: writes are answered 503 (reads still work) until there is room`);
    } else if (!next && low) {
      why = undefined;
      log(`berth: the data directory has room again (${mib(freeBytes)} free): writes are accepted`);
    }
    low = next;
    options.health.setDisk({ low, ...(why ? { reason: why } : {}), freeBytes, minFreeBytes });
  };

  let checking: Promise<void> | undefined;
  const check = () => {
    checking ??= statfs(options.path)
      .then((stats) => {
        // Few inodes left is a full disk too: sqlite creates a journal file for every transaction.
        const inodesLow = stats.files > 0 && stats.ffree < 64;
        freeBytes = inodesLow ? 0 : stats.bavail * stats.bsize;
      })
      .catch((error: unknown) => log(`berth: cannot read the free space of ${options.path}: ${error}`))
      .then(() => decide())
      .finally(() => {
        checking = undefined;
      });
    return checking;
  };
  void check();
  const timer = setInterval(check, intervalMs);
  timer.unref();

  return {
    storeOutput: (text) => {
      const seen = tail + text;
      tail = seen.slice(-sqliteFull.length);
      if (!seen.includes(sqliteFull)) return;
      const first = Date.now() - fullReportedAt >= fullHoldMs;
      fullReportedAt = Date.now();
      if (first && !low) {
        decide(
          `DynamoDB Local reported a full disk (sqlite: ${sqliteFull}) with ${mib(freeBytes)} free; writes acknowledged just before may not have been stored`,
        );
      }
    },
    fullReportedSince: (at) => fullReportedAt >= at,
    stop: () => clearInterval(timer),
    check,
  };
};
