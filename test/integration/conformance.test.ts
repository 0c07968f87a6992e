import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DescribeTaskDefinitionCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  conformanceFiles as files,
  type Json,
  loadConformance,
  registrationInput,
} from '../conformance-files.ts';
import { startBerth, type TestBerth } from './harness.ts';

/**
 * The twenty task definitions of test/fixtures/conformance (written by other people, see SOURCES.md),
 * fed to Berth over real HTTP the way users feed them to ECS: describe-only fields and nulls
 * stripped, then registered through @aws-sdk/client-ecs and through the real AWS CLI, and described
 * back. What comes back must be exactly what was given plus ECS's documented defaults.
 */

/** Fields only DescribeTaskDefinition answers; the AWS CLI refuses them as input. */
const describeOnly = [
  'taskDefinitionArn',
  'revision',
  'status',
  'requiresAttributes',
  'compatibilities',
  'registeredAt',
  'registeredBy',
  'deregisteredAt',
];

/** What a user registers from a file: nulls (deeply) and describe-only fields removed. */
const registrationOf = (file: string): Json => registrationInput(loadConformance(file), describeOnly);

/** Task-level cpu/memory as ECS answers them: a string of CPU units or MiB ("1 vCPU" -> "1024"). */
const units = (value: unknown): string => {
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return text;
  const match = /^(\d+(?:\.\d+)?)\s*(vcpu|gb)$/i.exec(text);
  if (!match) throw new Error(`unexpected unit string in a conformance file: ${text}`);
  return String(Math.round(Number(match[1]) * 1024));
};

/**
 * The describe answer ECS gives for a registration: the registration unchanged, plus the defaults
 * ECS documents (container essential/cpu/environment/mountPoints/volumesFrom/portMappings, port
 * protocol tcp, hostPort = containerPort where it can be nothing else, task volumes and
 * placementConstraints), task cpu/memory normalised; tags are answered beside it, not inside it.
 */
const expectedDescription = (given: Json): Json => {
  const { tags: _tags, cpu, memory, ...rest } = given;
  const fixedPorts = given.networkMode === 'host' || given.networkMode === 'awsvpc';
  return {
    ...rest,
    ...(cpu !== undefined ? { cpu: units(cpu) } : {}),
    ...(memory !== undefined ? { memory: units(memory) } : {}),
    volumes: rest.volumes ?? [],
    placementConstraints: rest.placementConstraints ?? [],
    containerDefinitions: (rest.containerDefinitions as Json[]).map((container) => ({
      essential: true,
      cpu: 0,
      environment: [],
      mountPoints: [],
      volumesFrom: [],
      ...container,
      portMappings: ((container.portMappings as Json[] | undefined) ?? []).map((mapping) => ({
        protocol: 'tcp',
        ...(fixedPorts && mapping.hostPort === undefined && mapping.containerPort !== undefined
          ? { hostPort: mapping.containerPort }
          : {}),
        ...mapping,
      })),
    })),
  };
};

/** Tags are a set to ECS (TagResource merges by key); Berth keeps them as a map, so order is not kept. */
const sortedTags = (tags: unknown): Json[] =>
  [...((tags as Json[] | undefined) ?? [])].sort((a, b) => String(a.key).localeCompare(String(b.key)));

const withoutDescribeOnly = (described: Json): Json =>
  Object.fromEntries(Object.entries(described).filter(([key]) => !describeOnly.includes(key)));

/** Compatibilities as Berth answers them: EXTERNAL for every definition not in awsvpc mode. */
const expectCompatibilities = (given: Json, compatibilities: unknown, check: typeof expect) => {
  if (given.networkMode === 'awsvpc') check(compatibilities).not.toContain('EXTERNAL');
  else check(compatibilities).toEqual(expect.arrayContaining(['EXTERNAL', 'EC2']));
};

let berth: TestBerth;
let scratch: string;

beforeAll(async () => {
  berth = await startBerth();
  scratch = mkdtempSync(join(tmpdir(), 'berth-conformance-'));
});

afterAll(async () => {
  await berth?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const revisionsOf = async (family: string) =>
  (await berth.ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: family, status: 'ACTIVE' })))
    .taskDefinitionArns ?? [];

describe('RegisterTaskDefinition through @aws-sdk/client-ecs', () => {
  it('finds the twenty conformance files', () => {
    expect(files).toHaveLength(20);
  });

  it.concurrent.for(files)('registers %s and describes every given field back', async (file, { expect }) => {
    // Prepare
    const given = registrationOf(file);

    // Act
    const registered = await berth.ecs.send(
      new RegisterTaskDefinitionCommand(given as unknown as RegisterTaskDefinitionCommandInput),
    );
    const arn = registered.taskDefinition?.taskDefinitionArn ?? '';
    const described = await berth.ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ['TAGS'] }),
    );

    // Assess
    const taskDefinition = described.taskDefinition as unknown as Json;
    expect(taskDefinition.status).toBe('ACTIVE');
    expect(taskDefinition.family).toBe(given.family);
    expect(withoutDescribeOnly(taskDefinition)).toEqual(expectedDescription(given));
    expect(withoutDescribeOnly(registered.taskDefinition as unknown as Json)).toEqual(
      expectedDescription(given),
    );
    expect(sortedTags(described.tags)).toEqual(sortedTags(given.tags));
    expect(sortedTags(registered.tags)).toEqual(sortedTags(given.tags));
    expectCompatibilities(given, taskDefinition.compatibilities, expect);
    expect(await revisionsOf(String(given.family))).toContain(arn);
  });
});

// --- The AWS CLI -------------------------------------------------------------------------------

const run = promisify(execFile);

/**
 * The `aws` on the PATH. A pyenv shim re-resolves itself through bash scripts on every run (about
 * 0.3 s each, forty runs here), so the shim is resolved once to the script it runs; anything else
 * is run as found.
 */
const awsV1 = ((): string => {
  try {
    const found = execFileSync('sh', ['-c', 'command -v aws'], { encoding: 'utf8' }).trim();
    if (!found.includes('/shims/')) return found || 'aws';
    return execFileSync('pyenv', ['which', 'aws'], { encoding: 'utf8' }).trim() || found;
  } catch {
    return 'aws';
  }
})();

type CliResult = { ok: true; json: Json } | { ok: false; stderr: string };

/** Runs an AWS CLI against Berth with only the harness's keys: no profile, config file or retries. */
const cli = async (binary: string, args: string[]): Promise<CliResult> => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: berth.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: berth.credentials.secretAccessKey,
    AWS_DEFAULT_REGION: berth.region,
    AWS_REGION: berth.region,
    AWS_CONFIG_FILE: join(scratch, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'no-credentials'),
    AWS_MAX_ATTEMPTS: '1',
    // v2 pipes output through a pager unless told not to; v1 has no pager (nor a --no-cli-pager flag).
    AWS_PAGER: '',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_SECURITY_TOKEN', 'AWS_ENDPOINT_URL']) {
    delete env[name];
  }
  try {
    const { stdout } = await run(binary, [...args, '--endpoint-url', berth.endpoint, '--output', 'json'], {
      env,
      timeout: 30_000,
    });
    return { ok: true, json: JSON.parse(stdout) as Json };
  } catch (error) {
    return { ok: false, stderr: String((error as { stderr?: string }).stderr ?? error) };
  }
};

/**
 * Members an older AWS CLI model may not know yet. Such a CLI refuses the file client-side (botocore's
 * "Parameter validation failed: Unknown parameter …") before any request is sent; that refusal is the
 * CLI's, not Berth's, and is accepted only for these files and only naming these members.
 */
const newerThanOldClis: Record<string, string[]> = {
  '19-ebs-configured-at-launch.json': ['configuredAtLaunch'],
  '20-banbury-describe-fargate.json': ['enableFaultInjection'],
};

/** Registers a file through a CLI and describes it back through the same CLI, then checks both. */
const registerThroughCli = async (binary: string, file: string, check: typeof expect) => {
  // Prepare
  const given = registrationOf(file);
  const input = join(scratch, `${binary.replaceAll('/', '_')}-${file}`);
  writeFileSync(input, JSON.stringify(given));
  const before = await revisionsOf(String(given.family));

  // Act
  const registered = await cli(binary, [
    'ecs',
    'register-task-definition',
    '--cli-input-json',
    `file://${input}`,
  ]);

  // Assess
  if (!registered.ok) {
    const allowed = newerThanOldClis[file] ?? [];
    check(registered.stderr, `${binary} refused ${file}`).toMatch(/Parameter validation failed/);
    check(
      allowed.some(
        (member) => registered.stderr.includes(`Unknown parameter in`) && registered.stderr.includes(member),
      ),
      registered.stderr,
    ).toBe(true);
    // A client-side refusal never reached Berth: nothing was stored.
    check(await revisionsOf(String(given.family))).toEqual(before);
    return;
  }
  const arn = String((registered.json.taskDefinition as Json).taskDefinitionArn);
  const described = await cli(binary, [
    'ecs',
    'describe-task-definition',
    '--task-definition',
    arn,
    '--include',
    'TAGS',
  ]);
  check(described.ok, described.ok ? '' : described.stderr).toBe(true);
  if (!described.ok) return;
  const taskDefinition = described.json.taskDefinition as Json;
  check(taskDefinition.taskDefinitionArn).toBe(arn);
  check(withoutDescribeOnly(taskDefinition)).toEqual(expectedDescription(given));
  check(sortedTags(described.json.tags)).toEqual(sortedTags(given.tags));
  expectCompatibilities(given, taskDefinition.compatibilities, check);
  check(await revisionsOf(String(given.family))).toEqual([...before, arn]);
};

/** Each CLI run starts a Python interpreter and loads the ECS model (about a CPU-second). */
const cliTimeout = 90_000;

describe('RegisterTaskDefinition through the AWS CLI v1 (aws on the PATH)', () => {
  it.concurrent.for(files)(
    'registers %s and describes every given field back',
    { timeout: cliTimeout },
    async (file, { expect }) => {
      await registerThroughCli(awsV1, file, expect);
    },
  );
});

describe('RegisterTaskDefinition through the AWS CLI v2 (/usr/bin/aws, Debian awscli)', () => {
  const v2 = '/usr/bin/aws';
  const sample = [
    '01-ecsworker-external.json',
    '12-appmesh-firelens-envoy.json',
    '20-banbury-describe-fargate.json',
  ];

  it('registers a sample of the files and describes them back, when installed', {
    timeout: cliTimeout,
  }, async () => {
    if (!existsSync(v2)) {
      // Not installed here (it is not ours to install): the v1 runs above carry the CLI check alone.
      expect(existsSync(v2)).toBe(false);
      return;
    }
    for (const file of sample) await registerThroughCli(v2, file, expect);
  });
});
