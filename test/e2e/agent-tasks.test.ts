import { createServer } from 'node:http';
import { connect } from 'node:net';
import {
  type ContainerDefinition,
  CreateClusterCommand,
  DescribeTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../agent/agent.ts';
import { startBerth, type TestBerth } from '../integration/harness.ts';
import { newActivation, startDockerAgent, testAgentConfig } from './agent-fixture.ts';
import { containersOf, eventually, removeClusterContainers, requireDocker, testImage } from './docker.ts';

const cluster = 'e2e-tasks';
const proxiedCluster = 'e2e-proxy';
let berth: TestBerth;
let docker: Docker;
let agent: Agent;

beforeAll(async () => {
  docker = await requireDocker();
  await removeClusterContainers(cluster);
  await removeClusterContainers(proxiedCluster);
  berth = await startBerth({ sweepIntervalMs: 3_600_000 });
  await berth.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  agent = await startDockerAgent(
    testAgentConfig({ endpoint: berth.endpoint, cluster, ...(await newActivation(berth)) }),
  );
});

afterAll(async () => {
  await agent?.stop();
  await berth?.stop();
  await removeClusterContainers(cluster);
  await removeClusterContainers(proxiedCluster);
});

const run = async (family: string, containers: ContainerDefinition[], inCluster = cluster) => {
  await berth.ecs.send(
    new RegisterTaskDefinitionCommand({
      family,
      networkMode: 'bridge',
      requiresCompatibilities: ['EXTERNAL'],
      containerDefinitions: containers.map((c) => ({ image: testImage, memory: 64, ...c })),
    }),
  );
  const answer = await berth.ecs.send(
    new RunTaskCommand({ cluster: inCluster, taskDefinition: family, launchType: 'EXTERNAL' }),
  );
  const arn = answer.tasks?.[0]?.taskArn;
  if (!arn) throw new Error(`RunTask placed nothing: ${JSON.stringify(answer.failures)}`);
  return arn;
};

const describe1 = async (taskArn: string): Promise<Task> => {
  const inCluster = taskArn.split('/').at(-2);
  const answer = await berth.ecs.send(new DescribeTasksCommand({ cluster: inCluster, tasks: [taskArn] }));
  const task = answer.tasks?.[0];
  if (!task) throw new Error(`task ${taskArn} not found`);
  return task;
};

const whenTask = (what: string, taskArn: string, holds: (task: Task) => boolean, timeoutMs = 45_000) =>
  eventually(
    what,
    async () => {
      const task = await describe1(taskArn);
      return holds(task) ? task : undefined;
    },
    timeoutMs,
  );

const dockerContainersOf = async (taskArn: string) =>
  (await containersOf(cluster)).filter((c) => c.Labels['berth.task-arn'] === taskArn);

describe('berth agent on Docker', () => {
  it('starts a two-container task whose web container answers on its dynamic host port', async () => {
    const taskArn = await run('web', [
      {
        name: 'web',
        essential: true,
        command: ['sh', '-c', 'echo hello from berth > /www/index.html && exec httpd -f -p 8080 -h /www'],
        portMappings: [{ containerPort: 8080, hostPort: 0, protocol: 'tcp' }],
        environment: [{ name: 'GREETING', value: 'hi' }],
        dockerLabels: { team: 'edge' },
      },
      {
        name: 'sidecar',
        essential: false,
        command: ['sleep', '3600'],
        dependsOn: [{ containerName: 'web', condition: 'START' }],
      },
    ]);

    const task = await whenTask('the task to run', taskArn, (t) => t.lastStatus === 'RUNNING');
    const web = task.containers?.find((c) => c.name === 'web');
    const binding = web?.networkBindings?.[0];
    expect(binding).toMatchObject({ containerPort: 8080, protocol: 'tcp' });
    expect(binding?.hostPort).toBeGreaterThan(0);
    const page = await fetch(`http://127.0.0.1:${binding?.hostPort}/index.html`);
    expect(await page.text()).toBe('hello from berth\n');

    const running = await dockerContainersOf(taskArn);
    expect(running.map((c) => c.Labels['berth.container-name']).sort()).toEqual(['sidecar', 'web']);
    expect(running.every((c) => c.State === 'running')).toBe(true);
    const inspected = await docker.getContainer(web?.runtimeId ?? '').inspect();
    expect(inspected.Config.Env).toContain('GREETING=hi');
    expect(inspected.Config.Labels).toMatchObject({
      team: 'edge',
      'berth.family': 'web',
      'berth.cluster': cluster,
    });
    expect(inspected.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(inspected.HostConfig.LogConfig).toEqual({
      Type: 'json-file',
      Config: { 'max-file': '3', 'max-size': '10m' },
    });
  }, 90_000);

  it('stops the task when an essential container exits, with its exit code and stop code', async () => {
    const taskArn = await run('job', [
      { name: 'main', essential: true, command: ['sh', '-c', 'sleep 1; exit 3'] },
      { name: 'helper', essential: false, command: ['sleep', '3600'], stopTimeout: 2 },
    ]);

    const task = await whenTask('the task to stop', taskArn, (t) => t.lastStatus === 'STOPPED');
    expect(task.stopCode).toBe('EssentialContainerExited');
    expect(task.stoppedReason).toBe('Essential container in task exited');
    const main = task.containers?.find((c) => c.name === 'main');
    expect(main).toMatchObject({ lastStatus: 'STOPPED', exitCode: 3 });
    expect(task.containers?.find((c) => c.name === 'helper')?.lastStatus).toBe('STOPPED');
    expect((await dockerContainersOf(taskArn)).every((c) => c.State !== 'running')).toBe(true);
    // Removed once the STOPPED report was acknowledged, after the cleanup wait (2 s here).
    await eventually(
      'the stopped containers to be removed',
      async () => (await dockerContainersOf(taskArn)).length === 0,
      15_000,
    );
  }, 90_000);

  it('reports a task UNHEALTHY when its health check fails and HEALTHY when it passes', async () => {
    const check = (command: string) => ({
      command: ['CMD-SHELL', command],
      interval: 5,
      timeout: 2,
      retries: 1,
    });
    const [sick, fine] = await Promise.all([
      run('sick', [
        { name: 'app', essential: true, command: ['sleep', '3600'], healthCheck: check('exit 1') },
      ]),
      run('fine', [{ name: 'app', essential: true, command: ['sleep', '3600'], healthCheck: check('true') }]),
    ]);

    const unhealthy = await whenTask(
      'the failing check to mark the task',
      sick,
      (t) => t.healthStatus === 'UNHEALTHY',
    );
    expect(unhealthy.lastStatus).toBe('RUNNING');
    expect(unhealthy.containers?.[0]?.healthStatus).toBe('UNHEALTHY');
    const healthy = await whenTask(
      'the passing check to mark the task',
      fine,
      (t) => t.healthStatus === 'HEALTHY',
    );
    expect(healthy.containers?.[0]?.healthStatus).toBe('HEALTHY');
    const inspected = await docker.getContainer(unhealthy.containers?.[0]?.runtimeId ?? '').inspect();
    expect(inspected.State.Health?.Status).toBe('unhealthy');
  }, 90_000);

  it('registers, syncs and runs tasks through an HTTP proxy, over CONNECT tunnels', async () => {
    const tunnels: string[] = [];
    const proxy = createServer((_request, response) => response.writeHead(405).end());
    proxy.on('connect', (request, client, head) => {
      tunnels.push(request.url ?? '');
      const [host, port] = (request.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const address = proxy.address();
    const proxyPort = typeof address === 'object' && address ? address.port : 0;
    await berth.ecs.send(new CreateClusterCommand({ clusterName: proxiedCluster }));
    const proxied = await startDockerAgent(
      testAgentConfig({ endpoint: berth.endpoint, cluster: proxiedCluster, ...(await newActivation(berth)) }),
      { env: { HTTP_PROXY: `http://127.0.0.1:${proxyPort}` } },
    );
    try {
      const taskArn = await run(
        'proxied',
        [{ name: 'app', essential: true, command: ['sleep', '3600'] }],
        proxiedCluster,
      );
      const task = await whenTask(
        'the proxied agent to run its task',
        taskArn,
        (t) => t.lastStatus === 'RUNNING',
      );
      expect(task.containerInstanceArn).toBe(proxied.containerInstanceArn);
      const [container] = await containersOf(proxiedCluster);
      expect(container?.State).toBe('running');
      // Registration, long-polls and syncs all went through the proxy, to the control plane only.
      expect(tunnels.length).toBeGreaterThanOrEqual(3);
      expect(new Set(tunnels)).toEqual(new Set([new URL(berth.endpoint).host]));
    } finally {
      await proxied.stop();
      proxy.closeAllConnections();
      proxy.close();
    }
  }, 90_000);
});
