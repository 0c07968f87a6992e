import { ECSClient } from '@aws-sdk/client-ecs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type LocalHost, type LocalHostOptions, startLocalHost } from '../../local/host.ts';
import { type DbFaults, dbFaultsPlugin } from '../support/db-faults.ts';
import { dbMeterPlugin, type Meter, newMeter } from '../support/db-meter.ts';

export type TestBerthOptions = LocalHostOptions & {
  /** Count the capacity DynamoDB reports for every call (`berth.meter`), for benchmarks. */
  meter?: boolean;
  /** Inject DynamoDB errors into a share of the table's calls (reliability tests). */
  dbFaults?: DbFaults;
};

export type TestBerth = LocalHost & {
  /** Present when started with `meter: true`. */
  meter?: Meter;
  ecs: ECSClient;
  ssm: SSMClient;
  /** POSTs JSON to the agent API and returns status and parsed body. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read response fields directly
  agent: (path: string, body: unknown, token?: string) => Promise<{ status: number; body: any }>;
};

/** A fresh control plane (in memory, on a free port) for one test file. */
export const startBerth = async (options: TestBerthOptions = {}): Promise<TestBerth> => {
  const { meter: metered, dbFaults, ...hostOptions } = options;
  const meter = metered ? newMeter() : undefined;
  // Faults, then the meter: the order createDb always applied them in.
  const dbPlugins = [
    ...(hostOptions.dbPlugins ?? []),
    ...(dbFaults ? [dbFaultsPlugin(dbFaults)] : []),
    ...(meter ? [dbMeterPlugin(meter)] : []),
  ];
  const host = await startLocalHost({ inMemory: true, port: 0, ...hostOptions, dbPlugins });
  const clientConfig = {
    endpoint: host.endpoint,
    region: host.region,
    credentials: host.credentials,
    maxAttempts: 1,
  };
  const ecs = new ECSClient(clientConfig);
  const ssm = new SSMClient(clientConfig);
  const agent = async (path: string, body: unknown, token?: string) => {
    const response = await fetch(`${host.endpoint}/agent/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    ...host,
    ...(meter ? { meter } : {}),
    ecs,
    ssm,
    agent,
    stop: async () => {
      ecs.destroy();
      ssm.destroy();
      await host.stop();
    },
  };
};

/** Registers a scripted agent with a fresh activation; returns what registration answered. */
export const registerAgent = async (
  berth: TestBerth,
  options: {
    cluster?: string;
    cpu?: number;
    memory?: number;
    attributes?: { name: string; value?: string }[];
  } = {},
) => {
  const { CreateActivationCommand } = await import('@aws-sdk/client-ssm');
  const activation = await berth.ssm.send(
    new CreateActivationCommand({ IamRole: 'berth', RegistrationLimit: 1 }),
  );
  const response = await berth.agent('/register', {
    activationId: activation.ActivationId,
    activationCode: activation.ActivationCode,
    cluster: options.cluster,
    hostname: 'test-host',
    agentVersion: '0.1.0',
    resources: { cpu: options.cpu ?? 2048, memory: options.memory ?? 4096 },
    attributes: options.attributes,
  });
  if (response.status !== 200) throw new Error(`registration failed: ${JSON.stringify(response.body)}`);
  return response.body as { containerInstanceArn: string; cluster: string; token: string };
};
