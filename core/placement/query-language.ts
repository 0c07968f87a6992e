/**
 * The ECS cluster query language: the `expression` of a `memberOf` placement constraint and the
 * `filter` of ListContainerInstances. Grammar, subjects and operators follow the AWS page "Create
 * expressions to define container instances for Amazon ECS tasks":
 *
 *   expression := or
 *   or         := and (('or' | '||') and)*
 *   and        := unary (('and' | '&&') unary)*
 *   unary      := ('not' | '!') unary | '(' or ')' | condition
 *   condition  := subject operator [argument]
 *
 * `not` binds tighter than `and`, which binds tighter than `or`. Keywords and word operators are
 * case-insensitive; subjects, attribute names and values are case-sensitive.
 *
 * Parsing and evaluation are pure: the AST is plain data (it can be stored and re-evaluated) and
 * evaluation takes the container instance's state as an input.
 */
import { invalidParameter } from '../errors.ts';

/** ECS refuses expressions longer than this. */
export const MAX_QUERY_LENGTH = 2000;

/** What an expression is evaluated against: one container instance as the scheduler sees it. */
export type QuerySubject = {
  agentConnected: boolean;
  agentVersion?: string;
  ec2InstanceId?: string;
  registeredAt: Date;
  runningTasksCount: number;
  /** attribute name -> value (value undefined/'' for attributes without a value) */
  attributes: Record<string, string | undefined>;
  /** the `group` of every task placed on the instance (e.g. 'service:web', 'family:nginx') */
  taskGroups: readonly string[];
};

export const QueryFields = [
  'agentConnected',
  'agentVersion',
  'attribute',
  'ec2InstanceId',
  'registeredAt',
  'runningTasksCount',
  'task:group',
] as const;
export type QueryField = (typeof QueryFields)[number];

/** The subject of a condition; `attribute:NAME` carries the attribute's name. */
export type QuerySubjectRef =
  | { readonly field: Exclude<QueryField, 'attribute'> }
  | { readonly field: 'attribute'; readonly name: string };

/** Canonical operator names (the doc's word forms); each symbolic form parses to one of these. */
export const QueryOperators = [
  'equals',
  'not_equals',
  'greater_than',
  'greater_than_equal',
  'less_than',
  'less_than_equal',
  'exists',
  'not_exists',
  'in',
  'not_in',
  'matches',
  'not_matches',
] as const;
export type QueryOperator = (typeof QueryOperators)[number];

export type PresenceOperator = 'exists' | 'not_exists';
export type CompareOperator =
  | 'equals'
  | 'not_equals'
  | 'greater_than'
  | 'greater_than_equal'
  | 'less_than'
  | 'less_than_equal';
export type MemberOperator = 'in' | 'not_in';
export type MatchOperator = 'matches' | 'not_matches';

/**
 * An argument, already typed by its subject: `registeredAt` takes dates, `runningTasksCount`
 * integers, `agentVersion` dotted versions, `agentConnected` booleans, everything else strings.
 * `text` is what the user wrote (quotes removed).
 */
export type QueryLiteral =
  | { readonly type: 'string'; readonly text: string }
  | { readonly type: 'boolean'; readonly text: string; readonly value: boolean }
  | { readonly type: 'integer'; readonly text: string; readonly value: number }
  | {
      readonly type: 'date';
      readonly text: string;
      readonly epochMillis: number;
      /** A date-only argument compares whole UTC days, a date-time one whole seconds. */
      readonly precision: 'day' | 'second';
    }
  | { readonly type: 'version'; readonly text: string; readonly parts: readonly number[] };

export type QueryCondition =
  | { readonly kind: 'presence'; readonly subject: QuerySubjectRef; readonly operator: PresenceOperator }
  | {
      readonly kind: 'compare';
      readonly subject: QuerySubjectRef;
      readonly operator: CompareOperator;
      readonly value: QueryLiteral;
    }
  | {
      readonly kind: 'member';
      readonly subject: QuerySubjectRef;
      readonly operator: MemberOperator;
      readonly values: readonly QueryLiteral[];
    }
  | {
      readonly kind: 'match';
      readonly subject: QuerySubjectRef;
      readonly operator: MatchOperator;
      /** Java-syntax regular expression, matched against the whole value. */
      readonly pattern: string;
    };

export type QueryExpression =
  | QueryCondition
  | { readonly kind: 'and'; readonly left: QueryExpression; readonly right: QueryExpression }
  | { readonly kind: 'or'; readonly left: QueryExpression; readonly right: QueryExpression }
  | { readonly kind: 'not'; readonly operand: QueryExpression };

// ---------------------------------------------------------------------------------------------
// Operators and which subjects accept them

const OPERATOR_SPELLINGS: Readonly<Record<string, QueryOperator>> = {
  '==': 'equals',
  equals: 'equals',
  '!=': 'not_equals',
  not_equals: 'not_equals',
  '>': 'greater_than',
  greater_than: 'greater_than',
  '>=': 'greater_than_equal',
  greater_than_equal: 'greater_than_equal',
  '<': 'less_than',
  less_than: 'less_than',
  '<=': 'less_than_equal',
  less_than_equal: 'less_than_equal',
  exists: 'exists',
  '!exists': 'not_exists',
  not_exists: 'not_exists',
  in: 'in',
  '!in': 'not_in',
  not_in: 'not_in',
  '=~': 'matches',
  matches: 'matches',
  '!~': 'not_matches',
  not_matches: 'not_matches',
};

const EQUALITY_AND_PATTERN: readonly QueryOperator[] = [
  'equals',
  'not_equals',
  'in',
  'not_in',
  'matches',
  'not_matches',
];
const ORDERED: readonly QueryOperator[] = [
  'equals',
  'not_equals',
  'greater_than',
  'greater_than_equal',
  'less_than',
  'less_than_equal',
];

/**
 * The "Valid operators" lists of the doc. It gives none for `attribute:NAME` and `task:group`:
 * attributes take every operator; task groups take all but the orderings (a set of group names
 * has no order), `exists` meaning "runs at least one task".
 */
const VALID_OPERATORS: Readonly<Record<QueryField, readonly QueryOperator[]>> = {
  agentConnected: EQUALITY_AND_PATTERN,
  agentVersion: ORDERED,
  attribute: QueryOperators,
  ec2InstanceId: EQUALITY_AND_PATTERN,
  registeredAt: ORDERED,
  runningTasksCount: ORDERED,
  'task:group': [...EQUALITY_AND_PATTERN, 'exists', 'not_exists'],
};

const NEGATIVE_OPERATORS: ReadonlySet<QueryOperator> = new Set(['not_equals', 'not_in', 'not_matches']);

// ---------------------------------------------------------------------------------------------
// Parser: recursive descent straight over the string. Lexing is context-sensitive because an
// argument such as `t2.*`, `service:web` or `(a|b).*` would otherwise read as operators or
// grouping; the parser always knows whether it expects a subject, an operator or an argument.

const SUBJECT_CHAR = /[A-Za-z0-9_:.\-/\\]/;
const WORD_CHAR = /[A-Za-z0-9_]/;
const SYMBOLIC_OPERATORS = ['!exists', '!in', '==', '!=', '>=', '<=', '=~', '!~', '>', '<'] as const;
const MAX_ATTRIBUTE_NAME = 128;

class Parser {
  private pos = 0;
  private readonly src: string;

  constructor(src: string) {
    this.src = src;
  }

  parse(): QueryExpression {
    const expression = this.parseOr();
    this.skipSpace();
    if (!this.atEnd()) {
      this.fail(this.src[this.pos] === ')' ? "unbalanced ')'" : 'expected and, or or the end');
    }
    return expression;
  }

  private parseOr(): QueryExpression {
    let left = this.parseAnd();
    while (this.acceptConnective('or', '||')) {
      left = { kind: 'or', left, right: this.parseAnd() };
    }
    return left;
  }

  private parseAnd(): QueryExpression {
    let left = this.parseUnary();
    while (this.acceptConnective('and', '&&')) {
      left = { kind: 'and', left, right: this.parseUnary() };
    }
    return left;
  }

  private parseUnary(): QueryExpression {
    this.skipSpace();
    if (this.atEnd()) this.fail('expected an expression');
    if (this.acceptWord('not') || this.acceptSymbol('!')) {
      return { kind: 'not', operand: this.parseUnary() };
    }
    if (this.acceptSymbol('(')) {
      const open = this.pos - 1;
      const inner = this.parseOr();
      this.skipSpace();
      if (!this.acceptSymbol(')')) {
        if (this.atEnd()) this.fail("unbalanced '(': no matching ')'", open);
        this.fail("expected ')'");
      }
      return inner;
    }
    return this.parseCondition();
  }

  private parseCondition(): QueryCondition {
    const subject = this.parseSubject();
    const { operator, at } = this.parseOperator();
    if (!VALID_OPERATORS[subject.field].includes(operator)) {
      this.fail(`operator '${operator}' is not valid for subject '${subject.field}'`, at);
    }
    switch (operator) {
      case 'exists':
      case 'not_exists':
        return { kind: 'presence', subject, operator };
      case 'in':
      case 'not_in':
        return { kind: 'member', subject, operator, values: this.parseList(subject) };
      case 'matches':
      case 'not_matches': {
        const start = this.pos;
        const pattern = this.parseArgumentText(true);
        compilePattern(pattern, (reason) => this.fail(`invalid regular expression: ${reason}`, start));
        return { kind: 'match', subject, operator, pattern };
      }
      default: {
        this.skipSpace();
        const start = this.pos;
        if (this.src[start] === '[') this.fail(`operator '${operator}' takes one value, not a list`);
        return {
          kind: 'compare',
          subject,
          operator,
          value: this.toLiteral(subject, this.parseArgumentText(false), start),
        };
      }
    }
  }

  private parseSubject(): QuerySubjectRef {
    this.skipSpace();
    const start = this.pos;
    while (!this.atEnd() && SUBJECT_CHAR.test(this.src[this.pos]!)) this.pos++;
    const word = this.src.slice(start, this.pos);
    if (word === '') this.fail('expected a subject');
    if (word.startsWith('attribute:')) {
      const name = word.slice('attribute:'.length);
      if (name === '' || name.length > MAX_ATTRIBUTE_NAME || name.includes(':')) {
        this.fail(`invalid attribute name '${name}'`, start);
      }
      return { field: 'attribute', name };
    }
    const field = QueryFields.find((f) => f === word && f !== 'attribute');
    if (field === undefined || field === 'attribute') {
      this.fail(`unknown subject '${word}'`, start);
    }
    return { field };
  }

  private parseOperator(): { operator: QueryOperator; at: number } {
    this.skipSpace();
    const at = this.pos;
    if (this.atEnd()) this.fail('expected an operator');
    const rest = this.src.slice(at).toLowerCase();
    for (const symbol of SYMBOLIC_OPERATORS) {
      // `!in` and `!exists` are words after the bang: `!inx` is not `!in` followed by `x`.
      const isWord = /[a-z]$/.test(symbol);
      if (rest.startsWith(symbol) && !(isWord && WORD_CHAR.test(rest[symbol.length] ?? ''))) {
        this.pos += symbol.length;
        return { operator: OPERATOR_SPELLINGS[symbol]!, at };
      }
    }
    const word = /^[a-z_]+/.exec(rest)?.[0] ?? '';
    const operator = OPERATOR_SPELLINGS[word];
    if (word === '' || operator === undefined || WORD_CHAR.test(rest[word.length] ?? '')) {
      this.fail(`unknown operator '${this.tokenAt(at)}'`, at);
    }
    this.pos += word.length;
    return { operator, at };
  }

  private parseList(subject: QuerySubjectRef): QueryLiteral[] {
    this.skipSpace();
    const open = this.pos;
    if (!this.acceptSymbol('[')) this.fail("expected an argument list '[value, ...]'");
    const values: QueryLiteral[] = [];
    for (;;) {
      this.skipSpace();
      const start = this.pos;
      let text: string;
      if (this.src[start] === "'" || this.src[start] === '"') {
        text = this.parseQuoted();
      } else {
        while (!this.atEnd() && !',][()'.includes(this.src[this.pos]!)) this.pos++;
        text = this.src.slice(start, this.pos).trim();
        if (text === '')
          this.fail(this.atEnd() ? "unbalanced '[': no matching ']'" : 'expected a value', start);
      }
      values.push(this.toLiteral(subject, text, start));
      this.skipSpace();
      if (this.acceptSymbol(']')) return values;
      if (this.atEnd()) this.fail("unbalanced '[': no matching ']'", open);
      if (!this.acceptSymbol(',')) this.fail("expected ',' or ']'");
    }
  }

  /**
   * One argument. Unquoted, it runs to whitespace, `)`, `&&` or `||`. The doc says a single
   * expression can't contain parentheses, so only a regular expression may hold them, balanced
   * (`=~ t2.(micro|small)`); elsewhere quote a value that needs spaces or parentheses.
   */
  private parseArgumentText(isPattern: boolean): string {
    this.skipSpace();
    const start = this.pos;
    if (this.atEnd()) this.fail('expected a value');
    const first = this.src[start];
    if (first === "'" || first === '"') return this.parseQuoted();
    let depth = 0;
    while (!this.atEnd()) {
      const c = this.src[this.pos]!;
      if (/\s/.test(c)) break;
      if (depth === 0 && (this.src.startsWith('&&', this.pos) || this.src.startsWith('||', this.pos))) break;
      if (c === '(') {
        if (!isPattern) this.fail('parentheses are not allowed inside a single expression');
        depth++;
      } else if (c === ')') {
        if (depth === 0) break;
        depth--;
      } else if (c === '\\' && isPattern) {
        this.pos++; // an escaped character, e.g. `\(`, never opens or closes a group
      }
      this.pos++;
    }
    const text = this.src.slice(start, this.pos);
    if (text === '') this.fail('expected a value', start);
    return text;
  }

  /** `'…'` or `"…"`; a backslash escapes the quote character, other backslashes stay as written. */
  private parseQuoted(): string {
    const open = this.pos;
    const quote = this.src[open]!;
    this.pos++;
    let text = '';
    while (!this.atEnd()) {
      const c = this.src[this.pos]!;
      if (c === '\\' && this.src[this.pos + 1] === quote) {
        text += quote;
        this.pos += 2;
      } else if (c === quote) {
        this.pos++;
        return text;
      } else {
        text += c;
        this.pos++;
      }
    }
    return this.fail(`unterminated quoted value`, open);
  }

  private toLiteral(subject: QuerySubjectRef, text: string, at: number): QueryLiteral {
    switch (subject.field) {
      case 'agentConnected': {
        const lower = text.toLowerCase();
        if (lower !== 'true' && lower !== 'false')
          this.fail(`agentConnected takes true or false, not '${text}'`, at);
        return { type: 'boolean', text, value: lower === 'true' };
      }
      case 'runningTasksCount': {
        if (!/^\d{1,15}$/.test(text)) this.fail(`runningTasksCount takes a whole number, not '${text}'`, at);
        return { type: 'integer', text, value: Number(text) };
      }
      case 'agentVersion': {
        const parts = parseVersion(text);
        if (parts === undefined || !/^v?\d+(\.\d+)*$/.test(text)) {
          this.fail(`agentVersion takes a version such as 1.14.5, not '${text}'`, at);
        }
        return { type: 'version', text, parts };
      }
      case 'registeredAt': {
        const date = parseDate(text);
        if (date === undefined) {
          this.fail(
            `registeredAt takes a date such as 2018-06-18, 2018-06-18T22:28:28, 2018-06-18T22:28:28Z or 2018-06-18T22:28:28+00:00, not '${text}'`,
            at,
          );
        }
        return { type: 'date', text, ...date };
      }
      default:
        return { type: 'string', text };
    }
  }

  private acceptConnective(word: string, symbol: string): boolean {
    this.skipSpace();
    return this.acceptSymbol(symbol) || this.acceptWord(word);
  }

  private acceptWord(word: string): boolean {
    const end = this.pos + word.length;
    if (this.src.slice(this.pos, end).toLowerCase() !== word) return false;
    if (end < this.src.length && SUBJECT_CHAR.test(this.src[end]!)) return false;
    this.pos = end;
    return true;
  }

  private acceptSymbol(symbol: string): boolean {
    if (!this.src.startsWith(symbol, this.pos)) return false;
    this.pos += symbol.length;
    return true;
  }

  private skipSpace(): void {
    while (!this.atEnd() && /\s/.test(this.src[this.pos]!)) this.pos++;
  }

  private atEnd(): boolean {
    return this.pos >= this.src.length;
  }

  private tokenAt(at: number): string {
    return /^\S{0,20}/.exec(this.src.slice(at))?.[0] ?? '';
  }

  private fail(reason: string, at: number = this.pos): never {
    const token = this.tokenAt(at);
    const near = token === '' ? 'at the end' : `near '${token}'`;
    throw invalidParameter(`Invalid cluster query expression: ${reason} (character ${at + 1}, ${near}).`);
  }
}

/**
 * Parses a cluster query language expression into its AST. Every argument is checked against its
 * subject (dates, versions, whole numbers, booleans) and every regular expression compiled, so a
 * parsed expression always evaluates.
 *
 * @throws BerthError `InvalidParameterException` with a message naming the character position and
 *   the token there, for a malformed expression or one longer than 2000 characters.
 */
export function parseQuery(expression: string): QueryExpression {
  if (expression.length > MAX_QUERY_LENGTH) {
    throw invalidParameter(
      `Invalid cluster query expression: it has ${expression.length} characters; the limit is ${MAX_QUERY_LENGTH}.`,
    );
  }
  return new Parser(expression).parse();
}

// ---------------------------------------------------------------------------------------------
// Values

/** `1.14.5` -> [1, 14, 5]; a leading `v` and any suffix after the numbers (`-dev`) are ignored. */
const parseVersion = (text: string): number[] | undefined => {
  const match = /^v?(\d+(?:\.\d+)*)/.exec(text.trim());
  return match ? match[1]!.split('.').map(Number) : undefined;
};

/** Missing components count as 0: `1.14` == `1.14.0`. */
const compareVersions = (a: readonly number[], b: readonly number[]): number => {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
};

const DATE_FORMAT = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:\d{2})?)?$/;

/** The doc's four formats; without a zone the time is UTC. Impossible dates (02-30) are refused. */
const parseDate = (text: string): { epochMillis: number; precision: 'day' | 'second' } | undefined => {
  const m = DATE_FORMAT.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', zone = 'Z'] = m;
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(local);
  if (
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    check.getUTCHours() !== Number(h) ||
    check.getUTCMinutes() !== Number(mi) ||
    check.getUTCSeconds() !== Number(s)
  ) {
    return undefined;
  }
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const [oh, om] = zone.slice(1).split(':').map(Number) as [number, number];
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = sign * (oh * 60 + om);
  }
  return {
    epochMillis: local - offsetMinutes * 60_000,
    precision: m[4] === undefined ? 'day' : 'second',
  };
};

const DAY_MS = 86_400_000;
const truncate = (epochMillis: number, precision: 'day' | 'second'): number => {
  const unit = precision === 'day' ? DAY_MS : 1000;
  return Math.floor(epochMillis / unit) * unit;
};

const NUMBER = /^-?\d+(\.\d+)?$/;

/**
 * Compiles a `matches` pattern. The doc specifies Java regular expressions; ECS (a Java service)
 * matches the whole value the way `String.matches` does, which is why its examples read
 * `t2.*` rather than `t2`. So the pattern is anchored at both ends: `t2.*` selects `t2.small` but not
 * `xt2.small`. A leading `(?i)` (Java's case-insensitive flag) is honoured.
 */
const compilePattern = (pattern: string, onError?: (reason: string) => never): RegExp => {
  const caseInsensitive = pattern.startsWith('(?i)');
  const body = caseInsensitive ? pattern.slice(4) : pattern;
  try {
    return new RegExp(`^(?:${body})$`, caseInsensitive ? 'i' : '');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (onError) return onError(reason);
    throw invalidParameter(`Invalid cluster query expression: invalid regular expression: ${reason}`);
  }
};

// ---------------------------------------------------------------------------------------------
// Evaluation

type SubjectValue =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'integer'; readonly value: number }
  | { readonly type: 'date'; readonly value: number }
  | { readonly type: 'version'; readonly value: readonly number[] };

/**
 * The values a subject has on an instance: one for scalar fields, one per task for `task:group`,
 * none when the instance lacks the field (no such attribute, no agent version).
 */
const valuesOf = (ref: QuerySubjectRef, s: QuerySubject): SubjectValue[] => {
  switch (ref.field) {
    case 'agentConnected':
      return [{ type: 'boolean', value: s.agentConnected }];
    case 'agentVersion': {
      const parts = s.agentVersion === undefined ? undefined : parseVersion(s.agentVersion);
      return parts ? [{ type: 'version', value: parts }] : [];
    }
    case 'attribute':
      return Object.hasOwn(s.attributes, ref.name)
        ? [{ type: 'string', value: s.attributes[ref.name] ?? '' }]
        : [];
    case 'ec2InstanceId':
      return s.ec2InstanceId === undefined ? [] : [{ type: 'string', value: s.ec2InstanceId }];
    case 'registeredAt':
      return [{ type: 'date', value: s.registeredAt.getTime() }];
    case 'runningTasksCount':
      return [{ type: 'integer', value: s.runningTasksCount }];
    case 'task:group':
      return s.taskGroups.map((group) => ({ type: 'string', value: group }));
  }
};

/** Orders a subject's value against a literal; undefined when they cannot be compared. */
const compareTo = (v: SubjectValue, literal: QueryLiteral): number | undefined => {
  if (v.type === 'string' && literal.type === 'string') {
    // Attribute values are strings; two numbers compare as numbers (`attribute:gpus > 2`), anything
    // else by code unit.
    if (NUMBER.test(v.value) && NUMBER.test(literal.text)) return Number(v.value) - Number(literal.text);
    return v.value < literal.text ? -1 : v.value > literal.text ? 1 : 0;
  }
  if (v.type === 'boolean' && literal.type === 'boolean') return v.value === literal.value ? 0 : undefined;
  if (v.type === 'integer' && literal.type === 'integer') return v.value - literal.value;
  if (v.type === 'version' && literal.type === 'version') return compareVersions(v.value, literal.parts);
  if (v.type === 'date' && literal.type === 'date') {
    return truncate(v.value, literal.precision) - truncate(literal.epochMillis, literal.precision);
  }
  return undefined;
};

const isEqual = (v: SubjectValue, literal: QueryLiteral): boolean =>
  v.type === 'string' && literal.type === 'string' ? v.value === literal.text : compareTo(v, literal) === 0;

const asText = (v: SubjectValue): string => {
  switch (v.type) {
    case 'string':
      return v.value;
    case 'boolean':
    case 'integer':
      return String(v.value);
    case 'date':
      return new Date(v.value).toISOString();
    case 'version':
      return v.value.join('.');
  }
};

/** The positive form of a condition on one value (`!=` tests `==`, `!in` tests `in`, …). */
const holdsFor = (c: Exclude<QueryCondition, { kind: 'presence' }>, v: SubjectValue): boolean => {
  switch (c.kind) {
    case 'member':
      return c.values.some((literal) => isEqual(v, literal));
    case 'match':
      return compilePattern(c.pattern).test(asText(v));
    case 'compare': {
      if (c.operator === 'equals' || c.operator === 'not_equals') return isEqual(v, c.value);
      const order = compareTo(v, c.value);
      if (order === undefined) return false;
      switch (c.operator) {
        case 'greater_than':
          return order > 0;
        case 'greater_than_equal':
          return order >= 0;
        case 'less_than':
          return order < 0;
        case 'less_than_equal':
          return order <= 0;
      }
    }
  }
};

/**
 * One condition. `task:group` is a set: a positive operator holds when ANY task's group satisfies
 * it, a negative one (`!=`, `!in`, `!~`) when NO task's does, so `task:group != database` equals
 * the doc's anti-affinity `not(task:group == database)` and holds on an empty instance.
 * A scalar the instance lacks satisfies no comparison, negative ones included: the doc reads
 * `attribute:stack != prod` as "instances with the attribute stack unless its value is prod".
 */
const evaluateCondition = (c: QueryCondition, s: QuerySubject): boolean => {
  const values = valuesOf(c.subject, s);
  if (c.kind === 'presence') {
    const present = values.length > 0;
    return c.operator === 'exists' ? present : !present;
  }
  const some = values.some((v) => holdsFor(c, v));
  if (!NEGATIVE_OPERATORS.has(c.operator)) return some;
  if (c.subject.field === 'task:group') return !some;
  return values.length > 0 && !some;
};

/**
 * Evaluates a parsed expression against one container instance. Pure: the same expression and
 * subject always give the same answer.
 */
export function matchesQuery(expression: QueryExpression, subject: QuerySubject): boolean {
  switch (expression.kind) {
    case 'and':
      return matchesQuery(expression.left, subject) && matchesQuery(expression.right, subject);
    case 'or':
      return matchesQuery(expression.left, subject) || matchesQuery(expression.right, subject);
    case 'not':
      return !matchesQuery(expression.operand, subject);
    default:
      return evaluateCondition(expression, subject);
  }
}
