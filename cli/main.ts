import { Command, InvalidArgumentError } from 'commander';
import { LocalStartError } from '../local/dynamodb.ts';
import { startLocalHost } from '../local/host.ts';
import { defaultTransportLimits } from '../local/server.ts';
import { addAgentCommand } from './agent.ts';
import { addStatusCommand } from './status.ts';
import { addWatchCommand } from './watch.ts';

const portOption = (value: string): number => {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('a port is 0-65535.');
  return port;
};

const countOption = (value: string): number => {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1) throw new InvalidArgumentError('a whole number, 1 or more.');
  return count;
};

/** `path` as one shell word. */
const shellWord = (path: string) => `'${path.replaceAll("'", `'\\''`)}'`;

/** A shell expression that reads the admin secret from its file, so it need not be printed. */
const secretFromFile = (file: string) =>
  `"$(sed -n 's/.*"secretAccessKey": *"\\([^"]*\\)".*/\\1/p' ${shellWord(file)})"`;

/**
 * Where the admin secret is, said once: like an AWS secret access key, it is printed only when it
 * is created (scrollback, CI logs and terminal recordings keep what a start prints); later starts
 * read it from the file instead.
 */
const secretNote = (created: boolean, file: string | undefined) => {
  if (!file) return '';
  return created
    ? ` (a new key pair: its secret is shown only now, and kept in ${file})`
    : ` (the secret is read from ${file}, not shown)`;
};

const mibOption = (value: string): number => {
  const mib = Number(value);
  if (!Number.isFinite(mib) || mib < 0) throw new InvalidArgumentError('a size in MiB is 0 or more.');
  return mib;
};

const program = new Command('berth').description(
  'Berth: a self-hosted container control plane that speaks the ECS API.',
);

program
  .command('up')
  .description('run the control plane on this machine, with an embedded DynamoDB Local')
  .option('--port <port>', 'HTTP port (env BERTH_PORT)', portOption, Number(process.env.BERTH_PORT ?? 9400))
  .option('--host <address>', 'address to listen on', process.env.BERTH_HOST ?? '127.0.0.1')
  .option(
    '--data-dir <dir>',
    'where data and keys are kept (env BERTH_DATA_DIR)',
    process.env.BERTH_DATA_DIR ?? '.berth',
  )
  .option('--in-memory', 'keep nothing on disk (fresh keys and data each start)', false)
  .option('--region <region>', 'the region in ARNs and signatures', process.env.BERTH_REGION ?? 'us-east-1')
  .option(
    '--max-connections <n>',
    'open HTTP connections beyond this are closed (env BERTH_MAX_CONNECTIONS; each agent holds a few)',
    countOption,
    Number(process.env.BERTH_MAX_CONNECTIONS ?? defaultTransportLimits.maxConnections),
  )
  .option(
    '--min-free-mb <MiB>',
    'refuse writes (503) while the data dir has less free space than this (env BERTH_MIN_FREE_MB)',
    mibOption,
    Number(process.env.BERTH_MIN_FREE_MB ?? 64),
  )
  .action(
    async (options: {
      port: number;
      host: string;
      dataDir: string;
      inMemory: boolean;
      region: string;
      maxConnections: number;
      minFreeMb: number;
    }) => {
      console.log(
        options.inMemory ? 'Starting Berth (in memory)…' : `Starting Berth (data in ${options.dataDir})…`,
      );
      const host = await startLocalHost({
        ...options,
        transportLimits: { maxConnections: options.maxConnections },
        minFreeBytes: options.minFreeMb * 1024 * 1024,
        // DynamoDB Local died and could not be restarted: exit, so that a supervisor restarts Berth.
        onStoreLost: () => process.exit(1),
      });
      const { credentials, credentialsFile, endpoint, region } = host;
      console.log(`
Berth is up at ${endpoint}${host.dataDir ? ` (data: ${host.dataDir})` : ''}

Point the AWS CLI or an SDK at it${secretNote(host.credentialsCreated, credentialsFile)}:

  export AWS_ACCESS_KEY_ID=${credentials.accessKeyId}
  export AWS_SECRET_ACCESS_KEY=${
    host.credentialsCreated || !credentialsFile
      ? credentials.secretAccessKey
      : secretFromFile(credentialsFile)
  }
  export AWS_REGION=${region} AWS_DEFAULT_REGION=${region}
  aws ecs --endpoint-url ${endpoint} list-clusters

Press Ctrl-C to stop; data is kept for the next start${host.dataDir ? '' : ' (not in memory mode)'}.`);
      let stopping = false;
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        console.log('\nStopping Berth…');
        await host.stop();
        process.exit(0);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
  );

addAgentCommand(program);
addStatusCommand(program);
addWatchCommand(program);

program.parseAsync().catch((error: unknown) => {
  if (error instanceof LocalStartError || error instanceof Error) {
    console.error(`berth: ${error.message}`);
  } else {
    console.error('berth:', error);
  }
  process.exit(1);
});
