import { CreateServiceCommand, ECSClient, StopTaskCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type LocalHost, startLocalHost } from '../../local/host.ts';
import { startBerth, type TestBerth } from '../integration/harness.ts';
import {
  chaosScale,
  chaosSeed,
  registerFamily,
  scenarioTimeout,
  seededRandom,
  settleFleet,
  simFleet,
} from './fleet.ts';
import {
  ceilingOf,
  convergenceViolations,
  safetyViolations,
  scanTable,
  servicesIn,
  type TableItem,
  tasksIn,
} from './invariants.ts';
import type { SimAgent } from './sim-agent.ts';

vi.setConfig({ testTimeout: scenarioTimeout(), hookTimeout: scenarioTimeout() });

/**
 * Scenario: three control planes (each with its own stream poller, reconciler and API) on one
 * table, while operators send UpdateService and StopTask storms to all of them and agents sync with
 * whichever answers. fleet-faults.test.ts shows two converging on a quiet fleet; this one checks the
 * safety invariants in the middle of the storm too.
 */

let berth: TestBerth;
let others: LocalHost[] = [];
const clients: ECSClient[] = [];

beforeAll(async () => {
  berth = await startBerth({ sweepIntervalMs: 3_600_000 });
  for (let i = 0; i < 2; i++) {
    others.push(
      await startLocalHost({
        dynamoEndpoint: berth.dynamoEndpoint,
        dynamoAccessKeyId: berth.dynamoAccessKeyId,
        inMemory: true,
        port: 0,
        sweepIntervalMs: 3_600_000,
      }),
    );
  }
  for (const host of [berth, ...others]) {
    clients.push(
      new ECSClient({
        endpoint: host.endpoint,
        region: host.region,
        credentials: berth.credentials,
        maxAttempts: 1,
      }),
    );
  }
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  for (const host of others) await host.stop();
  others = [];
  await berth?.stop();
});

const services = ['alpha', 'beta', 'gamma'];

describe('three control planes reconciling one table', () => {
  it('keep every instance within its capacity and every service within its ceiling through an UpdateService/StopTask storm, then converge', async () => {
    // Prepare
    const random = seededRandom(chaosSeed(20261125));
    const hosts = [berth, ...others];
    const endpoints = hosts.map((host) => host.endpoint);
    const agents: SimAgent[] = await simFleet(berth, 'trio', 6, { cpu: 2048, memory: 4096 });
    // Each sync goes to whichever control plane the "load balancer" picks.
    for (const agent of agents)
      (agent.target as { endpoint: () => string }).endpoint = () => random.pick(endpoints);
    await registerFamily(berth.ecs, 'trio-app', 128);
    await registerFamily(berth.ecs, 'trio-app', 96);
    for (const name of services) {
      await berth.ecs.send(
        new CreateServiceCommand({
          cluster: 'trio',
          serviceName: name,
          taskDefinition: 'trio-app:1',
          desiredCount: name === 'gamma' ? 6 : 4,
          // gamma keeps its desired count through the storm: its ceiling (9) is checked strictly.
          ...(name === 'gamma'
            ? { deploymentConfiguration: { maximumPercent: 150, minimumHealthyPercent: 50 } }
            : {}),
        }),
      );
    }
    await settleFleet(hosts, () => agents);
    const ceilings = new Map<string, number>();
    const noteCeilings = (items: readonly TableItem[]) => {
      for (const service of servicesIn(items)) {
        const key = `${service.cluster}/${service.name}`;
        ceilings.set(key, Math.max(ceilings.get(key) ?? 0, ceilingOf(service)));
      }
    };
    noteCeilings(await scanTable(berth.db));

    // Act
    const midStorm: string[] = [];
    let refused = 0;
    for (let wave = 0; wave < 10 * chaosScale(); wave++) {
      const items = await scanTable(berth.db);
      const live = tasksIn(items).filter(
        (task) => task.desiredStatus === 'RUNNING' && task.lastStatus !== 'STOPPED',
      );
      const operations: Promise<unknown>[] = [];
      for (let op = 0; op < 6; op++) {
        const client = random.pick(clients);
        const kind = random.int(0, 2);
        if (kind === 0) {
          const service = services[op % 3] as string;
          const desiredCount = service === 'gamma' ? undefined : random.int(0, 10);
          // The ceiling rises before the request is sent: a concurrent scale-up may already be placing.
          if (desiredCount !== undefined) {
            ceilings.set(`trio/${service}`, Math.max(ceilings.get(`trio/${service}`) ?? 0, desiredCount * 2));
          }
          operations.push(
            client.send(
              new UpdateServiceCommand({
                cluster: 'trio',
                service,
                desiredCount,
                ...(service === 'gamma' || random.int(0, 3) === 0
                  ? { taskDefinition: `trio-app:${random.int(1, 2)}` }
                  : {}),
              }),
            ),
          );
        } else if (kind === 1 && live.length > 0) {
          operations.push(client.send(new StopTaskCommand({ cluster: 'trio', task: random.pick(live).id })));
        } else {
          operations.push(random.pick(agents).sync());
        }
      }
      for (const outcome of await Promise.allSettled(operations))
        if (outcome.status === 'rejected') refused += 1;
      await Promise.all(agents.map((agent) => agent.sync()));
      const now = await scanTable(berth.db);
      noteCeilings(now);
      midStorm.push(...safetyViolations(now, { ceilings }).map((violation) => `wave ${wave}: ${violation}`));
    }
    await settleFleet(hosts, () => agents, 60);
    const items = await scanTable(berth.db);

    // Assess
    expect(midStorm).toEqual([]);
    expect(safetyViolations(items)).toEqual([]);
    expect(convergenceViolations(items)).toEqual([]);
    // One container per live task, on the instance the table says; no container for anything else.
    const live = tasksIn(items).filter((task) => task.lastStatus !== 'STOPPED');
    const running = agents.flatMap((agent) =>
      agent.host.running().map((arn) => `${arn.split('/').at(-1)}@${agent.instanceId}`),
    );
    expect(running.sort()).toEqual(live.map((task) => `${task.id}@${task.instanceId}`).sort());
    expect(ceilings.get('trio/gamma')).toBe(9);
    // The storm was a storm: most requests went through.
    expect(refused).toBeLessThan(10 * chaosScale() * 3);
  });
});
