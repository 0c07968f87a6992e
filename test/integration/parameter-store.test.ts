import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DeleteParameterCommand,
  DeleteParametersCommand,
  DescribeParametersCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  PutParameterCommand,
} from '@aws-sdk/client-ssm';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticKeys } from '../../core/auth/access-keys.ts';
import { createSealer } from '../../core/auth/seal.ts';
import { keys } from '../../core/db/keys.ts';
import { handleOperatorRequest } from '../../core/ecs/serve.ts';
import { signRequest } from '../reliability/signing.ts';
import { startBerth, type TestBerth } from './harness.ts';

/**
 * SSM Parameter Store on `berth up`, through the real AWS SDK and the real AWS CLI: what a task's
 * `secrets` read at an air-gapped site. What is stored is read back from the table itself.
 */
let berth: TestBerth;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'berth-ssm-'));
  berth = await startBerth({ inMemory: false, dataDir });
}, 120_000);

afterAll(async () => {
  await berth?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const ssm = () => berth.ssm;

/** The stored head item of a parameter, keys and all. */
const storedHead = async (name: string) =>
  (
    await berth.db.doc.send(
      new GetCommand({
        TableName: berth.db.table,
        Key: { pk: keys.parameter(name).pk, sk: keys.parameter(name).sk },
        ConsistentRead: true,
      }),
    )
  ).Item;

const errorOf = async (promise: Promise<unknown>): Promise<{ name: string; message: string }> => {
  try {
    await promise;
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
  throw new Error('expected the call to fail');
};

describe('PutParameter and GetParameter', () => {
  it('stores a String, versions overwrites, and reads a version back by selector', async () => {
    const first = await ssm().send(
      new PutParameterCommand({ Name: '/app/db/host', Value: 'db1', Type: 'String' }),
    );
    expect(first).toMatchObject({ Version: 1, Tier: 'Standard' });
    const second = await ssm().send(
      new PutParameterCommand({ Name: '/app/db/host', Value: 'db2', Overwrite: true }),
    );
    expect(second.Version).toBe(2);

    const current = await ssm().send(new GetParameterCommand({ Name: '/app/db/host' }));
    expect(current.Parameter).toMatchObject({
      Name: '/app/db/host',
      Type: 'String',
      Value: 'db2',
      Version: 2,
      ARN: `arn:aws:ssm:${berth.region}:${berth.config.accountId}:parameter/app/db/host`,
      DataType: 'text',
    });
    expect(current.Parameter?.LastModifiedDate).toBeInstanceOf(Date);
    const old = await ssm().send(new GetParameterCommand({ Name: '/app/db/host:1' }));
    expect(old.Parameter).toMatchObject({ Value: 'db1', Version: 1, Selector: ':1' });
    const byArn = await ssm().send(new GetParameterCommand({ Name: current.Parameter?.ARN }));
    expect(byArn.Parameter?.Value).toBe('db2');
    expect((await storedHead('/app/db/host'))?.version).toBe(2);
  });

  it('refuses to overwrite without Overwrite, and writes nothing', async () => {
    await ssm().send(new PutParameterCommand({ Name: 'plain', Value: 'one', Type: 'String' }));
    const refused = await errorOf(
      ssm().send(new PutParameterCommand({ Name: 'plain', Value: 'two', Type: 'String' })),
    );
    expect(refused.name).toBe('ParameterAlreadyExists');
    expect((await storedHead('plain'))?.value).toBe('one');
  });

  it('seals a SecureString at rest and opens it only WithDecryption', async () => {
    await ssm().send(
      new PutParameterCommand({ Name: '/app/db/password', Value: 's3cr3t-value', Type: 'SecureString' }),
    );
    const stored = await storedHead('/app/db/password');
    expect(stored?.parameterType).toBe('SecureString');
    expect(String(stored?.value)).not.toContain('s3cr3t-value');
    expect(stored?.keyId).toBe('alias/aws/ssm');

    const opened = await ssm().send(
      new GetParameterCommand({ Name: '/app/db/password', WithDecryption: true }),
    );
    expect(opened.Parameter?.Value).toBe('s3cr3t-value');
    const sealed = await ssm().send(new GetParameterCommand({ Name: '/app/db/password' }));
    expect(sealed.Parameter?.Value).not.toContain('s3cr3t-value');
    expect(statSync(join(dataDir, 'sealing-key')).mode & 0o777).toBe(0o600);
  });

  it('refuses bad names and values with SSM errors, storing nothing', async () => {
    const cases: [PutParameterCommand, string, RegExp][] = [
      [
        new PutParameterCommand({ Name: 'a/b', Value: 'x', Type: 'String' }),
        'ValidationException',
        /fully qualified/,
      ],
      [
        new PutParameterCommand({ Name: '/aws/x', Value: 'x', Type: 'String' }),
        'ValidationException',
        /prefixed/,
      ],
      [
        new PutParameterCommand({ Name: 'has space', Value: 'x', Type: 'String' }),
        'ValidationException',
        /not valid/,
      ],
      [new PutParameterCommand({ Name: 'no-type', Value: 'x' }), 'ValidationException', /type is required/],
      [
        new PutParameterCommand({ Name: 'too-big', Value: 'x'.repeat(4097), Type: 'String' }),
        'ValidationException',
        /4096/,
      ],
      [
        new PutParameterCommand({ Name: 'pattern', Value: 'abc', Type: 'String', AllowedPattern: '^\\d+$' }),
        'ParameterPatternMismatchException',
        /allowedPattern/,
      ],
      [
        new PutParameterCommand({
          Name: `/${Array.from({ length: 16 }, (_, i) => `l${i}`).join('/')}`,
          Value: 'x',
          Type: 'String',
        }),
        'HierarchyLevelLimitExceededException',
        /15 levels/,
      ],
    ];
    for (const [command, code, message] of cases) {
      const refused = await errorOf(ssm().send(command));
      expect(refused.name, command.input.Name).toBe(code);
      expect(refused.message).toMatch(message);
      expect(await storedHead(command.input.Name as string)).toBeUndefined();
    }
  });

  it('answers ParameterNotFound and ParameterVersionNotFound', async () => {
    expect((await errorOf(ssm().send(new GetParameterCommand({ Name: '/nothing/here' })))).name).toBe(
      'ParameterNotFound',
    );
    expect((await errorOf(ssm().send(new GetParameterCommand({ Name: '/app/db/host:9' })))).name).toBe(
      'ParameterVersionNotFound',
    );
  });
});

describe('reading many', () => {
  beforeAll(async () => {
    for (const [name, value] of [
      ['/tree/a', '1'],
      ['/tree/b', '2'],
      ['/tree/sub/c', '3'],
      ['/tree/sub/deeper/d', '4'],
      ['/treeish', 'not under /tree'],
    ]) {
      await ssm().send(new PutParameterCommand({ Name: name, Value: value, Type: 'String' }));
    }
  });

  it('GetParameters answers the found ones and names the rest', async () => {
    const answer = await ssm().send(
      new GetParametersCommand({ Names: ['/tree/a', '/tree/missing', '/tree/b'] }),
    );
    expect(answer.Parameters?.map((p) => p.Name).sort()).toEqual(['/tree/a', '/tree/b']);
    expect(answer.InvalidParameters).toEqual(['/tree/missing']);
  });

  it('GetParametersByPath reads one level or the whole tree, page by page', async () => {
    const oneLevel = await ssm().send(new GetParametersByPathCommand({ Path: '/tree' }));
    expect(oneLevel.Parameters?.map((p) => p.Name)).toEqual(['/tree/a', '/tree/b']);

    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await ssm().send(
        new GetParametersByPathCommand({ Path: '/tree/', Recursive: true, MaxResults: 2, NextToken: token }),
      );
      names.push(...(page.Parameters ?? []).map((p) => p.Name as string));
      token = page.NextToken;
      pages += 1;
    } while (token);
    expect(names).toEqual(['/tree/a', '/tree/b', '/tree/sub/c', '/tree/sub/deeper/d']);
    expect(pages).toBeGreaterThan(1);
  });

  it('DescribeParameters filters by name prefix and type, without values', async () => {
    const described = await ssm().send(
      new DescribeParametersCommand({
        ParameterFilters: [
          { Key: 'Name', Option: 'BeginsWith', Values: ['/tree/sub'] },
          { Key: 'Type', Values: ['String'] },
        ],
      }),
    );
    expect(described.Parameters?.map((p) => p.Name)).toEqual(['/tree/sub/c', '/tree/sub/deeper/d']);
    expect(described.Parameters?.[0]).toMatchObject({ Type: 'String', Version: 1, Tier: 'Standard' });
    expect(described.Parameters?.[0]).not.toHaveProperty('Value');
    const unsupported = await errorOf(
      ssm().send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'tag:team', Values: ['x'] }] })),
    );
    expect(unsupported.name).toBe('ValidationException');
  });

  it('DeleteParameter(s) remove the parameter and its history', async () => {
    await ssm().send(new PutParameterCommand({ Name: '/tree/a', Value: '1b', Overwrite: true }));
    await ssm().send(new DeleteParameterCommand({ Name: '/tree/a' }));
    expect(await storedHead('/tree/a')).toBeUndefined();
    const history = await berth.db.doc.send(
      new GetCommand({ TableName: berth.db.table, Key: keys.parameterVersion('/tree/a', 1) }),
    );
    expect(history.Item).toBeUndefined();
    const both = await ssm().send(new DeleteParametersCommand({ Names: ['/tree/b', '/tree/a'] }));
    expect(both).toMatchObject({ DeletedParameters: ['/tree/b'], InvalidParameters: ['/tree/a'] });
    expect((await errorOf(ssm().send(new DeleteParameterCommand({ Name: '/tree/a' })))).name).toBe(
      'ParameterNotFound',
    );
  });
});

describe('the AWS CLI', () => {
  const run = promisify(execFile);
  const cli = async (args: string[]) => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dataDir,
      AWS_ACCESS_KEY_ID: berth.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: berth.credentials.secretAccessKey,
      AWS_DEFAULT_REGION: berth.region,
      AWS_CONFIG_FILE: join(dataDir, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dataDir, 'no-credentials'),
      AWS_MAX_ATTEMPTS: '1',
      AWS_PAGER: '',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const { stdout } = await run(
      '/usr/bin/aws',
      [...args, '--endpoint-url', berth.endpoint, '--output', 'json'],
      {
        env,
        timeout: 60_000,
      },
    );
    return JSON.parse(stdout);
  };

  it('put-parameter and get-parameter work unchanged', async () => {
    const put = await cli([
      'ssm',
      'put-parameter',
      '--name',
      '/cli/token',
      '--value',
      'from-cli',
      '--type',
      'SecureString',
    ]);
    expect(put.Version).toBe(1);
    const got = await cli(['ssm', 'get-parameter', '--name', '/cli/token', '--with-decryption']);
    expect(got.Parameter).toMatchObject({ Name: '/cli/token', Value: 'from-cli', Type: 'SecureString' });
    const listed = await cli(['ssm', 'get-parameters-by-path', '--path', '/cli']);
    expect(listed.Parameters.map((p: { Name: string }) => p.Name)).toEqual(['/cli/token']);
  }, 120_000);
});

describe('a stage', () => {
  it('does not serve Parameter Store: AWS does there', async () => {
    // The operator endpoint serves the local AWS services only with a sealing key (berth up).
    const body = JSON.stringify({ Name: '/app/db/host' });
    const signed = await signRequest('http://127.0.0.1:1', berth.credentials, {
      target: 'AmazonSSM.GetParameter',
      body,
      region: berth.region,
    });
    const stage = { db: berth.db, config: berth.config, lookupSecret: staticKeys([berth.credentials]) };
    const headers = Object.fromEntries(
      Object.entries({ ...signed.headers, host: '127.0.0.1:1' }).map(([name, value]) => [
        name.toLowerCase(),
        value,
      ]),
    );
    const answer = await handleOperatorRequest(stage, {
      method: 'POST',
      path: '/',
      query: '',
      headers,
      body,
    });
    expect(answer.statusCode).toBe(400);
    expect(JSON.parse(answer.body).__type).toBe('UnknownOperationException');
    const served = await handleOperatorRequest(
      { ...stage, sealer: createSealer(Buffer.alloc(32, 1)) },
      { method: 'POST', path: '/', query: '', headers, body },
    );
    expect(JSON.parse(served.body).Parameter?.Value).toBe('db2');
  });
});
