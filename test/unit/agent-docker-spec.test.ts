import { describe, expect, it } from 'vitest';
import { bindingsOf } from '../../agent/runtime/docker.ts';
import { dockerCreateOptions } from '../../agent/runtime/docker-spec.ts';
import type { CreateRequest } from '../../agent/runtime/types.ts';
import type { AssignedContainer, AssignedTask } from '../../core/protocol/agent.ts';

const taskArn = 'arn:aws:ecs:us-east-1:000000000000:task/edge/0123456789abcdef0123456789abcdef';

const request = (container: Partial<AssignedContainer>, task: Partial<AssignedTask> = {}): CreateRequest => {
  const full = { name: 'app', image: 'nginx:1', essential: true, ...container } as AssignedContainer;
  return {
    task: {
      taskArn,
      desiredStatus: 'RUNNING',
      family: 'web',
      revision: 3,
      networkMode: 'bridge',
      containers: [full],
      volumes: [],
      restartOnFailure: false,
      createdAt: '2026-01-01T00:00:00.000Z',
      ...task,
    },
    container: full,
    cluster: 'edge',
    owner: 'arn:aws:ecs:us-east-1:000000000000:container-instance/edge/1',
    name: 'berth-web-3-app-x',
    peers: { db: 'db-id' },
    peerNames: { db: 'berth-web-3-db-x' },
  };
};

describe('dockerCreateOptions', () => {
  it('maps the process, resources and labels of an ECS container definition', () => {
    const options = dockerCreateOptions(
      request({
        cpu: 512,
        memory: 256,
        memoryReservation: 128,
        command: ['serve', '--port', '80'],
        entryPoint: ['/entry'],
        workingDirectory: '/srv',
        user: '1000:1000',
        environment: [{ name: 'A', value: '1' }],
        dockerLabels: { team: 'edge' },
        ulimits: [{ name: 'nofile', softLimit: 1024, hardLimit: 4096 }],
      }),
    );
    expect(options).toMatchObject({
      name: 'berth-web-3-app-x',
      Image: 'nginx:1',
      Cmd: ['serve', '--port', '80'],
      Entrypoint: ['/entry'],
      WorkingDir: '/srv',
      User: '1000:1000',
      Env: ['A=1'],
      Labels: {
        team: 'edge',
        'berth.task-arn': taskArn,
        'berth.container-name': 'app',
        'berth.cluster': 'edge',
        'berth.family': 'web',
      },
      HostConfig: {
        NetworkMode: 'bridge',
        CpuShares: 512,
        Memory: 256 * 1024 * 1024,
        MemoryReservation: 128 * 1024 * 1024,
        Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 4096 }],
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      },
    });
  });

  it('gives a container without cpu the 2 CPU shares ECS gives it', () => {
    expect(dockerCreateOptions(request({})).HostConfig?.CpuShares).toBe(2);
  });

  it('binds static and dynamic host ports in bridge mode and none in host mode', () => {
    const ports: Partial<AssignedContainer> = {
      portMappings: [
        { containerPort: 80, hostPort: 8080 },
        { containerPort: 53, protocol: 'udp' },
      ],
    };
    expect(dockerCreateOptions(request(ports)).HostConfig?.PortBindings).toEqual({
      '80/tcp': [{ HostPort: '8080' }],
      '53/udp': [{ HostPort: '' }],
    });
    const host = dockerCreateOptions(request(ports, { networkMode: 'host' }));
    expect(host.HostConfig?.PortBindings).toBeUndefined();
    expect(host.HostConfig?.NetworkMode).toBe('host');
  });

  it('mounts host paths, shared volumes and task-scoped volumes', () => {
    const options = dockerCreateOptions(
      request(
        {
          mountPoints: [
            { sourceVolume: 'logs', containerPath: '/var/log', readOnly: true },
            { sourceVolume: 'cache', containerPath: '/cache' },
            { sourceVolume: 'scratch', containerPath: '/tmp/s' },
          ],
          volumesFrom: [{ sourceContainer: 'db', readOnly: true }],
          links: ['db:database'],
        },
        {
          volumes: [
            { name: 'logs', host: { sourcePath: '/var/log/edge' } },
            { name: 'cache', dockerVolumeConfiguration: { scope: 'shared', autoprovision: true } },
            { name: 'scratch' },
          ],
        },
      ),
    );
    expect(options.HostConfig?.Binds).toEqual([
      '/var/log/edge:/var/log:ro',
      'cache:/cache',
      'berth-0123456789abcdef0123456789abcdef-scratch:/tmp/s',
    ]);
    expect(options.HostConfig?.VolumesFrom).toEqual(['db-id:ro']);
    expect(options.HostConfig?.Links).toEqual(['berth-web-3-db-x:database']);
  });

  it('turns an ECS health check into a Docker one in nanoseconds, with ECS defaults', () => {
    const options = dockerCreateOptions(
      request({ healthCheck: { command: ['CMD-SHELL', 'curl -f localhost'], interval: 10 } }),
    );
    expect(options.Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'curl -f localhost'],
      Interval: 10e9,
      Timeout: 5e9,
      Retries: 3,
      StartPeriod: 0,
    });
  });

  it('passes a log configuration through to Docker', () => {
    const options = dockerCreateOptions(
      request({ logConfiguration: { logDriver: 'syslog', options: { tag: 'x' } } }),
    );
    expect(options.HostConfig?.LogConfig).toEqual({ Type: 'syslog', Config: { tag: 'x' } });
  });
});

describe('bindingsOf', () => {
  it('reports each published port once although Docker lists it for IPv4 and IPv6', () => {
    const ports = {
      '80/tcp': [
        { HostIp: '0.0.0.0', HostPort: '32768' },
        { HostIp: '::', HostPort: '32768' },
      ],
      '53/udp': null,
    };
    expect(bindingsOf(ports, undefined)).toEqual([
      { containerPort: 80, hostPort: 32768, protocol: 'tcp', bindIP: '0.0.0.0' },
    ]);
  });
});
