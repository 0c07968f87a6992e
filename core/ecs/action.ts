import type { z } from 'zod';
import { invalidParameter } from '../errors.ts';
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

/** Parses an action's input, turning the first schema problem into an InvalidParameterException. */
export const parseInput = <Schema extends z.ZodType>(schema: Schema, body: unknown): z.infer<Schema> => {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue ? fieldPath(issue.path) : '';
  const detail = issue?.message ?? 'invalid input';
  throw invalidParameter(field ? `Invalid parameter ${field}: ${detail}` : `Invalid request: ${detail}`);
};
