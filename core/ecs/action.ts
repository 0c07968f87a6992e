import type { z } from 'zod';
import { BerthError, invalidParameter } from '../errors.ts';
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

/**
 * Whether a parsed JSON document can be stored as it is: nested at most `maxInputDepth` levels (a
 * deeper one would overflow recursive code or DynamoDB's 32-level limit) and with only numbers
 * DynamoDB and its marshaller accept. Iterative, so a hostile depth cannot overflow the stack here.
 */
const storableProblem = (body: unknown): string | undefined => {
  const pending: { value: unknown; depth: number }[] = [{ value: body, depth: 0 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { value, depth } = next;
    if (typeof value === 'number') {
      const size = Math.abs(value);
      if (size > Number.MAX_SAFE_INTEGER || (size !== 0 && size < 1e-130))
        return `the number ${value} is out of range`;
    } else if (value !== null && typeof value === 'object') {
      if (depth >= maxInputDepth) return `the request is nested deeper than ${maxInputDepth} levels`;
      // The SDK's marshaller reads `constructor.name` to tell sets and maps from plain objects.
      const own = Object.getOwnPropertyDescriptor(value, 'constructor')?.value;
      if (own !== null && typeof own === 'object')
        return 'an object member named constructor must not be an object';
      for (const name of Array.isArray(value) ? [] : Object.keys(value)) {
        // DynamoDB names are 1 to 65535 bytes; `__proto__` would not survive being copied.
        if (name === '' || name === '__proto__' || Buffer.byteLength(name) > 65_535) {
          return `an object member may not be named ${JSON.stringify(name.slice(0, 20))}`;
        }
      }
      for (const member of Array.isArray(value) ? value : Object.values(value)) {
        pending.push({ value: member, depth: depth + 1 });
      }
    }
  }
  return undefined;
};

/** Parses an action's input, turning the first schema problem into an InvalidParameterException. */
export const parseInput = <Schema extends z.ZodType>(schema: Schema, body: unknown): z.infer<Schema> => {
  const problem = storableProblem(body);
  if (problem) throw invalidParameter(`Invalid request: ${problem}.`);
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue ? fieldPath(issue.path) : '';
  const detail = issue?.message ?? 'invalid input';
  throw new BerthError(
    'InvalidParameterException',
    'input',
    field ? `Invalid parameter ${field}: ${detail}` : `Invalid request: ${detail}`,
    { path: issue?.path ?? [] } satisfies InputProblem,
  );
};

/** Where in the input a schema problem is (BerthError details of parseInput's refusals). */
export type InputProblem = { path: readonly PropertyKey[] };
