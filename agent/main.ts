import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Agent } from './agent.ts';
import { AgentApiError } from './client.ts';
import { agentUsage, ConfigError, parseAgentConfig } from './config.ts';
import { readTextIfExists } from './files.ts';
import { DockerRuntime } from './runtime/docker.ts';

/**
 * `berth agent …` (and `node berth-agent.mjs …`): parse settings, run until SIGTERM/SIGINT.
 * Stopping the agent leaves its containers running; the next start adopts them.
 */
export const runAgentCommand = async (
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<void> => {
  let config: ReturnType<typeof parseAgentConfig>;
  try {
    config = parseAgentConfig({ argv, env, readFile: readTextIfExists });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`berth agent: ${error.message}\n`);
    process.exit(2);
  }
  if (config === 'help') {
    process.stdout.write(`${agentUsage}\n`);
    return;
  }
  const agent = new Agent({ config, runtime: new DockerRuntime(), env });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    agent.log.info('agent stopping; containers keep running');
    await agent.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    await agent.start();
  } catch (error) {
    if (error instanceof AgentApiError) {
      process.stderr.write(`berth agent: ${error.message} (${error.code})\n`);
      process.exit(1);
    }
    throw error;
  }
};

const invokedDirectly = (): boolean => {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
};

if (invokedDirectly()) {
  runAgentCommand(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`berth agent: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
    process.exit(1);
  });
}
