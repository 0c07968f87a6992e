import type { z } from 'zod';
import { BerthError } from '../errors.ts';
import type { ActionContext } from './context.ts';

/** One ECS or SSM operation: its input schema and what it does. */
export type Action<Schema extends z.ZodType = z.ZodType> = {
  input: Schema;
  run: (context: ActionContext, input: z.infer<Schema>) => Promise<unknown>;
};

export const defineAction = <Schema extends z.ZodType>(
  input: Schema,
  run: (context: ActionContext, input: z.infer<Schema>) => Promise<unknown>,
): Action<Schema> => ({ input, run });

/** Renders a zod path as ECS names fields: `containerDefinitions[0].name`. */
export const fieldPath = (path: readonly PropertyKey[]): string =>
  path
    .map((part, index) =>
      typeof part === 'number' ? `[${part}]` : index === 0 ? String(part) : `.${String(part)}`,
    )
    .join('');

/** Deepest nesting of a request: real ECS requests stay under 10; DynamoDB stores 32 levels at most. */
export const maxInputDepth = 24;

/** What is wrong with a request that cannot be stored as it is, and where (when it is in one place). */
type StorableProblem = { message: string; path?: readonly PropertyKey[] };

type Pending = { value: unknown; depth: number; parent?: Pending; key?: PropertyKey };

/** With the `u` flag a surrogate pair is one code point, so only a lone surrogate is `Cs`. */
const loneSurrogate = /\p{Cs}/u;

const pathOf = (entry: Pending): PropertyKey[] => {
  const path: PropertyKey[] = [];
  for (let at: Pending | undefined = entry; at?.parent; at = at.parent) path.push(at.key as PropertyKey);
  return path.reverse();
};

/**
 * Whether a parsed JSON document can be stored as it is: nested at most `maxInputDepth` levels (a
 * deeper one would overflow recursive code or DynamoDB's 32-level limit), with only numbers
 * DynamoDB and its marshaller accept, and every string and member name well-formed Unicode. JSON's
 * `\ud800` escape yields a lone surrogate, which has no UTF-8 form (DynamoDB's strings are UTF-8):
 * DynamoDB Local stores one in a member name and then fails every Get, Query, stream read and
 * write of the item, for good. Iterative, so a hostile depth cannot overflow the stack here.
 */
const storableProblem = (body: unknown): StorableProblem | undefined => {
  const pending: Pending[] = [{ value: body, depth: 0 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { value, depth } = next;
    if (typeof value === 'number') {
      const size = Math.abs(value);
      if (size > Number.MAX_SAFE_INTEGER || (size !== 0 && size < 1e-130))
        return { message: `the number ${value} is out of range`, path: pathOf(next) };
    } else if (typeof value === 'string') {
      if (loneSurrogate.test(value))
        return { message: 'not well-formed Unicode (a lone surrogate)', path: pathOf(next) };
    } else if (value !== null && typeof value === 'object') {
      if (depth >= maxInputDepth)
        return { message: `the request is nested deeper than ${maxInputDepth} levels` };
      // The SDK's marshaller reads `constructor.name` to tell sets and maps from plain objects.
      const own = Object.getOwnPropertyDescriptor(value, 'constructor')?.value;
      if (own !== null && typeof own === 'object')
        return { message: 'an object member named constructor must not be an object', path: pathOf(next) };
      for (const name of Array.isArray(value) ? [] : Object.keys(value)) {
        // DynamoDB names are 1 to 65535 bytes; `__proto__` would not survive being copied.
        if (name === '' || name === '__proto__' || Buffer.byteLength(name) > 65_535) {
          return {
            message: `an object member may not be named ${JSON.stringify(name.slice(0, 20))}`,
            path: pathOf(next),
          };
        }
        if (loneSurrogate.test(name)) {
          return {
            message: 'a member name is not well-formed Unicode (a lone surrogate)',
            path: [...pathOf(next), name.replace(/\p{Cs}/gu, '\ufffd')],
          };
        }
      }
      const entries: [PropertyKey, unknown][] = Array.isArray(value)
        ? value.map((member, index) => [index, member])
        : Object.entries(value);
      for (const [key, member] of entries)
        pending.push({ value: member, depth: depth + 1, parent: next, key });
    }
  }
  return undefined;
};

/** Parses an action's input, turning the first schema problem into an InvalidParameterException. */
export const parseInput = <Schema extends z.ZodType>(
  schema: Schema,
  body: unknown,
  code: 'InvalidParameterException' | 'ValidationException' = 'InvalidParameterException',
): z.infer<Schema> => {
  const problem = storableProblem(body);
  if (problem) {
    const field = problem.path?.length ? fieldPath(problem.path) : '';
    throw new BerthError(
      code,
      'input',
      field ? `Invalid parameter ${field}: ${problem.message}.` : `Invalid request: ${problem.message}.`,
      { path: problem.path ?? [] } satisfies InputProblem,
    );
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue ? fieldPath(issue.path) : '';
  const detail = issue?.message ?? 'invalid input';
  throw new BerthError(
    code,
    'input',
    field ? `Invalid parameter ${field}: ${detail}` : `Invalid request: ${detail}`,
    { path: issue?.path ?? [] } satisfies InputProblem,
  );
};

/** Where in the input a schema problem is (BerthError details of parseInput's refusals). */
export type InputProblem = { path: readonly PropertyKey[] };
