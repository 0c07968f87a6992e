/**
 * Which stages are precious, and where a stage lives: plain data that sst.config.ts reads before
 * any resource exists (so it uses no SST global). Tested in test/unit/infra-stage-policy.test.ts.
 */
export const protectedStages = ['production', 'prod'] as const;

/** Production keeps its table and refuses `sst remove`; every other stage is disposable. */
export const isProtectedStage = (stage: string | undefined): boolean =>
  protectedStages.includes((stage ?? '') as (typeof protectedStages)[number]);

export const defaultRegion = 'us-east-1';

/** BERTH_REGION, else the AWS CLI's own region variables, else us-east-1. */
export const regionOf = (env: Record<string, string | undefined>): string =>
  env.BERTH_REGION || env.AWS_REGION || env.AWS_DEFAULT_REGION || defaultRegion;

/** Every Lambda: one pinned runtime and architecture (Graviton is ~20 % cheaper per GB-second). */
export const lambdaRuntime = { runtime: 'nodejs22.x', architecture: 'arm64' } as const;
