import type Docker from 'dockerode';
import { hostPortOf } from '../../core/model/task-definition/ports.ts';
import { specOf } from '../container-spec.ts';
import { type CreateRequest, labels, taskIdOf } from './types.ts';

/**
 * ECS container definition -> Docker create options, pure. Follows what amazon-ecs-agent passes
 * to Docker for the same fields, so task definitions behave on Berth as they do on ECS.
 */

/** ECS on Linux never gives Docker fewer than 2 CPU shares (Docker reads 0 as "default 1024"). */
const minCpuShares = 2;
const mib = 1024 * 1024;
const ns = 1_000_000_000;

/** json-file with rotation: a chatty container must not fill an edge machine's disk. */
export const defaultLogConfig = { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } };

/** A task-scoped Docker volume's name: one per task and volume, removed with the task. */
export const taskVolumeName = (taskArn: string, volume: string) =>
  `berth-${taskIdOf(taskArn)}-${volume}`.replace(/[^a-zA-Z0-9_.-]/g, '_');

type VolumeSource = { kind: 'bind'; path: string } | { kind: 'volume'; name: string; task: boolean };

/** Where each task volume comes from: a host path, a shared named volume, or a task-scoped one. */
export const volumeSourcesOf = (request: Pick<CreateRequest, 'task'>): Map<string, VolumeSource> => {
  const sources = new Map<string, VolumeSource>();
  for (const volume of request.task.volumes) {
    const name = String(volume.name);
    const host = volume.host as { sourcePath?: string } | undefined;
    const dockerVolume = volume.dockerVolumeConfiguration as { scope?: string } | undefined;
    if (host?.sourcePath) sources.set(name, { kind: 'bind', path: host.sourcePath });
    else if (dockerVolume?.scope === 'shared') sources.set(name, { kind: 'volume', name, task: false });
    else sources.set(name, { kind: 'volume', name: taskVolumeName(request.task.taskArn, name), task: true });
  }
  return sources;
};

const healthTestOf = (command: string[]): string[] => {
  const [kind, ...rest] = command;
  // ECS: CMD-SHELL takes one shell string; Docker wants it as a single argument after the kind.
  if (kind === 'CMD-SHELL') return ['CMD-SHELL', rest.join(' ')];
  return command;
};

/** Docker's create options for one container of a task. */
export const dockerCreateOptions = (request: CreateRequest): Docker.ContainerCreateOptions => {
  const spec = specOf(request.container);
  const { task } = request;
  const volumes = volumeSourcesOf(request);
  const portBindings: Record<string, { HostPort: string; HostIp?: string }[]> = {};
  const exposed: Record<string, object> = {};
  for (const mapping of spec.portMappings ?? []) {
    if (mapping.containerPort === undefined) continue;
    const key = `${mapping.containerPort}/${mapping.protocol ?? 'tcp'}`;
    exposed[key] = {};
    // No host port (bridge, hostPort 0 or absent): Docker picks an ephemeral one, read back after
    // start (networkBindings). Host and none networks take no bindings.
    if (task.networkMode === 'bridge')
      portBindings[key] = [{ HostPort: String(hostPortOf(mapping, task.networkMode) ?? '') }];
  }
  const binds = (spec.mountPoints ?? []).flatMap((mount) => {
    if (!mount.sourceVolume || !mount.containerPath) return [];
    const source = volumes.get(mount.sourceVolume);
    if (!source) return [];
    const from = source.kind === 'bind' ? source.path : source.name;
    return [`${from}:${mount.containerPath}${mount.readOnly ? ':ro' : ''}`];
  });
  const linux = spec.linuxParameters;
  const healthCheck = spec.healthCheck;
  const dockerLabels: Record<string, string> = {
    ...(spec.dockerLabels ?? {}),
    [labels.taskArn]: task.taskArn,
    [labels.containerName]: spec.name,
    [labels.cluster]: request.cluster,
    [labels.family]: task.family,
    [labels.revision]: String(task.revision),
    [labels.containerInstance]: request.owner,
  };
  const hostConfig: Docker.HostConfig = {
    NetworkMode: task.networkMode,
    CpuShares: Math.max(minCpuShares, spec.cpu ?? 0),
    ...(spec.memory ? { Memory: spec.memory * mib } : {}),
    ...(spec.memoryReservation ? { MemoryReservation: spec.memoryReservation * mib } : {}),
    ...(Object.keys(portBindings).length ? { PortBindings: portBindings } : {}),
    ...(binds.length ? { Binds: binds } : {}),
    ...(spec.volumesFrom?.length
      ? {
          VolumesFrom: spec.volumesFrom.flatMap((from) => {
            const id = from.sourceContainer ? request.peers[from.sourceContainer] : undefined;
            return id ? [`${id}${from.readOnly ? ':ro' : ''}`] : [];
          }),
        }
      : {}),
    ...(spec.links?.length && task.networkMode === 'bridge'
      ? {
          Links: spec.links.flatMap((link) => {
            const [name, alias] = link.split(':');
            const target = name ? request.peerNames[name] : undefined;
            return target ? [`${target}:${alias ?? name}`] : [];
          }),
        }
      : {}),
    ...(spec.ulimits?.length
      ? { Ulimits: spec.ulimits.map((u) => ({ Name: u.name, Soft: u.softLimit, Hard: u.hardLimit })) }
      : {}),
    LogConfig: spec.logConfiguration
      ? { Type: spec.logConfiguration.logDriver, Config: spec.logConfiguration.options ?? {} }
      : defaultLogConfig,
    ...(spec.privileged ? { Privileged: true } : {}),
    ...(spec.readonlyRootFilesystem ? { ReadonlyRootfs: true } : {}),
    ...(spec.dnsServers?.length ? { Dns: spec.dnsServers } : {}),
    ...(spec.dnsSearchDomains?.length ? { DnsSearch: spec.dnsSearchDomains } : {}),
    ...(spec.extraHosts?.length
      ? { ExtraHosts: spec.extraHosts.map((h) => `${h.hostname}:${h.ipAddress}`) }
      : {}),
    ...(spec.dockerSecurityOptions?.length ? { SecurityOpt: spec.dockerSecurityOptions } : {}),
    ...(spec.systemControls?.length
      ? {
          Sysctls: Object.fromEntries(
            spec.systemControls.flatMap((s) => (s.namespace ? [[s.namespace, s.value ?? '']] : [])),
          ),
        }
      : {}),
    ...(linux?.capabilities?.add?.length ? { CapAdd: linux.capabilities.add } : {}),
    ...(linux?.capabilities?.drop?.length ? { CapDrop: linux.capabilities.drop } : {}),
    ...(linux?.initProcessEnabled ? { Init: true } : {}),
    ...(linux?.sharedMemorySize ? { ShmSize: linux.sharedMemorySize * mib } : {}),
    ...(linux?.devices?.length
      ? {
          Devices: linux.devices.map((d) => ({
            PathOnHost: d.hostPath,
            PathInContainer: d.containerPath ?? d.hostPath,
            CgroupPermissions: (d.permissions ?? ['read', 'write', 'mknod']).map((p) => p[0]).join(''),
          })),
        }
      : {}),
    ...(linux?.tmpfs?.length
      ? {
          Tmpfs: Object.fromEntries(
            linux.tmpfs.map((t) => [
              t.containerPath,
              [`size=${t.size}m`, ...(t.mountOptions ?? [])].join(','),
            ]),
          ),
        }
      : {}),
  };
  return {
    name: request.name,
    Image: spec.image,
    Labels: dockerLabels,
    Env: (spec.environment ?? []).flatMap((pair) => (pair.name ? [`${pair.name}=${pair.value ?? ''}`] : [])),
    ...(spec.command?.length ? { Cmd: spec.command } : {}),
    ...(spec.entryPoint?.length ? { Entrypoint: spec.entryPoint } : {}),
    ...(spec.workingDirectory ? { WorkingDir: spec.workingDirectory } : {}),
    ...(spec.user ? { User: spec.user } : {}),
    ...(spec.hostname && task.networkMode === 'bridge' ? { Hostname: spec.hostname } : {}),
    ...(spec.interactive ? { OpenStdin: true } : {}),
    ...(spec.pseudoTerminal ? { Tty: true } : {}),
    ...(spec.disableNetworking ? { NetworkDisabled: true } : {}),
    ...(Object.keys(exposed).length ? { ExposedPorts: exposed } : {}),
    ...(healthCheck
      ? {
          Healthcheck: {
            Test: healthTestOf(healthCheck.command),
            // ECS's defaults (30 s, 5 s, 3 retries, no start period), in Docker's nanoseconds.
            Interval: (healthCheck.interval ?? 30) * ns,
            Timeout: (healthCheck.timeout ?? 5) * ns,
            Retries: healthCheck.retries ?? 3,
            StartPeriod: (healthCheck.startPeriod ?? 0) * ns,
          },
        }
      : {}),
    HostConfig: hostConfig,
  };
};
