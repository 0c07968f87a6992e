import Docker from 'dockerode';
import { hostPortOf } from '../../core/model/task-definition/ports.ts';
import { dockerCreateOptions, taskVolumeName, volumeSourcesOf } from './docker-spec.ts';
import {
  type ContainerObservation,
  type ContainerRuntime,
  type ContainerSummary,
  type CreateRequest,
  labels,
  type NetworkBinding,
  type PullBehavior,
  type RegistryAuth,
  type RuntimeEvent,
} from './types.ts';

const statusOf = (error: unknown): number | undefined => (error as { statusCode?: number }).statusCode;
const zeroTime = (time: string | undefined) => !time || time.startsWith('0001-');

/** Docker answers each binding twice (0.0.0.0 and ::); the report wants each port once. */
export const bindingsOf = (
  ports: Record<string, { HostIp: string; HostPort: string }[] | null> | undefined,
  hostNetwork: { containerPort: number; protocol: 'tcp' | 'udp' }[] | undefined,
): NetworkBinding[] => {
  // Host network: each port is bound as is (hostPortOf's rule), so it comes from the definition.
  if (hostNetwork)
    return hostNetwork.map((p) => ({
      ...p,
      hostPort: hostPortOf(p, 'host') ?? p.containerPort,
      bindIP: '0.0.0.0',
    }));
  const bindings: NetworkBinding[] = [];
  for (const [key, hosts] of Object.entries(ports ?? {})) {
    const [port, protocol] = key.split('/');
    for (const host of hosts ?? []) {
      const binding: NetworkBinding = {
        containerPort: Number(port),
        hostPort: Number(host.HostPort),
        protocol: protocol === 'udp' ? 'udp' : 'tcp',
        bindIP: host.HostIp.includes(':') ? '0.0.0.0' : host.HostIp || '0.0.0.0',
      };
      const seen = bindings.some(
        (b) =>
          b.containerPort === binding.containerPort &&
          b.hostPort === binding.hostPort &&
          b.protocol === binding.protocol,
      );
      if (!seen) bindings.push(binding);
    }
  }
  return bindings;
};

const readAll = (stream: NodeJS.ReadableStream, docker: Docker): Promise<void> =>
  new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (error: Error | null, output: { error?: string }[]) => {
      const failed = error ?? output.find((line) => line.error);
      if (failed) reject(failed instanceof Error ? failed : new Error(String(failed.error)));
      else resolve();
    });
  });

/** The ContainerRuntime on a Docker engine (DOCKER_HOST or /var/run/docker.sock). */
export class DockerRuntime implements ContainerRuntime {
  readonly docker: Docker;

  constructor(options?: Docker.DockerOptions) {
    this.docker = new Docker(options);
  }

  private async hasImage(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  private async pull(image: string, auth?: RegistryAuth): Promise<void> {
    const stream = await this.docker.pull(image, auth ? { authconfig: auth } : {});
    await readAll(stream, this.docker);
  }

  /**
   * ECS_IMAGE_PULL_BEHAVIOR: `default` pulls and falls back to the cached image when the pull
   * fails; `always` pulls and fails with it; `prefer-cached` pulls only what is missing (`once` is
   * the engine's: always the first time, prefer-cached after).
   */
  async ensureImage(image: string, behavior: PullBehavior, auth?: RegistryAuth): Promise<void> {
    if (behavior === 'prefer-cached' && (await this.hasImage(image))) return;
    try {
      await this.pull(image, auth);
    } catch (error) {
      if (behavior === 'default' && (await this.hasImage(image))) return;
      throw error;
    }
  }

  async create(request: CreateRequest): Promise<string> {
    for (const [name, source] of volumeSourcesOf(request)) {
      if (source.kind !== 'volume' || !source.task) continue;
      // Created explicitly (Docker would auto-create it unlabelled) so cleanup can find it by label.
      await this.docker.createVolume({
        Name: taskVolumeName(request.task.taskArn, name),
        Labels: {
          [labels.taskArn]: request.task.taskArn,
          [labels.cluster]: request.cluster,
          [labels.containerInstance]: request.owner,
        },
      });
    }
    try {
      const container = await this.docker.createContainer(dockerCreateOptions(request));
      return container.id;
    } catch (error) {
      // The name is deterministic: a conflict means an earlier attempt created it (the agent died
      // before recording the id). Take that one, if it is ours, rather than making a duplicate.
      if (statusOf(error) !== 409) throw error;
      const existing = await this.docker.getContainer(request.name).inspect();
      if (existing.Config.Labels?.[labels.taskArn] !== request.task.taskArn) throw error;
      return existing.Id;
    }
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (error) {
      if (statusOf(error) !== 304) throw error; // already running
    }
  }

  async stop(id: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: timeoutSeconds });
    } catch (error) {
      const status = statusOf(error);
      if (status !== 304 && status !== 404) throw error; // already stopped, or gone
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  async inspect(id: string): Promise<ContainerObservation | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(id).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
    const state = info.State;
    const hostNetwork =
      info.HostConfig.NetworkMode === 'host'
        ? Object.keys(info.Config.ExposedPorts ?? {}).map((key) => {
            const [port, protocol] = key.split('/');
            return {
              containerPort: Number(port),
              protocol: protocol === 'udp' ? ('udp' as const) : ('tcp' as const),
            };
          })
        : undefined;
    const health = state.Health?.Status;
    return {
      id: info.Id,
      taskArn: info.Config.Labels?.[labels.taskArn] ?? '',
      containerName: info.Config.Labels?.[labels.containerName] ?? '',
      running: state.Running,
      ...(!state.Running && !zeroTime(state.FinishedAt) ? { exitCode: state.ExitCode } : {}),
      ...(state.OOMKilled ? { oomKilled: true } : {}),
      ...(state.Error ? { error: state.Error } : {}),
      ...(health === 'starting' || health === 'healthy' || health === 'unhealthy' ? { health } : {}),
      ...(!zeroTime(state.StartedAt) ? { startedAt: state.StartedAt } : {}),
      ...(!zeroTime(state.FinishedAt) ? { finishedAt: state.FinishedAt } : {}),
      networkBindings: state.Running
        ? bindingsOf(
            info.NetworkSettings.Ports as Record<string, { HostIp: string; HostPort: string }[] | null>,
            hostNetwork,
          )
        : [],
    };
  }

  async list(owner: string): Promise<ContainerSummary[]> {
    const containers = await this.docker.listContainers({
      all: true,
      filters: { label: [labels.taskArn, `${labels.containerInstance}=${owner}`] },
    });
    return containers.map((c) => ({
      id: c.Id,
      taskArn: c.Labels[labels.taskArn] ?? '',
      containerName: c.Labels[labels.containerName] ?? '',
      running: c.State === 'running',
    }));
  }

  async removeTaskVolumes(taskArn: string): Promise<void> {
    const { Volumes } = await this.docker.listVolumes({
      filters: { label: [`${labels.taskArn}=${taskArn}`] },
    });
    for (const volume of Volumes ?? []) {
      try {
        await this.docker.getVolume(volume.Name).remove();
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
      }
    }
  }

  watch(
    owner: string,
    onEvent: (event: RuntimeEvent) => void,
    onError?: (error: unknown) => void,
  ): () => void {
    let closed = false;
    let stream: (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
    let retry: NodeJS.Timeout | undefined;
    let connections = 0;
    const connect = () => {
      this.docker
        .getEvents({ filters: { type: ['container'], label: [`${labels.containerInstance}=${owner}`] } })
        .then((events) => {
          if (closed) {
            (events as { destroy?: () => void }).destroy?.();
            return;
          }
          stream = events;
          // Events may have been missed while the stream was down: have the agent look at everything.
          if (connections++ > 0) onEvent({ id: '', kind: 'resync' });
          let buffer = '';
          events.on('data', (chunk: Buffer) => {
            buffer += chunk.toString('utf8');
            let newline = buffer.indexOf('\n');
            while (newline >= 0) {
              const line = buffer.slice(0, newline).trim();
              buffer = buffer.slice(newline + 1);
              newline = buffer.indexOf('\n');
              if (!line) continue;
              try {
                const event = JSON.parse(line) as {
                  Action?: string;
                  id?: string;
                  Actor?: { ID?: string; Attributes?: Record<string, string> };
                };
                const attributes = event.Actor?.Attributes ?? {};
                onEvent({
                  id: event.Actor?.ID ?? event.id ?? '',
                  kind: (event.Action ?? '').split(':')[0] ?? '',
                  ...(attributes[labels.taskArn] ? { taskArn: attributes[labels.taskArn] } : {}),
                  ...(attributes[labels.containerName]
                    ? { containerName: attributes[labels.containerName] }
                    : {}),
                });
              } catch (error) {
                onError?.(error);
              }
            }
          });
          let ended = false;
          const again = () => {
            if (closed || ended) return;
            ended = true;
            stream = undefined;
            retry = setTimeout(connect, 1000);
          };
          events.on('end', again);
          events.on('error', (error) => {
            onError?.(error);
            again();
          });
        })
        .catch((error) => {
          onError?.(error);
          if (!closed) retry = setTimeout(connect, 1000);
        });
    };
    connect();
    return () => {
      closed = true;
      clearTimeout(retry);
      stream?.destroy?.();
    };
  }
}
