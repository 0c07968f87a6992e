import { type Deployment, DescribeServicesCommand, type ECSClient, type Service } from '@aws-sdk/client-ecs';
import { type Command, InvalidArgumentError } from 'commander';
import { definitionOf, ecsClientFor, explainClientError, idOf } from './ecs-client.ts';
import { printable } from './terminal.ts';

/** How `berth watch` ends, as its exit code says. */
export const watchExitCodes = {
  /** The deployment completed and every desired task runs. */
  steady: 0,
  /** The service could not be read (no such service, no credentials…). */
  error: 1,
  /** The deployment failed (circuit breaker), rolled back or not. */
  failed: 2,
  /** Neither within --timeout. */
  timeout: 3,
} as const;

/** The outcome of a watch, a key of watchExitCodes. */
export type WatchResult = keyof typeof watchExitCodes;

/** What to watch, how often, for how long, and where to write. */
export type WatchOptions = {
  ecs: ECSClient;
  cluster?: string;
  service: string;
  timeoutSeconds: number;
  intervalMs: number;
  write: (text: string) => void;
  /** Redraw the progress block in place (a terminal); otherwise print a line when something changes. */
  tty: boolean;
  now?: () => Date;
};

const clock = (date: Date) => date.toISOString().slice(11, 19);

/** `[#######-------]`: running of desired, pending shown as `+`. */
export const progressBar = (running: number, pending: number, desired: number, width = 20): string => {
  const total = Math.max(desired, running + pending, 1);
  const done = Math.round((Math.min(running, total) / total) * width);
  const waiting = Math.min(width - done, Math.round((pending / total) * width));
  return `[${'#'.repeat(done)}${'+'.repeat(waiting)}${'-'.repeat(width - done - waiting)}]`;
};

const deploymentLine = (deployment: Deployment): string => {
  const running = deployment.runningCount ?? 0;
  const pending = deployment.pendingCount ?? 0;
  const desired = deployment.desiredCount ?? 0;
  const failed = deployment.failedTasks ?? 0;
  return (
    `${(deployment.status ?? '').padEnd(7)} ${definitionOf(deployment.taskDefinition)} ` +
    `${progressBar(running, pending, desired)} ${running}/${desired} running` +
    (pending ? `, ${pending} pending` : '') +
    (failed ? `, ${failed} failed` : '') +
    `  ${deployment.rolloutState ?? ''}`
  ).trimEnd();
};

const isRollback = (deployment: Deployment | undefined) =>
  /rolling back/i.test(deployment?.rolloutStateReason ?? '');

/** Whether the service is done with `watched`: completed alone, with every desired task running. */
const steadyOn = (service: Service, watched: Deployment): boolean => {
  const deployments = service.deployments ?? [];
  return (
    deployments.length === 1 &&
    deployments[0]?.id === watched.id &&
    watched.rolloutState === 'COMPLETED' &&
    (watched.runningCount ?? 0) === (watched.desiredCount ?? 0) &&
    (service.runningCount ?? 0) === (service.desiredCount ?? 0) &&
    (service.pendingCount ?? 0) === 0
  );
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Follows a service's deployment — the PRIMARY one when the watch starts, or a newer one an update
 * makes — printing its progress and the service's events as they come, until it is steady (0), it
 * failed or rolled back (2), or the timeout passed (3). Like `aws ecs wait services-stable`, but it
 * says what happens and fails fast.
 */
export const watchService = async (options: WatchOptions): Promise<WatchResult> => {
  const now = options.now ?? (() => new Date());
  const started = now();
  const deadline = started.getTime() + options.timeoutSeconds * 1000;
  const seenEvents = new Set<string>();
  let firstPass = true;
  let watchedId: string | undefined;
  let drawnLines = 0;
  let lastBlock = '';

  const describe = async (): Promise<Service> => {
    const answer = await options.ecs.send(
      new DescribeServicesCommand({ cluster: options.cluster, services: [options.service] }),
    );
    const service = answer.services?.[0];
    if (!service || service.status === 'INACTIVE') {
      throw new Error(`No active service ${options.service} in cluster ${options.cluster ?? 'default'}.`);
    }
    return service;
  };

  /** Prints lines above the progress block (a terminal) or as they are (a pipe). */
  const print = (lines: string[]) => {
    if (lines.length === 0) return;
    if (options.tty && drawnLines > 0) {
      options.write(`\x1b[${drawnLines}A\x1b[J`);
      drawnLines = 0;
      lastBlock = '';
    }
    // Lines carry what the control plane answered (events, reasons, names): never control codes.
    options.write(`${lines.map(printable).join('\n')}\n`);
  };

  const draw = (service: Service) => {
    const block = (service.deployments ?? []).map((deployment) => printable(deploymentLine(deployment)));
    const text = block.join('\n');
    if (text === lastBlock) return;
    if (options.tty) {
      if (drawnLines > 0) options.write(`\x1b[${drawnLines}A\x1b[J`);
      options.write(`${text}\n`);
      drawnLines = block.length;
    } else {
      options.write(`${block.map((line) => `${clock(now())} ${line}`).join('\n')}\n`);
    }
    lastBlock = text;
  };

  for (;;) {
    const service = await describe();
    const deployments = service.deployments ?? [];
    const primary = deployments.find((d) => d.status === 'PRIMARY') ?? deployments[0];
    if (watchedId === undefined) {
      watchedId = primary?.id;
      print([
        `Watching ${service.serviceName} in ${idOf(service.clusterArn)}: deployment ${watchedId ?? '-'} ` +
          `(${definitionOf(primary?.taskDefinition)}), ${service.desiredCount ?? 0} desired`,
      ]);
    }
    let watched = deployments.find((d) => d.id === watchedId);

    // Events, oldest first; on the first pass only those of the watched deployment's lifetime.
    const since = watched?.createdAt?.getTime() ?? started.getTime();
    const fresh = [...(service.events ?? [])]
      .reverse()
      .filter((event) => event.id && !seenEvents.has(event.id))
      .filter((event) => !firstPass || (event.createdAt?.getTime() ?? 0) >= since - 1000);
    for (const event of service.events ?? []) if (event.id) seenEvents.add(event.id);
    firstPass = false;
    print(fresh.map((event) => `${clock(event.createdAt ?? now())} ${event.message ?? ''}`));

    // The deployment's own state decides, not its "deployment failed" event: the service item and
    // its events are two reads, so one answer may carry the event before the state (or the other
    // way round); the state and the event are written together, so the next poll has both.
    if (watched?.rolloutState === 'FAILED' || (!watched && isRollback(primary))) {
      draw(service);
      const target = isRollback(primary) ? `; rolling back to ${definitionOf(primary?.taskDefinition)}` : '';
      print([
        `FAILED: deployment ${watchedId} ${watched?.rolloutStateReason ?? 'failed'}${target}.`,
        ...(target ? [`Follow the rollback with: berth watch ${options.service}`] : []),
      ]);
      return 'failed';
    }
    if (!watched && primary) {
      // A newer deployment (an update while watching) replaced the watched one: follow it.
      print([
        `Deployment ${watchedId} was replaced by ${primary.id} (${definitionOf(primary.taskDefinition)}).`,
      ]);
      watchedId = primary.id;
      watched = primary;
    }
    draw(service);
    if (watched && steadyOn(service, watched)) {
      const seconds = Math.round((now().getTime() - started.getTime()) / 1000);
      print([
        `Steady: ${service.serviceName} runs ${service.runningCount}/${service.desiredCount} tasks of ` +
          `${definitionOf(watched.taskDefinition)} (deployment ${watched.id} COMPLETED) after ${seconds}s.`,
      ]);
      return 'steady';
    }
    if (now().getTime() >= deadline) {
      print([`Timed out after ${options.timeoutSeconds}s before the service was steady.`]);
      return 'timeout';
    }
    await sleep(options.intervalMs);
  }
};

const positive = (name: string) => (value: string) => {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0)
    throw new InvalidArgumentError(`${name} is a number of seconds > 0.`);
  return number;
};

/** `berth watch SERVICE [--cluster C] [--endpoint URL] [--timeout S]`. */
export const addWatchCommand = (program: Command): void => {
  program
    .command('watch')
    .description(
      "follow a service's deployment until it is steady (exit 0), fails or rolls back (2), or times out (3)",
    )
    .argument('<service>', 'the service name or ARN')
    .option('--cluster <name>', 'the cluster (default: default)')
    .option('--endpoint <url>', 'the control plane (env BERTH_ENDPOINT)')
    .option('--timeout <seconds>', 'give up after this long', positive('--timeout'), 600)
    .option('--interval <seconds>', 'how often to look', positive('--interval'), 2)
    .action(
      async (
        service: string,
        options: { cluster?: string; endpoint?: string; timeout: number; interval: number },
      ) => {
        const ecs = ecsClientFor(options);
        try {
          const result = await watchService({
            ecs,
            cluster: options.cluster,
            service,
            timeoutSeconds: options.timeout,
            intervalMs: options.interval * 1000,
            write: (text) => process.stdout.write(text),
            tty: process.stdout.isTTY === true,
          });
          process.exitCode = watchExitCodes[result];
        } catch (error) {
          process.stderr.write(`berth watch: ${explainClientError(error)}\n`);
          process.exitCode = watchExitCodes.error;
        } finally {
          ecs.destroy();
        }
      },
    );
};
