import { z } from 'zod';
import { invalidParameter } from '../errors.ts';

/** ECS tags on the wire: lower-case `key`/`value`. Stored as a map on the tagged item. */
export const Tag = z.object({ key: z.string(), value: z.string().optional() });
export type Tag = z.infer<typeof Tag>;
export const TagList = z.array(Tag);

export type TagMap = Record<string, string>;

const maxTags = 50;

/** ECS's pattern for tag keys and values: letters, spaces, numbers and `_ . : / = + - @`. */
const tagCharacters = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** ECS counts Unicode characters (code points), not UTF-16 units. */
const characters = (text: string): number => [...text].length;

/**
 * ECS's tag rules: at most 50, keys 1–128 characters and values 0–256 of ECS's pattern, the
 * `aws:` prefix reserved.
 */
export const checkTags = (tags: readonly Tag[], existing: TagMap = {}): TagMap => {
  const merged: TagMap = { ...existing };
  for (const [index, tag] of tags.entries()) {
    const value = tag.value ?? '';
    if (characters(tag.key) < 1 || characters(tag.key) > 128) {
      throw invalidParameter(`tags[${index}].key must be 1 to 128 characters long.`);
    }
    if (characters(value) > 256) {
      throw invalidParameter(`tags[${index}].value must be at most 256 characters long.`);
    }
    if (!tagCharacters.test(tag.key)) {
      throw invalidParameter(
        `tags[${index}].key may hold only letters, numbers, spaces and _ . : / = + - @.`,
      );
    }
    if (!tagCharacters.test(value)) {
      throw invalidParameter(
        `tags[${index}].value may hold only letters, numbers, spaces and _ . : / = + - @.`,
      );
    }
    if (tag.key.toLowerCase().startsWith('aws:')) {
      throw invalidParameter(`tags[${index}].key: the aws: prefix is reserved for AWS use.`);
    }
    merged[tag.key] = tag.value ?? '';
  }
  if (Object.keys(merged).length > maxTags) {
    throw invalidParameter(`A resource can have at most ${maxTags} tags.`);
  }
  return merged;
};

export const tagListOf = (tags: TagMap | undefined): Tag[] =>
  Object.entries(tags ?? {}).map(([key, value]) => ({ key, value }));
