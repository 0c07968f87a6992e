import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockDataDir, lockFileOf } from '../../agent/lock.ts';

// One agent per data dir; a lock left by a process that is gone does not keep the next one out.

let dir: string;
const alive = new Set<number>();
const probe = (pid: number, bootId = 'boot-1') => ({ pid, bootId, isAlive: (p: number) => alive.has(p) });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-lock-'));
  alive.clear();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the data dir lock', () => {
  it('keeps a second agent out while the first runs, and lets it in once released', () => {
    // Prepare
    alive.add(100).add(200);
    const release = lockDataDir(dir, probe(100));
    // Act
    const second = () => lockDataDir(dir, probe(200));
    // Assess
    expect(second).toThrow(/Another agent \(pid 100\) is running with data dir/);
    release();
    expect(existsSync(lockFileOf(dir))).toBe(false);
    expect(() => lockDataDir(dir, probe(200))).not.toThrow();
    expect(JSON.parse(readFileSync(lockFileOf(dir), 'utf8'))).toEqual({ pid: 200, bootId: 'boot-1' });
  });

  it('is taken over from a process that is gone, or from before a reboot', () => {
    // Prepare: pid 100 died (kill -9); pid 300 is alive but its lock is from another boot.
    alive.add(300);
    lockDataDir(dir, probe(100));
    // Act
    lockDataDir(dir, probe(200));
    const afterCrash = JSON.parse(readFileSync(lockFileOf(dir), 'utf8'));
    writeFileSync(lockFileOf(dir), JSON.stringify({ pid: 300, bootId: 'boot-0' }));
    lockDataDir(dir, probe(200));
    const afterReboot = JSON.parse(readFileSync(lockFileOf(dir), 'utf8'));
    // Assess
    expect(afterCrash.pid).toBe(200);
    expect(afterReboot).toEqual({ pid: 200, bootId: 'boot-1' });
  });

  it('is taken again by the same process, and over an unreadable lock file', () => {
    // Prepare
    alive.add(100);
    lockDataDir(dir, probe(100));
    // Act
    const again = () => lockDataDir(dir, probe(100));
    // Assess
    expect(again).not.toThrow();
    writeFileSync(lockFileOf(dir), 'garbage');
    expect(() => lockDataDir(dir, probe(200))).not.toThrow();
  });

  it('is released only by its holder', () => {
    // Prepare
    alive.add(100);
    const stale = lockDataDir(dir, probe(100));
    alive.delete(100);
    lockDataDir(dir, probe(200));
    // Act: the old holder's release comes late.
    stale();
    // Assess
    expect(JSON.parse(readFileSync(lockFileOf(dir), 'utf8')).pid).toBe(200);
  });
});
