import type { Command } from 'commander';

/**
 * `berth agent`: the edge agent. Its flags are parsed by the agent itself (agent/config.ts), so
 * the bundled agent (`node berth-agent.mjs`) and this subcommand take exactly the same ones.
 */
export const addAgentCommand = (program: Command): void => {
  program
    .command('agent')
    .description('run the edge agent: register this machine (once) and run its tasks with Docker')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[options...]', 'see `berth agent --help`')
    .action(async (_args: string[], _options: object, command: Command) => {
      // Loaded on use: `berth up` does not need dockerode.
      const { runAgentCommand } = await import('../agent/main.ts');
      await runAgentCommand(command.args);
    });
};
