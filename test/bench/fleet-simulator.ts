import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateActivationCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { Agent } from '../../agent/agent.ts';
import type { AgentConfig } from '../../agent/config.ts';
import { setSocketLimit } from '../../agent/http.ts';
import { FakeRuntime } from '../../agent/runtime/fake.ts';
import type { SyncRequest, SyncResponse } from '../../core/protocol/agent.ts';

export type FleetOptions = {
  endpoint: string;
  ssm: SSMClient;
  cluster: string;
  count: number;
  /** How long a fake container takes to start. */
  startDelayMs?: number;
  /** Share (0-1) of agents whose `app` containers exit with code 1 right after starting. */
  failShare?: number;
  /** Agents registering at once. */
  concurrency?: number;
  onSync?: (agent: number, request: SyncRequest, response: SyncResponse) => void;
};

export type Fleet = {
  agents: Agent[];
  runtimes: FakeRuntime[];
  stop: () => Promise<void>;
};

/** An activation answers for at most 1,000 registrations (ECS's limit). */
const perActivation = 1000;

/**
 * N real agents in this process: the agent code unchanged, each with its own data dir, token,
 * resources (a different memory reserve) and attributes, talking real HTTP to the control plane;
 * only the container runtime is the in-memory fake.
 */
export const startFleet = async (options: FleetOptions): Promise<Fleet> => {
  // Each simulated agent holds a long-poll and may sync at once, as separate machines would.
  setSocketLimit(Number.POSITIVE_INFINITY);
  const root = mkdtempSync(join(tmpdir(), `berth-fleet-${options.cluster}-`));
  const activations: { id: string; code: string }[] = [];
  for (let i = 0; i < options.count; i += perActivation) {
    const answer = await options.ssm.send(
      new CreateActivationCommand({
        IamRole: 'berth',
        RegistrationLimit: Math.min(perActivation, options.count - i),
      }),
    );
    activations.push({ id: answer.ActivationId ?? '', code: answer.ActivationCode ?? '' });
  }
  const agents: Agent[] = [];
  const runtimes: FakeRuntime[] = [];
  const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
  for (let i = 0; i < options.count; i++) {
    const activation = activations[Math.floor(i / perActivation)];
    const config: AgentConfig = {
      endpoint: options.endpoint,
      cluster: options.cluster,
      activationId: activation?.id,
      activationCode: activation?.code,
      dataDir: join(root, `agent-${i}`),
      hostname: `sim-${options.cluster}-${i}`,
      attributes: [
        { name: 'bench.index', value: String(i) },
        { name: 'bench.zone', value: `zone-${i % 3}` },
      ],
      reservedMemoryMiB: (i % 4) * 128,
      pullBehavior: 'prefer-cached',
      cleanupWaitSeconds: 3600,
      stopTimeoutSeconds: 1,
      restartBackoffSeconds: 1,
      restartBackoffMaxSeconds: 30,
      logLevel: 'silent',
    };
    const runtime = new FakeRuntime({ startDelayMs: options.startDelayMs ?? 50, images: ['busybox'] });
    if (options.failShare && i < Math.round(options.failShare * options.count))
      runtime.exitOnStart.set('app', 1);
    runtimes.push(runtime);
    agents.push(
      new Agent({
        config,
        runtime,
        log: silent,
        onSync: options.onSync ? (request, response) => options.onSync?.(i, request, response) : undefined,
      }),
    );
  }
  const concurrency = options.concurrency ?? 25;
  for (let i = 0; i < agents.length; i += concurrency) {
    await Promise.all(agents.slice(i, i + concurrency).map((agent) => agent.start()));
  }
  return {
    agents,
    runtimes,
    stop: async () => {
      await Promise.all(agents.map((agent) => agent.stop()));
      rmSync(root, { recursive: true, force: true });
    },
  };
};
