import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateClusterCommand, ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { launcherDir } from '../../local/dynamodb.ts';
import { type LocalHost, startLocalHost } from '../../local/host.ts';
import { classFilesIn, compileLauncher } from '../../scripts/build-java.ts';
import { scenarioTimeout } from './fleet.ts';

vi.setConfig({ testTimeout: scenarioTimeout(60_000), hookTimeout: scenarioTimeout() });

/**
 * What `berth up` exposes on its machine. DynamoDB Local answers anyone without a signature, so it
 * must be reachable from this machine's loopback only (not from the LAN, not from containers through
 * the docker bridge: test/e2e/exposure.test.ts); and the data dir, which holds the admin secret and
 * task definitions' secrets, is its user's alone however it was left.
 */

const root = mkdtempSync(join(tmpdir(), 'berth-exposure-'));
const dataDir = join(root, 'data');
let host: LocalHost;
let dynamoPort: number;
/** Every path under the data dir with its permission bits, after the first start on a fresh dir. */
let freshModes: Record<string, string>;

/** Every directory and file under `dir` (itself included), with its permission bits in octal. */
const modesUnder = (dir: string): Record<string, string> => {
  const modes: Record<string, string> = { '.': (statSync(dir).mode & 0o777).toString(8) };
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    modes[path.slice(dir.length + 1)] = (statSync(path).mode & 0o777).toString(8);
  }
  return modes;
};

const createCluster = async (target: LocalHost, clusterName: string) => {
  const ecs = new ECSClient({
    endpoint: target.endpoint,
    region: target.region,
    credentials: target.credentials,
    maxAttempts: 1,
  });
  await ecs.send(new CreateClusterCommand({ clusterName }));
  ecs.destroy();
};

/** Resolves with 'refused', 'connected' or the error code a TCP connection to address:port ends in. */
const tryConnect = (address: string, port: number): Promise<string> =>
  new Promise((resolve) => {
    const socket = connect({ host: address, port, timeout: 3000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (error: NodeJS.ErrnoException) =>
      resolve(error.code === 'ECONNREFUSED' ? 'refused' : (error.code ?? 'error')),
    );
  });

/** An address of /proc/net/tcp{,6} (hex, each 32-bit word in host order) as text. */
const procAddress = (hex: string): string => {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((word) =>
    (word.match(/../g) ?? []).reverse().map((b) => Number.parseInt(b, 16)),
  );
  if (bytes.length === 4) return bytes.join('.');
  const v4mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (v4mapped) return `::ffff:${bytes.slice(12).join('.')}`;
  return Array.from({ length: 8 }, (_, i) =>
    (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16),
  ).join(':');
};

/** The local addresses of every listening TCP socket on `port`, as the kernel reports them. */
const listeningAddresses = (port: number): string[] =>
  ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      // st 0A is LISTEN
      .filter((fields) => fields[3] === '0A' && Number.parseInt(fields[1]?.split(':')[1] ?? '', 16) === port)
      .map((fields) => procAddress(fields[1]?.split(':')[0] ?? '')),
  );

/** A class file's members and bytecode as javap prints them, without constant pool indexes. */
const disassembled = (classFile: string) =>
  execFileSync('javap', ['-p', '-c', '-constants', classFile], { encoding: 'utf8' }).replace(
    /#\d+(,\s*\d+)?/g,
    '#',
  );

beforeAll(async () => {
  // First start on a fresh dir: everything it and the JVM create is checked as it was made.
  const first = await startLocalHost({ dataDir, port: 0 });
  await createCluster(first, 'exposure-first');
  await first.stop();
  freshModes = modesUnder(dataDir);
  // Then the dir is left open to everyone, as an older Berth or a careless copy leaves it.
  for (const path of Object.keys(freshModes)) {
    chmodSync(join(dataDir, path), statSync(join(dataDir, path)).isDirectory() ? 0o755 : 0o644);
  }
  // And something of the user's beside Berth's files (`--data-dir .` in a project).
  mkdirSync(join(dataDir, 'project', 'bin'), { recursive: true, mode: 0o755 });
  writeFileSync(join(dataDir, 'project', 'bin', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  host = await startLocalHost({ dataDir, port: 0 });
  await createCluster(host, 'exposure-second');
  dynamoPort = Number(new URL(host.dynamoEndpoint).port);
});

afterAll(async () => {
  await host?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('DynamoDB Local', () => {
  /** ListTables on 127.0.0.1, as any process of this machine (a host-network task too) can send it. */
  const listTables = (authorization?: string) =>
    fetch(`http://127.0.0.1:${dynamoPort}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        ...(authorization ? { authorization } : {}),
      },
      body: '{}',
    });
  const credential = (accessKeyId: string) =>
    `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0`;

  it('answers on 127.0.0.1 a request that names its access key id', async () => {
    // Act
    const response = await listTables(credential(host.dynamoAccessKeyId));

    // Assess
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ TableNames: [host.config.tableName] });
  });

  it('refuses, on loopback too, a request with another key or none (a host-network task shares 127.0.0.1)', async () => {
    // Act: before the key, any made-up key was served (DynamoDB Local checks no signature).
    const answers = await Promise.all([
      listTables(credential('anyone')),
      listTables(credential(`${host.dynamoAccessKeyId}X`)),
      listTables(credential(host.dynamoAccessKeyId.slice(0, -1))),
      listTables(),
    ]);

    // Assess
    for (const response of answers) {
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({
        __type: expect.stringContaining('UnrecognizedClientException'),
      });
    }
    expect(host.dynamoAccessKeyId).toMatch(/^BERTH[0-9A-F]{32}$/);
  });

  it('listens on the loopback address only', () => {
    // Assess: the kernel's own list of listening sockets, whatever interfaces this machine has.
    const addresses = listeningAddresses(dynamoPort);
    expect(addresses.length).toBeGreaterThan(0);
    for (const address of addresses) expect(['127.0.0.1', '::ffff:127.0.0.1']).toContain(address);
  });

  it("refuses connections on this machine's other addresses", async () => {
    // Arrange: every non-loopback address of this machine (link-local IPv6 needs a scope: left out).
    const addresses = Object.values(networkInterfaces())
      .flatMap((infos) => infos ?? [])
      .filter((info) => !info.internal && !info.address.startsWith('fe80:'))
      .map((info) => info.address);
    // Without one there is nothing to connect to; the /proc check above still holds on its own.
    expect(addresses, 'this machine has no non-loopback address to try').not.toEqual([]);

    // Act
    const outcomes = await Promise.all(
      addresses.map(async (address) => [address, await tryConnect(address, dynamoPort)]),
    );

    // Assess
    expect(Object.fromEntries(outcomes)).toEqual(
      Object.fromEntries(addresses.map((address) => [address, 'refused'])),
    );
  });

  it('runs from a committed launcher class that matches its source', () => {
    // Arrange: javac is needed only here (a JRE runs the committed class); say so instead of skipping.
    const javac = (() => {
      try {
        execFileSync('javac', ['-version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
    expect(javac, 'javac (a JDK 17+) is needed to check local/java/*.class against its source').toBe(true);
    const out = mkdtempSync(join(root, 'javac-'));

    // Act
    const compiled = compileLauncher(out);

    // Assess: run `npm run build:java` when this fails after changing the source. Another javac
    // build may lay out the constant pool differently: then the members and every instruction
    // (with the constants they load) must still be the same.
    expect(classFilesIn(launcherDir)).toEqual(compiled);
    for (const name of compiled) {
      const committed = join(launcherDir, name);
      if (!readFileSync(committed).equals(readFileSync(join(out, name)))) {
        expect(disassembled(join(out, name))).toBe(disassembled(committed));
      }
    }
  });
});

describe('the data dir', () => {
  it('is created 0700 with every file 0600, those the JVM writes included', () => {
    // Assess
    expect(Object.keys(freshModes)).toEqual(
      expect.arrayContaining(['.', 'credentials.json', 'dynamodb', 'dynamodb/shared-local-instance.db']),
    );
    for (const [path, mode] of Object.entries(freshModes)) {
      expect([path, mode]).toEqual([path, statSync(join(dataDir, path)).isDirectory() ? '700' : '600']);
    }
  });

  it("leaves what is not Berth's in it as it was", () => {
    // Assess: before, every file under the data dir was made 0600 (a script lost its execute bit).
    expect(modesUnder(join(dataDir, 'project'))).toEqual({ '.': '755', bin: '755', 'bin/run.sh': '755' });
  });

  it('is made 0700 with every file 0600 when it existed open to everyone', () => {
    // Assess: what the second start found at 0755/0644, and what it wrote since.
    const modes = Object.fromEntries(
      Object.entries(modesUnder(dataDir)).filter(([path]) => !path.startsWith('project')),
    );
    expect(Object.keys(modes)).toEqual(expect.arrayContaining(Object.keys(freshModes)));
    for (const [path, mode] of Object.entries(modes)) {
      expect([path, mode]).toEqual([path, statSync(join(dataDir, path)).isDirectory() ? '700' : '600']);
    }
  });
});
