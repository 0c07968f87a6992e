import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The poller's checkpoint file: each shard's position, read at start and replaced atomically. */

// --- checkpoint file ------------------------------------------------------------------------------

/** A shard's position: the last record handled (successfully or dead-lettered), or read to its end. */
export type ShardCheckpoint = { sequenceNumber?: string; finished?: true };
export type CheckpointFile = { version: 1; streamArn: string; shards: Record<string, ShardCheckpoint> };

export const loadCheckpoint = async (
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
export const writeFileAtomic = async (file: string, text: string): Promise<void> => {
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
