import { execFileSync } from 'node:child_process';
import {
  closeSync,
  fstatSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  rmSync,
  statfsSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { collectHealth, renderHealth } from '../../cli/status.ts';
import { type LocalHost, startLocalHost } from '../../local/host.ts';
import { callAction } from './signing.ts';

vi.setConfig({ testTimeout: 180_000 });

/**
 * Scenario: the data directory's filesystem (a 64 MiB tmpfs here) fills up under a running host.
 * On a nearly full disk DynamoDB Local answers TransactWriteItems with 200 and stores nothing, so
 * Berth must refuse writes (503 + Retry-After) before that, keep answering reads, and after a
 * restart every write it acknowledged must be there.
 */

const mount = mkdtempSync(join(tmpdir(), 'berth-disk-'));
const filler = join(mount, 'filler');
const margin = 16 * 1024 * 1024;
let host: LocalHost | undefined;
const logged: string[] = [];
const originalError = console.error;

beforeAll(() => {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mount]);
  console.error = (...args: unknown[]) => {
    logged.push(args.map(String).join(' '));
    originalError(...args);
  };
});

afterAll(async () => {
  await host?.stop();
  console.error = originalError;
  execFileSync('umount', ['-l', mount]);
  rmSync(mount, { recursive: true, force: true });
});

const start = (dataDir: string, minFreeBytes = margin) =>
  startLocalHost({ dataDir, port: 0, minFreeBytes, diskCheckIntervalMs: 100 });

/** Fills the filesystem with one file, then gives back `leaveBytes`. */
const fill = (leaveBytes: number) => {
  const fd = openSync(filler, 'w');
  try {
    for (const size of [1024 * 1024, 4096]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      }
    }
    ftruncateSync(fd, Math.max(0, fstatSync(fd).size - leaveBytes));
  } finally {
    closeSync(fd);
  }
};

const freeBytes = (path: string) => {
  const stats = statfsSync(path);
  return stats.bavail * stats.bsize;
};

const definition = (family: string) => ({
  family,
  containerDefinitions: [{ name: 'app', image: 'busybox', memory: 32, essential: true }],
});

const health = async (endpoint: string) => {
  const response = await fetch(`${endpoint}/health`);
  const body = (await response.json()) as { store?: string; writes?: string; reason?: string };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
};

describe('the data directory fills up', () => {
  it('refuses writes with 503 and Retry-After while reads work, and loses nothing it acknowledged', async () => {
    // Prepare
    const dataDir = join(mount, 'berth');
    host = await start(dataDir);
    const berth = host;
    const call = (action: string, input: unknown) => callAction(berth, action, input);
    expect((await call('CreateCluster', { clusterName: 'disk' })).status).toBe(200);
    expect((await call('RegisterTaskDefinition', definition('disk-web'))).status).toBe(200);
    const activation = await call('AmazonSSM.CreateActivation', { IamRole: 'berth', RegistrationLimit: 1 });
    expect(activation.status).toBe(200);

    // Act: leave 256 KiB, where DynamoDB Local acknowledges transactions it does not store; give
    // the watch a few looks at the disk; then the 60 registrations.
    fill(256 * 1024);
    expect(freeBytes(mount)).toBeLessThan(margin);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const answers = [];
    for (let i = 0; i < 60; i += 1)
      answers.push(await call('RegisterTaskDefinition', definition('disk-web')));
    const read = await call('DescribeTaskDefinition', { taskDefinition: 'disk-web:1' });
    const listed = await call('ListClusters', {});
    const whileFull = await health(berth.endpoint);
    const statusLine = renderHealth(await collectHealth(berth.endpoint));
    const registration = await fetch(`${berth.endpoint}/agent/v1/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        activationId: activation.body.ActivationId,
        activationCode: activation.body.ActivationCode,
        cluster: 'disk',
        hostname: 'edge-1',
        agentVersion: '0.1.0',
        resources: { cpu: 1024, memory: 1024 },
      }),
    });

    // Assert: refused, said why, reads served.
    const acknowledged = answers.filter((a) => a.status === 200).map((a) => a.body.taskDefinition.revision);
    const refused = answers.filter((a) => a.status === 503);
    expect(answers.every((a) => a.status === 200 || a.status === 503)).toBe(true);
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expect(answer.body.__type).toBe('ServiceUnavailableException');
      expect(Number(answer.retryAfter)).toBeGreaterThan(0);
    }
    expect(read.status).toBe(200);
    expect(listed.status).toBe(200);
    expect(registration.status).toBe(503);
    expect(Number(registration.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(whileFull.status).toBe(503);
    expect(whileFull.body).toMatchObject({ store: 'up', writes: 'refused' });
    expect(whileFull.body.reason).toContain('free');
    // What `berth status` prints above the clusters.
    expect(statusLine).toMatch(
      /^WRITES REFUSED \(503\), reads served — the data directory has .* free, below the margin of 16\.0 MiB \(since /,
    );
    expect(logged.filter((line) => line.includes('writes are answered 503'))).toHaveLength(1);

    // Room again: writes are accepted, and said so once.
    rmSync(filler);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const after = await call('RegisterTaskDefinition', definition('disk-web'));
    expect(after.status).toBe(200);
    acknowledged.push(after.body.taskDefinition.revision);
    expect((await health(berth.endpoint)).body).toMatchObject({ writes: 'accepted' });
    expect(renderHealth(await collectHealth(berth.endpoint))).toBeUndefined();
    expect(logged.filter((line) => line.includes('has room again'))).toHaveLength(1);

    // Nothing acknowledged is lost across a restart.
    await host.stop();
    host = await start(dataDir);
    const restarted = host;
    for (const revision of [1, ...acknowledged]) {
      const described = await callAction(restarted, 'DescribeTaskDefinition', {
        taskDefinition: `disk-web:${revision}`,
      });
      expect({ revision, status: described.status }).toEqual({ revision, status: 200 });
    }
  });

  it('refuses writes as soon as DynamoDB Local reports a full disk, even with no margin set', async () => {
    // Prepare: a margin of 0, so only sqlite's own report can stop the writes.
    await host?.stop();
    const dataDir = join(mount, 'no-margin');
    host = await start(dataDir, 0);
    const berth = host;
    const call = (action: string, input: unknown) => callAction(berth, action, input);
    expect((await call('RegisterTaskDefinition', definition('nomargin'))).status).toBe(200);

    // Act
    fill(32 * 1024);
    const answers = [];
    for (let i = 0; i < 60; i += 1)
      answers.push(await call('RegisterTaskDefinition', definition('nomargin')));
    const statuses = answers.map((answer) => answer.status);
    rmSync(filler);

    // Assert: a few writes reach the full disk; the one whose commit sqlite failed is answered 503
    // (not 200), and so is every later one while the report holds; the log says why.
    const firstRefused = statuses.indexOf(503);
    expect(firstRefused).toBeGreaterThan(-1);
    expect(statuses.slice(firstRefused).every((status) => status === 503)).toBe(true);
    expect(logged.some((line) => line.includes('reported a full disk'))).toBe(true);
    expect((await health(berth.endpoint)).body).toMatchObject({ writes: 'refused' });

    // Nothing acknowledged is lost across a restart.
    await host.stop();
    host = await start(dataDir, 0);
    const restarted = host;
    const acknowledged = answers.filter((a) => a.status === 200).map((a) => a.body.taskDefinition.revision);
    for (const revision of [1, ...acknowledged]) {
      const described = await callAction(restarted, 'DescribeTaskDefinition', {
        taskDefinition: `nomargin:${revision}`,
      });
      expect({ revision, status: described.status }).toEqual({ revision, status: 200 });
    }
  });
});
