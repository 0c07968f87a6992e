import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { labels } from '../../agent/runtime/types.ts';

/** The image every e2e task runs: busybox from Debian's busybox-static, imported (no registry is reachable). */
export const testImage = 'berth-test/busybox:latest';

const busyboxPaths = ['/bin/busybox', '/usr/bin/busybox'];
const applets = [
  'sh',
  'sleep',
  'nc',
  'httpd',
  'wget',
  'cat',
  'echo',
  'ls',
  'true',
  'false',
  'kill',
  'ps',
  'env',
  'mkdir',
  'test',
  'printf',
];

const docker = new Docker();

const missingDocker = (why: string) =>
  new Error(
    `The e2e tests need a Docker engine and found none (${why}). Install Debian's docker.io and ` +
      'busybox-static and start dockerd (`.ci/run` does both), then run the tests again.',
  );

/**
 * A ready Docker engine with the test image, or a failure that says what is missing: these tests
 * are the agent's proof and must not pass by skipping. Idempotent (CI and each test file call it).
 */
export const requireDocker = async (): Promise<Docker> => {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock'))
    throw missingDocker('no /var/run/docker.sock');
  try {
    await docker.ping();
  } catch (error) {
    throw missingDocker(`ping failed: ${error instanceof Error ? error.message : error}`);
  }
  await ensureTestImage();
  return docker;
};

const ensureTestImage = async () => {
  try {
    await docker.getImage(testImage).inspect();
    return;
  } catch {}
  const busybox = busyboxPaths.find((path) => existsSync(path));
  if (!busybox)
    throw new Error('busybox-static is not installed (no /bin/busybox): apt-get install busybox-static');
  const root = mkdtempSync(join(tmpdir(), 'berth-rootfs-'));
  try {
    for (const dir of ['bin', 'tmp', 'www', 'data', 'etc']) mkdirSync(join(root, dir));
    chmodSync(join(root, 'tmp'), 0o1777);
    copyFileSync(busybox, join(root, 'bin', 'busybox'));
    chmodSync(join(root, 'bin', 'busybox'), 0o755);
    for (const applet of applets) symlinkSync('busybox', join(root, 'bin', applet));
    execFileSync('sh', ['-c', `tar -C '${root}' -c . | docker import - ${testImage}`], { stdio: 'pipe' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
};

/** Containers the agent made for a cluster, by label. */
export const containersOf = async (cluster: string, all = true) =>
  docker.listContainers({ all, filters: { label: [`${labels.cluster}=${cluster}`] } });

/** Removes every container and task volume of a cluster (test cleanup; the agent leaves them running on stop). */
export const removeClusterContainers = async (cluster: string) => {
  for (const container of await containersOf(cluster)) {
    await docker
      .getContainer(container.Id)
      .remove({ force: true })
      .catch(() => undefined);
  }
  const { Volumes } = await docker.listVolumes({ filters: { label: [`${labels.cluster}=${cluster}`] } });
  for (const volume of Volumes ?? [])
    await docker
      .getVolume(volume.Name)
      .remove()
      .catch(() => undefined);
};

/** Polls `check` until it returns a value (not undefined/false), or fails after `timeoutMs` with `what`. */
export const eventually = async <T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : last}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
};
