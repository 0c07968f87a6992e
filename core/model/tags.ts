import { z } from 'zod';
import { invalidParameter } from '../errors.ts';

/** ECS tags on the wire: lower-case `key`/`value`. Stored as a map on the tagged item. */
export const Tag = z.object({ key: z.string(), value: z.string().optional() });
export type Tag = z.infer<typeof Tag>;
export const TagList = z.array(Tag);

export type TagMap = Record<string, string>;

const maxTags = 50;

/** ECS's tag rules: at most 50, keys 1–128, values 0–256, the `aws:` prefix reserved. */
export const checkTags = (tags: readonly Tag[], existing: TagMap = {}): TagMap => {
  const merged: TagMap = { ...existing };
  for (const [index, tag] of tags.entries()) {
    if (tag.key.length < 1 || tag.key.length > 128) {
      throw invalidParameter(`tags[${index}].key must be 1 to 128 characters long.`);
    }
    if ((tag.value ?? '').length > 256) {
      throw invalidParameter(`tags[${index}].value must be at most 256 characters long.`);
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
