import { execFileSync } from 'node:child_process';
import { agentFilesDir } from '../functions/agent-files.ts';

// The AgentApi function hands out the installer and the bundled agent (GET /agent/v1/install.sh,
// /agent/v1/berth-agent.mjs). Both ship inside its package rather than in an S3 bucket: a stage
// then always serves the agent built from the same commit as its API (no version skew, no bucket,
// no extra permission), and the bundle (~200 KB) is far below Lambda's 6 MB response limit. The
// files are read only on the install routes, so the sync path does not grow. Built here, at
// deploy time, so a fresh clone needs no separate step.
execFileSync('npm', ['run', '--silent', 'build:agent'], { stdio: 'inherit' });

/** SST `copyFiles` entries for the AgentApi function (read by functions/agent-files.ts). */
export const agentFiles = [
  { from: 'dist/berth-agent.mjs', to: `${agentFilesDir}/berth-agent.mjs` },
  { from: 'scripts/install.sh', to: `${agentFilesDir}/install.sh` },
];
