import { z } from 'zod';
import { getTagsOf, mergeTags, removeTags } from '../db/items.ts';
import { keys } from '../db/keys.ts';
import { getTask, taskKey } from '../db/tasks.ts';
import { BerthError, invalidParameter } from '../errors.ts';
import { namePattern, parseArn } from '../model/arn.ts';
import { checkTags, TagList, type TagMap, tagListOf } from '../model/tags.ts';
import { defineAction } from './action.ts';
import type { ActionContext } from './context.ts';

const resourceNotFound = () =>
  new BerthError('ResourceNotFoundException', 'not_found', 'The specified resource could not be found.');

/** The table key of a taggable resource named by its ARN. */
const keyOfResource = async (
  context: ActionContext,
  resourceArn: string,
): Promise<{ pk: string; sk: string }> => {
  const arn = parseArn(resourceArn);
  if (arn?.service !== 'ecs') throw invalidParameter(`Invalid resourceArn: ${resourceArn}`);
  const parts = arn.resource.split('/');
  switch (arn.resourceType) {
    case 'cluster': {
      const [name = ''] = parts;
      if (parts.length !== 1 || !namePattern.test(name)) break;
      const { pk, sk } = keys.cluster(name);
      return { pk, sk };
    }
    case 'task-definition': {
      const [family = '', revision = ''] = arn.resource.split(':');
      if (!namePattern.test(family) || !/^[1-9]\d{0,9}$/.test(revision)) break;
      const { pk, sk } = keys.taskDefinition(family, Number(revision));
      return { pk, sk };
    }
    case 'service': {
      const [cluster = '', name = ''] = parts;
      if (parts.length !== 2 || !namePattern.test(cluster) || !namePattern.test(name)) break;
      const { pk, sk } = keys.service(cluster, name);
      return { pk, sk };
    }
    case 'task': {
      const [cluster = '', id = ''] = parts;
      if (parts.length !== 2 || !namePattern.test(cluster) || !/^[a-f0-9]{32}$/.test(id)) break;
      const task = await getTask(context.db, cluster, id);
      if (!task) throw resourceNotFound();
      return taskKey(task);
    }
    case 'container-instance': {
      const [cluster = '', id = ''] = parts;
      if (parts.length !== 2 || !namePattern.test(cluster) || !/^[A-Za-z0-9-]{1,64}$/.test(id)) break;
      return keys.containerInstance(cluster, id);
    }
  }
  throw invalidParameter(`Invalid resourceArn or unsupported resource type: ${resourceArn}`);
};

const readTags = async (context: ActionContext, key: { pk: string; sk: string }): Promise<TagMap> => {
  const found = await getTagsOf(context.db, key);
  if (!found || found.status === 'INACTIVE') throw resourceNotFound();
  return found.tags;
};

export const tagResource = defineAction(
  z.object({ resourceArn: z.string(), tags: TagList.min(1) }),
  async (context, input) => {
    const key = await keyOfResource(context, input.resourceArn);
    const existing = await readTags(context, key);
    const merged = checkTags(input.tags, existing);
    await mergeTags(
      context.db,
      key,
      Object.fromEntries(input.tags.map((tag) => [tag.key, merged[tag.key] ?? ''])),
    );
    return {};
  },
);

export const untagResource = defineAction(
  // ECS tag keys are 1–128 characters; anything else could never name a tag (and is no attribute name).
  z.object({ resourceArn: z.string(), tagKeys: z.array(z.string().min(1).max(128)).min(1).max(50) }),
  async (context, input) => {
    const key = await keyOfResource(context, input.resourceArn);
    await readTags(context, key);
    await removeTags(context.db, key, [...new Set(input.tagKeys)]);
    return {};
  },
);

export const listTagsForResource = defineAction(
  z.object({ resourceArn: z.string() }),
  async (context, input) => {
    const key = await keyOfResource(context, input.resourceArn);
    return { tags: tagListOf(await readTags(context, key)) };
  },
);
