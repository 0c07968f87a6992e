/** Where this control plane lives: the parts of every ARN it hands out, and its table. */
export type BerthConfig = {
  region: string;
  accountId: string;
  tableName: string;
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
