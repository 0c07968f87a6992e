import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Replaces `path` with `content` so that a crash or power loss leaves either the old file or the
 * new one, never a torn mix (the ECS agent's state corrupted on reboots is a known complaint):
 * write a temp file, fsync it, rename it over the old one, fsync the directory so the rename
 * itself is durable.
 */
export const atomicWriteFile = (path: string, content: string, mode = 0o600): void => {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, content, { mode });
  const file = openSync(temp, 'r');
  try {
    fsyncSync(file);
  } finally {
    closeSync(file);
  }
  renameSync(temp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
};

/** The file's text, or undefined when it does not exist. */
export const readTextIfExists = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
};
