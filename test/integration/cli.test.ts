import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = new URL('../../', import.meta.url).pathname;
const taskDefinitionFile = new URL('../fixtures/conformance/01-ecsworker-external.json', import.meta.url)
  .pathname;

type Berth = { child: ChildProcess; output: () => string; exited: Promise<number | null> };
const started: ChildProcess[] = [];

/** `npm start`'s command, in its own process group so that it and its JVM can be found again. */
const berthUp = (...args: string[]): Berth => {
  const child = spawn(process.execPath, ['cli/main.ts', 'up', ...args], {
    cwd: repo,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BERTH_PORT: undefined, BERTH_DATA_DIR: undefined },
  });
  started.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
};

const waitFor = async (berth: Berth, pattern: RegExp, timeoutMs = 45_000): Promise<RegExpMatchArray> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = berth.output().match(pattern);
    if (match) return match;
    if (berth.child.exitCode !== null) throw new Error(`berth exited early:\n${berth.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${berth.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

/** True while any process of the group (the CLI and DynamoDB Local's JVM) is alive. */
const groupAlive = (pid: number): boolean => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The environment without anything AWS-related from the machine running the tests. */
const cleanEnv = (): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_'))),
  AWS_CONFIG_FILE: '/nonexistent/berth-test-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/berth-test-credentials',
});

let berth: Berth;
let endpoint: string;
let port: number;
/** The `export …` lines `berth up` printed, and the example command after them. */
let exportLines: string;
let exampleCommand: string;

/** Runs a shell script after the printed exports; resolves with stdout, or rejects with the output. */
const shell = (script: string, args: string[] = []) =>
  new Promise<string>((resolve, reject) => {
    execFile(
      'bash',
      ['-c', `set -e\n${exportLines}\n${script}`, 'berth-test', ...args],
      { env: cleanEnv(), timeout: 30_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });

// biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON output is read field by field
const aws = async (...args: string[]): Promise<any> =>
  JSON.parse(
    await shell('url="$1"; shift; exec aws --output json --endpoint-url "$url" "$@"', [endpoint, ...args]),
  );

beforeAll(async () => {
  berth = berthUp('--in-memory', '--port', '0');
  await waitFor(berth, /Press Ctrl-C/);
  const up = berth.output().match(/Berth is up at (http:\/\/127\.0\.0\.1:(\d+))/);
  endpoint = up?.[1] as string;
  port = Number(up?.[2]);
  exportLines = berth
    .output()
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('export '))
    .join('\n');
  exampleCommand = berth
    .output()
    .split('\n')
    .map((line) => line.trim())
    .find((line) => line.startsWith('aws ecs')) as string;
});

afterAll(async () => {
  for (const child of started) {
    if (child.pid !== undefined && groupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
  }
});

// Each step spawns Python (the AWS CLI) or a JVM: slow on a busy machine, so allow a minute.
describe('berth up', { timeout: 60_000 }, () => {
  it('prints a real port and the exports that point the AWS CLI at it', () => {
    // Assess
    expect(port).toBeGreaterThan(0);
    expect(exportLines).toMatch(/^export AWS_ACCESS_KEY_ID=AKIA[A-Z0-9]{16}$/m);
    expect(exportLines).toMatch(/^export AWS_SECRET_ACCESS_KEY=\S{40}$/m);
    expect(exportLines).toMatch(/^export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1$/m);
    expect(exampleCommand).toBe(`aws ecs --endpoint-url ${endpoint} list-clusters`);
  });

  it('serves the AWS CLI with exactly the printed exports', async () => {
    // Act: the printed example, verbatim.
    const empty = JSON.parse(await shell(exampleCommand));

    // Assess
    expect(empty).toEqual({ clusterArns: [] });

    // Act
    const created = await aws('ecs', 'create-cluster');
    const [listed, described] = await Promise.all([
      aws('ecs', 'list-clusters'),
      aws('ecs', 'describe-clusters', '--clusters', 'default', 'missing'),
    ]);

    // Assess
    expect(created.cluster).toMatchObject({ clusterName: 'default', status: 'ACTIVE' });
    expect(created.cluster.clusterArn).toMatch(/^arn:aws:ecs:us-east-1:\d{12}:cluster\/default$/);
    expect(listed.clusterArns).toEqual([created.cluster.clusterArn]);
    expect(described.clusters).toEqual([
      expect.objectContaining({
        clusterName: 'default',
        status: 'ACTIVE',
        registeredContainerInstancesCount: 0,
      }),
    ]);
    expect(described.failures).toEqual([{ arn: expect.stringContaining('missing'), reason: 'MISSING' }]);
  });

  it('registers a task definition file through the AWS CLI and describes it back', async () => {
    // Act
    const registered = await aws(
      'ecs',
      'register-task-definition',
      '--cli-input-json',
      `file://${taskDefinitionFile}`,
    );
    const described = await aws('ecs', 'describe-task-definition', '--task-definition', 'ecsworker-external');

    // Assess
    expect(registered.taskDefinition).toMatchObject({
      family: 'ecsworker-external',
      revision: 1,
      status: 'ACTIVE',
      networkMode: 'bridge',
      cpu: '256',
      memory: '512',
      requiresCompatibilities: ['EXTERNAL'],
    });
    expect(registered.taskDefinition.compatibilities).toContain('EXTERNAL');
    expect(described.taskDefinition).toEqual(registered.taskDefinition);
    const container = described.taskDefinition.containerDefinitions[0];
    expect(container.name).toBe('ecsworker-external');
    expect(container.environment).toContainEqual({ name: 'SQS_QUEUE_URL', value: 'CHANGEME_SQS_QUEUE_URL' });
    expect(container.mountPoints).toEqual([{ containerPath: '/data', sourceVolume: 'share' }]);
  });

  it('creates an activation with the AWS CLI that an agent can register with', async () => {
    // Act
    const activation = await aws('ssm', 'create-activation', '--iam-role', 'x');
    const registration = await fetch(`${endpoint}/agent/v1/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        activationId: activation.ActivationId,
        activationCode: activation.ActivationCode,
        hostname: 'cli-host',
        agentVersion: '0.1.0',
        resources: { cpu: 1024, memory: 512 },
      }),
    });
    const [instances, activations] = await Promise.all([
      aws('ecs', 'list-container-instances'),
      aws('ssm', 'describe-activations'),
    ]);

    // Assess
    expect(activation.ActivationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(activation.ActivationCode).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(registration.status).toBe(200);
    const { containerInstanceArn } = (await registration.json()) as { containerInstanceArn: string };
    expect(instances.containerInstanceArns).toEqual([containerInstanceArn]);
    expect(activations.ActivationList).toEqual([
      expect.objectContaining({
        ActivationId: activation.ActivationId,
        IamRole: 'x',
        RegistrationLimit: 1,
        RegistrationsCount: 1,
      }),
    ]);
  });

  it('refuses to start a second time on a port in use, exiting non-zero and saying so', async () => {
    // Act
    const second = berthUp('--in-memory', '--port', String(port));
    const code = await second.exited;

    // Assess
    expect(code).not.toBe(0);
    expect(second.output()).toMatch(new RegExp(`Port ${port} .*already in use`));
    expect(second.output()).not.toMatch(/Berth is up/);
    // The first one still answers.
    expect(await aws('ecs', 'list-clusters')).toHaveProperty('clusterArns');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(groupAlive(second.child.pid as number)).toBe(false);
  });

  it('stops cleanly on SIGINT: exit code 0, port closed, no process left behind', async () => {
    // Act
    process.kill(berth.child.pid as number, 'SIGINT');
    const code = await berth.exited;

    // Assess
    expect(code).toBe(0);
    expect(berth.output()).toMatch(/Stopping Berth/);
    await expect(fetch(`${endpoint}/`, { method: 'POST' })).rejects.toThrow();
    const deadline = Date.now() + 10_000;
    while (groupAlive(berth.child.pid as number) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(groupAlive(berth.child.pid as number)).toBe(false);
  });
});

describe('berth up on a data dir', { timeout: 90_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-cli-data-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  /** One start on the data dir, stopped once it is up: what it printed. */
  const startAndStop = async (): Promise<string> => {
    const run = berthUp('--data-dir', dataDir, '--port', '0');
    await waitFor(run, /Press Ctrl-C/, 60_000);
    process.kill(run.child.pid as number, 'SIGINT');
    expect(await run.exited).toBe(0);
    return run.output();
  };

  /** The value the printed export lines give AWS_SECRET_ACCESS_KEY in a shell. */
  const exportedSecret = (output: string) =>
    new Promise<string>((resolve, reject) => {
      const exports = output
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.startsWith('export '))
        .join('\n');
      execFile('bash', ['-c', `set -e\n${exports}\nprintf %s "$AWS_SECRET_ACCESS_KEY"`], (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      );
    });

  it('prints the secret when it creates the key pair, and only the file it is kept in afterwards', async () => {
    // Act
    const first = await startAndStop();
    const second = await startAndStop();

    // Assess
    const file = join(dataDir, 'credentials.json');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { accessKeyId: string; secretAccessKey: string };
    expect(first).toContain(`export AWS_SECRET_ACCESS_KEY=${stored.secretAccessKey}\n`);
    expect(first).toContain(`kept in ${file}`);
    expect(second).not.toContain(stored.secretAccessKey);
    expect(second).toContain(`export AWS_ACCESS_KEY_ID=${stored.accessKeyId}\n`);
    expect(second).toContain(`read from ${file}`);
    // The later start's exports still work as printed: they read the secret from its file.
    expect(await exportedSecret(first)).toBe(stored.secretAccessKey);
    expect(await exportedSecret(second)).toBe(stored.secretAccessKey);
  });
});
