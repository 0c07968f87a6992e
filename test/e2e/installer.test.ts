import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateClusterCommand,
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ListContainerInstancesCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from '@aws-sdk/client-ecs';
import { DescribeActivationsCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from '../integration/harness.ts';
import { activationArgs, newActivation } from './agent-fixture.ts';
import { containersOf, eventually, removeClusterContainers, requireDocker, testImage } from './docker.ts';

const cluster = 'e2e-installer';
let berth: TestBerth;
let root: string;
let activation: { activationId: string; activationCode: string };
let taskArn: string;
/** Every agent pid the installer started, to be sure none outlives the tests. */
const pids = new Set<number>();

/** Install locations under a temp dir, and background mode: no systemd in a test. */
const paths = () => ({
  prefix: join(root, 'opt', 'berth'),
  config: join(root, 'etc', 'berth'),
  data: join(root, 'var', 'lib', 'berth'),
  logs: join(root, 'var', 'log', 'berth'),
  systemd: join(root, 'etc', 'systemd', 'system'),
});

const installerEnv = (): NodeJS.ProcessEnv => {
  const p = paths();
  return {
    ...process.env,
    BERTH_PREFIX: p.prefix,
    BERTH_CONFIG_DIR: p.config,
    BERTH_DATA_DIR: p.data,
    BERTH_LOG_DIR: p.logs,
    BERTH_SYSTEMD_DIR: p.systemd,
    BERTH_INSTALL_NO_SYSTEMD: '1',
    BERTH_INSTALL_TIMEOUT: '60',
  };
};

/**
 * `curl -fsSL ENDPOINT/agent/v1/install.sh | sudo bash -s -- ARGS`, as the README says: the script
 * is fetched over HTTP from the control plane and piped into bash (no sudo: the paths are the
 * test's own; fetch rather than curl, which a CI image may lack).
 */
const installer = async (...args: string[]) => {
  const response = await fetch(`${berth.endpoint}/agent/v1/install.sh`);
  expect(response.status).toBe(200);
  const script = await response.text();
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(
      'bash',
      ['-s', '--', ...args],
      { env: installerEnv(), timeout: 90_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(script);
  });
};

const agentPid = (): number | undefined => {
  const file = join(paths().data, 'agent.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  pids.add(pid);
  return pid;
};

const alive = (pid: number | undefined): boolean => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const registrationsCount = async () => {
  const answer = await berth.ssm.send(
    new DescribeActivationsCommand({
      Filters: [{ FilterKey: 'ActivationIds', FilterValues: [activation.activationId] }],
    }),
  );
  return answer.ActivationList?.[0]?.RegistrationsCount;
};

const instanceArns = async () =>
  (await berth.ecs.send(new ListContainerInstancesCommand({ cluster }))).containerInstanceArns ?? [];

const taskContainers = async () =>
  (await containersOf(cluster)).filter((c) => c.Labels['berth.task-arn'] === taskArn);

beforeAll(async () => {
  await requireDocker();
  await removeClusterContainers(cluster);
  root = mkdtempSync(join(tmpdir(), 'berth-install-'));
  berth = await startBerth({ host: '127.0.0.1', sweepIntervalMs: 3_600_000 });
  await berth.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  activation = await newActivation(berth);
});

afterAll(async () => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await removeClusterContainers(cluster);
  await berth?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the agent installer', () => {
  it('installs the served agent, which registers and runs a task in Docker', async () => {
    // Act
    const result = await installer(...activationArgs(cluster, activation));

    // Assess
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [arn] = await instanceArns();
    expect(result.stdout).toContain(`berth: container instance: ${arn}\n`);
    const p = paths();
    // The agent on disk is the one the control plane serves, checked against the same sha256.
    const served = await (await fetch(`${berth.endpoint}/agent/v1/berth-agent.mjs.sha256`)).text();
    const installed = createHash('sha256')
      .update(readFileSync(join(p.prefix, 'lib', 'berth-agent.mjs')))
      .digest('hex');
    expect(served).toBe(`${installed}  berth-agent.mjs\n`);
    // Once registered, the activation code is no longer kept on disk.
    expect(JSON.parse(readFileSync(join(p.config, 'agent.json'), 'utf8'))).toEqual({
      endpoint: berth.endpoint,
      cluster,
    });
    const identity = JSON.parse(readFileSync(join(p.data, 'identity.json'), 'utf8'));
    expect(identity).toMatchObject({ containerInstanceArn: arn, cluster });
    const unit = readFileSync(join(p.systemd, 'berth-agent.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${join(p.prefix, 'bin', 'berth-agent')}\n`);
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^After=.*\bdocker\.service\b/m);
    expect(unit).toMatch(/^Requires=docker\.service$/m);
    if (existsSync('/usr/bin/systemd-analyze') || existsSync('/bin/systemd-analyze')) {
      expect(
        execFileSync('systemd-analyze', ['verify', join(p.systemd, 'berth-agent.service')], {
          encoding: 'utf8',
          stdio: 'pipe',
        }),
      ).toBe('');
    }
    expect(alive(agentPid())).toBe(true);
    const [instance] =
      (
        await berth.ecs.send(
          new DescribeContainerInstancesCommand({ cluster, containerInstances: [arn ?? ''] }),
        )
      ).containerInstances ?? [];
    expect(instance).toMatchObject({ status: 'ACTIVE', agentConnected: true });
    expect(await registrationsCount()).toBe(1);

    // A task placed on the machine runs in Docker.
    await berth.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'installer-sleep',
        networkMode: 'bridge',
        requiresCompatibilities: ['EXTERNAL'],
        containerDefinitions: [{ name: 'main', image: testImage, memory: 32, command: ['sleep', '3600'] }],
      }),
    );
    const run = await berth.ecs.send(new RunTaskCommand({ cluster, taskDefinition: 'installer-sleep' }));
    taskArn = run.tasks?.[0]?.taskArn ?? '';
    expect(run.failures).toEqual([]);
    const task = await eventually('the task RUNNING', async () => {
      const [described] =
        (await berth.ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }))).tasks ?? [];
      return described?.lastStatus === 'RUNNING' ? described : undefined;
    });
    expect(task.containerInstanceArn).toBe(arn);
    const containers = await taskContainers();
    expect(containers.map((c) => [c.Image, c.State])).toEqual([[testImage, 'running']]);
  }, 120_000);

  it('upgrades in place when run again, keeping the registration and the running task', async () => {
    // Prepare
    const before = agentPid();
    const [arnBefore] = await instanceArns();
    const [containerBefore] = await taskContainers();

    // Act
    const result = await installer(...activationArgs(cluster, activation));

    // Assess
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`already registered as ${arnBefore}: upgrading in place`);
    expect(result.stdout).toContain(`berth: container instance: ${arnBefore}\n`);
    const after = agentPid();
    expect(after).not.toBe(before);
    expect(alive(before)).toBe(false);
    expect(alive(after)).toBe(true);
    // The activation was not used again: still one registration, still one instance.
    expect(await registrationsCount()).toBe(1);
    expect(await instanceArns()).toEqual([arnBefore]);
    // The restarted agent adopted the task's container instead of making another one.
    await eventually('the agent to report the instance connected after its restart', async () => {
      const [instance] =
        (
          await berth.ecs.send(
            new DescribeContainerInstancesCommand({ cluster, containerInstances: [arnBefore ?? ''] }),
          )
        ).containerInstances ?? [];
      return instance?.agentConnected === true && instance.runningTasksCount === 1;
    });
    const containers = await taskContainers();
    expect(containers.map((c) => [c.Id, c.State])).toEqual([[containerBefore?.Id, 'running']]);
  }, 120_000);

  it('uninstalls: stops the agent and removes its files and its task containers', async () => {
    // Prepare
    const pid = agentPid();
    const [arn] = await instanceArns();

    // Act
    const result = await installer('--uninstall');

    // Assess
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`--container-instance ${arn} --force`);
    expect(alive(pid)).toBe(false);
    const p = paths();
    for (const dir of [p.prefix, p.config, p.data, p.logs]) expect(existsSync(dir)).toBe(false);
    expect(existsSync(join(p.systemd, 'berth-agent.service'))).toBe(false);
    expect(await containersOf(cluster)).toEqual([]);
  }, 60_000);
});
