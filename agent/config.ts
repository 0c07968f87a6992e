import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type LogLevel, LogLevels } from './log.ts';
import { type PullBehavior, PullBehaviors } from './runtime/types.ts';

/** What `berth agent` runs with. */
export type AgentConfig = {
  /** The control plane, e.g. https://abc.execute-api.eu-west-1.amazonaws.com (kept in the identity after registering). */
  endpoint?: string;
  cluster?: string;
  activationId?: string;
  activationCode?: string;
  dataDir: string;
  hostname?: string;
  attributes: { name: string; value?: string }[];
  /** MiB kept for the host, subtracted from what is registered. */
  reservedMemoryMiB: number;
  /** Host ports never handed out (ECS's defaults when absent). */
  reservedPorts?: number[];
  pullBehavior: PullBehavior;
  /** How long stopped containers are kept after their STOPPED report was acknowledged. */
  cleanupWaitSeconds: number;
  /** SIGTERM-to-SIGKILL grace for containers without stopTimeout. */
  stopTimeoutSeconds: number;
  /** First wait before a local restart; doubles up to the max. */
  restartBackoffSeconds: number;
  restartBackoffMaxSeconds: number;
  logLevel: LogLevel;
};

export class ConfigError extends Error {
  readonly code = 'InvalidAgentConfig';
}

type Kind = 'string' | 'int' | 'number' | 'list' | 'attributes';

/** Each setting: its flag, environment variable, config-file key and parser. Flags win over env, env over the file. */
const settings = {
  endpoint: { flag: 'endpoint', env: 'BERTH_ENDPOINT', kind: 'string' },
  cluster: { flag: 'cluster', env: 'BERTH_CLUSTER', kind: 'string' },
  activationId: { flag: 'activation-id', env: 'BERTH_ACTIVATION_ID', kind: 'string' },
  activationCode: { flag: 'activation-code', env: 'BERTH_ACTIVATION_CODE', kind: 'string' },
  hostname: { flag: 'hostname', env: 'BERTH_HOSTNAME', kind: 'string' },
  attributes: { flag: 'attribute', env: 'BERTH_ATTRIBUTES', kind: 'attributes' },
  reservedMemoryMiB: { flag: 'reserved-memory', env: 'BERTH_RESERVED_MEMORY', kind: 'int' },
  reservedPorts: { flag: 'reserved-ports', env: 'BERTH_RESERVED_PORTS', kind: 'list' },
  pullBehavior: { flag: 'image-pull-behavior', env: 'BERTH_IMAGE_PULL_BEHAVIOR', kind: 'string' },
  cleanupWaitSeconds: { flag: 'cleanup-wait', env: 'BERTH_CLEANUP_WAIT', kind: 'number' },
  stopTimeoutSeconds: { flag: 'stop-timeout', env: 'BERTH_STOP_TIMEOUT', kind: 'int' },
  restartBackoffSeconds: { flag: 'restart-backoff', env: 'BERTH_RESTART_BACKOFF', kind: 'number' },
  restartBackoffMaxSeconds: { flag: 'restart-backoff-max', env: 'BERTH_RESTART_BACKOFF_MAX', kind: 'number' },
  logLevel: { flag: 'log-level', env: 'BERTH_LOG_LEVEL', kind: 'string' },
} as const satisfies Record<string, { flag: string; env: string; kind: Kind }>;

type Key = keyof typeof settings;

export const agentUsage = `Usage: berth agent [options]

Registers this machine with a Berth control plane (once) and runs its tasks with Docker.

  --endpoint URL            the control plane (env BERTH_ENDPOINT)
  --cluster NAME            cluster to join, default "default" (env BERTH_CLUSTER)
  --activation-id ID        from \`aws ssm create-activation\` (env BERTH_ACTIVATION_ID)
  --activation-code CODE    (env BERTH_ACTIVATION_CODE)
  --data-dir DIR            identity, state and config, default /var/lib/berth (env BERTH_DATA_DIR)
  --attribute NAME=VALUE    a custom attribute, repeatable (env BERTH_ATTRIBUTES=a=1,b=2)
  --reserved-memory MIB     memory kept for the host (env BERTH_RESERVED_MEMORY)
  --reserved-ports 22,...   host ports never handed out (env BERTH_RESERVED_PORTS)
  --image-pull-behavior B   default | always | once | prefer-cached (env BERTH_IMAGE_PULL_BEHAVIOR)
  --cleanup-wait SECONDS    keep stopped containers this long, default 3600 (env BERTH_CLEANUP_WAIT)
  --stop-timeout SECONDS    SIGTERM-to-SIGKILL grace, default 30 (env BERTH_STOP_TIMEOUT)
  --restart-backoff SECONDS first local restart delay, default 1 (env BERTH_RESTART_BACKOFF)
  --restart-backoff-max S   longest local restart delay, default 300 (env BERTH_RESTART_BACKOFF_MAX)
  --log-level LEVEL         debug | info | warn | error | silent (env BERTH_LOG_LEVEL)
  --config FILE             settings as JSON, keys as in this list in camelCase, default DATA_DIR/agent.json

HTTPS_PROXY / HTTP_PROXY / NO_PROXY are honoured.`;

const toInt = (name: string, value: unknown, min = 0): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < min)
    throw new ConfigError(`${name} must be a whole number ≥ ${min}.`);
  return number;
};

const toNumber = (name: string, value: unknown): number => {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new ConfigError(`${name} must be a number ≥ 0.`);
  return number;
};

const listOf = (value: unknown): string[] =>
  Array.isArray(value)
    ? value.map(String)
    : String(value)
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean);

/** `name=value` (or bare `name`), as --attribute takes them. */
export const parseAttribute = (text: string): { name: string; value?: string } => {
  const at = text.indexOf('=');
  const name = (at < 0 ? text : text.slice(0, at)).trim();
  if (!/^[A-Za-z0-9_\-/\\.]{1,128}$/.test(name)) {
    throw new ConfigError(`Attribute "${text}": the name must be 1-128 letters, digits, - _ / \\ or .`);
  }
  return at < 0 ? { name } : { name, value: text.slice(at + 1) };
};

export type ConfigInput = {
  argv: string[];
  env: Record<string, string | undefined>;
  /** Reads a file's text; undefined when it does not exist. */
  readFile: (path: string) => string | undefined;
};

/**
 * The agent's settings from flags, then environment (BERTH_*), then the config file in the data
 * dir, then defaults. Returns 'help' for --help. Throws ConfigError with a sentence for the user.
 */
export const parseAgentConfig = (input: ConfigInput): AgentConfig | 'help' => {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    'data-dir': { type: 'string' },
    config: { type: 'string' },
    help: { type: 'boolean' },
  };
  for (const setting of Object.values(settings)) {
    options[setting.flag] = { type: 'string', ...(setting.kind === 'attributes' ? { multiple: true } : {}) };
  }
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    values = parseArgs({ args: input.argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new ConfigError(`${error instanceof Error ? error.message : error}\n\n${agentUsage}`);
  }
  if (values.help) return 'help';
  const dataDir = String(values['data-dir'] ?? input.env.BERTH_DATA_DIR ?? '/var/lib/berth');
  const configPath = String(values.config ?? join(dataDir, 'agent.json'));
  const text = input.readFile(configPath);
  let file: Record<string, unknown> = {};
  if (text !== undefined) {
    try {
      file = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new ConfigError(`${configPath} is not valid JSON.`);
    }
    if (typeof file !== 'object' || file === null || Array.isArray(file)) {
      throw new ConfigError(`${configPath} must hold a JSON object.`);
    }
  }
  const raw = (key: Key): unknown => {
    const setting = settings[key];
    const flag = values[setting.flag];
    if (flag !== undefined && !(Array.isArray(flag) && flag.length === 0)) return flag;
    return input.env[setting.env] ?? file[key];
  };
  const string = (key: Key): string | undefined => {
    const value = raw(key);
    return value === undefined || value === '' ? undefined : String(value);
  };
  const attributes = raw('attributes');
  const reservedPorts = raw('reservedPorts');
  const pullBehavior = string('pullBehavior') ?? 'default';
  if (!(PullBehaviors as readonly string[]).includes(pullBehavior)) {
    throw new ConfigError(`--image-pull-behavior must be one of ${PullBehaviors.join(', ')}.`);
  }
  const logLevel = string('logLevel') ?? 'info';
  if (!(LogLevels as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`--log-level must be one of ${LogLevels.join(', ')}.`);
  }
  const endpoint = string('endpoint');
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) {
    throw new ConfigError(`--endpoint must be an http(s) URL, got "${endpoint}".`);
  }
  const optional = <T>(key: Key, value: T | undefined) => (value === undefined ? {} : { [key]: value });
  const config = {
    ...optional('endpoint', endpoint?.replace(/\/+$/, '')),
    ...optional('cluster', string('cluster')),
    ...optional('activationId', string('activationId')),
    ...optional('activationCode', string('activationCode')),
    ...optional('hostname', string('hostname')),
    dataDir,
    attributes:
      attributes === undefined
        ? []
        : (Array.isArray(attributes) ? attributes.flatMap(listOf) : listOf(attributes)).map(parseAttribute),
    reservedMemoryMiB:
      raw('reservedMemoryMiB') === undefined ? 0 : toInt('--reserved-memory', raw('reservedMemoryMiB')),
    ...(reservedPorts === undefined
      ? {}
      : {
          reservedPorts: listOf(reservedPorts).map((port) => {
            const number = toInt('--reserved-ports', port);
            if (number > 65535) throw new ConfigError('--reserved-ports are 0-65535.');
            return number;
          }),
        }),
    pullBehavior: pullBehavior as PullBehavior,
    cleanupWaitSeconds:
      raw('cleanupWaitSeconds') === undefined ? 3600 : toNumber('--cleanup-wait', raw('cleanupWaitSeconds')),
    stopTimeoutSeconds:
      raw('stopTimeoutSeconds') === undefined ? 30 : toInt('--stop-timeout', raw('stopTimeoutSeconds')),
    restartBackoffSeconds:
      raw('restartBackoffSeconds') === undefined
        ? 1
        : toNumber('--restart-backoff', raw('restartBackoffSeconds')),
    restartBackoffMaxSeconds:
      raw('restartBackoffMaxSeconds') === undefined
        ? 300
        : toNumber('--restart-backoff-max', raw('restartBackoffMaxSeconds')),
    logLevel: logLevel as LogLevel,
  } as AgentConfig;
  // A zero backoff would restart a crashing container in a tight loop while offline.
  if (config.restartBackoffSeconds <= 0) throw new ConfigError('--restart-backoff must be greater than 0.');
  if (config.restartBackoffMaxSeconds < config.restartBackoffSeconds) {
    throw new ConfigError('--restart-backoff-max must be at least --restart-backoff.');
  }
  return config;
};
