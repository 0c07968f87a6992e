import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BerthError, isBerthError } from '../../core/errors.ts';
import { matchesQuery, parseQuery, type QuerySubject } from '../../core/placement/query-language.ts';

const instance = (overrides: Partial<QuerySubject> = {}): QuerySubject => ({
  agentConnected: true,
  agentVersion: '1.14.5',
  ec2InstanceId: 'i-abcd1234',
  registeredAt: new Date('2018-02-13T10:00:00Z'),
  runningTasksCount: 1,
  attributes: {
    'ecs.instance-type': 't2.small',
    'ecs.availability-zone': 'us-east-1a',
    'ecs.os-type': 'linux',
    'ecs.capability.external': undefined,
    stack: 'prod',
  },
  taskGroups: [],
  ...overrides,
});

const withAttributes = (attributes: Record<string, string | undefined>) => instance({ attributes });

const selects = (expression: string, subject: QuerySubject) => matchesQuery(parseQuery(expression), subject);

const refusal = (expression: string): BerthError => {
  try {
    parseQuery(expression);
  } catch (error) {
    if (isBerthError(error)) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(expression)} to be refused`);
};

describe('cluster query language: the examples of the AWS documentation', () => {
  it.each<[string, QuerySubject, QuerySubject]>([
    [
      'attribute:ecs.instance-type == t2.small',
      withAttributes({ 'ecs.instance-type': 't2.small' }),
      withAttributes({ 'ecs.instance-type': 't2.medium' }),
    ],
    [
      'attribute:ecs.availability-zone in [us-east-1a, us-east-1b]',
      withAttributes({ 'ecs.availability-zone': 'us-east-1b' }),
      withAttributes({ 'ecs.availability-zone': 'us-east-1c' }),
    ],
    [
      'attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d',
      withAttributes({ 'ecs.instance-type': 'g2.2xlarge', 'ecs.availability-zone': 'us-east-1a' }),
      withAttributes({ 'ecs.instance-type': 'g2.2xlarge', 'ecs.availability-zone': 'us-east-1d' }),
    ],
    [
      'task:group == service:production',
      instance({ taskGroups: ['family:nginx', 'service:production'] }),
      instance({ taskGroups: ['service:staging'] }),
    ],
    [
      'not(task:group == database)',
      instance({ taskGroups: ['web'] }),
      instance({ taskGroups: ['web', 'database'] }),
    ],
    ['runningTasksCount == 1', instance({ runningTasksCount: 1 }), instance({ runningTasksCount: 2 })],
    ['agentVersion < 1.14.5', instance({ agentVersion: '1.9.0' }), instance({ agentVersion: '1.14.5' })],
    [
      'registeredAt < 2018-02-13',
      instance({ registeredAt: new Date('2018-02-12T23:59:59Z') }),
      instance({ registeredAt: new Date('2018-02-13T00:00:00Z') }),
    ],
    [
      "ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']",
      instance({ ec2InstanceId: 'i-wxyx7890' }),
      instance({ ec2InstanceId: 'i-00000000' }),
    ],
    [
      'attribute:ecs.instance-type =~ t2.*',
      withAttributes({ 'ecs.instance-type': 't2.micro' }),
      withAttributes({ 'ecs.instance-type': 'm5.large' }),
    ],
    ['task:group == databases', instance({ taskGroups: ['databases'] }), instance({ taskGroups: [] })],
    [
      'attribute:ecs.instance-type == g2.2xlarge',
      withAttributes({ 'ecs.instance-type': 'g2.2xlarge' }),
      withAttributes({ 'ecs.instance-type': 'g2.8xlarge' }),
    ],
    ['attribute:stack == prod', withAttributes({ stack: 'prod' }), withAttributes({ stack: 'dev' })],
    ['attribute:stack != prod', withAttributes({ stack: 'dev' }), withAttributes({ stack: 'prod' })],
    [
      'attribute:ecs.instance-type in [t2.small, t2.medium]',
      withAttributes({ 'ecs.instance-type': 't2.medium' }),
      withAttributes({ 'ecs.instance-type': 't2.large' }),
    ],
    [
      'attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1a',
      withAttributes({ 'ecs.instance-type': 't2.small', 'ecs.availability-zone': 'us-east-1a' }),
      withAttributes({ 'ecs.instance-type': 't2.small', 'ecs.availability-zone': 'us-east-1b' }),
    ],
    [
      '(runningTasksCount == 0 or agentConnected == false) and attribute:stack exists',
      instance({ runningTasksCount: 0 }),
      instance({ runningTasksCount: 0, attributes: {} }),
    ],
  ])('%s selects the matching instance and not the other', (expression, matching, other) => {
    const parsed = parseQuery(expression);

    expect(matchesQuery(parsed, matching)).toBe(true);
    expect(matchesQuery(parsed, other)).toBe(false);
  });

  it.each(['2018-06-18T22:28:28+00:00', '2018-06-18T22:28:28Z', '2018-06-18T22:28:28', '2018-06-18'])(
    'accepts the registeredAt date format %s',
    (date) => {
      const registered = instance({ registeredAt: new Date('2018-06-18T22:28:28Z') });

      expect(selects(`registeredAt == ${date}`, registered)).toBe(true);
    },
  );
});

describe('cluster query language: task groups', () => {
  it('selects an instance when any one of its tasks is in the group', () => {
    const subject = instance({ taskGroups: ['service:web', 'service:api', 'family:nginx'] });

    expect(selects('task:group == service:api', subject)).toBe(true);
    expect(selects('task:group in [service:db, family:nginx]', subject)).toBe(true);
    expect(selects('task:group =~ service:a.*', subject)).toBe(true);
  });

  it('treats != as "no task is in the group", like not(==)', () => {
    expect(selects('task:group != service:db', instance({ taskGroups: ['service:web', 'family:x'] }))).toBe(
      true,
    );
    expect(selects('task:group != service:db', instance({ taskGroups: ['service:web', 'service:db'] }))).toBe(
      false,
    );
    expect(
      selects('task:group !in [service:db, service:cache]', instance({ taskGroups: ['service:cache'] })),
    ).toBe(false);
    expect(selects('task:group !~ service:d.*', instance({ taskGroups: ['service:web'] }))).toBe(true);
  });

  it('selects an empty instance for anti-affinity and not for affinity', () => {
    const empty = instance({ taskGroups: [] });

    expect(selects('task:group != service:db', empty)).toBe(true);
    expect(selects('task:group == service:db', empty)).toBe(false);
    expect(selects('task:group exists', empty)).toBe(false);
    expect(selects('task:group !exists', empty)).toBe(true);
  });
});

describe('cluster query language: attributes', () => {
  it('finds attributes with and without a value through exists', () => {
    const subject = withAttributes({ 'ecs.capability.external': undefined, flag: '' });

    expect(selects('attribute:ecs.capability.external exists', subject)).toBe(true);
    expect(selects('attribute:flag exists', subject)).toBe(true);
    expect(selects('attribute:stack exists', subject)).toBe(false);
    expect(selects('attribute:stack !exists', subject)).toBe(true);
    expect(selects('attribute:stack not_exists', subject)).toBe(true);
  });

  it('satisfies no comparison, negative ones included, when the instance lacks the attribute', () => {
    const subject = withAttributes({});

    for (const expression of [
      'attribute:stack == prod',
      'attribute:stack != prod',
      'attribute:stack in [prod]',
      'attribute:stack !in [prod]',
      'attribute:stack =~ .*',
      'attribute:stack !~ prod',
      'attribute:stack > 0',
    ]) {
      expect(selects(expression, subject), expression).toBe(false);
    }
  });

  it('does not mistake inherited object properties for attributes', () => {
    expect(selects('attribute:constructor exists', withAttributes({}))).toBe(false);
    expect(selects('attribute:toString != x', withAttributes({}))).toBe(false);
  });

  it('orders numeric attribute values as numbers and others as strings', () => {
    expect(selects('attribute:gpus > 2', withAttributes({ gpus: '10' }))).toBe(true);
    expect(selects('attribute:gpus <= 2', withAttributes({ gpus: '10' }))).toBe(false);
    expect(selects('attribute:tier < b', withAttributes({ tier: 'a' }))).toBe(true);
  });

  it('compares values exactly, so * is literal outside =~', () => {
    expect(
      selects('attribute:ecs.instance-type == t2.*', withAttributes({ 'ecs.instance-type': 't2.small' })),
    ).toBe(false);
    expect(
      selects('attribute:ecs.instance-type == t2.*', withAttributes({ 'ecs.instance-type': 't2.*' })),
    ).toBe(true);
    expect(selects('attribute:stack == Prod', withAttributes({ stack: 'prod' }))).toBe(false);
  });
});

describe('cluster query language: pattern matching', () => {
  const type = (value: string) => withAttributes({ 'ecs.instance-type': value });

  it('matches the whole value, as Java String.matches does', () => {
    expect(selects('attribute:ecs.instance-type =~ t2.*', type('xt2.small'))).toBe(false);
    expect(selects('attribute:ecs.instance-type =~ t2', type('t2.small'))).toBe(false);
    expect(selects('attribute:ecs.instance-type =~ t2\\..*', type('t2.small'))).toBe(true);
    expect(selects('attribute:ecs.instance-type !~ t2.*', type('m5.large'))).toBe(true);
  });

  it('accepts grouping and alternation inside a pattern', () => {
    const expression = 'attribute:ecs.instance-type =~ t2.(micro|small) and runningTasksCount < 5';

    expect(selects(expression, type('t2.micro'))).toBe(true);
    expect(selects(expression, type('t2.large'))).toBe(false);
  });

  it('takes quoted patterns and honours a leading (?i)', () => {
    expect(selects("attribute:ecs.instance-type matches '(?i)T2\\.SMALL'", type('t2.small'))).toBe(true);
    expect(selects('attribute:note =~ "a b.*"', withAttributes({ note: 'a bc' }))).toBe(true);
  });

  it('matches agentConnected as the text true or false', () => {
    expect(selects('agentConnected =~ tr.*', instance({ agentConnected: true }))).toBe(true);
    expect(selects('agentConnected =~ tr.*', instance({ agentConnected: false }))).toBe(false);
  });
});

describe('cluster query language: typed subjects', () => {
  it('compares runningTasksCount as a number', () => {
    const three = instance({ runningTasksCount: 3 });

    expect(selects('runningTasksCount > 2', three)).toBe(true);
    expect(selects('runningTasksCount >= 3', three)).toBe(true);
    expect(selects('runningTasksCount < 3', three)).toBe(false);
    expect(selects('runningTasksCount <= 10', three)).toBe(true);
    expect(selects('runningTasksCount != 3', three)).toBe(false);
  });

  it('compares agent versions component by component, not as text', () => {
    expect(selects('agentVersion < 1.14.5', instance({ agentVersion: '1.9.10' }))).toBe(true);
    expect(selects('agentVersion > 1.9.10', instance({ agentVersion: '1.14.0' }))).toBe(true);
    expect(selects('agentVersion == 1.14', instance({ agentVersion: '1.14.0' }))).toBe(true);
    expect(selects('agentVersion >= 1.70.0', instance({ agentVersion: '1.70.2-dev' }))).toBe(true);
  });

  it('selects no instance whose agent version is unknown', () => {
    expect(selects('agentVersion < 9.0.0', instance({ agentVersion: undefined }))).toBe(false);
    expect(selects('agentVersion != 1.0.0', instance({ agentVersion: undefined }))).toBe(false);
  });

  it('compares a date-only registeredAt by UTC day and a date-time by second', () => {
    const afternoon = instance({ registeredAt: new Date('2018-02-13T15:30:00.250Z') });

    expect(selects('registeredAt == 2018-02-13', afternoon)).toBe(true);
    expect(selects('registeredAt > 2018-02-13', afternoon)).toBe(false);
    expect(selects('registeredAt >= 2018-02-13', afternoon)).toBe(true);
    expect(selects('registeredAt > 2018-02-13T15:00:00Z', afternoon)).toBe(true);
    expect(selects('registeredAt == 2018-02-13T15:30:00Z', afternoon)).toBe(true);
    expect(selects('registeredAt == 2018-02-13T10:30:00-05:00', afternoon)).toBe(true);
    expect(selects('registeredAt < 2018-02-13T15:30:00', afternoon)).toBe(false);
  });

  it('reads agentConnected as a case-insensitive boolean', () => {
    expect(selects('agentConnected == false', instance({ agentConnected: false }))).toBe(true);
    expect(selects('agentConnected == TRUE', instance({ agentConnected: true }))).toBe(true);
    expect(selects('agentConnected in [false]', instance({ agentConnected: true }))).toBe(false);
  });

  it('selects no instance without an EC2 instance id by ec2InstanceId', () => {
    expect(selects('ec2InstanceId != i-abcd1234', instance({ ec2InstanceId: undefined }))).toBe(false);
    expect(selects('ec2InstanceId =~ mi-.*', instance({ ec2InstanceId: 'mi-0123456789abcdef0' }))).toBe(true);
  });
});

describe('cluster query language: syntax', () => {
  it('accepts every word form of the operators, in any case', () => {
    const subject = instance({ runningTasksCount: 2, taskGroups: ['service:web'] });

    for (const expression of [
      'runningTasksCount EQUALS 2',
      'runningTasksCount Not_Equals 3',
      'runningTasksCount greater_than 1',
      'runningTasksCount GREATER_THAN_EQUAL 2',
      'runningTasksCount less_than 3',
      'runningTasksCount less_than_equal 2',
      'attribute:stack EXISTS',
      'attribute:nothing NOT_EXISTS',
      'attribute:nothing !EXISTS',
      'task:group IN [service:web]',
      'task:group NOT_IN [service:db]',
      'task:group !In [service:db]',
      'task:group MATCHES service:.*',
      'task:group NOT_MATCHES family:.*',
    ]) {
      expect(selects(expression, subject), expression).toBe(true);
    }
  });

  it('accepts case-insensitive boolean keywords and their symbols', () => {
    const subject = instance({ runningTasksCount: 2 });

    expect(selects('runningTasksCount == 2 AND agentConnected == true', subject)).toBe(true);
    expect(selects('runningTasksCount == 9 Or agentConnected == true', subject)).toBe(true);
    expect(selects('NOT runningTasksCount == 2', subject)).toBe(false);
    expect(selects('runningTasksCount == 2 && !(agentConnected == false)', subject)).toBe(true);
    expect(selects('runningTasksCount == 9 || ! runningTasksCount == 3', subject)).toBe(true);
  });

  it('needs no spaces around symbolic operators', () => {
    const subject = instance({ runningTasksCount: 2, taskGroups: ['service:web'] });

    expect(selects('runningTasksCount>=2&&task:group==service:web', subject)).toBe(true);
    expect(selects('(runningTasksCount<2)||(task:group!in[service:web])', subject)).toBe(false);
  });

  it('binds and tighter than or', () => {
    const subject = instance({ runningTasksCount: 1, agentConnected: false });
    const expression = 'runningTasksCount == 1 or runningTasksCount == 2 and agentConnected == true';

    expect(parseQuery(expression).kind).toBe('or');
    expect(selects(expression, subject)).toBe(true);
  });

  it('lets parentheses override precedence', () => {
    const subject = instance({ runningTasksCount: 1, agentConnected: false });

    expect(
      selects('(runningTasksCount == 1 or runningTasksCount == 2) and agentConnected == true', subject),
    ).toBe(false);
    expect(selects('((((runningTasksCount == 1))))', subject)).toBe(true);
  });

  it('binds not tighter than and', () => {
    const subject = instance({ runningTasksCount: 1, agentConnected: false });

    expect(selects('not runningTasksCount == 2 and agentConnected == true', subject)).toBe(false);
    expect(selects('not (runningTasksCount == 2 and agentConnected == true)', subject)).toBe(true);
  });

  it('reads keywords as values where a value is expected', () => {
    expect(selects('attribute:mode == and', withAttributes({ mode: 'and' }))).toBe(true);
    expect(selects('attribute:mode in [or, not]', withAttributes({ mode: 'not' }))).toBe(true);
  });

  it('keeps what the user wrote, typed, in the tree', () => {
    expect(parseQuery("registeredAt < '2018-02-13'")).toEqual({
      kind: 'compare',
      subject: { field: 'registeredAt' },
      operator: 'less_than',
      value: { type: 'date', text: '2018-02-13', epochMillis: Date.UTC(2018, 1, 13), precision: 'day' },
    });
    expect(parseQuery('attribute:ecs.os-type != linux')).toEqual({
      kind: 'compare',
      subject: { field: 'attribute', name: 'ecs.os-type' },
      operator: 'not_equals',
      value: { type: 'string', text: 'linux' },
    });
  });

  it('accepts an expression of exactly 2000 characters', () => {
    const prefix = 'attribute:stack == ';
    const expression = prefix + 'a'.repeat(2000 - prefix.length);

    expect(expression).toHaveLength(2000);
    expect(selects(expression, withAttributes({ stack: 'a'.repeat(2000 - prefix.length) }))).toBe(true);
  });
});

describe('cluster query language: refused expressions', () => {
  it.each([
    ['(runningTasksCount == 1', "unbalanced '('"],
    ['runningTasksCount == 1)', "unbalanced ')'"],
    ['((runningTasksCount == 1) or (agentConnected == true)', "unbalanced '('"],
    ['task:group in [a, b', "unbalanced '['"],
    ['runningTasksCount ~= 1', "unknown operator '~='"],
    ['attribute:stack likes prod', "unknown operator 'likes'"],
    ['runningTasksCount', 'expected an operator'],
    ['instanceType == t2.small', "unknown subject 'instanceType'"],
    ['attribute: == x', 'invalid attribute name'],
    ['agentConnected > true', "operator 'greater_than' is not valid for subject 'agentConnected'"],
    ['runningTasksCount =~ 1', "operator 'matches' is not valid for subject 'runningTasksCount'"],
    ['registeredAt exists', "operator 'exists' is not valid for subject 'registeredAt'"],
    ['task:group > a', "operator 'greater_than' is not valid for subject 'task:group'"],
    ['runningTasksCount == one', 'runningTasksCount takes a whole number'],
    ['registeredAt < 2018-02-30', 'registeredAt takes a date'],
    ['registeredAt < yesterday', 'registeredAt takes a date'],
    ['agentVersion < latest', 'agentVersion takes a version'],
    ['agentConnected == yes', 'agentConnected takes true or false'],
    ['attribute:x =~ t2.[', 'invalid regular expression'],
    ['attribute:x == (y)', 'parentheses are not allowed'],
    ['attribute:x == [a, b]', 'takes one value, not a list'],
    ['attribute:x in a', 'expected an argument list'],
    ['attribute:x in []', 'expected a value'],
    ["attribute:x == 'open", 'unterminated quoted value'],
    ['', 'expected an expression'],
    ['   ', 'expected an expression'],
    ['runningTasksCount == 1 and', 'expected an expression'],
    ['runningTasksCount == 1 runningTasksCount == 2', 'expected and, or or the end'],
    ['not', 'expected an expression'],
  ])('refuses %j: %s', (expression, reason) => {
    const error = refusal(expression);

    expect(error.code).toBe('InvalidParameterException');
    expect(error.kind).toBe('input');
    expect(error.message).toContain(reason);
  });

  it('points at the character and token where the expression goes wrong', () => {
    const error = refusal('runningTasksCount ~= 1');

    expect(error.message).toContain("character 19, near '~='");
  });

  it('points at the opening parenthesis that is never closed', () => {
    const error = refusal('agentConnected == true and (runningTasksCount == 1');

    expect(error.message).toContain('character 28');
  });

  it('refuses an expression over 2000 characters', () => {
    const prefix = 'attribute:stack == ';
    const error = refusal(prefix + 'a'.repeat(2001 - prefix.length));

    expect(error.code).toBe('InvalidParameterException');
    expect(error.message).toContain('2001 characters');
    expect(error.message).toContain('2000');
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const groups = fc.constantFrom('service:web', 'service:db', 'family:nginx');
const attributeValues = fc.constantFrom('prod', 'dev', 't2.small', '10', '2');

const argument = (op: string, value: string) => (/in$/i.test(op) ? `[${value}]` : value);

const simpleExpression: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(fc.constantFrom('==', '!=', 'in', '!in', 'not_in', '=~', '!~', 'equals', 'not_equals'), groups)
    .map(([op, group]) => `task:group ${op} ${argument(op, group)}`),
  fc.constantFrom('task:group exists', 'task:group !exists'),
  fc
    .tuple(fc.constantFrom('==', '!=', '>', '>=', '<', '<=', 'in', '!in', '=~', '!~'), attributeValues)
    .map(([op, value]) => `attribute:stack ${op} ${argument(op, value)}`),
  fc.constantFrom('attribute:stack exists', 'attribute:stack !exists', 'attribute:stack not_exists'),
  fc
    .tuple(fc.constantFrom('==', '!=', '>', '>=', '<', '<='), fc.nat(5))
    .map(([op, n]) => `runningTasksCount ${op} ${n}`),
  fc
    .tuple(fc.constantFrom('==', '!=', '>', '<='), fc.constantFrom('1.9.0', '1.14.5', '1.14', '2.0.1'))
    .map(([op, v]) => `agentVersion ${op} ${v}`),
  fc
    .tuple(
      fc.constantFrom('==', '!=', '>', '>=', '<', '<='),
      fc.constantFrom('2018-02-13', '2018-02-13T10:00:00Z', '2018-02-12T23:00:00-05:00'),
    )
    .map(([op, d]) => `registeredAt ${op} ${d}`),
  fc
    .tuple(fc.constantFrom('==', '!=', 'in', '!in'), fc.constantFrom('true', 'false'))
    .map(([op, b]) => `agentConnected ${op} ${argument(op, b)}`),
  fc
    .tuple(fc.constantFrom('==', '!=', '=~', '!~'), fc.constantFrom('i-abcd1234', 'i-.*'))
    .map(([op, id]) => `ec2InstanceId ${op} ${id}`),
);

const { compound } = fc.letrec<{ compound: string }>((tie) => ({
  compound: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    simpleExpression,
    fc
      .tuple(tie('compound'), fc.constantFrom('and', 'or', '&&', '||'), tie('compound'))
      .map(([a, op, b]) => `(${a}) ${op} (${b})`),
    tie('compound').map((e) => `!(${e})`),
  ),
}));

const subjects: fc.Arbitrary<QuerySubject> = fc.record({
  agentConnected: fc.boolean(),
  agentVersion: fc.option(fc.constantFrom('1.9.0', '1.14.5', '1.14.6', '2.0.1'), { nil: undefined }),
  ec2InstanceId: fc.option(fc.constantFrom('i-abcd1234', 'i-wxyx7890', 'mi-0123'), { nil: undefined }),
  registeredAt: fc.date({
    min: new Date('2018-02-11T00:00:00Z'),
    max: new Date('2018-02-15T00:00:00Z'),
    noInvalidDate: true,
  }),
  runningTasksCount: fc.nat(5),
  attributes: fc.dictionary(
    fc.constantFrom('stack', 'ecs.instance-type'),
    fc.option(fc.constantFrom('prod', 'dev', '10', ''), { nil: undefined }),
  ),
  taskGroups: fc.array(groups, { maxLength: 3 }),
});

describe('cluster query language: properties', () => {
  it('evaluates not (e) to the negation of e', () => {
    fc.assert(
      fc.property(compound, subjects, (expression, subject) => {
        expect(selects(`not (${expression})`, subject)).toBe(!selects(expression, subject));
      }),
    );
  });

  it('evaluates a or b and c as a or (b and c)', () => {
    fc.assert(
      fc.property(simpleExpression, simpleExpression, simpleExpression, subjects, (a, b, c, subject) => {
        const [A, B, C] = [a, b, c].map((e) => selects(e, subject));

        expect(selects(`${a} or ${b} and ${c}`, subject)).toBe(A || (B && C));
        expect(selects(`${a} || ${b} && ${c}`, subject)).toBe(A || (B && C));
      }),
    );
  });

  it('makes task:group != g the same as not (task:group == g) on every instance', () => {
    fc.assert(
      fc.property(groups, subjects, (group, subject) => {
        expect(selects(`task:group != ${group}`, subject)).toBe(!selects(`task:group == ${group}`, subject));
      }),
    );
  });

  it('makes in [x, y] the same as == x or == y', () => {
    fc.assert(
      fc.property(attributeValues, attributeValues, subjects, (x, y, subject) => {
        expect(selects(`attribute:stack in [${x}, ${y}]`, subject)).toBe(
          selects(`attribute:stack == ${x} or attribute:stack == ${y}`, subject),
        );
      }),
    );
  });

  const soup = fc
    .array(
      fc.oneof(
        fc.constantFrom(
          '(',
          ')',
          '[',
          ']',
          ',',
          "'",
          '"',
          '\\',
          'and',
          'or',
          'not',
          '!',
          '&&',
          '||',
          '==',
          '!=',
          '>=',
          '=~',
          '!~',
          'in',
          '!in',
          'exists',
          '!exists',
          'task:group',
          'attribute:stack',
          'runningTasksCount',
          'registeredAt',
          'agentVersion',
          'agentConnected',
          'prod',
          't2.*',
          '1',
          '2018-02-13',
          '1.14.5',
          'true',
          '(?i)',
        ),
        fc.string({ maxLength: 4 }),
      ),
      { maxLength: 14 },
    )
    .chain((tokens) => fc.constantFrom(tokens.join(' '), tokens.join('')));

  it('either parses an arbitrary string into an evaluable tree or refuses it with InvalidParameterException', () => {
    fc.assert(
      fc.property(
        fc.oneof(soup, fc.string({ maxLength: 40, unit: 'grapheme' })),
        subjects,
        (text, subject) => {
          let parsed: ReturnType<typeof parseQuery> | undefined;
          try {
            parsed = parseQuery(text);
          } catch (error) {
            expect(isBerthError(error) && error.code === 'InvalidParameterException').toBe(true);
            return;
          }
          expect(typeof matchesQuery(parsed, subject)).toBe('boolean');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
