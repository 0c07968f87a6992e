import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startDynamoDbLocal } from '../../local/dynamodb.ts';
import { requireDocker, testImage } from './docker.ts';

/**
 * A task on the same machine as `berth up` reaches the host at the docker bridge's gateway address.
 * DynamoDB Local answers anyone unsigned, so it must not be reachable there; a server listening on
 * every interface is, which shows the path itself is open and the refusal is the binding's doing.
 */

let dynamo: LocalDynamo;
let control: Server;
let controlPort: number;
let gateway: string;

/** What `script` prints (stderr included) in a fresh busybox container on the default bridge. */
const runInContainer = (script: string, ...args: string[]) =>
  new Promise<string>((resolve, reject) => {
    execFile(
      'docker',
      ['run', '--rm', testImage, 'sh', '-c', `${script} 2>&1; true`, 'berth-test', ...args],
      { timeout: 30_000 },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    );
  });

/** What a container's wget prints for `url`, its error included (busybox-static's -T crashes). */
const wgetFromContainer = (url: string) => runInContainer('wget -q -O - "$1"', url);

beforeAll(async () => {
  // A Docker engine and the busybox test image, or a failure saying which is missing.
  await requireDocker();
  // The host as a container sees it: the gateway of the container's default route (the kernel's
  // table holds it as little-endian hex).
  const routes = await runInContainer('cat /proc/net/route');
  const hex = routes
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .find((fields) => fields[1] === '00000000')?.[2];
  gateway = (hex?.match(/../g) ?? [])
    .reverse()
    .map((byte) => Number.parseInt(byte, 16))
    .join('.');
  dynamo = await startDynamoDbLocal({});
  control = createServer((_, res) => res.end('reachable'));
  await new Promise<void>((resolve) => control.listen(0, '0.0.0.0', resolve));
  const address = control.address();
  controlPort = typeof address === 'object' && address ? address.port : 0;
});

afterAll(async () => {
  await new Promise((resolve) => control?.close(resolve));
  await dynamo?.stop();
});

describe('a container on the same machine', () => {
  it('reaches a server listening on every interface through the bridge gateway', async () => {
    // Arrange
    expect(gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    // Act
    const output = await wgetFromContainer(`http://${gateway}:${controlPort}/`);

    // Assess
    expect(output).toBe('reachable');
  });

  it('cannot connect to DynamoDB Local', async () => {
    // Act
    const port = new URL(dynamo.endpoint).port;
    const output = await wgetFromContainer(`http://${gateway}:${port}/`);

    // Assess: refused outright (before the fix it answered: "server returned error: HTTP/1.1 400").
    expect(output).toMatch(/Connection refused/);
  });
});
