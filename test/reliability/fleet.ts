import {
  CreateClusterCommand,
  DescribeServicesCommand,
  type ECSClient,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { TestBerth } from '../integration/harness.ts';
import { type AgentTarget, fleetFingerprint, SimAgent } from './sim-agent.ts';

/**
 * How big the scenarios run: 1 in `npm test` (CI-sized), larger under `npm run chaos`
 * (BERTH_CHAOS_SCALE). Seeds come from BERTH_CHAOS_SEED when set, so a failing run can be repeated.
 */
export const chaosScale = (): number => Math.max(1, Number(process.env.BERTH_CHAOS_SCALE ?? 1) || 1);
export const chaosSeed = (fallback: number): number => {
  const given = Number(process.env.BERTH_CHAOS_SEED);
  return Number.isInteger(given) ? given : fallback;
};

/** A scenario's time limit: generous in CI (a loaded runner), times the scale under chaos. */
export const scenarioTimeout = (ms = 180_000): number => ms * chaosScale();

export { seededRandom } from '../support/seeded-random.ts';

export const targetOf = (berth: { endpoint: string; ssm: SSMClient }): AgentTarget & { ssm: SSMClient } => ({
  endpoint: () => berth.endpoint,
  ssm: berth.ssm,
});

/** A cluster with `count` simulated machines. */
export const simFleet = async (
  berth: { endpoint: string; ssm: SSMClient; ecs: ECSClient },
  cluster: string,
  count: number,
  resources: { cpu?: number; memory?: number } = {},
): Promise<SimAgent[]> => {
  await berth.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  const agents: SimAgent[] = [];
  for (let i = 0; i < count; i++)
    agents.push(await SimAgent.register(targetOf(berth), { cluster, ...resources }));
  return agents;
};

/** A small task definition: `cpu` units and MiB each, one essential container. */
export const registerFamily = (ecs: ECSClient, family: string, size = 64, image = 'busybox') =>
  ecs.send(
    new RegisterTaskDefinitionCommand({
      family,
      containerDefinitions: [{ name: 'app', image, cpu: size, memory: size, essential: true }],
    }),
  );

/**
 * Syncs every connected agent until a round changes nothing, waiting for every control plane's
 * reconciler in between (the same loop as test/integration's settle, for SimAgents).
 */
export const settleFleet = async (
  hosts: readonly Pick<TestBerth, 'drain'>[],
  agents: () => readonly SimAgent[],
  rounds = 40,
): Promise<void> => {
  const drainAll = async () => {
    for (const host of hosts) await host.drain(30_000);
  };
  for (let round = 0; round < rounds; round++) {
    await drainAll();
    const before = fleetFingerprint(agents());
    for (const agent of agents()) await agent.sync();
    await drainAll();
    for (const agent of agents()) await agent.sync();
    if (fleetFingerprint(agents()) === before) return;
  }
  throw new Error('the fleet did not settle');
};

/** The service's primary deployment's rollout state and running count, as DescribeServices says. */
export const serviceState = async (ecs: ECSClient, cluster: string, service: string) => {
  const answer = await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
  const described = answer.services?.[0];
  const primary = described?.deployments?.find((deployment) => deployment.status === 'PRIMARY');
  return {
    runningCount: described?.runningCount ?? 0,
    pendingCount: described?.pendingCount ?? 0,
    rolloutState: primary?.rolloutState,
    deployments: described?.deployments?.length ?? 0,
    taskDefinition: described?.taskDefinition,
  };
};

/** Every container on every machine: no task may run on two. */
export const containersByTask = (agents: readonly SimAgent[]): Map<string, string[]> => {
  const where = new Map<string, string[]>();
  for (const agent of agents) {
    for (const arn of agent.host.running()) where.set(arn, [...(where.get(arn) ?? []), agent.instanceId]);
  }
  return where;
};
