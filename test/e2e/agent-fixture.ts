import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListContainerInstancesCommand } from '@aws-sdk/client-ecs';
import { CreateActivationCommand } from '@aws-sdk/client-ssm';
import { Agent, type AgentOptions } from '../../agent/agent.ts';
import type { AgentConfig } from '../../agent/config.ts';
import { createLogger } from '../../agent/log.ts';
import { DockerRuntime } from '../../agent/runtime/docker.ts';
import type { TestBerth } from '../integration/harness.ts';
import { eventually } from './docker.ts';

/** A one-use activation for `berth agent`. */
export const newActivation = async (berth: TestBerth) => {
  const activation = await berth.ssm.send(
    new CreateActivationCommand({ IamRole: 'berth', RegistrationLimit: 1 }),
  );
  return { activationId: activation.ActivationId ?? '', activationCode: activation.ActivationCode ?? '' };
};

/** The agent's command-line arguments to join `cluster` with a one-use activation. */
export const activationArgs = (
  cluster: string,
  activation: { activationId: string; activationCode: string },
): string[] => [
  '--cluster',
  cluster,
  '--activation-id',
  activation.activationId,
  '--activation-code',
  activation.activationCode,
];

/** Waits until the agent started for `cluster` has registered its one container instance. */
export const agentRegistered = (berth: TestBerth, cluster: string) =>
  eventually('the agent to register', async () => {
    const list = await berth.ecs.send(new ListContainerInstancesCommand({ cluster }));
    return (list.containerInstanceArns ?? []).length === 1;
  });

/** Agent settings for tests: short cleanup and restart waits, quiet logs. */
export const testAgentConfig = (
  overrides: Partial<AgentConfig> & Pick<AgentConfig, 'endpoint' | 'cluster'>,
): AgentConfig => ({
  dataDir: mkdtempSync(join(tmpdir(), 'berth-agent-')),
  attributes: [],
  reservedMemoryMiB: 0,
  pullBehavior: 'default',
  cleanupWaitSeconds: 2,
  stopTimeoutSeconds: 2,
  restartBackoffSeconds: 0.5,
  restartBackoffMaxSeconds: 5,
  logLevel: process.env.BERTH_TEST_LOG === '1' ? 'debug' : 'silent',
  ...overrides,
});

/** Registers and starts an in-process agent on the real Docker engine. */
export const startDockerAgent = async (
  config: AgentConfig,
  options: Partial<AgentOptions> = {},
): Promise<Agent> => {
  const agent = new Agent({
    config,
    runtime: new DockerRuntime(),
    log: createLogger(config.logLevel),
    observeIntervalMs: 2_000,
    ...options,
  });
  await agent.start();
  return agent;
};
