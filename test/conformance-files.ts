import { readdirSync, readFileSync } from 'node:fs';

/** A JSON object, as the conformance files hold them. */
export type Json = Record<string, unknown>;

/**
 * The project's copy of ../shared/conformance/task-definitions (tests never read outside the
 * repository): the twenty files unchanged, with their SOURCES.md attribution.
 */
const directory = new URL('./fixtures/conformance/', import.meta.url);

/** The file names of the conformance task definitions, sorted. */
export const conformanceFiles = readdirSync(directory)
  .filter((name) => name.endsWith('.json'))
  .sort();

/** A conformance file, parsed as it is stored. */
export const loadConformance = (file: string): Json =>
  JSON.parse(readFileSync(new URL(file, directory), 'utf8')) as Json;

/** Whether a value is a JSON object (not null, not an array). */
export const isObject = (value: unknown): value is Json =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** What users do before re-registering an exported file: drop null members, everywhere. */
const withoutNulls = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, member]) => member !== null)
      .map(([key, member]) => [key, withoutNulls(member)]),
  );
};

/** What a user registers from a file's contents: nulls (deeply) and the `describeOnly` fields removed. */
export const registrationInput = (raw: Json, describeOnly: readonly string[]): Json => {
  const stripped = withoutNulls(raw) as Json;
  for (const field of describeOnly) delete stripped[field];
  return stripped;
};
