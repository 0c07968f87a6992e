/**
 * Minimal shape checks for what the agent reads (server answers, its own files). The agent does
 * not load zod at run time: on an edge machine its import alone costs about 15 MB of memory, a
 * quarter of the agent's budget. The server still validates everything it receives with zod.
 * Assigned tasks are the exception: they are read with the shared contract in
 * core/protocol/assigned-task.ts, written with `zod/mini` (about 19 KiB of bundle, under 1 MB).
 */
export class ShapeError extends Error {
  readonly code = 'UnexpectedShape';
}

export type Shape = Record<string, unknown>;

export const objectAt = (value: unknown, what: string): Shape => {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ShapeError(`${what} is not an object`);
  return value as Shape;
};

export const stringAt = (object: Shape, key: string, what: string): string => {
  const value = object[key];
  if (typeof value !== 'string') throw new ShapeError(`${what}.${key} is not a string`);
  return value;
};

export const numberAt = (object: Shape, key: string, what: string): number => {
  const value = object[key];
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new ShapeError(`${what}.${key} is not a number`);
  return value;
};

export const arrayAt = (object: Shape, key: string, what: string): unknown[] => {
  const value = object[key];
  if (!Array.isArray(value)) throw new ShapeError(`${what}.${key} is not a list`);
  return value;
};

/** Parses JSON, turning a syntax error into a ShapeError naming what was read. */
export const parseJson = (text: string, what: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    throw new ShapeError(`${what} is not JSON`);
  }
};
