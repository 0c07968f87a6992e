import { lambdaRuntime } from './stage-policy.ts';

// Every Lambda of the stage, including those SST creates for subscriptions and authorizers: one
// pinned runtime and architecture, JSON logs (Powertools writes JSON; CloudWatch can filter it),
// and an ESM bundle without source maps (smaller, faster cold starts).
$transform(sst.aws.Function, (args) => {
  args.runtime ??= lambdaRuntime.runtime;
  args.architecture ??= lambdaRuntime.architecture;
  args.logging ??= { format: 'json', retention: '1 month' };
  args.nodejs ??= { format: 'esm', minify: true, sourcemap: false };
});
