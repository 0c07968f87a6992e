import { hostname as osHostname } from 'node:os';
import { type BackoffSettings, retryDelay, sleep } from './backoff.ts';
import { AgentApiError, createApiClient } from './client.ts';
import type { AgentConfig } from './config.ts';
import { type Identity, saveIdentity } from './identity.ts';
import type { Logger } from './log.ts';
import { hostAttributes, hostResources } from './resources.ts';
import { agentVersion } from './version.ts';

export type RegisterOptions = {
  config: AgentConfig;
  /** Where proxy variables are read. */
  env: Record<string, string | undefined> | undefined;
  log: Logger;
  /** Aborted when the agent stops: the retries end. */
  signal: AbortSignal;
  backoff: BackoffSettings;
  random: () => number;
};

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Consumes the activation once and saves the identity it brings (`DATA_DIR/identity.json`) before
 * anything else. Retries while the control plane is unreachable (a 5xx or 429 answer is no answer);
 * a refused activation, or one that is missing, throws.
 */
export const register = async (options: RegisterOptions): Promise<Identity> => {
  const { config, log } = options;
  if (!config.endpoint)
    throw new AgentApiError(0, 'MissingEndpoint', 'No identity yet: --endpoint is required to register.');
  if (!config.activationId || !config.activationCode) {
    throw new AgentApiError(
      0,
      'MissingActivation',
      'No identity yet: --activation-id and --activation-code are required to register.',
    );
  }
  const endpoint = config.endpoint;
  const client = createApiClient(endpoint, () => undefined, options.env);
  const custom = new Set(config.attributes.map((a) => a.name));
  const request = {
    activationId: config.activationId,
    activationCode: config.activationCode,
    ...(config.cluster ? { cluster: config.cluster } : {}),
    hostname: (config.hostname ?? osHostname()).slice(0, 255) || 'unknown',
    agentVersion,
    resources: hostResources(config.reservedMemoryMiB),
    attributes: [...hostAttributes().filter((a) => !custom.has(a.name)), ...config.attributes],
    ...(config.reservedPorts ? { reservedPorts: config.reservedPorts } : {}),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const registered = await client.register(request);
      const identity: Identity = {
        containerInstanceArn: registered.containerInstanceArn,
        cluster: registered.cluster,
        token: registered.token,
        endpoint,
        registeredAt: new Date().toISOString(),
      };
      // Saved before anything else: the activation is consumed, the token will not be shown again.
      saveIdentity(config.dataDir, identity);
      log.info('registered', {
        containerInstanceArn: identity.containerInstanceArn,
        cluster: identity.cluster,
      });
      return identity;
    } catch (error) {
      if (error instanceof AgentApiError) throw error;
      if (options.signal.aborted) throw error;
      const delayMs = retryDelay(error, attempt, options.backoff, options.random);
      log.warn('registration failed; retrying', { error: messageOf(error), retryInMs: delayMs });
      await sleep(delayMs, options.signal);
    }
  }
};
