#!/usr/bin/env bash
# Type-checks the SST app (sst.config.ts, infra/) offline: `sst install` writes the platform types
# and the AWS provider's types to .sst/platform (no AWS account or network needed), then tsc checks
# against them. Finally the config is bundled the way `sst deploy` loads it, which catches imports
# that type-check but would not resolve.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! installed=$(SST_SKIP_DEPENDENCY_CHECK=true SST_NO_BUN=true SST_TELEMETRY_DISABLED=1 \
  npx sst install --stage ci 2>&1); then
  echo "$installed" >&2
  exit 1
fi
npx tsc -p tsconfig.infra.json
node --input-type=module -e "
import { build } from 'esbuild';
await build({
  entryPoints: ['sst.config.ts'],
  outfile: '.sst/check-infra/sst.config.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  nodePaths: ['.sst/platform/node_modules'],
  external: ['@pulumi/*'],
  logLevel: 'warning',
});
"
echo "infra: sst.config.ts and infra/ type-check and bundle"
