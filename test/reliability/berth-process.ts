import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SSMClient } from '@aws-sdk/client-ssm';

/**
 * `berth up` as a real child process (node -> DynamoDB Local's JVM), in its own process
 * group so that a test can kill one process of it, or find and clean up all of it.
 */
const repo = new URL('../../', import.meta.url).pathname;

type Proc = { pid: number; ppid: number; pgid: number; cmdline: string };

/** Every process on the machine, read from /proc (Linux). */
export const processes = (): Proc[] =>
  readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
        return [{ pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]), cmdline }];
      } catch {
        return [];
      }
    });

/** DynamoDB Local JVMs serving this data directory (however they were orphaned). */
export const jvmsOf = (dataDir: string): Proc[] =>
  processes().filter(
    (p) => p.cmdline.includes('DynamoDBLocal.jar') && p.cmdline.includes(`${dataDir}/dynamodb`),
  );

/**
 * The access key id a DynamoDB Local JVM requires (from its environment, which only its user and
 * root can read), so a test can read the table of a `berth up` it runs as a child.
 */
export const accessKeyIdOf = (pid: number): string | undefined =>
  readFileSync(`/proc/${pid}/environ`, 'utf8')
    .split('\0')
    .find((entry) => entry.startsWith('BERTH_DYNAMODB_ACCESS_KEY_ID='))
    ?.slice('BERTH_DYNAMODB_ACCESS_KEY_ID='.length);

export type BerthProcess = {
  child: ChildProcess;
  endpoint: string;
  ecs: ECSClient;
  ssm: SSMClient;
  output: () => string;
  exited: Promise<number | null>;
  /** The node process running cli/main.ts: the one that owns DynamoDB Local. */
  berthPid: () => number | undefined;
  /** SIGTERM, and wait for the whole process group to be gone. */
  stop: () => Promise<void>;
};

const groupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

export const waitUntil = async (
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

/** Waits until the group of `pgid` has no process left; SIGKILLs it after the timeout. */
export const groupGone = async (pgid: number, timeoutMs = 15_000): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pgid)) {
    if (Date.now() > deadline) {
      process.kill(-pgid, 'SIGKILL');
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
};

/** Starts `berth up --data-dir D --port P` and resolves once it answers. */
export const startBerthProcess = async (dataDir: string, port: number): Promise<BerthProcess> => {
  // `npm start`'s command: Node runs the TypeScript as it is (type stripping), no transpiler.
  const child = spawn(
    process.execPath,
    ['cli/main.ts', 'up', '--data-dir', dataDir, '--port', String(port)],
    {
      cwd: repo,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BERTH_PORT: undefined, BERTH_DATA_DIR: undefined },
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pgid = child.pid as number;
  try {
    await waitUntil(
      'berth up to answer',
      () => {
        if (child.exitCode !== null) throw new Error(`berth up exited:\n${output}`);
        return /Berth is up at/.test(output);
      },
      90_000,
    );
  } catch (error) {
    process.kill(-pgid, 'SIGKILL');
    throw error;
  }
  const credentials = JSON.parse(readFileSync(`${dataDir}/credentials.json`, 'utf8'));
  const endpoint = `http://127.0.0.1:${port}`;
  const config = { endpoint, region: 'us-east-1', credentials, maxAttempts: 1 };
  const ecs = new ECSClient(config);
  const ssm = new SSMClient(config);
  return {
    child,
    endpoint,
    ecs,
    ssm,
    output: () => output,
    exited,
    berthPid: () => child.pid,
    stop: async () => {
      ecs.destroy();
      ssm.destroy();
      if (groupAlive(pgid)) process.kill(-pgid, 'SIGTERM');
      await groupGone(pgid, 20_000);
    },
  };
};
