/**
 * Scheduler efficiency, measured (not asserted): DynamoDB write units per task placed and
 * started, and writes while a service is steady. `npm run bench:scheduler [-- --tasks N]`.
 */
import {
  CreateClusterCommand,
  CreateServiceCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { startBerth } from '../integration/harness.ts';
import { ScriptedAgent, settle } from '../integration/scripted-agent.ts';

const argument = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
};

const tasks = argument('tasks', 30);
const agentsCount = argument('agents', 3);
/** Added to the wall clock, so heartbeat minutes can pass at once. */
let clockOffsetMs = 0;
const berth = await startBerth({ meter: true, now: () => new Date(Date.now() + clockOffsetMs) });
try {
  const meter = berth.meter;
  if (!meter) throw new Error('the meter is off');
  await berth.ecs.send(new CreateClusterCommand({ clusterName: 'default' }));
  await berth.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'bench',
      containerDefinitions: [{ name: 'app', image: 'busybox', memory: 16, cpu: 8 }],
    }),
  );
  const agents = [];
  for (let i = 0; i < agentsCount; i++)
    agents.push(await ScriptedAgent.register(berth, { cpu: 65536, memory: 65536 }));
  await settle(berth, agents);

  meter.reset();
  const started = Date.now();
  await berth.ecs.send(
    new CreateServiceCommand({ serviceName: 'bench', taskDefinition: 'bench', desiredCount: tasks }),
  );
  await settle(berth, agents);
  const placing = { writeUnits: meter.writeUnits, readUnits: meter.readUnits, calls: { ...meter.calls } };
  const seconds = (Date.now() - started) / 1000;

  // Steady: the reconciler and sweeper run, agents stay quiet -> nothing may be written.
  meter.reset();
  await berth.sweep();
  await berth.drain();
  await berth.sweep();
  const steadyWrites = meter.writeUnits;

  // Heartbeat syncs a minute apart, ten per agent: what an idle fleet costs in writes (the record
  // is written when half the grace old, so every other sync).
  const heartbeatRounds = 10;
  meter.reset();
  for (let round = 0; round < heartbeatRounds; round++) {
    clockOffsetMs += 60_000;
    for (const agent of agents) await agent.sync();
  }
  const heartbeatWrites = meter.writeUnits / (agents.length * heartbeatRounds);

  const heartbeatCalls = Object.fromEntries(Object.entries(meter.calls));
  const result = {
    tasks,
    agents: agentsCount,
    secondsToAllRunning: seconds,
    writeUnitsPerTask: placing.writeUnits / tasks,
    readUnitsPerTask: placing.readUnits / tasks,
    callsWhilePlacing: placing.calls,
    writeUnitsWhileSteady: steadyWrites,
    writeUnitsPerHeartbeat: heartbeatWrites,
    callsPerHeartbeatRound: heartbeatCalls,
  };
  console.log(JSON.stringify(result, null, 2));
  console.log('\n| figure | value | target |\n|---|---|---|');
  console.log(`| write units per task placed and started | ${result.writeUnitsPerTask.toFixed(2)} | ≤ 4 |`);
  console.log(`| write units while steady (sweep + stream) | ${steadyWrites} | 0 |`);
  console.log(`| write units per agent heartbeat sync (60 s apart) | ${heartbeatWrites.toFixed(2)} | — |`);
} finally {
  await berth.stop();
}
