import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentFiles } from '../core/agent-api/install-script.ts';

/** Where infra/functions.ts copies the installer and the agent bundle inside the AgentApi package. */
export const agentFilesDir = 'agent-files';

const readIfExists = async (path: string): Promise<string | undefined> => {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
};

/**
 * On AWS the installer and the agent ship inside the AgentApi function's package (SST
 * `copyFiles`), so a stage always hands out the agent built from the same commit as its API. Read
 * on first use and kept for the container's life: a deploy brings new files with a new container.
 */
export const packagedAgentFiles = (root = process.env.LAMBDA_TASK_ROOT ?? process.cwd()): AgentFiles => {
  const dir = join(root, agentFilesDir);
  let template: Promise<string> | undefined;
  let bundle: Promise<string | undefined> | undefined;
  return {
    installTemplate: () => {
      template ??= readFile(join(dir, 'install.sh'), 'utf8');
      return template;
    },
    agentBundle: () => {
      bundle ??= readIfExists(join(dir, 'berth-agent.mjs'));
      return bundle;
    },
  };
};
