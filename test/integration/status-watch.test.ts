import { type ChildProcess, spawn } from 'node:child_process';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  type CreateServiceCommandInput,
  RunTaskCommand,
  StopTaskCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../cli/status.ts';
import { watchService } from '../../cli/watch.ts';
import { breakerService, describeService, type FamilyShape, registerFamily } from './fixtures.ts';
import { startBerth, type TestBerth } from './harness.ts';
import { fleet, ScriptedAgent, settle, syncRound, tasksOf } from './scripted-agent.ts';

const repo = new URL('../../', import.meta.url).pathname;
let berth: TestBerth;
/** Added to the control plane's clock: skips a start-failure backoff, or makes an agent look silent. */
let clockOffsetMs = 0;
const children: ChildProcess[] = [];

beforeAll(async () => {
  berth = await startBerth({
    now: () => new Date(Date.now() + clockOffsetMs),
    // The sweeper runs only when a test asks for it.
    sweepIntervalMs: 3_600_000,
  });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await berth?.stop();
});

type Cli = {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
};

/** Runs the real `berth` command with Berth's keys in the standard AWS variables, nothing else of AWS. */
const berthCli = (...args: string[]): Cli => {
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_'))),
    AWS_CONFIG_FILE: '/nonexistent/berth-test-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/berth-test-credentials',
    AWS_ACCESS_KEY_ID: berth.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: berth.credentials.secretAccessKey,
    AWS_DEFAULT_REGION: berth.region,
    BERTH_ENDPOINT: berth.endpoint,
  };
  const child = spawn('node_modules/.bin/tsx', ['cli/main.ts', ...args], { cwd: repo, env });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
};

/** Runs a command to its end. */
const run = async (...args: string[]) => {
  const cli = berthCli(...args);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `cli` printed something matching `pattern`. */
const printed = async (cli: Cli, pattern: RegExp, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(cli.stdout())) {
    if (cli.child.exitCode !== null) throw new Error(`exited early:\n${cli.stdout()}\n${cli.stderr()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${cli.stdout()}`);
    await sleep(50);
  }
};

/**
 * Ids, deployment ids and ages differ from run to run: each distinct id becomes <id1>, <id2>… in
 * order of appearance (the 12-character short ids of the tables padded to keep their columns).
 */
const normalise = (text: string): string => {
  const ids = new Map<string, string>();
  const idFor = (id: string) => {
    const key = id.slice(0, 12);
    if (!ids.has(key)) ids.set(key, `<id${ids.size + 1}>`);
    return ids.get(key) ?? '';
  };
  const deployments = new Map<string, string>();
  return text
    .replace(/ecs-svc\/\d{19}/g, (id) => {
      if (!deployments.has(id)) deployments.set(id, `ecs-svc/<deployment${deployments.size + 1}>`);
      return deployments.get(id) ?? '';
    })
    .replace(/\b[0-9a-f]{32}\b/g, idFor)
    .replace(/\b[0-9a-f]{12}\b/g, (id) => idFor(id).padEnd(12))
    .replace(/ *(\d+[smhd] ago|just now)/g, (age) => '<age>'.padStart(age.length));
};

/** Definitions as users write them: EXTERNAL, their registry's image tagged with the revision. */
const external = (cpu = 256, memory = 256): FamilyShape => ({
  requiresCompatibilities: ['EXTERNAL'],
  container: (revision, family) => ({ image: `registry.example/${family}:${revision}`, cpu, memory }),
});

const createService = (input: CreateServiceCommandInput) =>
  berth.ecs.send(new CreateServiceCommand({ launchType: 'EXTERNAL', ...input }));

/** Syncs the fleet (and, when `skipBackoff`, moves the clock and sweeps) until `cli` exits. */
const driveUntilExit = async (cli: Cli, agents: ScriptedAgent[], skipBackoff = false) => {
  for (let round = 0; round < 120 && cli.child.exitCode === null; round++) {
    await syncRound(berth, agents);
    if (skipBackoff) {
      // Repeated start failures back off; move the clock past the backoff and let the sweeper look.
      clockOffsetMs += 11_000;
      await berth.sweep();
    }
    await sleep(150);
  }
  return cli.exited;
};

describe('berth status', () => {
  let web: ScriptedAgent;
  let worker: ScriptedAgent;

  beforeAll(async () => {
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'shop' }));
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'quiet' }));
    web = await ScriptedAgent.register(berth, {
      cluster: 'shop',
      cpu: 2048,
      memory: 4096,
      attributes: [{ name: 'role', value: 'web' }],
    });
    worker = await ScriptedAgent.register(berth, {
      cluster: 'shop',
      cpu: 1024,
      memory: 2048,
      attributes: [{ name: 'role', value: 'worker' }],
    });
    const agents = [web, worker];
    await registerFamily(berth, 'web', 1, external());
    await registerFamily(berth, 'worker', 2, external(512, 512));
    await registerFamily(berth, 'migrate', 1, external(128, 128));
    await createService({
      cluster: 'shop',
      serviceName: 'web',
      taskDefinition: 'web',
      desiredCount: 2,
      placementConstraints: [{ type: 'memberOf', expression: 'attribute:role == web' }],
    });
    await createService({
      cluster: 'shop',
      serviceName: 'worker',
      taskDefinition: 'worker:1',
      desiredCount: 1,
      placementConstraints: [{ type: 'memberOf', expression: 'attribute:role == worker' }],
    });
    await settle(berth, agents);
    // A deployment that stays in progress: its task never gets past PENDING.
    worker.stalling.add('worker:2');
    await berth.ecs.send(
      new UpdateServiceCommand({ cluster: 'shop', service: 'worker', taskDefinition: 'worker:2' }),
    );
    await settle(berth, agents);
    // A one-off task whose container exits 1, and a service task an operator stopped.
    web.failing.add('migrate');
    await berth.ecs.send(
      new RunTaskCommand({
        cluster: 'shop',
        taskDefinition: 'migrate',
        placementConstraints: [{ type: 'memberOf', expression: 'attribute:role == web' }],
      }),
    );
    await settle(berth, agents);
    const [stopped] = (await tasksOf(berth, { cluster: 'shop', serviceName: 'web' })).filter(
      (task) => task.lastStatus === 'RUNNING',
    );
    await berth.ecs.send(
      new StopTaskCommand({ cluster: 'shop', task: stopped?.taskArn, reason: 'Restarted by the operator' }),
    );
    await settle(berth, agents);
    // The worker machine goes silent for longer than the grace; the web machine keeps syncing.
    worker.connected = false;
    clockOffsetMs += 200_000;
    await web.sync();
    await berth.sweep();
  });

  it('shows instances, services with their deployments, and stopped tasks with their reasons', async () => {
    // Act
    const { code, stdout, stderr } = await run('status', '--cluster', 'shop');

    // Assess
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(`\n${normalise(stdout)}`).toMatchInlineSnapshot(`
      "
      Cluster shop (ACTIVE): 2 instances (1 connected), 2 services, 3 running and 1 pending tasks

      INSTANCES       AGENT         STATUS  CPU        MEMORY         RUNNING  PENDING  VERSION  LAST SEEN
        <id1>         connected     ACTIVE  512/2048   512/4096 MiB   2        0        0.1.0    within 3m
        <id2>         disconnected  ACTIVE  1024/1024  1024/2048 MiB  1        1        0.1.0    over 3m

      SERVICES  DESIRED  RUNNING  PENDING  DEPLOYMENTS (running/desired)    ROLLOUT      LAST EVENT
        web     2        2        0        PRIMARY web:1 2/2                COMPLETED       <age>: (service web) has reached a steady state.
        worker  1        1        1        PRIMARY worker:2 0/1 +1 pending  IN_PROGRESS     <age>: (service worker) has reached a steady state.
                                           ACTIVE worker:1 1/0              COMPLETED

      STOPPED TASKS   DEFINITION  GROUP           STOPPED   CODE                      REASON
        <id3>         web:1       service:web        <age>  UserInitiated             Restarted by the operator (app: exit 0)
        <id4>         migrate:1   family:migrate     <age>  EssentialContainerExited  Essential container in task exited (app: exit 1)

      LAST SEEN comes from ECS's agentConnected (ECS has no heartbeat time): an agent is marked disconnected after 3 minutes without a sync.
      "
    `);
  });

  it('prints the same as JSON, with resources used of registered and the deployments', async () => {
    // Act
    const { code, stdout } = await run('status', '--cluster', 'shop', '--json');

    // Assess
    expect(code).toBe(0);
    const { clusters } = JSON.parse(stdout) as { clusters: ClusterStatus[] };
    expect(clusters.map((cluster) => cluster.clusterName)).toEqual(['shop']);
    const [shop] = clusters;
    expect(shop?.instances.map((i) => i.containerInstanceArn)).toEqual([
      web.containerInstanceArn,
      worker.containerInstanceArn,
    ]);
    expect(shop?.instances[0]).toMatchObject({
      agentConnected: true,
      status: 'ACTIVE',
      cpu: { used: 512, registered: 2048 },
      memory: { used: 512, registered: 4096 },
      runningTasks: 2,
      pendingTasks: 0,
      agentVersion: '0.1.0',
    });
    expect(shop?.instances[1]).toMatchObject({
      agentConnected: false,
      cpu: { used: 1024, registered: 1024 },
      runningTasks: 1,
      pendingTasks: 1,
    });
    const workerService = shop?.services.find((service) => service.serviceName === 'worker');
    expect(workerService?.deployments.map((d) => [d.status, d.taskDefinition, d.rolloutState])).toEqual([
      ['PRIMARY', 'worker:2', 'IN_PROGRESS'],
      ['ACTIVE', 'worker:1', 'COMPLETED'],
    ]);
    expect(shop?.stoppedTasks.map((task) => [task.taskDefinition, task.stopCode])).toEqual([
      ['web:1', 'UserInitiated'],
      ['migrate:1', 'EssentialContainerExited'],
    ]);
    expect(shop?.stoppedTasks[1]?.containers).toEqual([{ name: 'app', exitCode: 1 }]);
  });

  it('shows every cluster when none is named', async () => {
    // Act
    const { code, stdout } = await run('status');

    // Assess
    expect(code).toBe(0);
    expect(stdout).toContain('Cluster shop (ACTIVE): 2 instances (1 connected), 2 services');
    expect(stdout).toContain('Cluster quiet (ACTIVE): 0 instances (0 connected), 0 services');
  });

  it('fails with a sentence when the cluster does not exist', async () => {
    // Act
    const { code, stdout, stderr } = await run('status', '--cluster', 'nowhere');

    // Assess
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe('berth status: No cluster named nowhere.\n');
  });
});

describe('berth watch', () => {
  it('follows a rolling deployment and exits 0 once it completes with every desired task running', async () => {
    // Prepare
    const agents = await fleet(berth, 'rollout', 2);
    await registerFamily(berth, 'shop-api', 2, external());
    await createService({
      cluster: 'rollout',
      serviceName: 'api',
      taskDefinition: 'shop-api:1',
      desiredCount: 3,
    });
    await settle(berth, agents);
    await berth.ecs.send(
      new UpdateServiceCommand({ cluster: 'rollout', service: 'api', taskDefinition: 'shop-api:2' }),
    );

    // Act
    const watch = berthCli('watch', 'api', '--cluster', 'rollout', '--interval', '0.1', '--timeout', '60');
    await printed(watch, /^Watching api/m);
    const code = await driveUntilExit(watch, agents);

    // Assess
    expect(watch.stderr()).toBe('');
    expect(code).toBe(0);
    const lines = normalise(watch.stdout()).split('\n');
    expect(lines[0]).toBe(
      'Watching api in rollout: deployment ecs-svc/<deployment1> (shop-api:2), 3 desired',
    );
    // Progress lines: the new deployment fills up while the old one drains.
    expect(lines.some((line) => /PRIMARY shop-api:2 \[[#+-]{20}\] [0-2]\/3 running/.test(line))).toBe(true);
    expect(lines.some((line) => /ACTIVE {2}shop-api:1 \[[#+-]{20}\]/.test(line))).toBe(true);
    expect(
      lines.some((line) => /^\d\d:\d\d:\d\d \(service api\) has reached a steady state\.$/.test(line)),
    ).toBe(true);
    expect(lines.at(-2)).toMatch(
      /^Steady: api runs 3\/3 tasks of shop-api:2 \(deployment ecs-svc\/<deployment1> COMPLETED\) after \d+s\.$/,
    );
    // What watch reported is what the control plane holds.
    const service = await describeService(berth, 'rollout', 'api');
    expect(
      service.deployments?.map((d) => [d.taskDefinition?.split('/').pop(), d.rolloutState, d.runningCount]),
    ).toEqual([['shop-api:2', 'COMPLETED', 3]]);
  }, 90_000);

  it('exits 2 when the circuit breaker fails the deployment and rolls it back', async () => {
    // Prepare
    const agents = await breakerService(berth, 'breaker', {
      family: external(),
      service: { launchType: 'EXTERNAL' },
    });
    await berth.ecs.send(
      new UpdateServiceCommand({ cluster: 'breaker', service: 'web', taskDefinition: 'breaker-web:2' }),
    );

    // Act
    const watch = berthCli('watch', 'web', '--cluster', 'breaker', '--interval', '0.1', '--timeout', '60');
    await printed(watch, /^Watching web/m);
    const code = await driveUntilExit(watch, agents, true);

    // Assess
    expect(code).toBe(2);
    const output = normalise(watch.stdout());
    expect(output).toContain('(deployment ecs-svc/<deployment1>) deployment failed: tasks failed to start.');
    expect(output).toMatch(
      /\nFAILED: deployment ecs-svc\/<deployment1> ECS deployment circuit breaker: tasks failed to start\.; rolling back to breaker-web:1\.\nFollow the rollback with: berth watch web\n$/,
    );
    const service = await describeService(berth, 'breaker', 'web');
    const failed = service.deployments?.find((d) => d.rolloutState === 'FAILED');
    const primary = service.deployments?.find((d) => d.status === 'PRIMARY');
    expect(failed?.taskDefinition).toMatch(/breaker-web:2$/);
    expect(primary?.taskDefinition).toMatch(/breaker-web:1$/);
  }, 90_000);

  it('exits 3 when the deployment is not steady within the timeout', async () => {
    // Prepare
    const agents = await fleet(berth, 'stuck', 1);
    await registerFamily(berth, 'stuck-web', 1, external());
    for (const agent of agents) agent.stalling.add('stuck-web');
    await createService({
      cluster: 'stuck',
      serviceName: 'web',
      taskDefinition: 'stuck-web',
      desiredCount: 1,
    });
    await settle(berth, agents);

    // Act
    const { code, stdout } = await run(
      'watch',
      'web',
      '--cluster',
      'stuck',
      '--interval',
      '0.2',
      '--timeout',
      '1',
    );

    // Assess
    expect(code).toBe(3);
    expect(normalise(stdout).split('\n').slice(1)).toEqual([
      expect.stringMatching(
        /^\d\d:\d\d:\d\d PRIMARY stuck-web:1 \[\+{20}\] 0\/1 running, 1 pending {2}IN_PROGRESS$/,
      ),
      'Timed out after 1s before the service was steady.',
      '',
    ]);
    expect((await describeService(berth, 'stuck', 'web')).pendingCount).toBe(1);
  });

  it('redraws the progress in place on a terminal', async () => {
    // Prepare
    const agents = await fleet(berth, 'terminal', 1);
    await registerFamily(berth, 'terminal-web', 1, external());
    await createService({
      cluster: 'terminal',
      serviceName: 'web',
      taskDefinition: 'terminal-web',
      desiredCount: 2,
    });
    let output = '';

    // Act
    const watching = watchService({
      ecs: berth.ecs,
      cluster: 'terminal',
      service: 'web',
      timeoutSeconds: 30,
      intervalMs: 100,
      write: (text) => {
        output += text;
      },
      tty: true,
    });
    let result: string | undefined;
    void watching.then((value) => {
      result = value;
    });
    for (let round = 0; round < 60 && result === undefined; round++) {
      await syncRound(berth, agents);
      await sleep(100);
    }

    // Assess
    expect(await watching).toBe('steady');
    // Cursor up and clear: the block was drawn again where it was, not appended.
    expect(output).toContain('\x1b[1A\x1b[J');
    expect(output).toMatch(/PRIMARY terminal-web:1 \[#{20}\] 2\/2 running {2}COMPLETED\n/);
    expect(output).not.toMatch(/^\d\d:\d\d:\d\d PRIMARY/m);
  });
});
