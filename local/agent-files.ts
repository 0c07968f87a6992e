import { readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentFiles } from '../core/agent-api/install-script.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Newest modification time of the sources the bundle is built from (agent/, core/protocol, core/model). */
const newestSourceMs = (root: string): number => {
  let newest = 0;
  const visit = (dir: string) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of ['agent', 'core/protocol', 'core/model']) visit(join(root, dir));
  return newest;
};

const modifiedMs = (path: string): number | undefined => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
};

/**
 * `berth up`'s installer files: scripts/install.sh and dist/berth-agent.mjs from the repository.
 * The bundle is built when it is missing or older than the agent's sources (so a checkout serves
 * the agent it contains), once per process and into a temp file renamed into place, so that a
 * concurrent reader never sees half a bundle.
 */
export const localAgentFiles = (root = repoRoot): AgentFiles => {
  const bundlePath = join(root, 'dist', 'berth-agent.mjs');
  let built: Promise<void> | undefined;
  const ensureBundle = async () => {
    const at = modifiedMs(bundlePath);
    if (at !== undefined && at >= newestSourceMs(root)) return;
    built ??= (async () => {
      // esbuild is a dependency (berth up builds the agent bundle at run time), so this works wherever `berth up` does.
      const { buildAgentBundle } = await import('../agent/build.ts');
      const temp = `${bundlePath}.${process.pid}.tmp`;
      try {
        await buildAgentBundle(temp);
        renameSync(temp, bundlePath);
      } finally {
        rmSync(temp, { force: true });
      }
    })().finally(() => {
      built = undefined;
    });
    await built;
  };
  return {
    installTemplate: async () => readFileSync(join(root, 'scripts', 'install.sh'), 'utf8'),
    agentBundle: async () => {
      await ensureBundle();
      return readFileSync(bundlePath, 'utf8');
    },
  };
};
