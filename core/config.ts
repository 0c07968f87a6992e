/** Where this control plane lives: the parts of every ARN it hands out, and its table. */
export type BerthConfig = {
  region: string;
  accountId: string;
  tableName: string;
  /**
   * A sync writes the agent's heartbeat when the last one this process wrote is at least this old:
   * half the sweeper's grace, so a connected agent's heartbeat is never older than the grace minus a
   * sync interval. Default: 90 s (the grace is 180 s, three 60-second heartbeats).
   */
  heartbeatWriteSeconds?: number;
};

export const defaultConfig: BerthConfig = {
  region: 'us-east-1',
  accountId: '000000000000',
  tableName: 'berth',
};

export const configFromEnv = (env: NodeJS.ProcessEnv = process.env): BerthConfig => ({
  region: env.BERTH_REGION ?? env.AWS_REGION ?? defaultConfig.region,
  accountId: env.BERTH_ACCOUNT_ID ?? defaultConfig.accountId,
  tableName: env.BERTH_TABLE ?? defaultConfig.tableName,
});
