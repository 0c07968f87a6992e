import {
  ClientException,
  type ContainerDefinition,
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  InvalidParameterException,
  ListTaskDefinitionFamiliesCommand,
  type ListTaskDefinitionFamiliesCommandInput,
  ListTaskDefinitionsCommand,
  type ListTaskDefinitionsCommandInput,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBerth, type TestBerth } from './harness.ts';

let berth: TestBerth;

beforeAll(async () => {
  berth = await startBerth();
});

afterAll(async () => {
  await berth?.stop();
});

const arnOf = (family: string, revision: number) =>
  `arn:aws:ecs:${berth.region}:000000000000:task-definition/${family}:${revision}`;

const container = (name: string, extra: Partial<ContainerDefinition> = {}): ContainerDefinition => ({
  name,
  image: 'busybox:1.36',
  memory: 64,
  ...extra,
});

const register = (family: string, extra: Partial<RegisterTaskDefinitionCommandInput> = {}) =>
  berth.ecs.send(
    new RegisterTaskDefinitionCommand({ family, containerDefinitions: [container('app')], ...extra }),
  );

const describeTd = (taskDefinition: string) =>
  berth.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition }));

/** Every ARN ListTaskDefinitions answers, following nextToken to the end. */
const listAll = async (input: ListTaskDefinitionsCommandInput = {}) => {
  const arns: string[] = [];
  const pageSizes: number[] = [];
  let nextToken: string | undefined;
  do {
    const page = await berth.ecs.send(new ListTaskDefinitionsCommand({ ...input, nextToken }));
    arns.push(...(page.taskDefinitionArns ?? []));
    pageSizes.push(page.taskDefinitionArns?.length ?? 0);
    nextToken = page.nextToken;
  } while (nextToken && pageSizes.length < 200);
  return { arns, pageSizes };
};

const listFamilies = async (input: ListTaskDefinitionFamiliesCommandInput = {}) => {
  const families: string[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await berth.ecs.send(new ListTaskDefinitionFamiliesCommand({ ...input, nextToken }));
    families.push(...(page.families ?? []));
    nextToken = page.nextToken;
    pages += 1;
  } while (nextToken && pages < 200);
  return families;
};

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('the request was expected to fail'),
    (error: unknown) => error as Error & { $metadata?: { httpStatusCode?: number } },
  );

describe('RegisterTaskDefinition', () => {
  it('gives successive registrations of a family consecutive revisions', async () => {
    // Act
    const revisions = [];
    for (let i = 0; i < 3; i += 1) revisions.push((await register('consecutive')).taskDefinition?.revision);

    // Assess
    expect(revisions).toEqual([1, 2, 3]);
    const { arns } = await listAll({ familyPrefix: 'consecutive' });
    expect(arns).toEqual([arnOf('consecutive', 1), arnOf('consecutive', 2), arnOf('consecutive', 3)]);
    const latest = await describeTd('consecutive');
    expect(latest.taskDefinition).toMatchObject({
      taskDefinitionArn: arnOf('consecutive', 3),
      family: 'consecutive',
      revision: 3,
      status: 'ACTIVE',
    });
    expect(latest.taskDefinition?.registeredAt).toBeInstanceOf(Date);
  });

  it('gives concurrent registrations consecutive revisions, each exactly once', async () => {
    // Act
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        register('concurrent', {
          containerDefinitions: [container('app', { environment: [{ name: 'N', value: String(i) }] })],
        }),
      ),
    );

    // Assess
    const revisions = answers.map((answer) => answer.taskDefinition?.revision).sort((a, b) => a! - b!);
    expect(revisions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const { arns } = await listAll({ familyPrefix: 'concurrent' });
    expect(arns).toEqual(Array.from({ length: 20 }, (_, i) => arnOf('concurrent', i + 1)));
    // Each stored revision holds the body its own registration sent.
    for (const answer of answers) {
      const stored = await describeTd(answer.taskDefinition?.taskDefinitionArn ?? '');
      expect(stored.taskDefinition?.containerDefinitions?.[0]?.environment).toEqual(
        answer.taskDefinition?.containerDefinitions?.[0]?.environment,
      );
    }
  });

  it('answers the tags given, and DescribeTaskDefinition returns them only with include TAGS', async () => {
    // Prepare
    const tags = [
      { key: 'team', value: 'edge' },
      { key: 'cost-centre', value: '42' },
    ];

    // Act
    const registered = await register('with-tags', { tags });

    // Assess
    expect(registered.tags).toEqual(tags);
    const withTags = await berth.ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: 'with-tags', include: ['TAGS'] }),
    );
    expect(withTags.tags).toEqual(expect.arrayContaining(tags));
    expect(withTags.tags).toHaveLength(2);
    const withoutTags = await describeTd('with-tags');
    expect(withoutTags.tags ?? []).toEqual([]);
    expect(withoutTags.taskDefinition).not.toHaveProperty('tags');
  });

  it('describes back with ECS defaults filled in and task cpu/memory as unit strings', async () => {
    // Act
    await register('defaults', {
      cpu: '1 vCPU',
      memory: '1 GB',
      requiresCompatibilities: ['EXTERNAL'],
      containerDefinitions: [container('web', { portMappings: [{ containerPort: 80, hostPort: 8080 }] })],
    });

    // Assess
    const { taskDefinition } = await describeTd('defaults');
    expect(taskDefinition?.cpu).toBe('1024');
    expect(taskDefinition?.memory).toBe('1024');
    expect(taskDefinition?.compatibilities).toEqual(expect.arrayContaining(['EXTERNAL']));
    expect(taskDefinition?.volumes).toEqual([]);
    expect(taskDefinition?.placementConstraints).toEqual([]);
    expect(taskDefinition?.containerDefinitions?.[0]).toMatchObject({
      name: 'web',
      image: 'busybox:1.36',
      memory: 64,
      essential: true,
      cpu: 0,
      environment: [],
      mountPoints: [],
      volumesFrom: [],
      portMappings: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }],
    });
  });

  describe('refuses what ECS refuses, naming the field, and stores nothing', () => {
    const refusals: [string, Partial<RegisterTaskDefinitionCommandInput>, typeof ClientException, RegExp][] =
      [
        [
          'duplicate container names',
          { containerDefinitions: [container('twin'), container('twin')] },
          ClientException,
          /containerDefinitions\[1\]\.name/,
        ],
        [
          'no essential container',
          {
            containerDefinitions: [
              container('a', { essential: false }),
              container('b', { essential: false }),
            ],
          },
          ClientException,
          /containerDefinitions.*essential/,
        ],
        [
          'EXTERNAL with awsvpc',
          { requiresCompatibilities: ['EXTERNAL'], networkMode: 'awsvpc' },
          ClientException,
          /networkMode/,
        ],
        ['an empty container list', { containerDefinitions: [] }, ClientException, /containerDefinitions/],
        [
          'a dependency on a container that does not exist',
          {
            containerDefinitions: [
              container('app', { dependsOn: [{ containerName: 'db', condition: 'START' }] }),
            ],
          },
          ClientException,
          /dependsOn\[0\]\.containerName/,
        ],
        [
          'a mount point on an undeclared volume',
          {
            containerDefinitions: [
              container('app', { mountPoints: [{ sourceVolume: 'data', containerPath: '/data' }] }),
            ],
          },
          ClientException,
          /mountPoints\[0\]\.sourceVolume/,
        ],
        ['a task cpu that is not a number of units', { cpu: 'lots' }, ClientException, /cpu/],
        ['an invalid family name', { family: 'has space' }, ClientException, /family/],
      ];

    it.each(refusals)('refuses %s', async (_, change, exception, field) => {
      // Prepare
      const family = 'refused';
      const before = await listAll();
      const familiesBefore = await listFamilies();

      // Act
      const error = await failureOf(register(change.family ?? family, change));

      // Assess
      expect(error).toBeInstanceOf(exception);
      expect(error.message).toMatch(field);
      expect(error.$metadata?.httpStatusCode).toBe(400);
      expect(await listAll()).toEqual(before);
      expect(await listFamilies()).toEqual(familiesBefore);
    });

    it('refuses a container without a name as InvalidParameterException naming the field', async () => {
      // Prepare
      const before = await listAll();

      // Act
      const error = await failureOf(
        berth.ecs.send(
          new RegisterTaskDefinitionCommand({
            family: 'refused',
            containerDefinitions: [{ image: 'busybox' }],
          }),
        ),
      );

      // Assess
      expect(error).toBeInstanceOf(InvalidParameterException);
      expect(error.message).toContain('containerDefinitions[0].name');
      expect(await listAll()).toEqual(before);
    });

    it('does not use up a revision: the first accepted registration is revision 1', async () => {
      // Prepare
      await failureOf(
        register('refused-then-ok', { containerDefinitions: [container('x'), container('x')] }),
      );

      // Act
      const accepted = await register('refused-then-ok');

      // Assess
      expect(accepted.taskDefinition?.revision).toBe(1);
      expect((await listAll({ familyPrefix: 'refused-then-ok' })).arns).toEqual([
        arnOf('refused-then-ok', 1),
      ]);
    });
  });
});

describe('DescribeTaskDefinition', () => {
  beforeAll(async () => {
    for (let i = 1; i <= 3; i += 1) {
      await register('described', { containerDefinitions: [container('app', { command: [`v${i}`] })] });
    }
  });

  it('resolves a family alone to its latest ACTIVE revision', async () => {
    // Act
    const { taskDefinition } = await describeTd('described');

    // Assess
    expect(taskDefinition?.revision).toBe(3);
    expect(taskDefinition?.containerDefinitions?.[0]?.command).toEqual(['v3']);
  });

  it('resolves family:revision and the full ARN to that revision', async () => {
    // Act
    const byName = await describeTd('described:2');
    const byArn = await describeTd(arnOf('described', 1));

    // Assess
    expect(byName.taskDefinition?.revision).toBe(2);
    expect(byName.taskDefinition?.containerDefinitions?.[0]?.command).toEqual(['v2']);
    expect(byArn.taskDefinition?.revision).toBe(1);
    expect(byArn.taskDefinition?.containerDefinitions?.[0]?.command).toEqual(['v1']);
  });

  it.each([
    ['an unknown family', 'never-registered'],
    ['an unknown revision', 'described:99'],
    ['a malformed reference', 'described:1:2'],
    ['revision zero', 'described:0'],
  ])('answers ClientException for %s', async (_, reference) => {
    // Act
    const error = await failureOf(describeTd(reference));

    // Assess
    expect(error).toBeInstanceOf(ClientException);
  });
});

describe('DeregisterTaskDefinition', () => {
  it('marks the revision INACTIVE and a family alone then resolves to the newest still-ACTIVE revision', async () => {
    // Prepare
    for (let i = 0; i < 3; i += 1) await register('retiring');

    // Act
    const answer = await berth.ecs.send(
      new DeregisterTaskDefinitionCommand({ taskDefinition: 'retiring:3' }),
    );

    // Assess
    expect(answer.taskDefinition?.status).toBe('INACTIVE');
    expect(answer.taskDefinition?.deregisteredAt).toBeInstanceOf(Date);
    const inactive = await describeTd('retiring:3');
    expect(inactive.taskDefinition?.status).toBe('INACTIVE');
    expect((await describeTd('retiring')).taskDefinition?.revision).toBe(2);
    expect((await listAll({ familyPrefix: 'retiring' })).arns).toEqual([
      arnOf('retiring', 1),
      arnOf('retiring', 2),
    ]);
    expect((await listAll({ familyPrefix: 'retiring', status: 'INACTIVE' })).arns).toEqual([
      arnOf('retiring', 3),
    ]);
  });

  it('skips INACTIVE revisions in the middle when resolving a family', async () => {
    // Prepare
    for (let i = 0; i < 3; i += 1) await register('holes');
    await berth.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arnOf('holes', 3) }));
    await berth.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'holes:2' }));

    // Act
    const { taskDefinition } = await describeTd('holes');

    // Assess
    expect(taskDefinition?.revision).toBe(1);
    // The next registration still continues the numbering.
    expect((await register('holes')).taskDefinition?.revision).toBe(4);
    expect((await describeTd('holes')).taskDefinition?.revision).toBe(4);
  });

  it('answers ClientException for a family whose revisions are all INACTIVE', async () => {
    // Prepare
    await register('all-gone');
    await berth.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'all-gone:1' }));

    // Act
    const error = await failureOf(describeTd('all-gone'));

    // Assess
    expect(error).toBeInstanceOf(ClientException);
    expect((await describeTd('all-gone:1')).taskDefinition?.status).toBe('INACTIVE');
  });

  it('answers the same INACTIVE revision when deregistered twice', async () => {
    // Prepare
    await register('twice');
    const first = await berth.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'twice:1' }));

    // Act
    const second = await berth.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'twice:1' }));

    // Assess
    expect(second.taskDefinition?.status).toBe('INACTIVE');
    expect(second.taskDefinition?.deregisteredAt).toEqual(first.taskDefinition?.deregisteredAt);
    expect(await listFamilies({ familyPrefix: 'twice', status: 'INACTIVE' })).toEqual(['twice']);
  });

  it('refuses a family without a revision, and an unknown revision, as ClientException', async () => {
    // Prepare
    await register('needs-revision');

    // Act
    const noRevision = await failureOf(
      berth.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'needs-revision' })),
    );
    const unknown = await failureOf(
      berth.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'needs-revision:7' })),
    );

    // Assess
    expect(noRevision).toBeInstanceOf(ClientException);
    expect(unknown).toBeInstanceOf(ClientException);
    expect((await describeTd('needs-revision')).taskDefinition?.status).toBe('ACTIVE');
  });
});

describe('ListTaskDefinitions', () => {
  beforeAll(async () => {
    for (let i = 0; i < 7; i += 1) await register('listed');
    await register('listed-extra');
    await register('listed-extra');
    await berth.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'listed:5' }));
  });

  it('reads familyPrefix as a whole family name, not a prefix', async () => {
    // Act
    const { arns } = await listAll({ familyPrefix: 'listed' });

    // Assess
    expect(arns).toEqual([1, 2, 3, 4, 6, 7].map((revision) => arnOf('listed', revision)));
    expect((await listAll({ familyPrefix: 'list' })).arns).toEqual([]);
  });

  it('filters by status', async () => {
    // Act
    const inactive = await listAll({ familyPrefix: 'listed', status: 'INACTIVE' });
    const active = await listAll({ familyPrefix: 'listed', status: 'ACTIVE' });

    // Assess
    expect(inactive.arns).toEqual([arnOf('listed', 5)]);
    expect(active.arns).toHaveLength(6);
    expect(active.arns).not.toContain(arnOf('listed', 5));
  });

  it('sorts by revision descending with sort DESC', async () => {
    // Act
    const { arns } = await listAll({ familyPrefix: 'listed', sort: 'DESC' });

    // Assess
    expect(arns).toEqual([7, 6, 4, 3, 2, 1].map((revision) => arnOf('listed', revision)));
  });

  it('pages with maxResults and nextToken, answering every revision exactly once', async () => {
    // Prepare
    const everything = await listAll();

    // Act
    const paged = await listAll({ maxResults: 2 });
    const pagedFamily = await listAll({ familyPrefix: 'listed', maxResults: 4, sort: 'DESC' });

    // Assess
    expect(paged.arns).toEqual(everything.arns);
    expect(new Set(paged.arns).size).toBe(paged.arns.length);
    expect(paged.pageSizes.slice(0, -1).every((size) => size === 2)).toBe(true);
    expect(everything.arns).toEqual(expect.arrayContaining([arnOf('listed-extra', 2), arnOf('listed', 7)]));
    expect(pagedFamily.pageSizes).toEqual([4, 2]);
    expect(pagedFamily.arns).toEqual([7, 6, 4, 3, 2, 1].map((revision) => arnOf('listed', revision)));
  });

  it('refuses a maxResults over 100', async () => {
    // Act
    const error = await failureOf(berth.ecs.send(new ListTaskDefinitionsCommand({ maxResults: 101 })));

    // Assess
    expect(error).toBeInstanceOf(InvalidParameterException);
  });
});

describe('ListTaskDefinitionFamilies', () => {
  beforeAll(async () => {
    await register('fam-live');
    await register('fam-live');
    await register('fam-dead');
    await register('fam-half');
    await register('fam-half');
    await register('other-fam');
    await berth.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'fam-dead:1' }));
    await berth.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'fam-half:2' }));
  });

  it('lists families that start with familyPrefix, each once', async () => {
    // Act
    const families = await listFamilies({ familyPrefix: 'fam-' });

    // Assess
    expect(families).toEqual(['fam-dead', 'fam-half', 'fam-live']);
  });

  it('lists only families with an ACTIVE revision for status ACTIVE', async () => {
    // Act
    const families = await listFamilies({ familyPrefix: 'fam-', status: 'ACTIVE' });

    // Assess
    expect(families).toEqual(['fam-half', 'fam-live']);
  });

  it('lists only families with no ACTIVE revision for status INACTIVE', async () => {
    // Act
    const families = await listFamilies({ familyPrefix: 'fam-', status: 'INACTIVE' });

    // Assess
    expect(families).toEqual(['fam-dead']);
  });

  it('lists both kinds for status ALL and without a status', async () => {
    // Act
    const all = await listFamilies({ familyPrefix: 'fam-', status: 'ALL' });
    const unfiltered = await listFamilies();

    // Assess
    expect(all).toEqual(['fam-dead', 'fam-half', 'fam-live']);
    expect(unfiltered).toEqual(expect.arrayContaining(['fam-dead', 'fam-half', 'fam-live', 'other-fam']));
    expect(new Set(unfiltered).size).toBe(unfiltered.length);
  });

  it('pages with maxResults and nextToken', async () => {
    // Prepare
    const everything = await listFamilies();

    // Act
    const paged = await listFamilies({ maxResults: 1 });

    // Assess
    expect(paged).toEqual(everything);
    expect(everything.length).toBeGreaterThan(3);
  });
});
