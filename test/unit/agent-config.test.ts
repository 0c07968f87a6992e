import { describe, expect, it } from 'vitest';
import { ConfigError, parseAgentConfig, parseAttribute } from '../../agent/config.ts';
import { proxyFor } from '../../agent/http.ts';

const parse = (argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}) =>
  parseAgentConfig({ argv, env, readFile: (path) => files[path] });

describe('agent config', () => {
  it('takes flags over environment over the config file in the data dir, with defaults', () => {
    const config = parse(
      ['--endpoint', 'https://berth.example.com/', '--attribute', 'site=lyon', '--attribute', 'rack=3'],
      { BERTH_DATA_DIR: '/srv/berth', BERTH_CLUSTER: 'edge', BERTH_ENDPOINT: 'https://ignored' },
      {
        '/srv/berth/agent.json': JSON.stringify({
          cluster: 'file',
          reservedMemoryMiB: 256,
          pullBehavior: 'once',
        }),
      },
    );
    expect(config).toMatchObject({
      endpoint: 'https://berth.example.com',
      cluster: 'edge',
      dataDir: '/srv/berth',
      attributes: [
        { name: 'site', value: 'lyon' },
        { name: 'rack', value: '3' },
      ],
      reservedMemoryMiB: 256,
      pullBehavior: 'once',
      cleanupWaitSeconds: 3600,
      stopTimeoutSeconds: 30,
    });
  });

  it('defaults the data dir to /var/lib/berth and reads attributes and ports from the environment', () => {
    const config = parse([], { BERTH_ATTRIBUTES: 'a=1,gpu', BERTH_RESERVED_PORTS: '22, 8080' });
    expect(config).toMatchObject({
      dataDir: '/var/lib/berth',
      attributes: [{ name: 'a', value: '1' }, { name: 'gpu' }],
      reservedPorts: [22, 8080],
    });
  });

  it('refuses unknown flags, bad values and bad attribute names with a sentence', () => {
    expect(() => parse(['--nope'])).toThrow(ConfigError);
    expect(() => parse(['--image-pull-behavior', 'sometimes'])).toThrow(
      /default, always, once, prefer-cached/,
    );
    expect(() => parse(['--reserved-memory', '-5'])).toThrow(/reserved-memory/);
    expect(() => parse(['--reserved-ports', '70000'])).toThrow(/0-65535/);
    expect(() => parse(['--endpoint', 'ftp://x'])).toThrow(/http/);
    expect(() => parseAttribute('bad name=1')).toThrow(/1-128 letters/);
    expect(() => parse(['--restart-backoff', '0'])).toThrow(/greater than 0/);
    expect(() => parse(['--restart-backoff', '10', '--restart-backoff-max', '5'])).toThrow(
      /at least --restart-backoff/,
    );
  });

  it('answers help for --help', () => {
    expect(parse(['--help'])).toBe('help');
  });
});

describe('proxyFor', () => {
  const target = (url: string) => new URL(url);

  it('uses HTTPS_PROXY for https targets and HTTP_PROXY for http ones', () => {
    const env = { HTTPS_PROXY: 'http://proxy:3128', HTTP_PROXY: 'proxy2:8080' };
    expect(proxyFor(target('https://berth.example.com'), env)?.href).toBe('http://proxy:3128/');
    expect(proxyFor(target('http://berth.example.com'), env)?.href).toBe('http://proxy2:8080/');
    expect(proxyFor(target('http://berth.example.com'), {})).toBeUndefined();
  });

  it('bypasses the proxy for NO_PROXY hosts, domains and ports', () => {
    const env = { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'localhost,.corp.example,10.0.0.5:8443' };
    expect(proxyFor(target('https://localhost:9400'), env)).toBeUndefined();
    expect(proxyFor(target('https://api.corp.example'), env)).toBeUndefined();
    expect(proxyFor(target('https://10.0.0.5:8443'), env)).toBeUndefined();
    expect(proxyFor(target('https://10.0.0.5'), env)).toBeDefined();
    expect(proxyFor(target('https://example.com'), { ...env, NO_PROXY: '*' })).toBeUndefined();
  });
});
