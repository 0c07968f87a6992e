import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentApiError } from './client.ts';
import { readTextIfExists } from './files.ts';

/** Who holds a data dir: a process, named by its pid and the boot it belongs to (pids are reused). */
type Holder = { pid: number; bootId: string };

export type LockProbe = {
  pid: number;
  /** This boot's id (Linux: /proc/sys/kernel/random/boot_id); '' where there is none. */
  bootId: string;
  isAlive: (pid: number) => boolean;
};

const bootIdOf = (): string => readTextIfExists('/proc/sys/kernel/random/boot_id')?.trim() ?? '';

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const thisProcess = (): LockProbe => ({ pid: process.pid, bootId: bootIdOf(), isAlive });

export const lockFileOf = (dataDir: string) => join(dataDir, 'agent.lock');

const holderOf = (text: string | undefined): Holder | undefined => {
  try {
    const parsed = JSON.parse(text ?? '') as Partial<Holder>;
    if (typeof parsed.pid === 'number' && Number.isInteger(parsed.pid) && parsed.pid > 0) {
      return { pid: parsed.pid, bootId: typeof parsed.bootId === 'string' ? parsed.bootId : '' };
    }
  } catch {}
  return undefined;
};

/**
 * One agent per data dir: two would register twice with one activation, or fight over the same
 * state file and containers (each removing the other's as orphans). The lock is a file created
 * exclusively; one left by a process that is gone — killed, or from before a reboot, whose pid may
 * now be someone else's — is taken over. The same process may take its own lock again (an agent
 * restarted in-process). Returns the release.
 */
export const lockDataDir = (dataDir: string, probe: LockProbe = thisProcess()): (() => void) => {
  const path = lockFileOf(dataDir);
  const mine = JSON.stringify({ pid: probe.pid, bootId: probe.bootId } satisfies Holder);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, `${mine}\n`, { flag: 'wx', mode: 0o600 });
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === mine) unlinkSync(path);
        } catch {}
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = holderOf(readTextIfExists(path));
    const sameBoot = holder !== undefined && (holder.bootId === '' || holder.bootId === probe.bootId);
    if (holder && holder.pid !== probe.pid && sameBoot && probe.isAlive(holder.pid)) {
      throw new AgentApiError(
        0,
        'DataDirInUse',
        `Another agent (pid ${holder.pid}) is running with data dir ${dataDir}. Stop it first, or give this one its own --data-dir.`,
      );
    }
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new AgentApiError(
    0,
    'DataDirInUse',
    `Could not lock data dir ${dataDir}: another agent keeps taking it.`,
  );
};
