/**
 * `npm run bench [-- --quick --agents N ...]`: the fleet benchmark against a fresh in-memory `berth up`, with
 * the fleet simulator's real agents (fake container runtime) over real HTTP. Scenarios: burst,
 * doorbell, idle, api, raw. Writes bench-results/latest.json, a table (bench-results/table.md)
 * and an SVG chart of tasks RUNNING over time, and regenerates docs/cost.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeServicesCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from '@aws-sdk/client-ecs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../../core/db/client.ts';
import { signedDoorbellPath } from '../../core/doorbell/in-process.ts';
import { startLocalHost } from '../../local/host.ts';
import { dbMeterPlugin, newMeter } from '../support/db-meter.ts';
import { runningChart } from './fleet-chart.ts';
import { costMarkdown, costModel } from './fleet-cost.ts';
import { startFleet } from './fleet-simulator.ts';

export type BenchParams = {
  agents: number;
  tasks: number;
  idleAgents: number;
  idleSeconds: number;
  doorbellRuns: number;
  apiRuns: number;
  rawSeconds: number;
  startDelayMs: number;
  outDir: string;
  /** Whether to rewrite docs/cost.md (full runs only). */
  writeDocs: boolean;
};

export const defaultParams: BenchParams = {
  agents: 200,
  tasks: 2000,
  idleAgents: 1000,
  idleSeconds: 180,
  doorbellRuns: 50,
  apiRuns: 200,
  rawSeconds: 5,
  startDelayMs: 50,
  outDir: 'bench-results',
  writeDocs: true,
};

export const quickParams: BenchParams = {
  agents: 5,
  tasks: 20,
  idleAgents: 10,
  idleSeconds: 5,
  doorbellRuns: 5,
  apiRuns: 20,
  rawSeconds: 1,
  startDelayMs: 20,
  outDir: 'bench-results',
  writeDocs: false,
};

export const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
};

const benchStarted = performance.now();
/** Progress on stderr, so a long run shows where it is. */
const progress = (message: string) =>
  process.stderr.write(`[bench +${((performance.now() - benchStarted) / 1000).toFixed(1)} s] ${message}\n`);

/** [seconds since start, how many by then] for each moment in a map of first sightings. */
const overTime = (moments: Map<string, number>, start: number): number[][] =>
  [...moments.values()].sort((a, b) => a - b).map((at, i) => [round((at - start) / 1000, 3), i + 1]);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 2) => Number(value.toFixed(digits));

const waitFor = async (what: string, check: () => boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      progress(`gave up waiting for ${what}`);
      return false;
    }
    await sleep(50);
  }
  return true;
};

/** Waits for the reconciler to catch up; a backlog that outlasts the wait is reported, not fatal. */
const settle = async (host: { drain: (ms?: number) => Promise<void> }) => {
  const started = performance.now();
  try {
    await host.drain(120_000);
  } catch (error) {
    progress(
      `reconciler still behind after ${((performance.now() - started) / 1000).toFixed(0)} s: ${error}`,
    );
  }
};

/** As many tasks as the reconciler puts in one transaction (core/reconcile/run/apply.ts maxStartsPerPass). */
const tasksPerRawTransaction = 40;
const rawConcurrency = 16;

/**
 * TransactWriteItems per second straight at the table for `seconds`, `rawConcurrency` at a time, each
 * holding `tasks` task-sized puts, as many conditional instance updates and one versioned service
 * update (without the service update when `tasks` is 1: the smallest placement).
 */
const rawTransactions = async (db: Db, seconds: number, tasks: number): Promise<number> => {
  const started = performance.now();
  const payload = 'x'.repeat(1_200);
  let count = 0;
  const worker = async (w: number) => {
    for (let i = 0; performance.now() - started < seconds * 1000; i++) {
      const items = Array.from({ length: tasks }, (_, t) => [
        { Put: { TableName: db.table, Item: { pk: `RAW#${w}`, sk: `T#${tasks}#${i}#${t}`, payload } } },
        {
          Update: {
            TableName: db.table,
            Key: { pk: `RAWINSTANCE#${w}#${t}`, sk: 'INSTANCE' },
            UpdateExpression: 'ADD used :one',
            ConditionExpression: 'attribute_not_exists(used) OR used < :max',
            ExpressionAttributeValues: { ':one': 1, ':max': 1e9 },
          },
        },
      ]).flat();
      const service = {
        Update: {
          TableName: db.table,
          Key: { pk: `RAWSERVICE#${w}`, sk: 'SERVICE' },
          UpdateExpression: 'SET #version = :next',
          ConditionExpression: 'attribute_not_exists(#version) OR #version = :version',
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':version': i - 1, ':next': i },
        },
      };
      await db.doc.send(new TransactWriteCommand({ TransactItems: tasks > 1 ? [...items, service] : items }));
      count += 1;
    }
  };
  await Promise.all(Array.from({ length: rawConcurrency }, (_, w) => worker(w)));
  return count / ((performance.now() - started) / 1000);
};

/** Runs every scenario and answers the results object (also written as JSON). */
export const runFleetBench = async (params: BenchParams) => {
  const requests: Record<string, { count: number; ms: number }> = {};
  const stream = { batches: 0, records: 0, ms: 0 };
  const meter = newMeter();
  const host = await startLocalHost({
    inMemory: true,
    port: 0,
    dbPlugins: [dbMeterPlugin(meter)],
    // As on AWS: the sweeper every minute.
    sweepIntervalMs: 60_000,
    onRequest: (route, ms) => {
      const entry = requests[route] ?? { count: 0, ms: 0 };
      entry.count += 1;
      entry.ms += ms;
      requests[route] = entry;
    },
    onStreamBatch: (records, ms) => {
      stream.batches += 1;
      stream.records += records;
      stream.ms += ms;
      if (process.env.BENCH_TRACE) progress(`stream batch ${records} records ${ms.toFixed(0)} ms`);
    },
  });
  const clientConfig = { endpoint: host.endpoint, region: host.region, credentials: host.credentials };
  const ecs = new ECSClient(clientConfig);
  const ssm = new SSMClient(clientConfig);
  const fleets: { stop: () => Promise<void> }[] = [];
  try {
    progress(`burst: registering fleet`);
    // --- burst
    const cluster = 'burst';
    await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
    const services = Math.max(1, Math.min(10, Math.ceil(params.tasks / 100)));
    const assignedAt = new Map<string, number>();
    const runningAt = new Map<string, number>();
    const familyOf = new Map<string, string>();
    const fleet = await startFleet({
      endpoint: host.endpoint,
      ssm,
      cluster,
      count: params.agents,
      startDelayMs: params.startDelayMs,
      onSync: (_agent, request, response) => {
        const now = performance.now();
        for (const task of response.tasks ?? []) {
          if (!assignedAt.has(task.taskArn)) assignedAt.set(task.taskArn, now);
          familyOf.set(task.taskArn, task.family);
        }
        for (const report of request.reports) {
          if (report.lastStatus === 'RUNNING' && !runningAt.has(report.taskArn))
            runningAt.set(report.taskArn, now);
        }
      },
    });
    fleets.push(fleet);
    await settle(host);
    const perService = Math.ceil(params.tasks / services);
    for (let s = 0; s < services; s++) {
      await ecs.send(
        new RegisterTaskDefinitionCommand({
          family: `burst-${s}`,
          requiresCompatibilities: ['EXTERNAL'],
          containerDefinitions: [{ name: 'app', image: 'busybox', cpu: 8, memory: 16, essential: true }],
        }),
      );
    }
    progress(`burst: creating services`);
    const txBefore = meter.calls.TransactWriteItemsCommand ?? 0;
    const wuBefore = meter.writeUnits;
    const burstStarted = performance.now();
    const acceptedAt = new Map<string, number>();
    await Promise.all(
      Array.from({ length: services }, async (_, s) => {
        const desired = Math.min(perService, params.tasks - s * perService);
        await ecs.send(
          new CreateServiceCommand({
            cluster,
            serviceName: `burst-${s}`,
            taskDefinition: `burst-${s}`,
            desiredCount: desired,
            launchType: 'EXTERNAL',
          }),
        );
        acceptedAt.set(`burst-${s}`, performance.now());
      }),
    );
    progress(`burst: services accepted`);
    const burstTimeoutMs = Math.max(60_000, params.tasks * 100);
    const allRunning = await waitFor(
      'all tasks RUNNING',
      () => runningAt.size >= params.tasks,
      burstTimeoutMs,
    );
    const lastRunning = Math.max(...runningAt.values());
    const lastAssigned = Math.max(...assignedAt.values());
    const txPerPlacement =
      ((meter.calls.TransactWriteItemsCommand ?? 0) - txBefore) / Math.max(1, assignedAt.size);
    const latencies = [...runningAt.entries()].map(
      ([arn, at]) => (at - (acceptedAt.get(familyOf.get(arn) ?? '') ?? burstStarted)) / 1000,
    );
    const placementsPerSecond = assignedAt.size / ((lastAssigned - burstStarted) / 1000);
    const burst = {
      agents: params.agents,
      services,
      tasks: params.tasks,
      running: runningAt.size,
      allRunning,
      secondsUntilAllRunning: round((lastRunning - burstStarted) / 1000),
      placementsPerSecond: round(placementsPerSecond, 1),
      transactionsPerPlacement: round(txPerPlacement, 3),
      burstWriteUnitsPerPlacement: round((meter.writeUnits - wuBefore) / Math.max(1, assignedAt.size), 2),
      p50Seconds: round(percentile(latencies, 50), 3),
      p90Seconds: round(percentile(latencies, 90), 3),
      p99Seconds: round(percentile(latencies, 99), 3),
      runningOverTime: overTime(runningAt, burstStarted),
      assignedOverTime: overTime(assignedAt, burstStarted),
    };
    // Kept on its own too: a later scenario that fails leaves the burst's figures behind.
    mkdirSync(params.outDir, { recursive: true });
    writeFileSync(join(params.outDir, 'burst.json'), `${JSON.stringify(burst, null, 2)}\n`);
    if (process.env.BENCH_TRACE)
      progress(
        `burst db: ${JSON.stringify(meter.calls)} ms ${JSON.stringify(meter.ms)} RU ${meter.readUnits} WU ${meter.writeUnits} requests ${JSON.stringify(requests)}`,
      );
    progress(
      `burst: done ${runningAt.size} running; assigned ${assignedAt.size}; rings ${host.doorbell.rings}`,
    );
    await settle(host);

    // --- doorbell: RunTask accepted (the assignment is written) -> the agent's sync sees it.
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'doorbell',
        requiresCompatibilities: ['EXTERNAL'],
        containerDefinitions: [{ name: 'app', image: 'busybox', cpu: 8, memory: 16, essential: true }],
      }),
    );
    const doorbellMs: number[] = [];
    for (let i = 0; i < params.doorbellRuns; i++) {
      const answer = await ecs.send(
        new RunTaskCommand({ cluster, taskDefinition: 'doorbell', launchType: 'EXTERNAL' }),
      );
      const accepted = performance.now();
      const arn = answer.tasks?.[0]?.taskArn ?? '';
      if (await waitFor('the sync to see the task', () => assignedAt.has(arn), 10_000)) {
        doorbellMs.push(Math.max(0, (assignedAt.get(arn) ?? accepted) - accepted));
      }
      await sleep(100);
    }
    const doorbell = {
      runs: params.doorbellRuns,
      seen: doorbellMs.length,
      p50Ms: round(percentile(doorbellMs, 50), 1),
      p99Ms: round(percentile(doorbellMs, 99), 1),
    };
    // The burst fleet stays connected: it is part of the idle fleet below (a fleet that is stopped
    // but still registered would be found silent by the sweeper, and that is not idling).
    progress(`doorbell done`);
    progress(`raw`);
    // --- raw, after the burst (the database as warm as for the placements): DynamoDB Local's own
    // TransactWriteItems rate, with nothing else running, in two shapes: the smallest placement (a
    // task put + its instance's conditional update) and a full placement transaction as the
    // reconciler writes it (tasksPerRawTransaction task puts, as many instance updates, the service).
    const rawSmall = await rawTransactions(host.db, params.rawSeconds, 1);
    const rawFull = await rawTransactions(host.db, params.rawSeconds, tasksPerRawTransaction);

    // --- idle: a connected fleet with nothing changing: the burst's agents with their tasks running,
    // and as many empty agents in a second cluster as make up --idle-agents.
    await ecs.send(new CreateClusterCommand({ clusterName: 'idle' }));
    const idleFleet = await startFleet({
      endpoint: host.endpoint,
      ssm,
      cluster: 'idle',
      count: Math.max(0, params.idleAgents - params.agents),
    });
    fleets.push(idleFleet);
    const connectedAgents = params.agents + idleFleet.agents.length;
    // Let the first syncs (registration, resources) and their stream records pass.
    await sleep(2000);
    await settle(host);
    for (const key of Object.keys(requests)) delete requests[key];
    Object.assign(stream, { batches: 0, records: 0, ms: 0 });
    meter.reset();
    progress(`idle: fleet up, measuring`);
    const cpuBefore = process.cpuUsage();
    const idleStarted = performance.now();
    await sleep(params.idleSeconds * 1000);
    const idleSeconds = (performance.now() - idleStarted) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const snapshot = structuredClone(requests);
    const streamSnapshot = { ...stream };
    const reads = meter.readUnits;
    const writes = meter.writeUnits;
    const calls = { ...meter.calls };
    const sweepStarted = performance.now();
    await host.sweep();
    const sweepMs = performance.now() - sweepStarted;
    const perAgentHour = (count: number) => (count / connectedAgents) * (3600 / idleSeconds);
    // Doorbell polls never reach a Lambda on AWS; those to a doorbell address skip API Gateway too.
    const apiDoorbellPolls = snapshot['/agent/v1/doorbell']?.count ?? 0;
    const addressPolls = snapshot[signedDoorbellPath]?.count ?? 0;
    const allRequests = Object.values(snapshot).reduce((sum, r) => sum + r.count, 0);
    const invoked = Object.entries(snapshot).filter(
      ([route]) => route !== '/agent/v1/doorbell' && route !== signedDoorbellPath,
    );
    const apiInvocations = invoked.reduce((sum, [, r]) => sum + r.count, 0);
    const apiMs = invoked.reduce((sum, [, r]) => sum + r.ms, 0);
    const idleBase = {
      agents: connectedAgents,
      agentsWithTasks: params.agents,
      measuredSeconds: round(idleSeconds, 1),
      requests: allRequests,
      requestsByRoute: Object.fromEntries(Object.entries(snapshot).map(([k, v]) => [k, v.count])),
      httpRequestsPerAgentHour: round(perAgentHour(allRequests)),
      apiGatewayRequestsPerAgentHour: round(perAgentHour(allRequests - addressPolls)),
      doorbellPollsPerAgentHour: round(perAgentHour(apiDoorbellPolls + addressPolls)),
      apiDoorbellPollsPerAgentHour: round(perAgentHour(apiDoorbellPolls)),
      lambdaInvocationsPerAgentHour: round(perAgentHour(apiInvocations + streamSnapshot.batches)),
      apiLambdaMsPerAgentHour: round(perAgentHour(apiMs)),
      streamBatchesPerAgentHour: round(perAgentHour(streamSnapshot.batches)),
      reconcilerMsPerAgentHour: round(perAgentHour(streamSnapshot.ms)),
      readUnitsPerAgentHour: round(perAgentHour(reads), 3),
      writeUnitsPerAgentHour: round(perAgentHour(writes), 3),
      dbCalls: calls,
      sweepMs: round(sweepMs, 1),
      controlPlaneCpuPercent: round(((cpu.user + cpu.system) / 1e6 / idleSeconds) * 100, 1),
    };
    const cost = costModel(idleBase, [10, 1000, 10_000]);
    const idle = { ...idleBase, dollarsPerAgentMonth: round(cost.perAgentMonth[1000] ?? Number.NaN, 4) };

    progress(`api`);
    // --- api: operator reads while the idle fleet stays connected.
    const describeMs: number[] = [];
    const listMs: number[] = [];
    for (let i = 0; i < params.apiRuns; i++) {
      let started = performance.now();
      await ecs.send(new DescribeServicesCommand({ cluster, services: ['burst-0'] }));
      describeMs.push(performance.now() - started);
      started = performance.now();
      await ecs.send(new ListTasksCommand({ cluster, serviceName: 'burst-0' }));
      listMs.push(performance.now() - started);
    }
    const both = [...describeMs, ...listMs];
    const api = {
      runs: params.apiRuns,
      describeServicesP50Ms: round(percentile(describeMs, 50), 1),
      describeServicesP99Ms: round(percentile(describeMs, 99), 1),
      listTasksP50Ms: round(percentile(listMs, 50), 1),
      listTasksP99Ms: round(percentile(listMs, 99), 1),
      p50Ms: round(percentile(both, 50), 1),
      p99Ms: round(percentile(both, 99), 1),
    };

    // The database's ceiling for placements: full placement transactions per second × the tasks each holds.
    const rawPlacementsPerSecond = rawFull * tasksPerRawTransaction;
    const raw = {
      txPerSecond: round(rawSmall, 1),
      placementTxPerSecond: round(rawFull, 1),
      tasksPerPlacementTx: tasksPerRawTransaction,
      placementsPerSecond: round(rawPlacementsPerSecond, 1),
      seconds: params.rawSeconds,
      concurrency: rawConcurrency,
    };
    const { runningOverTime, assignedOverTime, ...burstFigures } = {
      ...burst,
      ratioOfRaw: round(placementsPerSecond / rawPlacementsPerSecond, 3),
    };
    const results = {
      at: new Date().toISOString(),
      params,
      burst: burstFigures,
      doorbell,
      idle,
      api,
      raw,
      cost,
      runningOverTime,
    };
    mkdirSync(params.outDir, { recursive: true });
    writeFileSync(join(params.outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(
      join(params.outDir, 'running.svg'),
      runningChart(runningOverTime, params.tasks, assignedOverTime),
    );
    writeFileSync(join(params.outDir, 'table.md'), `${resultsTable(results)}\n`);
    if (params.writeDocs) writeFileSync('docs/cost.md', costMarkdown(results.idle, cost, results.burst));
    return results;
  } finally {
    for (const fleet of fleets) await fleet.stop();
    ecs.destroy();
    ssm.destroy();
    await host.stop();
  }
};

type Results = Awaited<ReturnType<typeof runFleetBench>>;

const mark = (ok: boolean) => (ok ? 'met' : 'missed');

/** The figures as a Markdown table, with targets. */
export const resultsTable = (r: Results): string =>
  [
    '| scenario | figure | value | target |',
    '|---|---|---|---|',
    `| burst (${r.burst.agents} agents, ${r.burst.services} services) | tasks RUNNING | ${r.burst.running} / ${r.burst.tasks} | all (${mark(r.burst.allRunning)}) |`,
    `| burst | time until all RUNNING | ${r.burst.secondsUntilAllRunning} s | |`,
    `| burst | per-task CreateService → RUNNING p50 / p90 / p99 | ${r.burst.p50Seconds} / ${r.burst.p90Seconds} / ${r.burst.p99Seconds} s | p99 ≤ 3 s (${mark(r.burst.p99Seconds <= 3)}) |`,
    `| burst | placements/s | ${r.burst.placementsPerSecond} | ≥ 100 (${mark(r.burst.placementsPerSecond >= 100)}) |`,
    `| burst | transactions per placement | ${r.burst.transactionsPerPlacement} | |`,
    `| burst | ratio of raw | ${(r.burst.ratioOfRaw * 100).toFixed(1)} % | ≥ 50 % (${mark(r.burst.ratioOfRaw >= 0.5)}) |`,
    `| raw | DynamoDB Local TransactWriteItems/s, ${r.raw.concurrency} concurrent: 1 task / ${r.raw.tasksPerPlacementTx} tasks (${r.raw.tasksPerPlacementTx * 2 + 1} items) | ${r.raw.txPerSecond} / ${r.raw.placementTxPerSecond} | |`,
    `| raw | placements/s the database could take (full transactions × ${r.raw.tasksPerPlacementTx}) | ${r.raw.placementsPerSecond} | |`,
    `| doorbell (${r.doorbell.runs} runs) | RunTask accepted → sync sees it p50 / p99 | ${r.doorbell.p50Ms} / ${r.doorbell.p99Ms} ms | p99 ≤ 250 ms (${mark(r.doorbell.p99Ms <= 250)}) |`,
    `| idle (${r.idle.agents} agents, ${r.idle.agentsWithTasks} of them running the burst's tasks; ${r.idle.measuredSeconds} s, ×3600/s) | HTTP requests per agent-hour (all / through API Gateway) | ${r.idle.httpRequestsPerAgentHour} / ${r.idle.apiGatewayRequestsPerAgentHour} | |`,
    `| idle | doorbell long-polls per agent-hour (all / through the API route) | ${r.idle.doorbellPollsPerAgentHour} / ${r.idle.apiDoorbellPollsPerAgentHour} | |`,
    `| idle | Lambda-equivalent invocations per agent-hour | ${r.idle.lambdaInvocationsPerAgentHour} | |`,
    `| idle | DynamoDB read units per agent-hour | ${r.idle.readUnitsPerAgentHour} | |`,
    `| idle | DynamoDB write units per agent-hour | ${r.idle.writeUnitsPerAgentHour} | ≤ 60 (${mark(r.idle.writeUnitsPerAgentHour <= 60)}) |`,
    `| idle | control-plane CPU (one process, incl. simulated agents) | ${r.idle.controlPlaneCpuPercent} % | |`,
    `| idle | modelled AWS $ per agent-month (1,000 agents) | $${r.idle.dollarsPerAgentMonth} | ≤ $0.25 (${mark(r.idle.dollarsPerAgentMonth <= 0.25)}) |`,
    `| api (${r.api.runs} runs each, idle fleet connected) | DescribeServices p50 / p99 | ${r.api.describeServicesP50Ms} / ${r.api.describeServicesP99Ms} ms | |`,
    `| api | ListTasks p50 / p99 | ${r.api.listTasksP50Ms} / ${r.api.listTasksP99Ms} ms | |`,
    `| api | both p99 | ${r.api.p99Ms} ms | ≤ 50 ms (${mark(r.api.p99Ms <= 50)}) |`,
  ].join('\n');

/** Flags: --agents, --tasks, --idle-agents, --idle-seconds, --quick, --out. */
export const paramsFromArgs = (argv: string[]): BenchParams => {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      agents: { type: 'string' },
      tasks: { type: 'string' },
      'idle-agents': { type: 'string' },
      'idle-seconds': { type: 'string' },
      'doorbell-runs': { type: 'string' },
      'api-runs': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const base = values.quick ? quickParams : defaultParams;
  const num = (value: string | undefined, fallback: number) =>
    value === undefined ? fallback : Number(value);
  return {
    ...base,
    agents: num(values.agents, base.agents),
    tasks: num(values.tasks, base.tasks),
    idleAgents: num(values['idle-agents'], base.idleAgents),
    idleSeconds: num(values['idle-seconds'], base.idleSeconds),
    doorbellRuns: num(values['doorbell-runs'], base.doorbellRuns),
    apiRuns: num(values['api-runs'], base.apiRuns),
    outDir: values.out ?? base.outDir,
  };
};

export const benchMain = async (argv: string[]) => {
  const params = paramsFromArgs(argv);
  process.stdout.write(`fleet bench: ${JSON.stringify(params)}\n`);
  const results = await runFleetBench(params);
  const { runningOverTime: _, ...printed } = results;
  process.stdout.write(`${JSON.stringify(printed, null, 2)}\n\n${resultsTable(results)}\n`);
};

if (process.argv[1]?.endsWith('fleet.ts')) {
  benchMain(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
