/**
 * `npm run bench:agent`: the agent's figures on this machine, with the real control plane
 * (`berth up` in process, DynamoDB Local), the bundled agent as a separate process and the real
 * Docker engine. Prints JSON and a table:
 * - idle RSS of the agent process with 10 running tasks (target ≤ 60 MB);
 * - time from RunTask accepted (the assignment is written) to the container running in Docker,
 *   with a cached image, p50/p90 over 20 runs per image pull behaviour (target p50 ≤ 1 s).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateClusterCommand,
  DescribeTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { buildAgentBundle } from '../../agent/build.ts';
import { activationArgs, agentRegistered, newActivation } from '../e2e/agent-fixture.ts';
import {
  containersOf,
  eventually,
  removeClusterContainers,
  requireDocker,
  testImage,
} from '../e2e/docker.ts';
import { startBerth } from '../integration/harness.ts';

const cluster = 'bench-agent';
const runs = Number(process.env.BENCH_RUNS ?? 20);
const idleTasks = 10;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
};

const rssMiB = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? 0) / 1024;
};

const main = async () => {
  const docker = await requireDocker();
  await removeClusterContainers(cluster);
  const { outfile, bytes } = await buildAgentBundle(
    join(mkdtempSync(join(tmpdir(), 'berth-bench-')), 'berth-agent.mjs'),
  );
  const berth = await startBerth({ sweepIntervalMs: 3_600_000 });
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-agent-'));
  let agent: ChildProcess | undefined;
  const startAgent = (pullBehavior: string, extra: string[] = []) => {
    agent = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
        outfile,
        '--endpoint',
        berth.endpoint,
        '--data-dir',
        dataDir,
        '--image-pull-behavior',
        pullBehavior,
        '--log-level',
        process.env.BENCH_LOG ?? 'warn',
        '--cleanup-wait',
        '5',
        '--stop-timeout',
        '1',
        ...extra,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    return agent;
  };
  const stopAgent = async () => {
    if (!agent || agent.exitCode !== null) return;
    const exited = new Promise((resolve) => agent?.once('exit', resolve));
    agent.kill('SIGTERM');
    await exited;
  };
  try {
    await berth.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
    await berth.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'bench',
        requiresCompatibilities: ['EXTERNAL'],
        containerDefinitions: [
          { name: 'app', image: testImage, memory: 16, essential: true, command: ['sleep', '3600'] },
        ],
      }),
    );
    const activation = await newActivation(berth);
    startAgent('prefer-cached', activationArgs(cluster, activation));

    await agentRegistered(berth, cluster);

    // Idle RSS with 10 running tasks.
    const run = await berth.ecs.send(
      new RunTaskCommand({ cluster, taskDefinition: 'bench', count: idleTasks, launchType: 'EXTERNAL' }),
    );
    const idleArns = (run.tasks ?? []).map((t) => t.taskArn ?? '');
    if (idleArns.length !== idleTasks) throw new Error(`placed ${idleArns.length} of ${idleTasks} tasks`);
    await eventually(
      'the idle tasks to run',
      async () => {
        const tasks =
          (await berth.ecs.send(new DescribeTasksCommand({ cluster, tasks: idleArns }))).tasks ?? [];
        return tasks.every((t) => t.lastStatus === 'RUNNING');
      },
      120_000,
      500,
    );
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(rssMiB(agent?.pid ?? 0));
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const idleRss = Math.max(...samples);

    // Assignment to running, per pull behaviour (a restart of the agent in between adopts the idle tasks).
    const latency: Record<string, { p50: number; p90: number; samples: number[] }> = {};
    for (const behavior of ['prefer-cached', 'default']) {
      await stopAgent();
      startAgent(behavior);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const events = await docker.getEvents({
          filters: { type: ['container'], event: ['start'], label: [`berth.cluster=${cluster}`] },
        });
        const started = new Promise<number>((resolve) => {
          events.on('data', (chunk: Buffer) => {
            for (const line of chunk.toString().split('\n').filter(Boolean)) {
              const event = JSON.parse(line) as { timeNano: number };
              resolve(event.timeNano / 1e6);
            }
          });
        });
        const answer = await berth.ecs.send(
          new RunTaskCommand({ cluster, taskDefinition: 'bench', launchType: 'EXTERNAL' }),
        );
        const accepted = Date.now();
        if (process.env.BENCH_LOG) process.stderr.write(`run accepted ${new Date(accepted).toISOString()}\n`);
        const startedAt = await Promise.race([
          started,
          new Promise<number>((_, reject) =>
            setTimeout(() => reject(new Error('no start within 30 s')), 30_000),
          ),
        ]);
        (events as unknown as { destroy: () => void }).destroy();
        // From the RunTask answer: the assignment is written by then.
        times.push(startedAt - accepted);
        await berth.ecs.send(new StopTaskCommand({ cluster, task: answer.tasks?.[0]?.taskArn ?? '' }));
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      latency[behavior] = {
        p50: percentile(times, 50),
        p90: percentile(times, 90),
        samples: times.map(Math.round),
      };
    }
    const running = (await containersOf(cluster, false)).length;
    const result = {
      bundleKiB: Math.round(bytes / 1024),
      idleRssMiB: Number(idleRss.toFixed(1)),
      idleTasks,
      runningContainersAtEnd: running,
      assignmentToRunningMs: latency,
      runs,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n\n`);
    process.stdout.write('| figure | value | target |\n|---|---|---|\n');
    process.stdout.write(`| agent bundle | ${result.bundleKiB} KiB | small |\n`);
    process.stdout.write(
      `| idle agent RSS, ${idleTasks} running tasks | ${result.idleRssMiB} MiB | ≤ 60 MB |\n`,
    );
    for (const [behavior, figures] of Object.entries(latency)) {
      process.stdout.write(
        `| RunTask accepted → container running (${behavior}), p50 / p90 | ${figures.p50.toFixed(0)} / ${figures.p90.toFixed(0)} ms | p50 ≤ 1000 ms |\n`,
      );
    }
  } finally {
    await stopAgent();
    await berth.stop();
    await removeClusterContainers(cluster);
  }
};

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
